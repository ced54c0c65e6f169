//! `fluxbot-ops`: the operator's command line.
//!
//! ```text
//! fluxbot-ops [--stack <name>] set-webhook [--url https://<api>/telegram/webhook] [--drop-pending-updates]
//! fluxbot-ops webhook-info
//! fluxbot-ops [--stack <name>] stats [--table <name>]
//! fluxbot-ops [--stack <name>] redrive [--dead-letter-queue-url <url>] [--queue-url <url>]
//! fluxbot-ops [--stack <name>] balance <user id> [--table <name>]
//! fluxbot-ops [--stack <name>] grant <user id> <credits> --request-id <id> [--table <name>]
//! fluxbot-ops [--stack <name>] refund-star-payment <user id> <charge id> [--table <name>]
//! fluxbot-ops [--stack <name>] reconcile-payments [--since YYYY-MM-DD] [--table <name>]
//! fluxbot-ops [--stack <name>] credit-star-payment <user id> <charge id> [--table <name>]
//! fluxbot-ops [--stack <name>] spend [--since YYYY-MM-DD] [--table <name>]
//! fluxbot-ops [--stack <name>] broadcast <id> [--ru FILE] [--en FILE] [--per-second N] [--dry-run] [--table <name>]
//! ```
//! `spend` reads fal's usage API with `FAL_ADMIN_KEY` (an admin-scoped key; `FAL_KEY` if
//! unset) at `FAL_API_URL` (`https://api.fal.ai/v1`).
//! With `--stack` (or `FLUXBOT_STACK`) the URLs and names come from the stack's outputs; a
//! flag (or its variable) given explicitly wins. `TELEGRAM_TOKEN` (and
//! `TELEGRAM_WEBHOOK_SECRET` for set-webhook) come from the environment, so they stay out of
//! shell history; `TELEGRAM_API_URL` as everywhere else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fluxbot::config::EnvReader;
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::{TelegramSettings, WebhookSecret};

