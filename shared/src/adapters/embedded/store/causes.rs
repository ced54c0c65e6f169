//! What caused each commit to paid work (a Telegram update, a tapped button), remembered
//! until it expires with the work it committed: the same cause commits nothing else.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{EmbeddedStore, db_err, decode, encode};
use crate::domain::WorkRef;
use crate::ports::store::{Cause, CauseLog, StoreResult};

/// The work `cause` committed, while it is remembered.
fn committed_by(conn: &Connection, cause: &Cause) -> StoreResult<Option<WorkRef>> {
    let earlier: Option<(String, i64)> = conn
        .query_row(
            "SELECT work, until FROM causes WHERE owner = ?1 AND key = ?2",
            params![cause.owner.0, cause.key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    match earlier {
        Some((body, until)) if until > cause.at.0 => Ok(Some(decode(&cause.key, &body)?)),
        _ => Ok(None),
    }
}

#[async_trait]
impl CauseLog for EmbeddedStore {
    async fn committed_by(&self, cause: &Cause) -> StoreResult<Option<WorkRef>> {
        let cause = cause.clone();
        self.db.run(move |conn| committed_by(conn, &cause)).await
    }
}

/// Records `cause` as committing `work`, unless it committed other work that is still
/// remembered: that work is returned and nothing is written.
pub(super) fn claim(
    conn: &Connection,
    cause: &Cause,
    work: &WorkRef,
) -> StoreResult<Option<WorkRef>> {
    if let Some(earlier) = committed_by(conn, cause)?
        && earlier != *work
    {
        return Ok(Some(earlier));
    }
    conn.execute(
        "INSERT INTO causes (owner, key, work, until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (owner, key) DO UPDATE SET work = excluded.work, until = excluded.until",
        params![cause.owner.0, cause.key, encode(work)?, cause.until.0],
    )
    .map_err(db_err)?;
    Ok(None)
}
