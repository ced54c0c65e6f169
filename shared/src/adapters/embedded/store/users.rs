use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::Value;

use super::{EmbeddedStore, Row, db_err, many, one};
use crate::domain::{Timestamp, UserId, UserProfile};
use crate::ports::store::{StoreError, StoreResult, UserPage, UserStore};

impl Row for UserProfile {
    const TABLE: &'static str = "users";
    fn key(&self) -> Vec<(&'static str, Value)> {
        vec![("id", Value::Integer(self.id.0))]
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }
}

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>> {
        let key = format!("user {id}");
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM users WHERE id = ?1",
                    params![id.0],
                    &key,
                )
            })
            .await
    }

    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile> {
        if user.version == 0 {
            self.create(user).await
        } else {
            self.replace(user).await
        }
    }

    async fn forget_user(&self, id: UserId) -> StoreResult<()> {
        // Not the avatars (deleted one by one before) nor the books (`credits`, `ledger`).
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                for table in ["users", "counters", "causes", "broadcasts"] {
                    let column = if table == "users" { "id" } else { "owner" };
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE {column} = ?1"),
                        params![id.0],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn list_users(&self, cursor: Option<String>, limit: u32) -> StoreResult<UserPage> {
        let after: i64 = match cursor.as_deref().map(str::parse) {
            None => i64::MIN,
            Some(Ok(id)) => id,
            Some(Err(_)) => {
                return Err(StoreError::foreign_cursor("user listing"));
            }
        };
        let users: Vec<UserProfile> = self
            .db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
                    params![after, limit.max(1)],
                    "users",
                )
            })
            .await?;
        let next = (users.len() >= limit.max(1) as usize)
            .then(|| users.last().map(|u| u.id.0.to_string()))
            .flatten();
        Ok(UserPage { users, next })
    }

    async fn note_broadcast(
        &self,
        user: UserId,
        broadcast: &str,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let broadcast = broadcast.to_owned();
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO broadcasts (owner, id, until) VALUES (?1, ?2, ?3)",
                    params![user.0, broadcast, until.0],
                )
                .map(|inserted| inserted == 1)
                .map_err(db_err)
            })
            .await
    }

    async fn unnote_broadcast(&self, user: UserId, broadcast: &str) -> StoreResult<()> {
        let broadcast = broadcast.to_owned();
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM broadcasts WHERE owner = ?1 AND id = ?2",
                    params![user.0, broadcast],
                )
                .map(|_| ())
                .map_err(db_err)
            })
            .await
    }
}
