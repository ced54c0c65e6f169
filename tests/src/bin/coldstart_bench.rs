//! Cold start of each function's binary under the Lambda Runtime API emulator: the time from
//! spawning the process to its first `GET /runtime/invocation/next` (the end of Lambda's init
//! phase), beside a hello-world `lambda_runtime` binary built with the same profile, measured
//! in the same run and interleaved with the functions so machine noise hits all alike.
//!
//! The shipped profile (fat LTO; the functions built on their own, as `sam build` builds each):
//! `cargo build --release -p hello-lambda -p telegram-webhook -p fal-webhook -p training-launch
//! -p status-sweep && cargo build --profile measure -p fluxbot-tests --bin coldstart-bench &&
//! target/measure/coldstart-bench 30 target/release` (rounds, then the binaries' directory:
//! by default the bench's own, for binaries built with `--profile measure`; 30 rounds unless
//! given). Each function gets the environment the template gives it; nothing is
//! reachable, so a function that made a network call before its first poll would show it.

use std::process::{Command, Stdio};
use std::time::Duration;

use fluxbot_tests::lambda_emulator::RuntimeApi;

const FUNCTIONS: [&str; 5] = [
    "hello-lambda",
    "telegram-webhook",
    "fal-webhook",
    "training-launch",
    "status-sweep",
];

/// The template's environment for every function (values of the right shape, nothing live).
fn function_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_REGION", "eu-central-1"),
        ("AWS_DEFAULT_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE"),
        ("TABLE_NAME", "fluxbot-records"),
        ("BUCKET_NAME", "fluxbot-media"),
        (
            "LAUNCH_QUEUE_URL",
            "https://sqs.eu-central-1.amazonaws.com/123456789012/fluxbot-launch",
        ),
        ("AVATAR_TEST_MODE", "false"),
        (
            "TELEGRAM_TOKEN",
            "123456:AAEXAMPLEexampleEXAMPLEexample0000",
        ),
        (
            "TELEGRAM_WEBHOOK_SECRET",
            "webhook-secret_for-bench-0123456789",
        ),
        ("FAL_KEY", "key-id:key-secret"),
        (
            "FAL_WEBHOOK_URL",
            "https://fluxapi.execute-api.eu-central-1.amazonaws.com/fal/webhook",
        ),
        (
            "FAL_WEBHOOK_SECRET",
            "bench-webhook-secret-0123456789abcdef",
        ),
        ("RUST_LOG", "info"),
    ]
}

/// Spawn to first poll, and the peak RSS at that moment (the init phase's memory).
async fn cold_start(binary: &std::path::Path, name: &str) -> (Duration, u64) {
    let api = RuntimeApi::start().await;
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(api.lambda_env(name))
        .envs(function_env())
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let spawned = std::time::Instant::now();
    let mut child = command.spawn().expect("spawn the function");
    let polled = api.first_poll(Duration::from_secs(10)).await;
    let rss = fluxbot_tests::rss::peak_kb_of(child.id());
    let _ = child.kill();
    let output = child.wait_with_output().expect("reap the function");
    match polled {
        Some(at) => (at - spawned, rss),
        None => panic!(
            "{name} never polled for an invocation (init error {:?}): {}",
            api.init_error(),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (at(0.0), at(0.5), at(0.9))
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let dir = match std::env::args().nth(2) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf(),
    };
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); FUNCTIONS.len()];
    let mut rss = vec![0u64; FUNCTIONS.len()];
    // One warm-up round so the page cache holds every binary, as it does on a Lambda host.
    for round in 0..=rounds {
        for (i, name) in FUNCTIONS.iter().enumerate() {
            let (took, kb) = cold_start(&dir.join(name), name).await;
            if round > 0 {
                samples[i].push(took);
                rss[i] = rss[i].max(kb);
            }
        }
    }
    let (_, hello, _) = summary(samples[0].clone());
    println!("{rounds} rounds, spawn to first invocation/next:");
    println!(
        "| binary | min ms | median ms | p90 ms | median / hello-world | peak RSS at first poll |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for ((name, samples), kb) in FUNCTIONS.iter().zip(samples).zip(rss) {
        let (min, median, p90) = summary(samples);
        println!(
            "| {name} | {min:.2} | {median:.2} | {p90:.2} | {:.2}x | {:.1} MB |",
            median / hello,
            kb as f64 / 1024.0
        );
    }
}
