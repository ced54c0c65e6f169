use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{EmbeddedStore, db_err};
use crate::domain::Timestamp;
use crate::ports::store::{StoreResult, UpdateClaim, UpdateLog};

#[async_trait]
impl UpdateLog for EmbeddedStore {
    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim> {
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                // Expired marks behave as absent, as DynamoDB TTL deletes lazily.
                tx.execute(
                    "DELETE FROM claimed_updates WHERE expires_at <= ?1",
                    params![now.as_secs()],
                )
                .map_err(db_err)?;
                let existing: Option<bool> = tx
                    .query_row(
                        "SELECT done FROM claimed_updates WHERE update_id = ?1",
                        params![update_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                let claim = match existing {
                    Some(true) => UpdateClaim::Done,
                    Some(false) => UpdateClaim::InProgress,
                    None => {
                        tx.execute(
                            "INSERT INTO claimed_updates (update_id, expires_at, done) VALUES (?1, ?2, 0)",
                            params![update_id, lease_until.as_secs()],
                        )
                        .map_err(db_err)?;
                        UpdateClaim::Fresh
                    }
                };
                tx.commit().map_err(db_err)?;
                Ok(claim)
            })
            .await
    }

    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()> {
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO claimed_updates (update_id, expires_at, done) VALUES (?1, ?2, 1)
                     ON CONFLICT (update_id) DO UPDATE SET expires_at = excluded.expires_at, done = 1",
                    params![update_id, expires_at.as_secs()],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM claimed_updates WHERE update_id = ?1",
                    params![update_id],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }
}
