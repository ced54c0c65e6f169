use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{
    DynamoStore, Item, SortKeys, TableLayout, WRITE_TOKEN, avatar_pk, avatar_sk, from_item, key,
    key_parts, n, s, sdk_err, to_item, user_pk, write_token,
};
use crate::domain::{AvatarId, ContentHash, Photo, UserId};
use crate::ports::store::{AvatarStore, PhotoAdded, PhotoStore, StoreError, StoreResult};

const PHOTO: &str = "PHOTO#";
/// Just past every `PHOTO#` key ('$' follows '#').
const PHOTO_END: &str = "PHOTO$";
const HASH: &str = "HASH#";

fn photo_sk(file_unique_id: &str) -> String {
    format!("{PHOTO}{file_unique_id}")
}

fn hash_sk(hash: &ContentHash) -> String {
    format!("{HASH}{}", hash.as_str())
}

impl DynamoStore {
    /// Decides why an add-photo transaction was cancelled, with the same precedence as the
    /// embedded store: missing avatar, duplicate file, duplicate content, state, capacity.
    async fn explain_photo_refusal(
        &self,
        photo: &Photo,
        max_photos: u32,
    ) -> StoreResult<PhotoAdded> {
        let Some(avatar) = self.get_avatar(photo.owner, photo.avatar_id).await? else {
            return Ok(PhotoAdded::AvatarMissing);
        };
        let pk = avatar_pk(photo.avatar_id);
        if self
            .get(pk.clone(), photo_sk(&photo.file_unique_id))
            .await?
            .is_some()
        {
            return Ok(PhotoAdded::DuplicateFile);
        }
        if self.get(pk, hash_sk(&photo.content_hash)).await?.is_some() {
            return Ok(PhotoAdded::DuplicateContent);
        }
        if !avatar.status().accepts_photos() {
            return Ok(PhotoAdded::NotAccepting);
        }
        if avatar.photo_count >= max_photos {
            return Ok(PhotoAdded::Full { max: max_photos });
        }
        // Nothing explains it: a concurrent transaction touched the same items.
        Err(StoreError::Conflict(format!(
            "photo {} raced another write",
            photo.file_unique_id
        )))
    }
}

#[async_trait]
impl PhotoStore for DynamoStore {
    async fn add_photo(&self, photo: &Photo, max_photos: u32) -> StoreResult<PhotoAdded> {
        let pk = avatar_pk(photo.avatar_id);
        let mut photo_item = to_item(photo, pk.clone(), photo_sk(&photo.file_unique_id), "photo")?;
        // Told apart from a duplicate when the SDK's retry fails on this very write.
        let token = write_token();
        photo_item.insert(WRITE_TOKEN.into(), s(token.as_str()));
        let mut hash_item = key(pk, hash_sk(&photo.content_hash));
        hash_item.insert("owner".into(), n(photo.owner.0));
        hash_item.insert("file_unique_id".into(), s(&photo.file_unique_id));
        hash_item.insert("entity".into(), s("photo_hash"));
        let not_exists = |item: Item| -> StoreResult<TransactWriteItem> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
                .build()
                .map_err(StoreError::backend)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let count_photo = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(photo.owner), avatar_sk(photo.avatar_id))))
            .update_expression("SET #pc = #pc + :one, #v = #v + :one")
            .condition_expression(
                "attribute_exists(#pk) AND #st IN (:collecting, :ready) AND #pc < :max",
            )
            .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
            .expression_attribute_names("#pc", "photo_count")
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_photos))
            .expression_attribute_values(":collecting", s("collecting_photos"))
            .expression_attribute_values(":ready", s("ready"))
            .build()
            .map_err(StoreError::backend)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(not_exists(photo_item)?)
            .transact_items(not_exists(hash_item)?)
            .transact_items(TransactWriteItem::builder().update(count_photo).build())
            .send()
            .await;
        if let Err(e) = result {
            // Applied with its answer lost (the retry then refused by its own result): ours.
            let ours = self
                .wrote(
                    avatar_pk(photo.avatar_id),
                    photo_sk(&photo.file_unique_id),
                    &token,
                )
                .await;
            if !ours {
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception())
                {
                    return self.explain_photo_refusal(photo, max_photos).await;
                }
                return Err(sdk_err(e));
            }
        }
        Ok(match self.get_avatar(photo.owner, photo.avatar_id).await? {
            Some(avatar) => PhotoAdded::Added(Box::new(avatar)),
            None => PhotoAdded::AvatarMissing, // Deleted right after; its photos go with it.
        })
    }

    async fn list_photos(&self, avatar_id: AvatarId) -> StoreResult<Vec<Photo>> {
        self.query_range(avatar_pk(avatar_id), SortKeys::Prefix(PHOTO), true, None)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn forget_photos(&self, owner: UserId, avatar_id: AvatarId) -> StoreResult<()> {
        // One query for both kinds: HASH# and PHOTO# are neighbours in the avatar's partition
        // (only GEN# sorts outside them), so the range holds nothing else today; the prefix
        // check keeps it so if a kind is ever added between them.
        let keys = self
            .owned_children(owner, avatar_id, SortKeys::Between(HASH, PHOTO_END))
            .await?
            .into_iter()
            .filter(|k| {
                let (_, sk) = key_parts(k);
                sk.starts_with(HASH) || sk.starts_with(PHOTO)
            })
            .collect();
        self.batch_delete(keys).await
    }

    async fn find_photo_by_hash(
        &self,
        avatar_id: AvatarId,
        hash: &ContentHash,
    ) -> StoreResult<Option<Photo>> {
        let pk = avatar_pk(avatar_id);
        let Some(hash_item) = self.get(pk.clone(), hash_sk(hash)).await? else {
            return Ok(None);
        };
        let Some(fuid) = hash_item.get("file_unique_id").and_then(|v| v.as_s().ok()) else {
            return Ok(None);
        };
        self.get(pk, photo_sk(fuid))
            .await?
            .map(from_item)
            .transpose()
    }
}
