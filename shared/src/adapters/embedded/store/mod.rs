//! The record ports on SQLite, one file per record type. Records are JSON bodies; the columns
//! beside them are what lookups and conditions need, written in the same statement as the
//! body.

mod avatars;
mod causes;
mod counters;
mod credits;
mod fal_requests;
mod generations;
mod in_flight;
mod photos;
mod spend;
mod updates;
mod users;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::db::Database;
use crate::domain::{AvatarId, Credits, NotEnoughCredits, Quota, UserId, WorkRef};
use crate::ports::store::{CommitCost, CommitRefused, StoreError, StoreResult, Versioned};

/// The record store on the embedded database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Database,
}

impl EmbeddedStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

fn encode<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn decode<T: DeserializeOwned>(key: &str, body: &str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// The JSON body the query selects, decoded; `None` when no row matches.
fn one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    key: &str,
) -> StoreResult<Option<T>> {
    let body: Option<String> = conn
        .query_row(sql, params, |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    body.map(|b| decode(key, &b)).transpose()
}

/// Every JSON body the query selects, decoded, in the query's order.
fn many<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    key: &str,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    rows.map(|row| decode(key, &row.map_err(db_err)?)).collect()
}

fn version_value(v: u64) -> StoreResult<Value> {
    i64::try_from(v)
        .map(Value::Integer)
        .map_err(|_| StoreError::Conflict(format!("version {v} out of range")))
}

/// A versioned record as a table row: `version` and `body` columns plus these.
trait Row: Versioned + Serialize {
    const TABLE: &'static str;
    /// The columns that find the row, scoped to its owner or parent.
    fn key(&self) -> Vec<(&'static str, Value)>;
    /// The lookup columns written beside the body.
    fn columns(&self) -> Vec<(&'static str, Value)>;
}

fn placeholders(from: usize, count: usize) -> impl Iterator<Item = String> {
    (from..from + count).map(|i| format!("?{i}"))
}

/// One conditional write of a versioned row, prepared outside the database thread.
struct RowWrite {
    sql: String,
    values: Vec<Value>,
    /// For a replace: how to tell a lost race from a vanished row.
    exists: Option<(String, Vec<Value>)>,
    label: String,
    expected: u64,
}

fn set_list(columns: &[(&'static str, Value)], first: usize, separator: &str) -> String {
    columns
        .iter()
        .zip(placeholders(first, columns.len()))
        .map(|((name, _), p)| format!("{name} = {p}"))
        .collect::<Vec<_>>()
        .join(separator)
}

impl RowWrite {
    /// An insert of a record that must not exist yet.
    fn create<T: Row>(stored: &T, record: &T) -> StoreResult<Self> {
        let mut columns = stored.key();
        columns.extend(stored.columns());
        columns.push(("version", version_value(stored.version())?));
        columns.push(("body", Value::Text(encode(stored)?)));
        let (names, values): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            T::TABLE,
            names.join(", "),
            placeholders(1, values.len()).collect::<Vec<_>>().join(", "),
        );
        Ok(Self {
            sql,
            values,
            exists: None,
            label: record.label(),
            expected: record.version(),
        })
    }

    /// An update conditional on the version `record` was read at.
    fn replace<T: Row>(stored: &T, record: &T) -> StoreResult<Self> {
        let mut set = stored.columns();
        set.push(("version", version_value(stored.version())?));
        set.push(("body", Value::Text(encode(stored)?)));
        let key = stored.key();
        let sql = format!(
            "UPDATE {} SET {} WHERE {} AND version = ?{}",
            T::TABLE,
            set_list(&set, 1, ", "),
            set_list(&key, set.len() + 1, " AND "),
            set.len() + key.len() + 1,
        );
        let exists_sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {})",
            T::TABLE,
            set_list(&key, 1, " AND "),
        );
        let key_values: Vec<Value> = key.into_iter().map(|(_, v)| v).collect();
        let mut values: Vec<Value> = set.into_iter().map(|(_, v)| v).collect();
        values.extend(key_values.iter().cloned());
        values.push(version_value(record.version())?);
        Ok(Self {
            sql,
            values,
            exists: Some((exists_sql, key_values)),
            label: record.label(),
            expected: record.version(),
        })
    }

    /// Runs the write; a lost condition is `Conflict` (or `NotFound` for a vanished row).
    fn apply(self, conn: &Connection) -> StoreResult<()> {
        if conn
            .execute(&self.sql, params_from_iter(self.values))
            .map_err(db_err)?
            == 1
        {
            return Ok(());
        }
        let Some((exists_sql, key_values)) = self.exists else {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                self.label
            )));
        };
        let exists: bool = conn
            .query_row(&exists_sql, params_from_iter(key_values), |r| r.get(0))
            .map_err(db_err)?;
        Err(if exists {
            StoreError::Conflict(format!(
                "{} changed since version {}",
                self.label, self.expected
            ))
        } else {
            StoreError::NotFound(self.label)
        })
    }
}

