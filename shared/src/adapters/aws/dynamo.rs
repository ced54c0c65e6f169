//! [`RecordStore`] on one DynamoDB table.
//!
//! | item            | pk                | sk                  | notes                                   |
//! |-----------------|-------------------|---------------------|-----------------------------------------|
//! | user profile    | `USER#<uid>`      | `PROFILE`           | versioned                               |
//! | avatar          | `USER#<uid>`      | `AVATAR#<aid>`      | versioned; in-flight index while busy   |
//! | photo           | `AVATAR#<aid>`    | `PHOTO#<file_uid>`  | one per Telegram file                   |
//! | photo hash      | `AVATAR#<aid>`    | `HASH#<sha256>`     | one per content                         |
//! | generation      | `AVATAR#<aid>`    | `GEN#<gid>`         | versioned; in-flight index while busy   |
//! | fal request     | `FALREQ#<rid>`    | `OWNER`             | TTL 30 days                             |
//! | Telegram update | `UPDATE#<id>`     | `SEEN`              | TTL                                     |
//!
//! Keying avatars under their owner makes ownership structural: a lookup with the wrong user
//! id finds nothing. The sparse GSI `in_flight` (`inflight_pk`, `inflight_sk`) holds only items
//! waiting on a worker or fal.ai; the attributes are written with the item's state and dropped
//! when it leaves that state, so the sweep reads exactly the in-flight items, oldest first.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::AwsError;
use crate::domain::{
    Avatar, AvatarId, AvatarStatus, ContentHash, Generation, GenerationId, Photo, Timestamp,
    UserId, UserProfile,
};
use crate::ports::store::{
    FalRequestOwner, FalTarget, InFlightCursor, InFlightPage, PhotoAdded, RecordStore, StoreError,
    StoreResult, UpdateClaim, in_flight_sort_key, parse_in_flight_sort_key,
};

type Item = HashMap<String, AttributeValue>;

/// Names in the table that `template.yaml` must agree with (a test checks it does).
pub struct TableLayout;

impl TableLayout {
    pub const PARTITION_KEY: &'static str = "pk";
    pub const SORT_KEY: &'static str = "sk";
    pub const IN_FLIGHT_INDEX: &'static str = "in_flight";
    pub const IN_FLIGHT_PARTITION_KEY: &'static str = "inflight_pk";
    pub const IN_FLIGHT_SORT_KEY: &'static str = "inflight_sk";
    pub const TTL_ATTRIBUTE: &'static str = "expires_at";
}

const IN_FLIGHT_PARTITION: &str = "IN_FLIGHT";
const FAL_REQUEST_TTL_SECS: i64 = 30 * 24 * 3600;
const BATCH_WRITE_MAX: usize = 25;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn user_pk(owner: UserId) -> String {
    format!("USER#{owner}")
}

fn avatar_sk(id: AvatarId) -> String {
    format!("AVATAR#{id}")
}

fn avatar_pk(id: AvatarId) -> String {
    format!("AVATAR#{id}")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (TableLayout::PARTITION_KEY.into(), s(pk)),
        (TableLayout::SORT_KEY.into(), s(sk)),
    ])
}

/// An item's table key (empty strings if absent, which DynamoDB then rejects).
fn key_parts(item: &Item) -> (String, String) {
    let part = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (
        part(TableLayout::PARTITION_KEY),
        part(TableLayout::SORT_KEY),
    )
}

fn to_item<T: Serialize>(value: &T, pk: String, sk: String, entity: &str) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(StoreError::backend)?;
    item.extend(key(pk, sk));
    item.insert("entity".into(), s(entity));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    let key = item
        .get(TableLayout::SORT_KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        reason: e.to_string(),
    })
}

fn with_in_flight(mut item: Item, sort_key: Option<String>) -> Item {
    if let Some(sort_key) = sort_key {
        item.insert(
            TableLayout::IN_FLIGHT_PARTITION_KEY.into(),
            s(IN_FLIGHT_PARTITION),
        );
        item.insert(TableLayout::IN_FLIGHT_SORT_KEY.into(), s(sort_key));
    }
    item
}

