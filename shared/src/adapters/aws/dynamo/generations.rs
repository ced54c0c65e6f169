use async_trait::async_trait;

use super::commit::{Commit, Condition, CountGuard};
use super::{
    DynamoStore, Item, SortKeys, TableLayout, TableRecord, avatar_pk, from_item, n, to_item,
    with_in_flight,
};
use crate::domain::{AvatarId, Generation, GenerationId, Quota, Timestamp, UserId};
use crate::ports::store::{
    CommitCost, CommitRefused, GenerationStore, StoreResult, Versioned, generation_entry,
};

pub(super) fn generation_sk(id: GenerationId) -> String {
    format!("GEN#{id}")
}

impl TableRecord for Generation {
    fn item(&self) -> StoreResult<Item> {
        let mut item = to_item(
            self,
            avatar_pk(self.avatar_id),
            generation_sk(self.id),
            "generation",
        )?;
        // DynamoDB's TTL deletes the record once its retention is over.
        if let Some(until) = self.keep_until {
            item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(until.as_secs()));
        }
        Ok(with_in_flight(item, generation_entry(self)))
    }
}

#[async_trait]
impl GenerationStore for DynamoStore {
    async fn generation_count(&self, owner: UserId) -> StoreResult<u64> {
        self.count_of(owner, Quota::Pictures).await
    }

    async fn start_generations(
        &self,
        generations: &[Generation],
        seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Vec<Generation>, CommitRefused>> {
        let Some((first, others)) = generations.split_first() else {
            return Ok(Ok(Vec::new()));
        };
        let commit = Commit {
            condition: Condition::New,
            cost,
            guard: Some(CountGuard {
                owner: first.owner,
                quota: Quota::Pictures,
                seen,
            }),
            parent: Some((first.owner, first.avatar_id)),
            work: first.work(),
        };
        let others: Vec<Generation> = others.iter().map(|g| g.next_version()).collect();
        let items = others
            .iter()
            .map(|g| g.item())
            .collect::<StoreResult<_>>()?;
        Ok(self
            .commit(first, first.next_version(), items, commit)
            .await?
            .map(|first| std::iter::once(first).chain(others).collect()))
    }

    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>> {
        let generation: Option<Generation> = self
            .get(avatar_pk(avatar_id), generation_sk(id))
            .await?
            .map(from_item)
            .transpose()?;
        Ok(generation.filter(|g| !g.expired(Timestamp::now())))
    }

    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        self.replace(generation).await
    }

    async fn delete_generation(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<()> {
        // Only the owner's: a forged id cannot reach another user's record.
        let Some(generation) = self.get_generation(avatar_id, id).await? else {
            return Ok(());
        };
        if generation.owner != owner {
            return Ok(());
        }
        // A batch of one: the functions that forget a generation may delete records only in
        // batches (as they forget photo records), not one by one.
        self.batch_delete(vec![super::key(avatar_pk(avatar_id), generation_sk(id))])
            .await
    }

    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let items = self
            .query_range(
                avatar_pk(avatar_id),
                SortKeys::Prefix("GEN#"),
                false,
                Some(limit),
            )
            .await?;
        let now = Timestamp::now();
        let generations: Vec<Generation> = items
            .into_iter()
            .take(limit as usize)
            .map(from_item)
            .collect::<StoreResult<_>>()?;
        Ok(generations
            .into_iter()
            .filter(|g| !g.expired(now))
            .collect())
    }
}
