//! The local runner: the whole bot in one process on the embedded backend, data in a local
//! folder kept across restarts.
//!
//! - Telegram updates come by long polling (getUpdates, after removing any webhook) and go
//!   through the same [`Conversation::process`] the webhook function uses;
//! - a worker takes jobs off the local launch queue and runs [`Pipeline::run_job`], as the
//!   training-launch function does with SQS;
//! - the status sweep runs every minute, as EventBridge schedules it in AWS;
//! - the fal-webhook handler is served on localhost (`LOCAL_FAL_WEBHOOK_ADDR`), for a tunnel.
//!
//! Test mode (no fal.ai calls) is the default locally; with `FAL_KEY` trainings and
//! generations are real and, unless a tunnel brings fal.ai's webhooks to the local server,
//! their results are collected by the sweep.

mod webhook_server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxbot::backend::Backend;
use fluxbot::bot::{Conversation, Processed};
use fluxbot::domain::Limits;
use fluxbot::domain::Timestamp;
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::settings::{FalSettings, FalWebhooks};
use fluxbot::fal::training::TrainingSettings;
use fluxbot::jobs::Job;
use fluxbot::pipeline::{JobOutcome, Pipeline};
use fluxbot::ports::QueueDelay;
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::TelegramSettings;

/// How long one getUpdates call waits for news (below the client's 17 s request timeout).
const POLL_WAIT: Duration = Duration::from_secs(10);
/// Pause after a failure before polling again.
const BACKOFF: Duration = Duration::from_secs(2);
/// How long the worker waits on an empty queue before asking again.
const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// A job that asks to be retried comes back after this long.
const RETRY_DELAY: u64 = 30;

/// Everything the runner reads from the environment.
pub struct LocalConfig {
    pub telegram: TelegramSettings,
    pub fal: FalSettings,
    pub webhooks: FalWebhooks,
    pub limits: Limits,
    pub training: TrainingSettings,
    pub generation: GenerationSettings,
    /// How often the sweep runs (every minute, as in AWS).
    pub sweep_every: Duration,
    /// Where the fal-webhook handler listens (port 0: any free port).
    pub fal_webhook_addr: SocketAddr,
}

pub struct LocalBot {
    pub conversation: Conversation,
    pub pipeline: Pipeline,
    pub data_dir: PathBuf,
    sweep_every: Duration,
    fal_webhook: std::sync::Mutex<Option<std::net::TcpListener>>,
    fal_webhook_addr: SocketAddr,
}

impl LocalBot {
    /// Opens (or creates) the local database, queue and blob folder under `data_dir`.
    pub fn open(data_dir: &Path, config: LocalConfig) -> anyhow::Result<Self> {
        let backend = Backend::embedded(data_dir)?;
        let telegram = TelegramClient::new(&config.telegram);
        // Bound now, so a port in use is an error at start and the address is known.
        let listener = std::net::TcpListener::bind(config.fal_webhook_addr)?;
        listener.set_nonblocking(true)?;
        let fal_webhook_addr = listener.local_addr()?;
        Ok(Self {
            conversation: Conversation::new(&backend, telegram.clone(), config.limits),
            pipeline: Pipeline::new(
                &backend,
                telegram,
                config.fal,
                config.webhooks,
                config.training,
                config.generation,
            ),
            data_dir: data_dir.to_owned(),
            sweep_every: config.sweep_every,
            fal_webhook: std::sync::Mutex::new(Some(listener)),
            fal_webhook_addr,
        })
    }

    /// Where the local fal-webhook server listens.
    pub fn fal_webhook_addr(&self) -> SocketAddr {
        self.fal_webhook_addr
    }