fn avatar_item(avatar: &Avatar) -> StoreResult<Item> {
    let mut item = to_item(
        avatar,
        user_pk(avatar.owner),
        avatar_sk(avatar.id),
        "avatar",
    )?;
    item.insert("status".into(), s(avatar.status().as_str()));
    let target = FalTarget::Training {
        owner: avatar.owner,
        avatar_id: avatar.id,
    };
    Ok(with_in_flight(
        item,
        avatar
            .in_flight_since()
            .map(|since| in_flight_sort_key(since, &target)),
    ))
}

fn generation_item(g: &Generation) -> StoreResult<Item> {
    let item = to_item(
        g,
        avatar_pk(g.avatar_id),
        format!("GEN#{}", g.id),
        "generation",
    )?;
    let target = FalTarget::Generation {
        owner: g.owner,
        avatar_id: g.avatar_id,
        generation_id: g.id,
    };
    Ok(with_in_flight(
        item,
        g.in_flight_since()
            .map(|since| in_flight_sort_key(since, &target)),
    ))
}

/// The table key of the item an in-flight entry points at (for pagination).
fn in_flight_item_key(target: &FalTarget) -> Item {
    match target {
        FalTarget::Training { owner, avatar_id } => key(user_pk(*owner), avatar_sk(*avatar_id)),
        FalTarget::Generation {
            avatar_id,
            generation_id,
            ..
        } => key(avatar_pk(*avatar_id), format!("GEN#{generation_id}")),
    }
}

fn sdk_err<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
    StoreError::backend(AwsError::from_sdk(e))
}

