//! The shared pace of the messages the bot sends on its own (outcome notices, deliveries),
//! across every instance of every function: Telegram takes about 30 messages a second from a
//! bot and one a second in a chat, and answers the rest with 429. The pacer in
//! `telegram/pace.rs` waits on these reservations; an adapter keeps them where every instance
//! sees them (a DynamoDB item on AWS, memory in the one embedded process).

use async_trait::async_trait;

use super::store::StoreResult;
use crate::domain::{ChatId, Timestamp};

/// What a reservation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved: send now.
    Granted,
    /// Taken: try again at this time.
    WaitUntil(Timestamp),
}

#[async_trait]
pub trait SendPace: Send + Sync {
    /// Reserves the chat's next message at `now`, if its last one was at least `interval`
    /// ago; on success the chat's next message may go at `now + interval`.
    async fn reserve_chat(
        &self,
        chat: ChatId,
        now: Timestamp,
        interval: std::time::Duration,
    ) -> StoreResult<Reservation>;

    /// Adds `weight` messages to the bot's window `window` (a number the pacer derives from
    /// the time) if that keeps it within `limit`; `false` when the window is full.
    async fn reserve_window(&self, window: i64, weight: u32, limit: u32) -> StoreResult<bool>;
}
