use async_trait::async_trait;

use super::{DynamoStore, Item, TableRecord, from_item, to_item, user_pk};
use crate::domain::{UserId, UserProfile};
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
}