    /// The secret that binds local webhook URLs to their records: `FAL_WEBHOOK_SECRET` if
    /// set, else one made once and kept in the data folder (so URLs given to fal.ai before a
    /// restart still verify after it).
    pub fn webhook_secret(data_dir: &Path) -> std::io::Result<String> {
        let path = data_dir.join("webhook-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) if secret.trim().len() >= 32 => Ok(secret.trim().to_owned()),
            _ => {
                std::fs::create_dir_all(data_dir)?;
                let bytes: [u8; 32] = rand::random();
                let secret = hex::encode(bytes);
                std::fs::write(&path, &secret)?;
                Ok(secret)
            }
        }
    }

    /// Runs everything until `stop` resolves.
    pub async fn run(&self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        self.pipeline.log_mode();
        let listener = self
            .fal_webhook
            .lock()
            .expect("not poisoned")
            .take()
            .ok_or_else(|| anyhow::anyhow!("the local runner runs once"))?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = Arc::new(fal_webhook::App::new(self.pipeline.clone()));
        tracing::info!(addr = %self.fal_webhook_addr, "fal.ai webhook handler on /fal/webhook, health on /health");
        tokio::select! {
            () = stop => Ok(()),
            polled = self.poll() => polled,
            () = self.work() => Ok(()),
            () = self.sweep() => Ok(()),
            () = webhook_server::serve(listener, app) => Ok(()),
        }
    }

    /// Long polling. Updates are handled one at a time, in order; a transient failure stops
    /// the batch so the same update is fetched and tried again.
    async fn poll(&self) -> anyhow::Result<()> {
        let telegram = &self.conversation.telegram;
        telegram.delete_webhook().await?;
        tracing::info!("long polling Telegram for updates");
        let mut offset = 0i32;
        loop {
            let updates = match telegram.get_updates(offset, POLL_WAIT).await {
                Ok(updates) => updates,
                Err(e) => {
                    tracing::warn!(error = %e, "getUpdates failed; retrying");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            };
            for update in updates {
                match self.conversation.process(&update).await {
                    Ok(processed) => {
                        if let Processed::Done(Some(answer)) = processed
                            && let Err(e) = telegram.answer(&answer).await
                        {
                            tracing::warn!(error = %e, "could not answer a callback query");
                        }
                        offset = i32::try_from(update.id.0)
                            .unwrap_or(i32::MAX)
                            .saturating_add(1);
                    }
                    Err(e) => {
                        tracing::warn!(update_id = update.id.0, error = %e, "update failed; will retry");
                        tokio::time::sleep(BACKOFF).await;
                        break;
                    }
                }
            }
        }
    }

    /// The launch worker: the local queue's jobs, as SQS would deliver them.
    async fn work(&self) {
        let queue = &self.pipeline.launches;
        loop {
            let messages = match queue.receive(5, QUEUE_WAIT).await {
                Ok(messages) => messages,
                Err(e) => {
                    tracing::warn!(error = %e, "local queue unavailable; retrying");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            };
            if messages.is_empty() {
                tokio::time::sleep(QUEUE_WAIT).await;
            }
            for message in messages {
                let outcome = match Job::from_body(&message.body) {
                    Ok(job) => self.pipeline.run_job(job, Timestamp::now()).await,
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable job dropped");
                        JobOutcome::Done
                    }
                };
                let settled = match outcome {
                    JobOutcome::Done | JobOutcome::Abandoned(_) => {
                        queue.ack(&message.receipt).await
                    }
                    JobOutcome::RetryLater(_) => {
                        let delay = QueueDelay::from_secs(RETRY_DELAY).expect("within 900 s");
                        queue.release(&message.receipt, delay).await
                    }
                };
                if let Err(e) = settled {
                    tracing::warn!(error = %e, "could not settle a job; it comes back after its visibility timeout");
                }
            }
        }
    }

    /// The status sweep on a timer.
    async fn sweep(&self) {
        let mut every = tokio::time::interval(self.sweep_every);
        loop {
            every.tick().await;
            let deadline = Instant::now() + self.sweep_every;
            if let Err(e) = self.pipeline.sweep(Timestamp::now(), deadline).await {
                tracing::warn!(error = %e, "sweep failed; next tick retries");
            }
        }
    }
}
