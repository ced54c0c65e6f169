//! The local runner: the bot in one process on the embedded backend, data in a local folder
//! kept across restarts. Telegram updates come by long polling (getUpdates, after removing
//! any webhook) and go through the same [`Conversation::process`] the webhook function uses.
//!
//! Training launches are put on the local queue; the worker that performs them, the local
//! fal.ai webhook and the sweep timer are wired here as their issues (#4, #6) land.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fluxbot::adapters::embedded::{Database, EmbeddedQueue, EmbeddedStore, LocalBlobs};
use fluxbot::bot::{Conversation, Processed};
use fluxbot::config::{Limits, TelegramSettings};
use fluxbot::telegram::client::TelegramClient;

/// How long one getUpdates call waits for news (below the client's 17 s request timeout).
const POLL_WAIT: Duration = Duration::from_secs(10);
/// Pause after a failure before polling again.
const BACKOFF: Duration = Duration::from_secs(2);

pub struct LocalBot {
    pub conversation: Conversation,
    pub data_dir: PathBuf,
}

impl LocalBot {
    /// Opens (or creates) the local database, queue and blob folder under `data_dir`.
    pub fn open(
        data_dir: &Path,
        telegram: &TelegramSettings,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let db = Database::open(&data_dir.join("bot.sqlite3"))?;
        let blobs = LocalBlobs::open(
            &data_dir.join("blobs"),
            url::Url::parse("http://127.0.0.1:8080/")?,
        )?;
        Ok(Self {
            conversation: Conversation {
                store: Arc::new(EmbeddedStore::new(db.clone())),
                blobs: Arc::new(blobs),
                launches: Arc::new(EmbeddedQueue::new(db, "launch", Duration::from_secs(540))),
                telegram: TelegramClient::new(telegram),
                limits,
            },
            data_dir: data_dir.to_owned(),
        })
    }

    /// Polls Telegram until `stop` resolves. Updates are handled one at a time, in order; a
    /// transient failure stops the batch so the same update is fetched and tried again.
    pub async fn poll(&self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let telegram = &self.conversation.telegram;
        telegram.delete_webhook().await?;
        tracing::info!("long polling Telegram for updates");
        let mut offset = 0i32;
        tokio::pin!(stop);
        loop {
            let updates = tokio::select! {
                () = &mut stop => return Ok(()),
                updates = telegram.get_updates(offset, POLL_WAIT) => updates,
            };
            let updates = match updates {
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
                            && let Err(e) = telegram.answer_callback(&answer).await
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
}
