//! Each user's counts of trainings queued and generations started: the guards that make one
//! request at a time pass the user's limits (see `AvatarStore::enqueue_avatar`,
//! `GenerationStore::start_generation`).

use rusqlite::{Connection, OptionalExtension, params};

use super::db_err;
use crate::domain::{Quota, UserId};
use crate::ports::store::StoreResult;

fn name(quota: Quota) -> &'static str {
    match quota {
        Quota::Trainings => "trainings",
        Quota::Pictures => "generations",
    }
}

pub(super) fn count(conn: &Connection, owner: UserId, counter: Quota) -> StoreResult<u64> {
    let count: Option<i64> = conn
        .query_row(
            "SELECT count FROM counters WHERE owner = ?1 AND kind = ?2",
            params![owner.0, name(counter)],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(count.map_or(0, |c| c.max(0) as u64))
}

pub(super) fn set(conn: &Connection, owner: UserId, counter: Quota, count: u64) -> StoreResult<()> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO counters (owner, kind, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (owner, kind) DO UPDATE SET count = excluded.count",
        params![owner.0, name(counter), count],
    )
    .map_err(db_err)?;
    Ok(())
}
