use async_trait::async_trait;

use super::{
    Attributes, DynamoStore, Item, SortKeys, TableLayout, TableRecord, WRITE_TOKEN, from_item, key,
    key_parts, n, s, sdk_err, to_item, user_pk, write_token,
};
use crate::domain::{ChatId, Timestamp, UserId, UserProfile};
use crate::ports::store::{StoreError, StoreResult, UserPage, UserStore};

const PROFILE: &str = "PROFILE";

impl TableRecord for UserProfile {
    fn item(&self) -> StoreResult<Item> {
        to_item(self, user_pk(self.id), PROFILE.into(), "user")
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>> {
        self.get(user_pk(id), PROFILE.into())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile> {
        if user.version == 0 {
            self.create(user).await
        } else {
            self.replace(user).await
        }
    }

    async fn forget_user(&self, id: UserId) -> StoreResult<()> {
        // Everything in the user's partition but their avatars and their books: what is
        // added there later is forgotten too, unless it is named here.
        let doomed = self
            .query_items(
                user_pk(id),
                SortKeys::All,
                true,
                None,
                Attributes::KeyAndOwner,
            )
            .await?
            .iter()
            .map(key_parts)
            .filter(|(_, sk)| {
                !sk.starts_with(super::AVATAR_SK_PREFIX) && !super::credits::is_books(sk)
            })
            .map(|(pk, sk)| key(pk, sk))
            .collect();
        self.batch_delete(doomed).await?;
        let (pk, sk) = super::pace::chat_key(ChatId(id.0));
        self.delete(pk, sk).await
    }

    async fn list_users(&self, cursor: Option<String>, limit: u32) -> StoreResult<UserPage> {
        let start = match cursor.as_deref().map(|c| c.split_once(CURSOR_SEP)) {
            None => None,
            Some(Some((pk, sk))) => Some(key(pk.to_owned(), sk.to_owned())),
            Some(None) => {
                return Err(StoreError::foreign_cursor("user listing"));
            }
        };
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#sk = :profile")
            .expression_attribute_names("#sk", TableLayout::SORT_KEY)
            .expression_attribute_values(":profile", s(PROFILE))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_err)?;
        let users = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<StoreResult<_>>()?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| {
            let (pk, sk) = key_parts(&k);
            format!("{pk}{CURSOR_SEP}{sk}")
        });
        Ok(UserPage { users, next })
    }

    async fn note_broadcast(
        &self,
        user: UserId,
        broadcast: &str,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let (pk, sk) = (user_pk(user), format!("{BROADCAST}{broadcast}"));
        let token = write_token();
        let mut item = key(pk.clone(), sk.clone());
        item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(until.as_secs()));
        item.insert(WRITE_TOKEN.into(), s(token.as_str()));
        // A note written by this very call, its answer lost and the SDK's retry refused, is
        // still this call's.
        Ok(self.put_new(item).await? || self.wrote(pk, sk, &token).await)
    }

    async fn unnote_broadcast(&self, user: UserId, broadcast: &str) -> StoreResult<()> {
        self.delete(user_pk(user), format!("{BROADCAST}{broadcast}"))
            .await
    }
}

/// An announcement sent to the user (`USER#<uid>` / `BROADCAST#<id>`, with a TTL).
const BROADCAST: &str = "BROADCAST#";
/// Between a cursor's partition and sort key (neither holds it).
const CURSOR_SEP: char = '\u{1f}';
