//! The record ports on one DynamoDB table, one file per record type.
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
//! | credits         | `USER#<uid>`      | `CREDITS`           | the balance                             |
//! | ledger entry    | `USER#<uid>`      | `LEDGER#<key>`      | one per purchase/debit/refund/grant     |
//! | launch count    | `USER#<uid>`      | `LAUNCHES`          | guards the training limit               |
//! | generation count| `USER#<uid>`      | `GENERATIONS`       | guards the generation limits            |
//! | day's spend     | `SPEND#<day>`     | `TOTAL`             | micro-dollars; TTL 40 days              |
//! | commit cause    | `USER#<uid>`      | `CAUSE#<key>`       | TTL; the work it committed              |
//! | chat send pace  | `PACE#CHAT#<chat>`| `NEXT`              | TTL 1 hour                              |
//! | bot send pace   | `PACE#BOT`        | `W#<window>`        | TTL 1 hour                              |
//!
//! Forgetting a user (`UserStore::forget_user`) deletes everything under `USER#<uid>` but
//! the avatars (deleted one by one before, with their children) and the books (`CREDITS`,
//! `LEDGER#`, `HISTORY#`), and their chat's pace.
//!
//! Keying avatars under their owner makes ownership structural: a lookup with the wrong user
//! id finds nothing. The sparse GSI `in_flight` (`inflight_pk`, `inflight_sk`) holds only items
//! the sweep looks after; the attributes are written with the item's state and dropped when
//! it leaves that state, so the sweep reads exactly those items, oldest first. Its partition
//! key is one of 16 shards (`IN_FLIGHT#00`..`IN_FLIGHT#15`, by a hash of the item), so the
//! index's writes spread over partitions (`in_flight.rs`).

mod avatars;
mod commit;
mod credits;
mod fal_requests;
mod generations;
mod in_flight;
mod pace;
mod photos;
mod transact;
mod updates;
mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::AwsError;
use crate::domain::{AvatarId, UserId};
use crate::ports::store::{StoreError, StoreResult, Versioned};

type Item = HashMap<String, AttributeValue>;

/// Names in the table that `template.yaml` must agree with (a test checks it does).
pub struct TableLayout;

impl TableLayout {
    pub const PARTITION_KEY: &'static str = "pk";
    pub const SORT_KEY: &'static str = "sk";
    pub const IN_FLIGHT_INDEX: &'static str = "in_flight";
    pub const IN_FLIGHT_PARTITION_KEY: &'static str = "inflight_pk";
    pub const IN_FLIGHT_SORT_KEY: &'static str = "inflight_sk";
    /// Partitions of the in-flight index (`IN_FLIGHT#00`...); a listing also reads the one
    /// partition of the index before it was sharded (`IN_FLIGHT`).
    pub const IN_FLIGHT_SHARDS: usize = 16;
    pub const TTL_ATTRIBUTE: &'static str = "expires_at";
}

const BATCH_WRITE_MAX: usize = 25;

/// The attribute a conditional write of a versioned record leaves its token in. When the SDK
/// sends a write again because its answer was lost, the retry's condition fails on the
/// write's own result: the token tells "my earlier attempt was applied" from "someone else
/// changed it" (see [`DynamoStore::replace`]).
const WRITE_TOKEN: &str = "write_token";

/// A fresh token for one conditional write.
fn write_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether `item` is the one a write with `token` left.
fn written_with(item: Option<&Item>, token: &str) -> bool {
    item.and_then(|i| i.get(WRITE_TOKEN))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|t| t == token)
}

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

/// Where an owner's avatars begin in their partition.
const AVATAR_SK_PREFIX: &str = "AVATAR#";

fn avatar_sk(id: AvatarId) -> String {
    format!("{AVATAR_SK_PREFIX}{id}")
}

/// What a query reads of each item.
#[derive(Debug, Clone, Copy)]
enum Attributes {
    All,
    /// The key and the owner: what a delete needs (a tenth of a photo record's bytes to parse).
    KeyAndOwner,
}

