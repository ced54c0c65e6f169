use async_trait::async_trait;

use super::commit::{Commit, Condition, CountGuard};
use super::{
    DynamoStore, Item, SortKeys, TableRecord, avatar_sk, from_item, s, sdk_err, to_item, user_pk,
    with_in_flight,
};
use crate::domain::{Avatar, AvatarId, AvatarStatus, Quota, UserId};
use crate::ports::store::{
    AvatarStore, CommitCost, CommitRefused, StoreResult, Versioned, avatar_entry,
};

impl TableRecord for Avatar {
    fn item(&self) -> StoreResult<Item> {
        let mut item = to_item(self, user_pk(self.owner), avatar_sk(self.id), "avatar")?;
        item.insert("status".into(), s(self.status().as_str()));
        Ok(with_in_flight(item, avatar_entry(self)))
    }
}

#[async_trait]
impl AvatarStore for DynamoStore {
    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.create(avatar).await
    }

    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
        self.get(user_pk(owner), avatar_sk(id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>> {
        self.query_range(
            user_pk(owner),
            SortKeys::Prefix(super::AVATAR_SK_PREFIX),
            true,
            None,
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }

    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.replace(avatar).await
    }

    async fn launch_count(&self, owner: UserId) -> StoreResult<u64> {
        self.count_of(owner, Quota::Trainings).await
    }

    async fn enqueue_avatar(
        &self,
        avatar: &Avatar,
        launches_seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Avatar, CommitRefused>> {
        let commit = Commit {
            condition: Condition::AtVersion(avatar.version),
            cost,
            guard: Some(CountGuard {
                owner: avatar.owner,
                quota: Quota::Trainings,
                seen: launches_seen,
            }),
            parent: None,
            work: avatar.work(),
        };
        self.commit(avatar, avatar.next_version(), Vec::new(), commit)
            .await
    }

    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()> {
        // Its children first, the avatar last: a deletion that stops half-way leaves the
        // avatar (marked as being deleted) for the next try to finish, never children that
        // nothing leads to. Children are filtered by owner, so a forged id cannot touch another
        // user's data; no work is committed under a marked avatar in between.
        let children = self.owned_children(owner, id, SortKeys::All).await?;
        self.batch_delete(children).await?;
        self.delete(user_pk(owner), avatar_sk(id)).await
    }

    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>> {
        let mut counts: std::collections::HashMap<String, u64> = Default::default();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#entity = :avatar")
            .projection_expression("#status")
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":avatar", s("avatar"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_err)?.items.unwrap_or_default() {
                if let Some(status) = item.get("status").and_then(|v| v.as_s().ok()) {
                    *counts.entry(status.clone()).or_default() += 1;
                }
            }
        }
        Ok(AvatarStatus::ALL
            .iter()
            .map(|st| (*st, counts.get(st.as_str()).copied().unwrap_or(0)))
            .collect())
    }
}