impl EmbeddedStore {
    /// Stores a record that must not exist yet; returns it as stored.
    async fn create<T: Row>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let write = RowWrite::create(&stored, record)?;
        self.db.run(move |conn| write.apply(conn)).await?;
        Ok(stored)
    }

    /// Replaces a record if the stored one is still at `record`'s version; otherwise tells a
    /// lost race (`Conflict`) from a vanished record (`NotFound`).
    async fn replace<T: Row>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let write = RowWrite::replace(&stored, record)?;
        self.db.run(move |conn| write.apply(conn)).await?;
        Ok(stored)
    }

    /// `write` with what `commit` carries, in one transaction: nothing happens if the day's
    /// spend would pass the cap or the debit the owner's balance, if a cause committed other
    /// work, or if the avatar is gone or being deleted (`Ok(Err(_))`), if the owner's count
    /// moved (`Conflict`), or if the write's condition fails. A SQLite call cannot lose its
    /// answer (it runs in this process), so no write token is needed here.
    async fn commit<T: Send>(
        &self,
        stored: T,
        writes: Vec<RowWrite>,
        commit: Commit,
    ) -> StoreResult<Result<T, CommitRefused>> {
        let refused = self
            .db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                // Its causes first, then a race with other work (the count moved, the record
                // changed, this work was paid for), then its avatar, the budget and the
                // balance: as on DynamoDB. Any early return drops the transaction, which
                // rolls it back.
                for cause in &commit.cost.causes {
                    if let Some(work) = causes::claim(&tx, cause, &commit.work)? {
                        return Ok(Some(CommitRefused::Duplicate(work)));
                    }
                }
                if let Some((owner, counter, seen)) = commit.guard {
                    if counters::count(&tx, owner, counter)? != seen {
                        return Err(StoreError::Conflict(format!(
                            "user {owner} committed other work meanwhile"
                        )));
                    }
                    counters::set(&tx, owner, counter, seen + 1)?;
                }
                for write in writes {
                    write.apply(&tx)?;
                }
                if let Some((owner, avatar)) = commit.parent
                    && !avatars::accepts_work(&tx, owner, avatar)?
                {
                    return Ok(Some(CommitRefused::Gone));
                }
                if let Some(charge) = &commit.cost.spend {
                    let spent = spend::spent(&tx, charge.day.as_str())?;
                    if !charge.fits(spent) {
                        return Ok(Some(CommitRefused::OverBudget { spent }));
                    }
                }
                if let Some(first) = commit.cost.debits.first() {
                    // All of them or none: the balance must cover their sum.
                    let balance = credits::balance(&tx, first.owner)?;
                    let price = Credits(
                        commit
                            .cost
                            .debits
                            .iter()
                            .map(|d| d.delta.min(0).unsigned_abs())
                            .sum(),
                    );
                    if balance < price {
                        return Ok(Some(CommitRefused::NotEnoughCredits(NotEnoughCredits {
                            balance,
                            price,
                        })));
                    }
                }
                for debit in &commit.cost.debits {
                    match credits::apply(&tx, debit)? {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            return Err(StoreError::Conflict(format!(
                                "work {} was paid for already",
                                debit.key()
                            )));
                        }
                        Err(short) => return Ok(Some(CommitRefused::NotEnoughCredits(short))),
                    }
                }
                if let Some(charge) = &commit.cost.spend {
                    let amount =
                        i64::try_from(charge.amount.micros()).map_err(StoreError::backend)?;
                    tx.execute(
                        "INSERT INTO spend (day, micros) VALUES (?1, ?2)
                         ON CONFLICT (day) DO UPDATE SET micros = micros + excluded.micros",
                        rusqlite::params![charge.day.as_str(), amount],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)?;
                Ok(None)
            })
            .await?;
        Ok(match refused {
            Some(over) => Err(over),
            None => Ok(stored),
        })
    }
}

/// What a commit writes beside its record (see `EmbeddedStore::commit`).
struct Commit {
    cost: CommitCost,
    guard: Option<(UserId, Quota, u64)>,
    /// The avatar the work belongs to, which must exist and not be being deleted.
    parent: Option<(UserId, AvatarId)>,
    work: WorkRef,
}
