//! `fluxbot-ops`: the operator's command line.
//!
//! ```text
//! fluxbot-ops set-webhook --url https://<api>/telegram/webhook [--drop-pending-updates]
//! fluxbot-ops webhook-info
//! fluxbot-ops stats --table <name>
//! fluxbot-ops redrive --dead-letter-queue-url <url> --queue-url <url>
//! ```
//! `TELEGRAM_TOKEN` (and `TELEGRAM_WEBHOOK_SECRET` for set-webhook) come from the
//! environment, so they stay out of shell history; `TELEGRAM_API_URL` as everywhere else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fluxbot::config::{EnvReader, TelegramSettings, WebhookSecret};
use fluxbot::telegram::client::TelegramClient;

#[derive(Parser)]
#[command(name = "fluxbot-ops", about = "Operate a deployed FLUX avatar bot")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register the webhook (with its secret) and the command list in Russian and English.
    SetWebhook {
        /// The stack's TelegramWebhookUrl output.
        #[arg(long)]
        url: url::Url,
        /// Discard updates Telegram is still holding.
        #[arg(long)]
        drop_pending_updates: bool,
    },
    /// Where Telegram delivers, what is pending, and the last delivery error.
    WebhookInfo,
    /// Avatars by status, work in flight and the oldest in-flight age.
    Stats {
        /// The stack's TableName output.
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// Move dead-lettered launches back to the launch queue (after fixing their cause).
    Redrive {
        /// The stack's LaunchDeadLetterQueueUrl output.
        #[arg(long, env = "LAUNCH_DLQ_URL")]
        dead_letter_queue_url: String,
        /// The stack's LaunchQueueUrl output.
        #[arg(long, env = "LAUNCH_QUEUE_URL")]
        queue_url: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::SetWebhook {
            url,
            drop_pending_updates,
        } => match EnvReader::from_process().load::<(TelegramSettings, WebhookSecret)>() {
            Ok((telegram, secret)) => {
                ops::set_webhook(
                    &TelegramClient::new(&telegram),
                    &url,
                    secret.expose(),
                    drop_pending_updates,
                )
                .await
            }
            Err(e) => Err(e.into()),
        },
        Command::Redrive {
            dead_letter_queue_url,
            queue_url,
        } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            ops::redrive(
                &aws_sdk_sqs::Client::new(&sdk),
                &dead_letter_queue_url,
                &queue_url,
            )
            .await
        }
        Command::Stats { table } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let store = fluxbot::adapters::aws::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table,
            );
            ops::stats(&store, fluxbot::domain::Timestamp::now()).await
        }
        Command::WebhookInfo => match EnvReader::from_process().load::<TelegramSettings>() {
            Ok(telegram) => ops::webhook_info(&TelegramClient::new(&telegram)).await,
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
