//! The test stack shared by the integration tests and benchmarks: a moto server started on a
//! free loopback port, AWS resources created from `template.yaml`, both backends built the
//! way the functions build them, and the port conformance suite.

pub mod aws_meter;
pub mod backends;
pub mod bot_world;
pub mod conformance;
pub mod fake_fal;
pub mod fake_telegram;
pub mod fal_schemas;
pub mod flaky_store;
pub mod http_server;
pub mod images;
pub mod lambda_emulator;
pub mod moto;
pub mod pipeline_world;
pub mod rss;
pub mod template;
pub mod transcript;

/// Logs for tests: `RUST_LOG=debug cargo test` shows them.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The size of a load or fault run: the number in the environment variable `name` (e.g.
/// `FLEET_USERS=200`), or `default`, the size CI runs.
pub fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
