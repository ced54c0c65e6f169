use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::db::Database;
use crate::domain::AvatarStatus;
use crate::domain::{
    Avatar, AvatarId, ContentHash, Generation, GenerationId, Photo, Timestamp, UserId, UserProfile,
};
use crate::ports::store::{
    FalRequestOwner, FalTarget, InFlightCursor, InFlightPage, PhotoAdded, RecordStore, StoreError,
    StoreResult, UpdateClaim, in_flight_sort_key, parse_in_flight_sort_key,
};

/// [`RecordStore`] on SQLite. Records are JSON bodies; the columns beside them are what
/// lookups and conditions need, written in the same statement as the body.
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

fn version_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Conflict(format!("version {v} out of range")))
}

fn avatar_in_flight_key(a: &Avatar) -> Option<String> {
    a.in_flight_since().map(|since| {
        in_flight_sort_key(
            since,
            &FalTarget::Training {
                owner: a.owner,
                avatar_id: a.id,
            },
        )
    })
}

fn generation_in_flight_key(g: &Generation) -> Option<String> {
    g.in_flight_since().map(|since| {
        in_flight_sort_key(
            since,
            &FalTarget::Generation {
                owner: g.owner,
                avatar_id: g.avatar_id,
                generation_id: g.id,
            },
        )
    })
}

fn read_avatar(conn: &Connection, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
    let key = id.to_string();
    one(
        conn,
        "SELECT body FROM avatars WHERE id = ?1 AND owner = ?2",
        params![key, owner.0],
        &key,
    )
}

