//! Pacing the messages the bot sends on its own (outcome notices, deliveries) so that all
//! instances together stay within Telegram's limits: one message a second in a chat (spaced
//! 1.25 s apart), and a
//! budget a second for the whole bot (`TELEGRAM_SENDS_PER_SECOND`, 25 by default, under the
//! documented 30). The budget is kept in windows of 200 ms of a fifth of it each, so any
//! second, wherever it starts, sees at most six windows: 1.2 times the budget, 30 at 25.
//!
//! The pace never holds a message back for good: past [`MAX_WAIT`], or when the shared
//! reservations cannot be read, the message goes (a 429 is then waited out as before, and a
//! notice that still fails is left for the sweep).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::{ChatId, Timestamp};
use crate::ports::{Reservation, SendPace};

/// At most one message a second in one chat, with a quarter second to spare: what Telegram
/// counts is when messages arrive, and two requests may spend different times on the way.
pub const CHAT_INTERVAL: Duration = Duration::from_millis(1250);
/// The bot's budget is counted in windows this long.
const WINDOW_MS: i64 = 200;
/// The longest a message waits for its turn.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Pacer {
    pace: Arc<dyn SendPace>,
    per_window: u32,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("per_window", &self.per_window)
            .finish()
    }
}

impl Pacer {
    /// `per_second` messages a second for the bot, shared through `pace`.
    pub fn new(pace: Arc<dyn SendPace>, per_second: u32) -> Self {
        Self {
            pace,
            per_window: (per_second * WINDOW_MS as u32 / 1000).max(1),
        }
    }

    /// Waits for this message's turn: a window of the bot's with room for `weight` messages
    /// (an album counts its pictures, up to a window), then the chat's. The chat's turn is
    /// taken last, right before the message goes, so two messages to one chat are a second
    /// apart when they are sent, not only when they were reserved.
    pub async fn permit(&self, chat: ChatId, weight: u32) {
        let deadline = Instant::now() + MAX_WAIT;
        let mut waited = false;
        let weight = weight.clamp(1, self.per_window);
        loop {
            let now = Timestamp::now().0;
            let window = now.div_euclid(WINDOW_MS);
            match self
                .pace
                .reserve_window(window, weight, self.per_window)
                .await
            {
                Ok(true) => break,
                Ok(false) => {
                    let wait =
                        Duration::from_millis(((window + 1) * WINDOW_MS - now).max(1) as u64);
                    if !wait_within(wait, deadline).await {
                        return gave_up(chat);
                    }
                    waited = true;
                }
                Err(e) => return unpaced(chat, &e),
            }
        }
        loop {
            let now = Timestamp::now();
            match self.pace.reserve_chat(chat, now, CHAT_INTERVAL).await {
                Ok(Reservation::Granted) => break,
                Ok(Reservation::WaitUntil(at)) => {
                    let wait = at.since(now).max(Duration::from_millis(20));
                    if !wait_within(wait, deadline).await {
                        return gave_up(chat);
                    }
                    waited = true;
                }
                Err(e) => return unpaced(chat, &e),
            }
        }
        if waited {
            crate::metrics::count("SendsPaced", &[]);
        }
    }
}

/// Sleeps `wait` if that ends before `deadline`.
async fn wait_within(wait: Duration, deadline: Instant) -> bool {
    if Instant::now() + wait > deadline {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

fn gave_up(chat: ChatId) {
    tracing::warn!(
        chat = chat.0,
        "no send slot within the wait; sending anyway"
    );
    crate::metrics::count("SendPaceExceeded", &[]);
}

fn unpaced(chat: ChatId, e: &crate::ports::StoreError) {
    tracing::warn!(chat = chat.0, error = %e, "send pace unreadable; sending unpaced");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::LocalPace;

    #[tokio::test]
    async fn one_chat_waits_a_second_between_messages() {
        let pace = Arc::new(LocalPace::default());
        let pacer = Pacer::new(pace.clone(), 25);
        let start = Instant::now();
        pacer.permit(ChatId(1), 1).await;
        // Another chat's turn is free now; this chat's is not.
        let now = Timestamp::now();
        assert_eq!(
            pace.reserve_chat(ChatId(2), now, CHAT_INTERVAL)
                .await
                .unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            pace.reserve_chat(ChatId(1), now, CHAT_INTERVAL)
                .await
                .unwrap(),
            Reservation::WaitUntil(_)
        ));
        pacer.permit(ChatId(1), 1).await;
        assert!(
            start.elapsed() >= Duration::from_millis(950),
            "the same chat waits"
        );
    }

    #[tokio::test]
    async fn the_bot_budget_is_spread_over_windows() {
        let pacer = Pacer::new(Arc::new(LocalPace::default()), 25);
        let start = Instant::now();
        // 30 chats at once: five a window, so six windows.
        for chat in 0..30 {
            pacer.permit(ChatId(chat), 1).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
    }
}
