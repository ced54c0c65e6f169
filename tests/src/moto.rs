//! moto in server mode: a real AWS API emulator speaking HTTP on loopback.
//!
//! One server per test process, started on first use through `infra/moto_server.py` (moto's
//! own server, with DynamoDB requests serialised as DynamoDB itself isolates them). If
//! `MOTO_ENDPOINT` is set (the test command starts one for the whole run) it is used instead.
//! A server we start is tied to our process with `PR_SET_PDEATHSIG`, so it dies with the test
//! binary however that ends. The Python comes from `MOTO_PYTHON`, else the test command's venv
//! (`target/moto-venv`), else `python3`.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The endpoint of a running moto server, starting one if needed.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var("MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => url,
        _ => start(),
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> String {
    if let Ok(python) = std::env::var("MOTO_PYTHON") {
        return python;
    }
    let venv = workspace().join("target/moto-venv/bin/python");
    if venv.exists() {
        venv.to_string_lossy().into_owned()
    } else {
        "python3".to_owned()
    }
}

fn start() -> String {
    let program = python();
    let launcher = workspace().join("infra/moto_server.py");
    for _ in 0..3 {
        let port = free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        let (spawned, launcher) = (program.clone(), launcher.clone());
        // The child is spawned from a thread that lives as long as the process, because
        // PDEATHSIG fires when the spawning *thread* exits.
        std::thread::Builder::new()
            .name("moto-server".into())
            .spawn(move || {
                let mut command = Command::new(&spawned);
                command
                    .arg(&launcher)
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                #[cfg(target_os = "linux")]
                unsafe {
                    use std::os::unix::process::CommandExt;
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                        Ok(())
                    });
                }
                match command.spawn() {
                    Ok(_child) => {
                        let _ = tx.send(Ok(()));
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
            .expect("spawn the moto supervisor thread");
        if let Err(e) = rx.recv().expect("moto supervisor reports") {
            panic!(
                "could not start {program:?} ({e}); install it with: pip install 'moto[server]==5.1.22' or set MOTO_ENDPOINT"
            );
        }
        let url = format!("http://127.0.0.1:{port}");
        if wait_ready(port, Duration::from_secs(30)) {
            return url;
        }
    }
    panic!(
        "moto did not become ready (is moto installed for {program:?}? ./infra/test.sh installs it)"
    );
}

fn wait_ready(port: u16, within: Duration) -> bool {
    use std::io::{Read, Write};
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: localhost\r\n\r\n";
            let mut reply = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && reply.starts_with(b"HTTP/1.")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// SDK configuration pointing every service at moto, with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_at(endpoint()).await
}

/// The same, pointing at `endpoint` (a proxy in front of moto).
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(fluxbot::adapters::aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}
