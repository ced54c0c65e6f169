use async_trait::async_trait;

use super::{
    Attributes, DynamoStore, Item, SortKeys, TableRecord, from_item, key, key_parts, to_item,
    user_pk,
};
use crate::domain::{ChatId, UserId, UserProfile};
use crate::ports::store::{StoreResult, UserStore};

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
}
