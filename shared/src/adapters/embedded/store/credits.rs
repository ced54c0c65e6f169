//! Credits on SQLite: `credits(owner, balance)` and `ledger(owner, key, at, body)`, an entry
//! and its balance change in one transaction.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{EmbeddedStore, db_err, encode, many, one};
use crate::domain::{Credits, LedgerEntry, NotEnoughCredits, Timestamp, UserId};
use crate::ports::store::{Applied, CreditLedger, StoreError, StoreResult};

pub(super) fn balance(conn: &Connection, owner: UserId) -> StoreResult<Credits> {
    let balance: Option<i64> = conn
        .query_row(
            "SELECT balance FROM credits WHERE owner = ?1",
            params![owner.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(Credits(balance.map_or(0, |b| b.max(0) as u64)))
}

/// What the entry asks of the balance (0 for a credit).
fn needs(entry: &LedgerEntry) -> Credits {
    Credits(entry.delta.min(0).unsigned_abs())
}

/// Applies `entry` inside the caller's transaction: `Ok(None)` if its key was applied
/// before, `Err(Ok(short))` when the balance does not cover it.
pub(super) fn apply(
    conn: &Connection,
    entry: &LedgerEntry,
) -> StoreResult<Result<Option<Credits>, NotEnoughCredits>> {
    let key = entry.key();
    let seen: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM ledger WHERE owner = ?1 AND key = ?2)",
            params![entry.owner.0, key],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if seen {
        return Ok(Ok(None));
    }
    let now = balance(conn, entry.owner)?;
    let price = needs(entry);
    if now < price {
        return Ok(Err(NotEnoughCredits {
            balance: now,
            price,
        }));
    }
    let after = i64::try_from(now.0)
        .ok()
        .and_then(|b| b.checked_add(entry.delta))
        .ok_or_else(|| StoreError::Conflict(format!("balance of {} out of range", entry.owner)))?;
    conn.execute(
        "INSERT INTO ledger (owner, key, at, body) VALUES (?1, ?2, ?3, ?4)",
        params![entry.owner.0, key, entry.at.0, encode(entry)?],
    )
    .map_err(db_err)?;
    conn.execute(
        "INSERT INTO credits (owner, balance) VALUES (?1, ?2)
         ON CONFLICT (owner) DO UPDATE SET balance = excluded.balance",
        params![entry.owner.0, after],
    )
    .map_err(db_err)?;
    Ok(Ok(Some(Credits(after as u64))))
}

#[async_trait]
impl CreditLedger for EmbeddedStore {
    async fn balance(&self, owner: UserId) -> StoreResult<Credits> {
        self.db.run(move |conn| balance(conn, owner)).await
    }

    async fn ledger(&self, owner: UserId, limit: usize) -> StoreResult<Vec<LedgerEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM ledger WHERE owner = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2",
                    params![owner.0, limit],
                    "ledger",
                )
            })
            .await
    }

    async fn payment_entries(&self, since: Timestamp) -> StoreResult<Vec<LedgerEntry>> {
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM ledger WHERE at >= ?1 \
                     AND (key LIKE 'purchase:%' OR key LIKE 'payment_refund:%' \
                     OR key LIKE 'payment_refund_reversed:%')",
                    params![since.0],
                    "payment entries",
                )
            })
            .await
    }

    async fn ledger_entry(&self, owner: UserId, key: &str) -> StoreResult<Option<LedgerEntry>> {
        let key = key.to_owned();
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM ledger WHERE owner = ?1 AND key = ?2",
                    params![owner.0, key],
                    &key,
                )
            })
            .await
    }

    async fn apply_entry(
        &self,
        entry: &LedgerEntry,
    ) -> StoreResult<Result<Applied, NotEnoughCredits>> {
        let entry = entry.clone();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let outcome = match apply(&tx, &entry)? {
                    Ok(Some(after)) => Ok(Applied::New(after)),
                    Ok(None) => Ok(Applied::Repeat(balance(&tx, entry.owner)?)),
                    Err(short) => Err(short),
                };
                tx.commit().map_err(db_err)?;
                Ok(outcome)
            })
            .await
    }
}
