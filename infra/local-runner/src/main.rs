//! `cargo run -p local-runner`: the bot on a laptop, on the embedded backend, data in
//! `.local-data/` (or `LOCAL_DATA_DIR`). Without `TELEGRAM_TOKEN` it says what to set and
//! exits with status 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fluxbot::config::EnvReader;
use fluxbot::domain::Limits;
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::settings::{FalSettings, FalWebhooks};
use fluxbot::fal::training::TrainingSettings;
use fluxbot::telegram::settings::TelegramSettings;
use local_runner::{LocalBot, LocalConfig};

const HOW_TO: &str = "\
The local runner needs a Telegram bot token:
  1. Talk to @BotFather in Telegram, send /newbot, copy the token it gives you.
  2. Run:  TELEGRAM_TOKEN=123456:ABC... cargo run -p local-runner
Test mode (no fal.ai calls, no cost) is on unless FAL_KEY is set.";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let has_fal_key = std::env::var_os("FAL_KEY").is_some_and(|k| !k.is_empty());
    let data = std::env::var("LOCAL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(".local-data"));
    let webhook_secret = match LocalBot::webhook_secret(&data) {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!(
                "local runner could not keep its webhook secret in {}: {e}",
                data.display()
            );
            return ExitCode::FAILURE;
        }
    };
    // Locally, test mode is the default unless a fal.ai key is given; the banner says which.
    let env = EnvReader::from_process()
        .with_default(
            "AVATAR_TEST_MODE",
            if has_fal_key { "false" } else { "true" },
        )
        .with_default("FAL_WEBHOOK_SECRET", &webhook_secret);
    let loaded = env.load::<(
        TelegramSettings,
        FalSettings,
        FalWebhooks,
        Limits,
        TrainingSettings,
        GenerationSettings,
    )>();
    let (telegram, fal, webhooks, limits, training, generation) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\n\n{HOW_TO}");
            return ExitCode::from(2);
        }
    };
    println!(
        "data: {} (SQLite records and queue, local blobs; kept across restarts)",
        data.display()
    );
    println!("Telegram Bot API: {}", telegram.api_url);
    println!(
        "fal.ai: {}",
        if fal.is_test_mode() {
            "TEST MODE (simulated trainings and placeholder images, no cost)"
        } else {
            "live (results by webhook through a tunnel, else collected by the sweep)"
        }
    );
    let fal_webhook_addr = match std::env::var("LOCAL_FAL_WEBHOOK_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8081".into())
        .parse()
    {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("LOCAL_FAL_WEBHOOK_ADDR: {e} (expected host:port, e.g. 127.0.0.1:8081)");
            return ExitCode::from(2);
        }
    };
    let config = LocalConfig {
        telegram,
        fal,
        webhooks,
        limits,
        training,
        generation,
        sweep_every: Duration::from_secs(60),
        fal_webhook_addr,
    };
    let bot = match LocalBot::open(&data, config) {
        Ok(bot) => bot,
        Err(e) => {
            eprintln!("local runner could not open {}: {e:#}", data.display());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "fal.ai webhook: http://{}/fal/webhook, health: http://{}/health (fal.ai reaches it only \
         through a tunnel: set FAL_WEBHOOK_URL to the tunnel's /fal/webhook)",
        bot.fal_webhook_addr(),
        bot.fal_webhook_addr()
    );
    println!(
        "Running: conversation (long polling), launch worker, sweep every minute. Ctrl-C stops."
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match bot.run(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local runner stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}
