//! The send pace of the one embedded process: the reservations in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::{ChatId, Timestamp};
use crate::ports::store::StoreResult;
use crate::ports::{Reservation, SendPace};

#[derive(Default)]
pub struct LocalPace {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When each chat's next message may go.
    chats: HashMap<ChatId, Timestamp>,
    /// Messages counted in each window (only the newest few are kept).
    windows: HashMap<i64, u32>,
}

#[async_trait]
impl SendPace for LocalPace {
    async fn reserve_chat(
        &self,
        chat: ChatId,
        now: Timestamp,
        interval: std::time::Duration,
    ) -> StoreResult<Reservation> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.chats.get(&chat) {
            Some(next) if *next > now => Ok(Reservation::WaitUntil(*next)),
            _ => {
                state.chats.insert(chat, now.plus(interval));
                Ok(Reservation::Granted)
            }
        }
    }

    async fn reserve_window(&self, window: i64, weight: u32, limit: u32) -> StoreResult<bool> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.windows.retain(|w, _| *w > window - 100);
        let count = state.windows.entry(window).or_insert(0);
        if *count + weight > limit && *count > 0 {
            return Ok(false);
        }
        *count += weight;
        Ok(true)
    }
}
