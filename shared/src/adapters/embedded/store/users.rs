use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::Value;

use super::{EmbeddedStore, Row, db_err, one};
use crate::domain::{UserId, UserProfile};
use crate::ports::store::{StoreResult, UserStore};

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
                for table in ["users", "counters", "causes"] {
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
}
