use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::Value;

use super::Commit;
use super::counters;
use super::{EmbeddedStore, Row, RowWrite, db_err, many, one};
use crate::domain::{Avatar, AvatarId, AvatarStatus, Quota, UserId};
use crate::ports::store::{
    AvatarStore, CommitCost, CommitRefused, StoreResult, Versioned, avatar_entry,
};

impl Row for Avatar {
    const TABLE: &'static str = "avatars";
    fn key(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("id", Value::Text(self.id.to_string())),
            ("owner", Value::Integer(self.owner.0)),
        ]
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("status", Value::Text(self.status().as_str().into())),
            ("photo_count", Value::Integer(self.photo_count.into())),
            ("in_flight_key", avatar_entry(self).into()),
        ]
    }
}

#[async_trait]
impl AvatarStore for EmbeddedStore {
    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.create(avatar).await
    }

    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
        let key = id.to_string();
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM avatars WHERE id = ?1 AND owner = ?2",
                    params![key, owner.0],
                    &key,
                )
            })
            .await
    }

    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>> {
        let key = format!("avatars of {owner}");
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM avatars WHERE owner = ?1 ORDER BY id",
                    params![owner.0],
                    &key,
                )
            })
            .await
    }

    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.replace(avatar).await
    }

    async fn launch_count(&self, owner: UserId) -> StoreResult<u64> {
        self.db
            .run(move |conn| counters::count(conn, owner, Quota::Trainings))
            .await
    }

    async fn enqueue_avatar(
        &self,
        avatar: &Avatar,
        launches_seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Avatar, CommitRefused>> {
        let stored = avatar.next_version();
        let write = RowWrite::replace(&stored, avatar)?;
        let commit = Commit {
            cost: cost.clone(),
            guard: Some((avatar.owner, Quota::Trainings, launches_seen)),
            parent: None,
            work: avatar.work(),
        };
        self.commit(stored, vec![write], commit).await
    }

    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()> {
        let id = id.to_string();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let other_owner: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM avatars WHERE id = ?1 AND owner != ?2)",
                        params![id, owner.0],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                if other_owner {
                    // Someone else's avatar: behave exactly as if it did not exist.
                    return Ok(());
                }
                for table in ["avatars", "photos", "generations"] {
                    let column = if table == "avatars" {
                        "id"
                    } else {
                        "avatar_id"
                    };
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE {column} = ?1 AND owner = ?2"),
                        params![id, owner.0],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>> {
        let counts: Vec<(String, u64)> = self
            .db
            .run(|conn| {
                let mut stmt = conn
                    .prepare("SELECT status, COUNT(*) FROM avatars GROUP BY status")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(db_err)?;
                rows.map(|r| r.map(|(s, n)| (s, n.max(0) as u64)).map_err(db_err))
                    .collect()
            })
            .await?;
        Ok(AvatarStatus::ALL
            .iter()
            .map(|st| {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == st.as_str())
                    .map_or(0, |(_, n)| *n);
                (*st, n)
            })
            .collect())
    }
}

/// Whether the owner's avatar is there and not being deleted: work may be committed under it.
pub(super) fn accepts_work(
    conn: &rusqlite::Connection,
    owner: UserId,
    id: AvatarId,
) -> StoreResult<bool> {
    let key = id.to_string();
    let avatar: Option<Avatar> = one(
        conn,
        "SELECT body FROM avatars WHERE id = ?1 AND owner = ?2",
        params![key, owner.0],
        &key,
    )?;
    Ok(avatar.is_some_and(|a| a.deleting_since.is_none()))
}
