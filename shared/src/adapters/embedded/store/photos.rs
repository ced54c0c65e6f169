use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{EmbeddedStore, db_err, encode, many, one};
use crate::domain::{Avatar, AvatarId, ContentHash, Photo, UserId};
use crate::ports::store::{PhotoAdded, PhotoStore, StoreResult};

#[async_trait]
impl PhotoStore for EmbeddedStore {
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
                let now: Option<Avatar> = one(
                    &tx,
                    "SELECT body FROM avatars WHERE id = ?1",
                    params![avatar_id],
                    &avatar_id,
                )?;
                tx.commit().map_err(db_err)?;
                Ok(match now {
                    Some(avatar) => PhotoAdded::Added(Box::new(avatar)),
                    None => PhotoAdded::AvatarMissing,
                })
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
}
