use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{EmbeddedStore, db_err};
use crate::domain::{SpendDay, Usd};
use crate::ports::store::{SpendLedger, StoreResult};

/// The day's spend so far.
pub(super) fn spent(conn: &Connection, day: &str) -> StoreResult<Usd> {
    let micros: Option<i64> = conn
        .query_row(
            "SELECT micros FROM spend WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(Usd(micros.map_or(0, |m| m.max(0) as u64)))
}

#[async_trait]
impl SpendLedger for EmbeddedStore {
    async fn spent_on(&self, day: &SpendDay) -> StoreResult<Usd> {
        let day = day.as_str().to_owned();
        self.db.run(move |conn| spent(conn, &day)).await
    }
}