/// Which sort keys of a partition a query reads.
#[derive(Debug, Clone, Copy)]
enum SortKeys<'a> {
    All,
    /// Those starting with it (DynamoDB refuses `begins_with` on "": use `All`).
    Prefix(&'a str),
    /// From the first to the second, both included.
    Between(&'a str, &'a str),
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

/// Adds the in-flight index attributes to `item` when it has an index entry.
fn with_in_flight(mut item: Item, entry: Option<String>) -> Item {
    if let Some(sort_key) = entry {
        item.insert(
            TableLayout::IN_FLIGHT_PARTITION_KEY.into(),
            s(in_flight::partition_of(&sort_key)),
        );
        item.insert(TableLayout::IN_FLIGHT_SORT_KEY.into(), s(sort_key));
    }
    item
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

/// A versioned record as a whole table item (key, body and index attributes).
trait TableRecord: Versioned + Serialize {
    fn item(&self) -> StoreResult<Item>;
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

    async fn delete(&self, pk: String, sk: String) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    /// Puts `item` whatever is there.
    async fn put(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
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

    /// Stores a record that must not exist yet; returns it as stored.
    async fn create<T: TableRecord>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let token = write_token();
        let mut item = stored.item()?;
        item.insert(WRITE_TOKEN.into(), s(token.as_str()));
        let (pk, sk) = key_parts(&item);
        let outcome = self.put_new(item).await;
        if matches!(outcome, Ok(true)) || self.wrote(pk, sk, &token).await {
            return Ok(stored);
        }
        match outcome {
            Ok(_) => Err(StoreError::Conflict(format!(
                "{} already exists",
                record.label()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Replaces a record if the stored one is still at `record`'s version; otherwise tells a
    /// lost race (`Conflict`) from a vanished record (`NotFound`), and both from this very
    /// write applied with its answer lost (the SDK's retry then fails the condition on it; so
    /// may every attempt's answer be lost): that is success.
    async fn replace<T: TableRecord>(&self, record: &T) -> StoreResult<T> {
        let stored = record.next_version();
        let token = write_token();
        let mut item = stored.item()?;
        item.insert(WRITE_TOKEN.into(), s(token.as_str()));
        let (pk, sk) = key_parts(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":expected", n(record.version()))
            .send()
            .await;
        let failed = match put_outcome(result) {
            Ok(true) => return Ok(stored),
            Ok(false) => None,
            Err(e) => Some(e),
        };
        let current = match self.get(pk, sk).await {
            Ok(current) => current,
            Err(read) => return Err(failed.unwrap_or(read)),
        };
        if written_with(current.as_ref(), &token) {
            return Ok(stored);
        }
        match (failed, current) {
            (Some(e), _) => Err(e),
            (None, Some(_)) => Err(StoreError::Conflict(format!(
                "{} changed since version {}",
                record.label(),
                record.version()
            ))),
            (None, None) => Err(StoreError::NotFound(record.label())),
        }
    }

    /// Whether the item at `pk`/`sk` is the one a write with `token` left (a read that fails
    /// says no: the caller reports its own outcome).
    async fn wrote(&self, pk: String, sk: String, token: &str) -> bool {
        self.get(pk, sk)
            .await
            .is_ok_and(|item| written_with(item.as_ref(), token))
    }

    /// All items of a partition whose sort key is in `range`, in sort-key order.
    async fn query_range(
        &self,
        pk: String,
        range: SortKeys<'_>,
        forward: bool,
        limit: Option<i32>,
    ) -> StoreResult<Vec<Item>> {
        self.query_items(pk, range, forward, limit, Attributes::All)
            .await
    }

    /// As [`Self::query_range`], reading `attributes` of each item.
    async fn query_items(
        &self,
        pk: String,
        range: SortKeys<'_>,
        forward: bool,
        limit: Option<i32>,
        attributes: Attributes,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
                .expression_attribute_values(":pk", s(pk.clone()));
            let query = match range {
                SortKeys::All => query.key_condition_expression("#pk = :pk"),
                SortKeys::Prefix(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", TableLayout::SORT_KEY)
                    .expression_attribute_values(":prefix", s(prefix)),
                SortKeys::Between(from, to) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                    .expression_attribute_names("#sk", TableLayout::SORT_KEY)
                    .expression_attribute_values(":from", s(from))
                    .expression_attribute_values(":to", s(to)),
            };
            let query = match attributes {
                Attributes::All => query,
                Attributes::KeyAndOwner => query
                    .projection_expression("#pk, #key, #owner")
                    .expression_attribute_names("#key", TableLayout::SORT_KEY)
                    .expression_attribute_names("#owner", "owner"),
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

    /// The keys of an avatar's child items in `range` that belong to `owner` (a forged
    /// avatar id cannot reach another user's items).
    async fn owned_children(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        range: SortKeys<'_>,
    ) -> StoreResult<Vec<Item>> {
        Ok(self
            .query_items(
                avatar_pk(avatar_id),
                range,
                true,
                None,
                Attributes::KeyAndOwner,
            )
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
}
