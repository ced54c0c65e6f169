//! The record ports on SQLite, one file per record type. Records are JSON bodies; the columns
//! beside them are what lookups and conditions need, written in the same statement as the
//! body.

mod avatars;
mod fal_requests;
mod generations;
mod in_flight;
mod photos;
mod updates;
mod users;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::db::Database;
use crate::ports::store::{StoreError, StoreResult, Versioned};

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

impl EmbeddedStore {
    /// Stores a record that must not exist yet; returns it as stored.
    async fn create<T: Row>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let mut columns = stored.key();
        columns.extend(stored.columns());
        columns.push(("version", version_value(stored.version())?));
        columns.push(("body", Value::Text(encode(&stored)?)));
        let (names, values): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            T::TABLE,
            names.join(", "),
            placeholders(1, values.len()).collect::<Vec<_>>().join(", "),
        );
        let label = record.label();
        self.db
            .run(move |conn| {
                match conn
                    .execute(&sql, params_from_iter(values))
                    .map_err(db_err)?
                {
                    1 => Ok(()),
                    _ => Err(StoreError::Conflict(format!("{label} already exists"))),
                }
            })
            .await?;
        Ok(stored)
    }

    /// Replaces a record if the stored one is still at `record`'s version; otherwise tells a
    /// lost race (`Conflict`) from a vanished record (`NotFound`).
    async fn replace<T: Row>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let mut set = stored.columns();
        set.push(("version", version_value(stored.version())?));
        set.push(("body", Value::Text(encode(&stored)?)));
        let key = stored.key();
        let where_key = key
            .iter()
            .zip(placeholders(set.len() + 1, key.len()))
            .map(|((name, _), p)| format!("{name} = {p}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "UPDATE {} SET {} WHERE {where_key} AND version = ?{}",
            T::TABLE,
            set.iter()
                .zip(placeholders(1, set.len()))
                .map(|((name, _), p)| format!("{name} = {p}"))
                .collect::<Vec<_>>()
                .join(", "),
            set.len() + key.len() + 1,
        );
        let exists_sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {})",
            T::TABLE,
            key.iter()
                .zip(placeholders(1, key.len()))
                .map(|((name, _), p)| format!("{name} = {p}"))
                .collect::<Vec<_>>()
                .join(" AND "),
        );
        let key_values: Vec<Value> = key.into_iter().map(|(_, v)| v).collect();
        let mut values: Vec<Value> = set.into_iter().map(|(_, v)| v).collect();
        values.extend(key_values.iter().cloned());
        values.push(version_value(record.version())?);
        let (label, expected) = (record.label(), record.version());
        self.db
            .run(move |conn| {
                if conn
                    .execute(&sql, params_from_iter(values))
                    .map_err(db_err)?
                    == 1
                {
                    return Ok(());
                }
                let exists: bool = conn
                    .query_row(&exists_sql, params_from_iter(key_values), |r| r.get(0))
                    .map_err(db_err)?;
                Err(if exists {
                    StoreError::Conflict(format!("{label} changed since version {expected}"))
                } else {
                    StoreError::NotFound(label)
                })
            })
            .await?;
        Ok(stored)
    }
}
