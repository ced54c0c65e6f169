use async_trait::async_trait;
use rusqlite::params;

use super::{EmbeddedStore, db_err};
use crate::domain::Timestamp;
use crate::ports::store::{
    InFlightCursor, InFlightIndex, InFlightPage, StoreError, StoreResult, parse_in_flight_sort_key,
};

#[async_trait]
impl InFlightIndex for EmbeddedStore {
    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage> {
        let cutoff = older_than.sortable();
        let after = cursor.map(|c| c.0).unwrap_or_default();
        self.db
            .run(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT k FROM (
                             SELECT in_flight_key AS k FROM avatars WHERE in_flight_key > ?1 AND in_flight_key < ?2
                             UNION ALL
                             SELECT in_flight_key AS k FROM generations WHERE in_flight_key > ?1 AND in_flight_key < ?2
                         ) ORDER BY k LIMIT ?3",
                    )
                    .map_err(db_err)?;
                let keys: Vec<String> = stmt
                    .query_map(params![after, cutoff, limit + 1], |r| r.get(0))
                    .map_err(db_err)?
                    .collect::<Result<_, _>>()
                    .map_err(db_err)?;
                let more = keys.len() > limit as usize;
                let keys = &keys[..keys.len().min(limit as usize)];
                let items = keys
                    .iter()
                    .map(|k| {
                        parse_in_flight_sort_key(k).ok_or_else(|| StoreError::Corrupt {
                            key: k.clone(),
                            reason: "bad in-flight key".into(),
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let next = if more {
                    keys.last().map(|k| InFlightCursor(k.clone()))
                } else {
                    None
                };
                Ok(InFlightPage { items, next })
            })
            .await
    }
}
