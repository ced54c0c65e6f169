use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;

use super::db::Database;
use crate::domain::Timestamp;
use crate::ports::queue::{JobQueue, QueueDelay, QueueError, Receipt, ReceivedMessage};

/// A durable in-process queue in the embedded database, with SQS semantics: per-message
/// delays, a visibility timeout, receive counts, at-least-once delivery.
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Database,
    name: String,
    visibility_timeout: Duration,
    wake: Arc<Notify>,
}

impl EmbeddedQueue {
    pub fn new(db: Database, name: impl Into<String>, visibility_timeout: Duration) -> Self {
        Self {
            db,
            name: name.into(),
            visibility_timeout,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Claims up to `max` visible messages; also returns when the next invisible one is due.
    async fn claim(
        &self,
        max: u32,
    ) -> Result<(Vec<ReceivedMessage>, Option<Timestamp>), QueueError> {
        let name = self.name.clone();
        let invisible_for = self.visibility_timeout;
        self.db
            .run(move |conn| {
                let now = Timestamp::now();
                let tx = conn.transaction().map_err(crate::ports::StoreError::backend)?;
                let due: Vec<(String, String, u32)> = {
                    let mut stmt = tx
                        .prepare("SELECT id, body, receive_count FROM jobs WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at LIMIT ?3")
                        .map_err(crate::ports::StoreError::backend)?;
                    stmt.query_map(params![name, now.0, max], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .map_err(crate::ports::StoreError::backend)?
                        .collect::<Result<_, _>>()
                        .map_err(crate::ports::StoreError::backend)?
                };
                let mut received = Vec::with_capacity(due.len());
                for (id, body, count) in due {
                    let receipt = uuid::Uuid::now_v7().simple().to_string();
                    tx.execute(
                        "UPDATE jobs SET receipt = ?2, receive_count = receive_count + 1, visible_at = ?3 WHERE id = ?1",
                        params![id, receipt, now.plus(invisible_for).0],
                    )
                    .map_err(crate::ports::StoreError::backend)?;
                    received.push(ReceivedMessage { message_id: id, body, receipt: Receipt(receipt), receive_count: count + 1 });
                }
                let next: Option<i64> = tx
                    .query_row("SELECT MIN(visible_at) FROM jobs WHERE queue = ?1", params![name], |r| r.get(0))
                    .map_err(crate::ports::StoreError::backend)?;
                tx.commit().map_err(crate::ports::StoreError::backend)?;
                Ok((received, next.map(Timestamp)))
            })
            .await
            .map_err(QueueError::backend)
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn send(&self, body: &str, delay: QueueDelay) -> Result<String, QueueError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let (name, body, msg_id) = (self.name.clone(), body.to_owned(), id.clone());
        let visible_at = Timestamp::now().plus(delay.as_duration());
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO jobs (id, queue, body, visible_at) VALUES (?1, ?2, ?3, ?4)",
                    params![msg_id, name, body, visible_at.0],
                )
                .map_err(crate::ports::StoreError::backend)
                .map(drop)
            })
            .await
            .map_err(QueueError::backend)?;
        self.wake.notify_waiters();
        Ok(id)
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so a send between the look and the wait wakes us.
            let woken = self.wake.notified();
            let (received, next_due) = self.claim(max.clamp(1, 10)).await?;
            let now = tokio::time::Instant::now();
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            let until_due = next_due
                .map(|due| {
                    Duration::from_millis(u64::try_from(due.0 - Timestamp::now().0).unwrap_or(0))
                })
                .unwrap_or(Duration::MAX);
            let nap = until_due.min(deadline - now).max(Duration::from_millis(5));
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let receipt = receipt.0.clone();
        self.db
            .run(move |conn| {
                conn.execute("DELETE FROM jobs WHERE receipt = ?1", params![receipt])
                    .map_err(crate::ports::StoreError::backend)
                    .map(drop)
            })
            .await
            .map_err(QueueError::backend)
    }

    async fn release(&self, receipt: &Receipt, delay: QueueDelay) -> Result<(), QueueError> {
        let receipt = receipt.0.clone();
        let visible_at = Timestamp::now().plus(delay.as_duration());
        self.db
            .run(move |conn| {
                conn.execute(
                    "UPDATE jobs SET visible_at = ?2 WHERE receipt = ?1",
                    params![receipt, visible_at.0],
                )
                .map_err(crate::ports::StoreError::backend)
                .map(drop)
            })
            .await
            .map_err(QueueError::backend)?;
        self.wake.notify_waiters();
        Ok(())
    }
}
