//! The send pace shared by every instance: `PACE#CHAT#<chat>` / `NEXT` holds when the chat's
//! next message may go (`next`, ms), `PACE#BOT` / `W#<window>` how many messages a window
//! of time has taken (`n`). Each reservation is one conditional update; items expire an hour
//! on. A write applied with its answer lost and sent again counts twice or reserves a chat
//! slot it then waits out: the pace errs slow, never fast.

use async_trait::async_trait;

use super::{DynamoStore, TableLayout, key, n, s, sdk_err};
use crate::domain::{ChatId, Timestamp};
use crate::ports::store::StoreResult;
use crate::ports::{Reservation, SendPace};

const KEEP_SECS: i64 = 3600;

const NEXT: &str = "NEXT";

fn chat_pk(chat: ChatId) -> String {
    format!("PACE#CHAT#{}", chat.0)
}

/// The item holding a chat's pace (forgotten with its user).
pub(super) fn chat_key(chat: ChatId) -> (String, String) {
    (chat_pk(chat), NEXT.into())
}

#[async_trait]
impl SendPace for DynamoStore {
    async fn reserve_chat(
        &self,
        chat: ChatId,
        now: Timestamp,
        interval: std::time::Duration,
    ) -> StoreResult<Reservation> {
        let next = now.plus(interval);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(chat_pk(chat), NEXT.into())))
            .update_expression("SET #next = :next, #exp = :expires, #entity = :pace")
            .condition_expression("attribute_not_exists(#next) OR #next <= :now")
            .expression_attribute_names("#next", "next")
            .expression_attribute_names("#exp", TableLayout::TTL_ATTRIBUTE)
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_values(":next", n(next.0))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":expires", n(now.as_secs() + KEEP_SECS))
            .expression_attribute_values(":pace", s("pace"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Reservation::Granted),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let next = self
                    .get(chat_pk(chat), NEXT.into())
                    .await?
                    .and_then(|item| item.get("next")?.as_n().ok()?.parse().ok())
                    .map_or(next, Timestamp);
                Ok(Reservation::WaitUntil(next))
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn reserve_window(&self, window: i64, weight: u32, limit: u32) -> StoreResult<bool> {
        // An empty window takes even a message heavier than the limit (an album of more
        // pictures than a window holds), else it could never go.
        let room = i64::from(limit) - i64::from(weight);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("PACE#BOT".into(), format!("W#{window}"))))
            .update_expression("ADD #n :weight SET #exp = :expires, #entity = :pace")
            .condition_expression("attribute_not_exists(#n) OR #n <= :room")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#exp", TableLayout::TTL_ATTRIBUTE)
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_values(":weight", n(weight))
            .expression_attribute_values(":room", n(room))
            .expression_attribute_values(":expires", n(Timestamp::now().as_secs() + KEEP_SECS))
            .expression_attribute_values(":pace", s("pace"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_err(e)),
        }
    }
}