#[async_trait]
impl RecordStore for EmbeddedStore {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>> {
        self.db
            .run(move |conn| {
                let body: Option<String> = conn
                    .query_row("SELECT body FROM users WHERE id = ?1", params![id.0], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(db_err)?;
                body.map(|b| decode(&format!("user {id}"), &b)).transpose()
            })
            .await
    }

    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile> {
        let expected = user.version;
        let stored = UserProfile {
            version: expected + 1,
            ..user.clone()
        };
        let body = encode(&stored)?;
        let (id, new_version, old_version) = (
            user.id.0,
            version_i64(expected + 1)?,
            version_i64(expected)?,
        );
        self.db
            .run(move |conn| {
                let changed = if old_version == 0 {
                    conn.execute(
                        "INSERT INTO users (id, version, body) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                        params![id, new_version, body],
                    )
                } else {
                    conn.execute(
                        "UPDATE users SET version = ?2, body = ?3 WHERE id = ?1 AND version = ?4",
                        params![id, new_version, body, old_version],
                    )
                }
                .map_err(db_err)?;
                if changed == 1 { Ok(()) } else { Err(StoreError::Conflict(format!("user {id} changed since version {old_version}"))) }
            })
            .await?;
        Ok(stored)
    }

    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        let stored = Avatar {
            version: avatar.version + 1,
            ..avatar.clone()
        };
        let body = encode(&stored)?;
        let in_flight = avatar_in_flight_key(&stored);
        let (id, owner, status) = (
            stored.id.to_string(),
            stored.owner.0,
            stored.status().as_str(),
        );
        let (version, photo_count) = (version_i64(stored.version)?, stored.photo_count);
        self.db
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "INSERT INTO avatars (id, owner, status, version, photo_count, in_flight_key, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                        params![id, owner, status, version, photo_count, in_flight, body],
                    )
                    .map_err(db_err)?;
                if changed == 1 { Ok(()) } else { Err(StoreError::Conflict(format!("avatar {id} already exists"))) }
            })
            .await?;
        Ok(stored)
    }

    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
        self.db.run(move |conn| read_avatar(conn, owner, id)).await
    }

    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>> {
        let key = format!("avatars of {owner}");
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM avatars WHERE owner = ?1 ORDER BY id",
                    params![owner.0],
                    &key,
                )
            })
            .await
    }

    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        let stored = Avatar {
            version: avatar.version + 1,
            ..avatar.clone()
        };
        let body = encode(&stored)?;
        let in_flight = avatar_in_flight_key(&stored);
        let (id, owner, status) = (
            stored.id.to_string(),
            stored.owner.0,
            stored.status().as_str(),
        );
        let (new_version, old_version, photo_count) = (
            version_i64(stored.version)?,
            version_i64(avatar.version)?,
            stored.photo_count,
        );
        self.db
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE avatars SET status = ?3, version = ?4, photo_count = ?5, in_flight_key = ?6, body = ?7
                         WHERE id = ?1 AND owner = ?2 AND version = ?8",
                        params![id, owner, status, new_version, photo_count, in_flight, body, old_version],
                    )
                    .map_err(db_err)?;
                if changed == 1 {
                    return Ok(());
                }
                let exists: bool = conn
                    .query_row("SELECT EXISTS (SELECT 1 FROM avatars WHERE id = ?1 AND owner = ?2)", params![id, owner], |r| r.get(0))
                    .map_err(db_err)?;
                Err(if exists {
                    StoreError::Conflict(format!("avatar {id} changed since version {old_version}"))
                } else {
                    StoreError::NotFound(format!("avatar {id}"))
                })
            })
            .await?;
        Ok(stored)
    }

    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()> {
        let id = id.to_string();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let other_owner: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM avatars WHERE id = ?1 AND owner != ?2)",
                        params![id, owner.0],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                if other_owner {
                    // Someone else's avatar: behave exactly as if it did not exist.
                    return Ok(());
                }
                tx.execute(
                    "DELETE FROM avatars WHERE id = ?1 AND owner = ?2",
                    params![id, owner.0],
                )
                .map_err(db_err)?;
                tx.execute(
                    "DELETE FROM photos WHERE avatar_id = ?1 AND owner = ?2",
                    params![id, owner.0],
                )
                .map_err(db_err)?;
                tx.execute(
                    "DELETE FROM generations WHERE avatar_id = ?1 AND owner = ?2",
                    params![id, owner.0],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn add_photo(&self, photo: &Photo, max_photos: u32) -> StoreResult<PhotoAdded> {
        let body = encode(photo)?;
        let (avatar_id, owner) = (photo.avatar_id.to_string(), photo.owner.0);
        let (fuid, hash) = (
            photo.file_unique_id.clone(),
            photo.content_hash.as_str().to_owned(),
        );
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let avatar: Option<(String, u32)> = tx
                    .query_row(
                        "SELECT status, photo_count FROM avatars WHERE id = ?1 AND owner = ?2",
                        params![avatar_id, owner],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(db_err)?;
                let Some((status, count)) = avatar else { return Ok(PhotoAdded::AvatarMissing) };
                let same_file: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM photos WHERE avatar_id = ?1 AND file_unique_id = ?2)",
                        params![avatar_id, fuid],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                if same_file {
                    return Ok(PhotoAdded::DuplicateFile);
                }
                let same_content: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM photos WHERE avatar_id = ?1 AND content_hash = ?2)",
                        params![avatar_id, hash],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                if same_content {
                    return Ok(PhotoAdded::DuplicateContent);
                }
                if !matches!(status.as_str(), "collecting_photos" | "ready") {
                    return Ok(PhotoAdded::NotAccepting);
                }
                if count >= max_photos {
                    return Ok(PhotoAdded::Full { max: max_photos });
                }
                tx.execute(
                    "INSERT INTO photos (avatar_id, owner, file_unique_id, content_hash, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![avatar_id, owner, fuid, hash, body],
                )
                .map_err(db_err)?;
                tx.execute(
                    "UPDATE avatars SET photo_count = photo_count + 1, version = version + 1,
                         body = json_set(body, '$.photo_count', photo_count + 1, '$.version', version + 1)
                     WHERE id = ?1",
                    params![avatar_id],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(PhotoAdded::Added { photo_count: count + 1 })
            })
            .await
    }

    async fn list_photos(&self, avatar_id: AvatarId) -> StoreResult<Vec<Photo>> {
        let key = avatar_id.to_string();
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM photos WHERE avatar_id = ?1 ORDER BY file_unique_id",
                    params![key],
                    &key,
                )
            })
            .await
    }

    async fn find_photo_by_hash(
        &self,
        avatar_id: AvatarId,
        hash: &ContentHash,
    ) -> StoreResult<Option<Photo>> {
        let (key, hash) = (avatar_id.to_string(), hash.as_str().to_owned());
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM photos WHERE avatar_id = ?1 AND content_hash = ?2",
                    params![key, hash],
                    &key,
                )
            })
            .await
    }

    async fn create_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        let stored = Generation {
            version: generation.version + 1,
            ..generation.clone()
        };
        let body = encode(&stored)?;
        let in_flight = generation_in_flight_key(&stored);
        let (id, avatar_id, owner, version) = (
            stored.id.to_string(),
            stored.avatar_id.to_string(),
            stored.owner.0,
            version_i64(stored.version)?,
        );
        self.db
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "INSERT INTO generations (id, avatar_id, owner, version, in_flight_key, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                        params![id, avatar_id, owner, version, in_flight, body],
                    )
                    .map_err(db_err)?;
                if changed == 1 { Ok(()) } else { Err(StoreError::Conflict(format!("generation {id} already exists"))) }
            })
            .await?;
        Ok(stored)
    }

    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>> {
        let (avatar_id, id) = (avatar_id.to_string(), id.to_string());
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM generations WHERE id = ?1 AND avatar_id = ?2",
                    params![id, avatar_id],
                    &id,
                )
            })
            .await
    }

    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        let stored = Generation {
            version: generation.version + 1,
            ..generation.clone()
        };
        let body = encode(&stored)?;
        let in_flight = generation_in_flight_key(&stored);
        let (id, avatar_id) = (stored.id.to_string(), stored.avatar_id.to_string());
        let (new_version, old_version) = (
            version_i64(stored.version)?,
            version_i64(generation.version)?,
        );
        self.db
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE generations SET version = ?3, in_flight_key = ?4, body = ?5
                         WHERE id = ?1 AND avatar_id = ?2 AND version = ?6",
                        params![id, avatar_id, new_version, in_flight, body, old_version],
                    )
                    .map_err(db_err)?;
                if changed == 1 {
                    return Ok(());
                }
                let exists: bool = conn
                    .query_row("SELECT EXISTS (SELECT 1 FROM generations WHERE id = ?1 AND avatar_id = ?2)", params![id, avatar_id], |r| {
                        r.get(0)
                    })
                    .map_err(db_err)?;
                Err(if exists {
                    StoreError::Conflict(format!("generation {id} changed since version {old_version}"))
                } else {
                    StoreError::NotFound(format!("generation {id}"))
                })
            })
            .await?;
        Ok(stored)
    }

    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        let key = avatar_id.to_string();
        self.db
            .run(move |conn| {
                many(
                    conn,
                    "SELECT body FROM generations WHERE avatar_id = ?1 ORDER BY id DESC LIMIT ?2",
                    params![key, limit],
                    &key,
                )
            })
            .await
    }

    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()> {
        let body = encode(owner)?;
        let id = owner.request_id.clone();
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO fal_requests (request_id, body) VALUES (?1, ?2)
                     ON CONFLICT (request_id) DO UPDATE SET body = excluded.body",
                    params![id, body],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>> {
        let id = request_id.to_owned();
        self.db
            .run(move |conn| {
                one(
                    conn,
                    "SELECT body FROM fal_requests WHERE request_id = ?1",
                    params![id],
                    &id,
                )
            })
            .await
    }

    async fn forget_photos(&self, owner: UserId, avatar_id: AvatarId) -> StoreResult<()> {
        let id = avatar_id.to_string();
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM photos WHERE avatar_id = ?1 AND owner = ?2",
                    params![id, owner.0],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()> {
        let id = request_id.to_owned();
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM fal_requests WHERE request_id = ?1",
                    params![id],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim> {
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                // Expired marks behave as absent, as DynamoDB TTL deletes lazily.
                tx.execute("DELETE FROM claimed_updates WHERE expires_at <= ?1", params![now.as_secs()]).map_err(db_err)?;
                let existing: Option<bool> = tx
                    .query_row("SELECT done FROM claimed_updates WHERE update_id = ?1", params![update_id], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                let claim = match existing {
                    Some(true) => UpdateClaim::Done,
                    Some(false) => UpdateClaim::InProgress,
                    None => {
                        tx.execute(
                            "INSERT INTO claimed_updates (update_id, expires_at, done) VALUES (?1, ?2, 0)",
                            params![update_id, lease_until.as_secs()],
                        )
                        .map_err(db_err)?;
                        UpdateClaim::Fresh
                    }
                };
                tx.commit().map_err(db_err)?;
                Ok(claim)
            })
            .await
    }

    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()> {
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO claimed_updates (update_id, expires_at, done) VALUES (?1, ?2, 1)
                     ON CONFLICT (update_id) DO UPDATE SET expires_at = excluded.expires_at, done = 1",
                    params![update_id, expires_at.as_secs()],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM claimed_updates WHERE update_id = ?1",
                    params![update_id],
                )
                .map_err(db_err)
                .map(drop)
            })
            .await
    }

    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>> {
        let counts: Vec<(String, u64)> = self
            .db
            .run(|conn| {
                let mut stmt = conn
                    .prepare("SELECT status, COUNT(*) FROM avatars GROUP BY status")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(db_err)?;
                rows.map(|r| r.map(|(s, n)| (s, n.max(0) as u64)).map_err(db_err))
                    .collect()
            })
            .await?;
        Ok(AvatarStatus::ALL
            .iter()
            .map(|st| {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == st.as_str())
                    .map_or(0, |(_, n)| *n);
                (*st, n)
            })
            .collect())
    }

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
                    .map(|k| parse_in_flight_sort_key(k).ok_or_else(|| StoreError::Corrupt { key: k.clone(), reason: "bad in-flight key".into() }))
                    .collect::<StoreResult<Vec<_>>>()?;
                let next = if more { keys.last().map(|k| InFlightCursor(k.clone())) } else { None };
                Ok(InFlightPage { items, next })
            })
            .await
    }
}
