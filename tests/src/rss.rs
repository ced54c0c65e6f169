//! Peak-memory measurement for the benchmarks (Linux `/proc`).

/// A field of /proc/self/status, in kB (`VmHWM` is the peak RSS, `VmRSS` the current one).
pub fn status_kb(field: &str) -> u64 {
    field_kb("/proc/self/status", field)
}

/// Peak RSS so far of another process (a function's binary a bench started), in kB.
pub fn peak_kb_of(pid: u32) -> u64 {
    field_kb(&format!("/proc/{pid}/status"), "VmHWM")
}

fn field_kb(path: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak-RSS watermark (Linux >= 4.0), so VmHWM covers only what follows.
pub fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM via /proc/self/clear_refs");
}