#[derive(Parser)]
#[command(name = "fluxbot-ops", about = "Operate a deployed FLUX avatar bot")]
struct Cli {
    /// The deployed stack whose outputs fill in what the flags do not give.
    #[arg(long, global = true, env = "FLUXBOT_STACK")]
    stack: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register the webhook (with its secret) and the command list in Russian and English.
    SetWebhook {
        /// The stack's TelegramWebhookUrl output.
        #[arg(long)]
        url: Option<url::Url>,
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
        table: Option<String>,
    },
    /// A user's credits and newest ledger entries.
    Balance {
        user: i64,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Give a user credits, once per request id (repeat it safely after a timeout).
    Grant {
        user: i64,
        credits: u64,
        #[arg(long)]
        request_id: String,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Refund a Stars payment: its credits are taken back (refused if spent), then the Stars.
    RefundStarPayment {
        user: i64,
        charge_id: String,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Check the books against Telegram: every Stars payment credited exactly once, every
    /// refund recorded; lists what does not match with the command that fixes it (exit 1).
    ReconcilePayments {
        /// The first day (UTC) to check; everything by default.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Credit a Stars payment Telegram lists but the bot never recorded (once, by its charge).
    CreditStarPayment {
        user: i64,
        charge_id: String,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// The daily estimates charged against the cap beside what fal.ai billed, by endpoint.
    Spend {
        /// The first day (UTC); 7 days ago by default.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Send an announcement (Telegram HTML) to every user who has not blocked the bot, in
    /// their language; run it again with the same id to resume.
    Broadcast {
        /// Names the announcement: a rerun with the same id sends only to who has not got it.
        id: String,
        /// The Russian text (a file).
        #[arg(long)]
        ru: Option<std::path::PathBuf>,
        /// The English text (a file).
        #[arg(long)]
        en: Option<std::path::PathBuf>,
        /// Messages a second (Telegram allows about 30 to different chats).
        #[arg(long, default_value_t = 20)]
        per_second: u32,
        /// Count who would get it; send and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
    },
    /// Move dead-lettered launches back to the launch queue (after fixing their cause).
    Redrive {
        /// The stack's LaunchDeadLetterQueueUrl output.
        #[arg(long, env = "LAUNCH_DLQ_URL")]
        dead_letter_queue_url: Option<String>,
        /// The stack's LaunchQueueUrl output.
        #[arg(long, env = "LAUNCH_QUEUE_URL")]
        queue_url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
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

async fn run(cli: Cli) -> anyhow::Result<String> {
    let outputs = match &cli.stack {
        Some(stack) => {
            ops::StackOutputs::load(&aws_sdk_cloudformation::Client::new(&sdk().await), stack)
                .await?
        }
        None => ops::StackOutputs::default(),
    };
    match cli.command {
        Command::SetWebhook {
            url,
            drop_pending_updates,
        } => {
            let url: url::Url = outputs
                .pick(url.map(String::from), "TelegramWebhookUrl", "--url")?
                .parse()?;
            let (telegram, secret) =
                EnvReader::from_process().load::<(TelegramSettings, WebhookSecret)>()?;
            ops::set_webhook(
                &TelegramClient::new(&telegram),
                &url,
                secret.expose(),
                drop_pending_updates,
            )
            .await
        }
        Command::Redrive {
            dead_letter_queue_url,
            queue_url,
        } => {
            let dead_letters = outputs.pick(
                dead_letter_queue_url,
                "LaunchDeadLetterQueueUrl",
                "--dead-letter-queue-url",
            )?;
            let queue = outputs.pick(queue_url, "LaunchQueueUrl", "--queue-url")?;
            ops::redrive(
                &aws_sdk_sqs::Client::new(&sdk().await),
                &dead_letters,
                &queue,
            )
            .await
        }
        Command::Stats { table } => {
            let store = records(&outputs, table).await?;
            ops::stats(store.as_ref(), fluxbot::domain::Timestamp::now()).await
        }
        Command::Balance { user, table } => {
            let store = records(&outputs, table).await?;
            ops::balance(store.as_ref(), fluxbot::domain::UserId(user)).await
        }
        Command::Grant {
            user,
            credits,
            request_id,
            table,
        } => {
            let store = records(&outputs, table).await?;
            ops::grant(
                store.as_ref(),
                fluxbot::domain::UserId(user),
                credits,
                &request_id,
            )
            .await
        }
        Command::RefundStarPayment {
            user,
            charge_id,
            table,
        } => {
            let store = records(&outputs, table).await?;
            let telegram = telegram()?;
            ops::refund_star_payment(
                store.as_ref(),
                &telegram,
                fluxbot::domain::UserId(user),
                &charge_id,
            )
            .await
        }
        Command::ReconcilePayments { since, table } => {
            let store = records(&outputs, table).await?;
            let telegram = telegram()?;
            let (report, clean) = ops::reconcile_payments(
                store.as_ref(),
                &telegram,
                since.map_or(fluxbot::domain::Timestamp(0), day_start),
            )
            .await?;
            if clean {
                Ok(report)
            } else {
                print!("{report}");
                anyhow::bail!("the books do not reconcile: see the fixes above")
            }
        }
        Command::CreditStarPayment {
            user,
            charge_id,
            table,
        } => {
            let store = records(&outputs, table).await?;
            let telegram = telegram()?;
            ops::credit_star_payment(
                store.as_ref(),
                &telegram,
                fluxbot::domain::UserId(user),
                &charge_id,
            )
            .await
        }
        Command::Spend { since, table } => {
            let store = records(&outputs, table).await?;
            let key = std::env::var("FAL_ADMIN_KEY")
                .or_else(|_| std::env::var("FAL_KEY"))
                .map_err(|_| anyhow::anyhow!("set FAL_ADMIN_KEY (an admin-scoped fal key)"))?;
            let base =
                std::env::var("FAL_API_URL").unwrap_or_else(|_| "https://api.fal.ai/v1".into());
            let now = fluxbot::domain::Timestamp::now();
            let since = since.map_or(
                now.minus(std::time::Duration::from_secs(7 * 86_400)),
                day_start,
            );
            let fal = ops::FalUsage::new(base.parse()?, key.into());
            ops::spend(store.as_ref(), &fal, since, now).await
        }
        Command::Broadcast {
            id,
            ru,
            en,
            per_second,
            dry_run,
            table,
        } => {
            let read = |path: Option<std::path::PathBuf>| {
                path.map(|p| {
                    std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
                })
                .transpose()
            };
            let announcement = ops::Announcement {
                id,
                ru: read(ru)?,
                en: read(en)?,
            };
            let table = outputs.pick(table, "TableName", "--table")?;
            let sdk = sdk().await;
            let store = fluxbot::backend::Backend::aws_records(&sdk, &table);
            // The bot's own send pace: the announcement and the bot's messages together stay
            // within TELEGRAM_SENDS_PER_SECOND.
            let telegram = telegram()?.paced(fluxbot::backend::Backend::aws_pace(&sdk, &table));
            ops::broadcast(
                store.as_ref(),
                &telegram,
                &announcement,
                per_second,
                dry_run,
            )
            .await
        }
        Command::WebhookInfo => ops::webhook_info(&telegram()?).await,
    }
}

/// Midnight UTC of `day`.
fn day_start(day: chrono::NaiveDate) -> fluxbot::domain::Timestamp {
    fluxbot::domain::Timestamp(
        day.and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis(),
    )
}

/// The operator's usual AWS chain (profiles, SSO, credential_process), over the functions'
/// HTTPS client: the SDK's own is compiled out of the workspace (Cargo.toml).
async fn sdk() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(fluxbot::adapters::aws::https_client())
        .load()
        .await
}

/// The table's records: `--table` (or `TABLE_NAME`), else the stack's `TableName` output.
async fn records(
    outputs: &ops::StackOutputs,
    table: Option<String>,
) -> anyhow::Result<std::sync::Arc<dyn fluxbot::ports::RecordStore>> {
    let table = outputs.pick(table, "TableName", "--table")?;
    Ok(fluxbot::backend::Backend::aws_records(&sdk().await, &table))
}

/// The Bot API client, from `TELEGRAM_TOKEN` (and `TELEGRAM_API_URL`).
fn telegram() -> anyhow::Result<TelegramClient> {
    let settings = EnvReader::from_process().load::<TelegramSettings>()?;
    Ok(TelegramClient::new(&settings))
}