/// The outcome of a conditional put: `true` written, `false` condition failed.
fn put_outcome<O>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
    >,
) -> StoreResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_err(e)),
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out.item)
    }

    /// Puts `item` only if absent; false when it exists.
    async fn put_new(&self, item: Item) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
            .send()
            .await;
        put_outcome(result)
    }

    /// Replaces `item` if the stored one is at `expected` version; otherwise tells a lost race
    /// (`Conflict`) from a vanished record (`NotFound`).
    async fn put_versioned(&self, item: Item, expected: u64, what: String) -> StoreResult<()> {
        let (pk, sk) = key_parts(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":expected", n(expected))
            .send()
            .await;
        if put_outcome(result)? {
            return Ok(());
        }
        match self.get(pk, sk).await? {
            Some(_) => Err(StoreError::Conflict(format!(
                "{what} changed since version {expected}"
            ))),
            None => Err(StoreError::NotFound(what)),
        }
    }

    /// All items of a partition whose sort key starts with `prefix` (every item when it is
    /// empty: DynamoDB refuses `begins_with` on ""), in sort-key order.
    async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
        forward: bool,
        limit: Option<i32>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
                .expression_attribute_values(":pk", s(pk.clone()));
            query = if prefix.is_empty() {
                query.key_condition_expression("#pk = :pk")
            } else {
                query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", TableLayout::SORT_KEY)
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let out = query
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err)?;
            items.extend(out.items.unwrap_or_default());
            let enough = limit.is_some_and(|l| items.len() >= l as usize);
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && !enough => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The keys of an avatar's child items under `prefix` that belong to `owner` (a forged
    /// avatar id cannot reach another user's items).
    async fn owned_children(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        prefix: &str,
    ) -> StoreResult<Vec<Item>> {
        Ok(self
            .query_prefix(avatar_pk(avatar_id), prefix, true, None)
            .await?
            .into_iter()
            .filter(|item| {
                item.get("owner").and_then(|v| v.as_n().ok()) == Some(&owner.0.to_string())
            })
            .map(|item| {
                let (pk, sk) = key_parts(&item);
                key(pk, sk)
            })
            .collect())
    }

    async fn batch_delete(&self, keys: Vec<Item>) -> StoreResult<()> {
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map_err(StoreError::backend)?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<StoreResult<_>>()?;
            // Unprocessed items come back under throttling; retry them with a short backoff.
            for attempt in 0..8u32 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::backend(AwsError::msg(
                    "batch delete left unprocessed items",
                )));
            }
        }
        Ok(())
    }

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
            .get(pk.clone(), format!("PHOTO#{}", photo.file_unique_id))
            .await?
            .is_some()
        {
            return Ok(PhotoAdded::DuplicateFile);
        }
        if self
            .get(pk, format!("HASH#{}", photo.content_hash.as_str()))
            .await?
            .is_some()
        {
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
impl RecordStore for DynamoStore {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>> {
        self.get(user_pk(id), "PROFILE".into())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile> {
        let stored = UserProfile {
            version: user.version + 1,
            ..user.clone()
        };
        let item = to_item(&stored, user_pk(user.id), "PROFILE".into(), "user")?;
        if user.version == 0 {
            if !self.put_new(item).await? {
                return Err(StoreError::Conflict(format!(
                    "user {} already exists",
                    user.id
                )));
            }
        } else {
            self.put_versioned(item, user.version, format!("user {}", user.id))
                .await?;
        }
        Ok(stored)
    }

    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        let stored = Avatar {
            version: avatar.version + 1,
            ..avatar.clone()
        };
        if !self.put_new(avatar_item(&stored)?).await? {
            return Err(StoreError::Conflict(format!(
                "avatar {} already exists",
                avatar.id
            )));
        }
        Ok(stored)
    }

    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
        self.get(user_pk(owner), avatar_sk(id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>> {
        self.query_prefix(user_pk(owner), "AVATAR#", true, None)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        let stored = Avatar {
            version: avatar.version + 1,
            ..avatar.clone()
        };
        self.put_versioned(
            avatar_item(&stored)?,
            avatar.version,
            format!("avatar {}", avatar.id),
        )
        .await?;
        Ok(stored)
    }

    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()> {
        // The avatar first: it disappears from every view at once and later photo writes fail
        // their condition. Its children follow; a retry after a crash finishes the job. Children
        // are filtered by owner, so a forged id cannot touch another user's data.
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(owner), avatar_sk(id))))
            .send()
            .await
            .map_err(sdk_err)?;
        let children = self.owned_children(owner, id, "").await?;
        self.batch_delete(children).await
    }

    async fn forget_photos(&self, owner: UserId, avatar_id: AvatarId) -> StoreResult<()> {
        let mut keys = self.owned_children(owner, avatar_id, "PHOTO#").await?;
        keys.extend(self.owned_children(owner, avatar_id, "HASH#").await?);
        self.batch_delete(keys).await
    }

    async fn add_photo(&self, photo: &Photo, max_photos: u32) -> StoreResult<PhotoAdded> {
        let pk = avatar_pk(photo.avatar_id);
        let photo_item = to_item(
            photo,
            pk.clone(),
            format!("PHOTO#{}", photo.file_unique_id),
            "photo",
        )?;
        let mut hash_item = key(pk, format!("HASH#{}", photo.content_hash.as_str()));
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
        match result {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                return self.explain_photo_refusal(photo, max_photos).await;
            }
            Err(e) => return Err(sdk_err(e)),
        }
        let photo_count = self
            .get_avatar(photo.owner, photo.avatar_id)
            .await?
            .map(|a| a.photo_count)
            .unwrap_or(0);
        Ok(PhotoAdded::Added { photo_count })
    }

    async fn list_photos(&self, avatar_id: AvatarId) -> StoreResult<Vec<Photo>> {
        self.query_prefix(avatar_pk(avatar_id), "PHOTO#", true, None)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn find_photo_by_hash(
        &self,
        avatar_id: AvatarId,
        hash: &ContentHash,
    ) -> StoreResult<Option<Photo>> {
        let pk = avatar_pk(avatar_id);
        let Some(hash_item) = self
            .get(pk.clone(), format!("HASH#{}", hash.as_str()))
            .await?
        else {
            return Ok(None);
        };
        let Some(fuid) = hash_item.get("file_unique_id").and_then(|v| v.as_s().ok()) else {
            return Ok(None);
        };
        self.get(pk, format!("PHOTO#{fuid}"))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn create_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        let stored = Generation {
            version: generation.version + 1,
            ..generation.clone()
        };
        if !self.put_new(generation_item(&stored)?).await? {
            return Err(StoreError::Conflict(format!(
                "generation {} already exists",
                generation.id
            )));
        }
        Ok(stored)
    }

    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>> {
        self.get(avatar_pk(avatar_id), format!("GEN#{id}"))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        let stored = Generation {
            version: generation.version + 1,
            ..generation.clone()
        };
        self.put_versioned(
            generation_item(&stored)?,
            generation.version,
            format!("generation {}", generation.id),
        )
        .await?;
        Ok(stored)
    }

    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let items = self
            .query_prefix(avatar_pk(avatar_id), "GEN#", false, Some(limit))
            .await?;
        items
            .into_iter()
            .take(limit as usize)
            .map(from_item)
            .collect()
    }

    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()> {
        let mut item = to_item(
            owner,
            format!("FALREQ#{}", owner.request_id),
            "OWNER".into(),
            "fal_request",
        )?;
        item.insert(
            TableLayout::TTL_ATTRIBUTE.into(),
            n(owner.created_at.as_secs() + FAL_REQUEST_TTL_SECS),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>> {
        self.get(format!("FALREQ#{request_id}"), "OWNER".into())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("FALREQ#{request_id}"), "OWNER".into())))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim> {
        let key_attrs = key(format!("UPDATE#{update_id}"), "SEEN".into());
        let mut item = key_attrs.clone();
        item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(lease_until.as_secs()));
        item.insert("state".into(), s("processing"));
        // TTL deletion lags by up to days: an expired mark counts as absent.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
            .expression_attribute_names("#exp", TableLayout::TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now.as_secs()))
            .send()
            .await;
        if put_outcome(result)? {
            return Ok(UpdateClaim::Fresh);
        }
        let existing = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        let done = existing
            .item
            .as_ref()
            .and_then(|i| i.get("state"))
            .and_then(|v| v.as_s().ok())
            .is_some_and(|state| state == "done");
        Ok(if done {
            UpdateClaim::Done
        } else {
            UpdateClaim::InProgress
        })
    }

    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()> {
        let mut item = key(format!("UPDATE#{update_id}"), "SEEN".into());
        item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(expires_at.as_secs()));
        item.insert("state".into(), s("done"));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("UPDATE#{update_id}"), "SEEN".into())))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>> {
        let mut counts: std::collections::HashMap<String, u64> = Default::default();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#entity = :avatar")
            .projection_expression("#status")
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":avatar", s("avatar"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_err)?.items.unwrap_or_default() {
                if let Some(status) = item.get("status").and_then(|v| v.as_s().ok()) {
                    *counts.entry(status.clone()).or_default() += 1;
                }
            }
        }
        Ok(AvatarStatus::ALL
            .iter()
            .map(|st| (*st, counts.get(st.as_str()).copied().unwrap_or(0)))
            .collect())
    }

    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage> {
        let start = match cursor {
            None => None,
            Some(InFlightCursor(sort_key)) => {
                let item =
                    parse_in_flight_sort_key(&sort_key).ok_or_else(|| StoreError::Corrupt {
                        key: sort_key.clone(),
                        reason: "bad in-flight cursor".into(),
                    })?;
                let mut start = in_flight_item_key(&item.target);
                start.insert(
                    TableLayout::IN_FLIGHT_PARTITION_KEY.into(),
                    s(IN_FLIGHT_PARTITION),
                );
                start.insert(TableLayout::IN_FLIGHT_SORT_KEY.into(), s(sort_key));
                Some(start)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(TableLayout::IN_FLIGHT_INDEX)
            .key_condition_expression("#ipk = :partition AND #isk < :cutoff")
            .expression_attribute_names("#ipk", TableLayout::IN_FLIGHT_PARTITION_KEY)
            .expression_attribute_names("#isk", TableLayout::IN_FLIGHT_SORT_KEY)
            .expression_attribute_values(":partition", s(IN_FLIGHT_PARTITION))
            .expression_attribute_values(":cutoff", s(older_than.sortable()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_err)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let sort_key = item
                    .get(TableLayout::IN_FLIGHT_SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                parse_in_flight_sort_key(&sort_key).ok_or(StoreError::Corrupt {
                    key: sort_key,
                    reason: "bad in-flight key".into(),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let next = out
            .last_evaluated_key
            .and_then(|k| {
                k.get(TableLayout::IN_FLIGHT_SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
            })
            .map(InFlightCursor);
        Ok(InFlightPage { items, next })
    }
}
