use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::Value;

use super::Commit;
use super::counters;
use super::{EmbeddedStore, Row, RowWrite, many, one};
use crate::domain::{AvatarId, Generation, GenerationId, Quota, Timestamp, UserId};
use crate::ports::store::{
    CommitCost, CommitRefused, GenerationStore, StoreResult, Versioned, generation_entry,
};

impl Row for Generation {
    const TABLE: &'static str = "generations";
    fn key(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("id", Value::Text(self.id.to_string())),
            ("avatar_id", Value::Text(self.avatar_id.to_string())),
        ]
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("owner", Value::Integer(self.owner.0)),
            ("in_flight_key", generation_entry(self).into()),
        ]
    }
}

#[async_trait]
impl GenerationStore for EmbeddedStore {
    async fn generation_count(&self, owner: UserId) -> StoreResult<u64> {
        self.db
            .run(move |conn| counters::count(conn, owner, Quota::Pictures))
            .await
    }

    async fn start_generations(
        &self,
        generations: &[Generation],
        seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Vec<Generation>, CommitRefused>> {
        let Some(first) = generations.first() else {
            return Ok(Ok(Vec::new()));
        };
        let stored: Vec<Generation> = generations.iter().map(|g| g.next_version()).collect();
        let writes = stored
            .iter()
            .zip(generations)
            .map(|(stored, g)| RowWrite::create(stored, g))
            .collect::<StoreResult<Vec<_>>>()?;
        let commit = Commit {
            cost: cost.clone(),
            guard: Some((first.owner, Quota::Pictures, seen)),
            parent: Some((first.owner, first.avatar_id)),
            work: first.work(),
        };
        self.commit(stored, writes, commit).await
    }

    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>> {
        let (avatar_id, id) = (avatar_id.to_string(), id.to_string());
        let generation: Option<Generation> = self
            .db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM generations WHERE id = ?1 AND avatar_id = ?2",
                    params![id, avatar_id],
                    &id,
                )
            })
            .await?;
        Ok(generation.filter(|g| !g.expired(Timestamp::now())))
    }

    async fn expired_generations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM generations \
                     WHERE json_extract(body, '$.keep_until') <= ?1 \
                     ORDER BY json_extract(body, '$.keep_until') LIMIT ?2",
                    params![now.0, limit],
                    "expired generations",
                )
            })
            .await
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
        let (avatar_id, id) = (avatar_id.to_string(), id.to_string());
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM generations WHERE id = ?1 AND avatar_id = ?2 AND owner = ?3",
                    params![id, avatar_id, owner.0],
                )
                .map(|_| ())
                .map_err(super::db_err)
            })
            .await
    }

    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        let key = avatar_id.to_string();
        let generations: Vec<Generation> = self
            .db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM generations WHERE avatar_id = ?1 ORDER BY id DESC LIMIT ?2",
                    params![key, limit],
                    &key,
                )
            })
            .await?;
        let now = Timestamp::now();
        Ok(generations
            .into_iter()
            .filter(|g| !g.expired(now))
            .collect())
    }
}
