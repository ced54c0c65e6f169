use async_trait::async_trait;
use rusqlite::params;

use super::{EmbeddedStore, db_err, encode, one};
use crate::ports::store::{FalRequestOwner, FalRequests, StoreResult};

#[async_trait]
impl FalRequests for EmbeddedStore {
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()> {
        let body = encode(owner)?;
        let id = owner.request_id.clone();
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO fal_requests (request_id, body) VALUES (?1, ?2)
                     ON CONFLICT (request_id) DO UPDATE SET body = excluded.body",
                    params![id, body],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>> {
        let id = request_id.to_owned();
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM fal_requests WHERE request_id = ?1",
                    params![id],
                    &id,
                )
            })
            .await
    }

    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()> {
        let id = request_id.to_owned();
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM fal_requests WHERE request_id = ?1",
                    params![id],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }
}
