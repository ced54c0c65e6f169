//! The local runner: the bot on a laptop, on the embedded backend, data in `.local-data/`.
//!
//! Today it validates the configuration and opens (or creates) the local database, queue and
//! blob directory, then says which parts are wired. Long polling, the local fal.ai webhook
//! and the sweep timer arrive with issue #6, once the functions they run exist.

use std::path::PathBuf;
use std::process::ExitCode;

use fluxbot::adapters::embedded::{Database, EmbeddedQueue, EmbeddedStore, LocalBlobs};
use fluxbot::config::{EnvReader, FalSettings, Limits, TelegramSettings};

const HOW_TO: &str = "\
The local runner needs a Telegram bot token:
  1. Talk to @BotFather in Telegram, send /newbot, copy the token it gives you.
  2. Run:  TELEGRAM_TOKEN=123456:ABC... cargo run -p local-runner
Test mode (no fal.ai calls, no cost) is on unless FAL_KEY is set.";

#[tokio::main]
async fn main() -> ExitCode {
    let has_fal_key = std::env::var_os("FAL_KEY").is_some_and(|k| !k.is_empty());
    // Locally, test mode is the default unless a fal.ai key is given; the banner says which.
    let env = EnvReader::from_process().with_default(
        "AVATAR_TEST_MODE",
        if has_fal_key { "false" } else { "true" },
    );
    let config = env.load::<(TelegramSettings, FalSettings, Limits)>();
    let (telegram, fal, _limits) = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\n\n{HOW_TO}");
            return ExitCode::from(2);
        }
    };
    match open(&telegram, &fal).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local runner failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(telegram: &TelegramSettings, fal: &FalSettings) -> anyhow::Result<()> {
    let data = std::env::var("LOCAL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(".local-data"));
    let db = Database::open(&data.join("bot.sqlite3"))?;
    let _store = EmbeddedStore::new(db.clone());
    let _queue = EmbeddedQueue::new(db, "launch", std::time::Duration::from_secs(540));
    let _blobs = LocalBlobs::open(
        &data.join("blobs"),
        url::Url::parse("http://127.0.0.1:8080/")?,
    )?;
    println!(
        "data: {} (SQLite records and queue, local blobs; kept across restarts)",
        data.display()
    );
    println!("Telegram Bot API: {}", telegram.api_url);
    println!(
        "fal.ai: {}",
        if fal.is_test_mode() {
            "test mode (simulated trainings, no cost)"
        } else {
            "live"
        }
    );
    println!();
    println!("Wired: configuration, embedded store, queue and blob storage.");
    println!("Not wired yet: the conversation (issue #3), the training pipeline (issue #4),");
    println!("generation (issue #5), long polling and timers in this runner (issue #6).");
    Ok(())
}
