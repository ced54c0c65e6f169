//! Each user's launch count: the guard that makes one Confirm at a time pass the user's
//! training limits (see `AvatarStore::enqueue_avatar`).

use rusqlite::{Connection, OptionalExtension, params};

use super::db_err;
use crate::domain::UserId;
use crate::ports::store::StoreResult;

pub(super) fn count(conn: &Connection, owner: UserId) -> StoreResult<u64> {
    let count: Option<i64> = conn
        .query_row(
            "SELECT count FROM launches WHERE owner = ?1",
            params![owner.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(count.map_or(0, |c| c.max(0) as u64))
}

pub(super) fn set(conn: &Connection, owner: UserId, count: u64) -> StoreResult<()> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO launches (owner, count) VALUES (?1, ?2)
         ON CONFLICT (owner) DO UPDATE SET count = excluded.count",
        params![owner.0, count],
    )
    .map_err(db_err)?;
    Ok(())
}
