//! The job queue: at-least-once delivery with per-message delays.

use std::time::Duration;

use async_trait::async_trait;

/// A delivery delay SQS can honour: 0 to 900 seconds. Longer waits belong in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct QueueDelay(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue delay of {0} s exceeds the 900 s maximum")]
pub struct DelayTooLong(pub u64);

impl QueueDelay {
    pub const MAX_SECS: u16 = 900;
    pub const NONE: QueueDelay = QueueDelay(0);

    pub fn from_secs(secs: u64) -> Result<Self, DelayTooLong> {
        u16::try_from(secs)
            .ok()
            .filter(|s| *s <= Self::MAX_SECS)
            .map(Self)
            .ok_or(DelayTooLong(secs))
    }

    pub fn as_secs(self) -> u16 {
        self.0
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

impl std::str::FromStr for QueueDelay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let secs: u64 = s
            .trim()
            .parse()
            .map_err(|_| format!("expected whole seconds, got {s:?}"))?;
        QueueDelay::from_secs(secs).map_err(|e| e.to_string())
    }
}

/// The handle to acknowledge or release one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub body: String,
    pub receipt: Receipt,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl QueueError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        QueueError::Backend(Box::new(e))
    }
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues `body`, deliverable after `delay`. Returns the message id.
    async fn send(&self, body: &str, delay: QueueDelay) -> Result<String, QueueError>;
    /// Receives up to `max` visible messages, waiting up to `wait` for the first. Received
    /// messages stay invisible for the queue's visibility timeout unless acknowledged.
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError>;
    /// Deletes a processed message.
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError>;
    /// Makes a received message visible again after `delay` (a retry).
    async fn release(&self, receipt: &Receipt, delay: QueueDelay) -> Result<(), QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_by_sqs() {
        assert_eq!(QueueDelay::from_secs(900).unwrap().as_secs(), 900);
        assert_eq!(QueueDelay::from_secs(901), Err(DelayTooLong(901)));
        assert_eq!(QueueDelay::from_secs(u64::MAX), Err(DelayTooLong(u64::MAX)));
        assert!("abc".parse::<QueueDelay>().is_err());
        assert_eq!("30".parse::<QueueDelay>().unwrap().as_secs(), 30);
    }
}
