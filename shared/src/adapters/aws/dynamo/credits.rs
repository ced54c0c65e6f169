//! Credits: `USER#<uid>` / `CREDITS` holds the balance (`credits`), `USER#<uid>` /
//! `LEDGER#<entry key>` each entry, and `USER#<uid>` / `HISTORY#<time>#<entry key>` the same
//! entry by time, so the newest are read without reading them all. An entry, its history
//! item and the balance change are one TransactWriteItems: the entry must be new and, for a
//! negative delta, the balance at least what it takes, so neither a repeat nor an overdraft
//! writes anything.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{
    DynamoStore, Item, SortKeys, TableLayout, WRITE_TOKEN, from_item, key, n, s, sdk_err, to_item,
    user_pk, write_token,
};
use crate::domain::{Credits, LedgerEntry, NotEnoughCredits, Timestamp, UserId};
use crate::ports::store::{Applied, CreditLedger, StoreError, StoreResult};

const BALANCE: &str = "CREDITS";
const LEDGER: &str = "LEDGER#";
const HISTORY: &str = "HISTORY#";

/// Whether an item of a user's partition is part of their books (kept when they are
/// forgotten: payment disputes and refunds need them).
pub(super) fn is_books(sk: &str) -> bool {
    sk == BALANCE || sk.starts_with(LEDGER) || sk.starts_with(HISTORY)
}

fn entry_sk(key: &str) -> String {
    format!("{LEDGER}{key}")
}

fn history_sk(entry: &LedgerEntry) -> String {
    format!("{HISTORY}{}#{}", entry.at.sortable(), entry.key())
}

/// What a negative entry needs in the balance (0 for a credit).
pub(super) fn needs(entry: &LedgerEntry) -> Credits {
    Credits(entry.delta.min(0).unsigned_abs())
}

/// The writes of an entry, to go into a transaction (alone or with a commit); `token` marks
/// the entry as this write's.
pub(super) fn entry_items(
    table: &str,
    entry: &LedgerEntry,
    token: &str,
) -> StoreResult<Vec<TransactWriteItem>> {
    entries_items(table, std::slice::from_ref(entry), token)
}

/// The writes of several entries of one owner (a photo pack's debits, one per picture):
/// each entry and its history item, and one change of the balance by their sum (a
/// transaction may touch an item only once), which must cover it.
pub(super) fn entries_items(
    table: &str,
    entries: &[LedgerEntry],
    token: &str,
) -> StoreResult<Vec<TransactWriteItem>> {
    let Some(first) = entries.first() else {
        return Ok(Vec::new());
    };
    let mut items = Vec::with_capacity(entries.len() * 2 + 1);
    for entry in entries {
        let mut item = to_item(
            entry,
            user_pk(entry.owner),
            entry_sk(&entry.key()),
            "ledger",
        )?;
        item.insert(WRITE_TOKEN.into(), s(token));
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
            .build()
            .map_err(StoreError::backend)?;
        let history = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(
                entry,
                user_pk(entry.owner),
                history_sk(entry),
                "ledger_history",
            )?))
            .build()
            .map_err(StoreError::backend)?;
        items.push(TransactWriteItem::builder().put(put).build());
        items.push(TransactWriteItem::builder().put(history).build());
    }
    let delta: i64 = entries.iter().map(|e| e.delta).sum();
    let need: u64 = entries.iter().map(|e| needs(e).0).sum();
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(user_pk(first.owner), BALANCE.into())))
        .update_expression("ADD #c :delta SET #entity = :credits")
        .expression_attribute_names("#c", "credits")
        .expression_attribute_names("#entity", "entity")
        .expression_attribute_values(":delta", n(delta))
        .expression_attribute_values(":credits", s("credits"));
    let update = if need > 0 {
        update
            .condition_expression("#c >= :need")
            .expression_attribute_values(":need", n(need))
    } else {
        update
    }
    .build()
    .map_err(StoreError::backend)?;
    items.push(TransactWriteItem::builder().update(update).build());
    Ok(items)
}

fn balance_of(owner: UserId, item: Option<Item>) -> StoreResult<Credits> {
    let Some(value) = item.as_ref().and_then(|i| i.get("credits")) else {
        return Ok(Credits(0));
    };
    let raw = value
        .as_n()
        .map_err(|_| corrupt(owner, "credits is not a number"))?;
    // ADD on a negative would be a bug elsewhere: say so rather than show a huge number.
    raw.parse::<u64>()
        .map(Credits)
        .map_err(|_| corrupt(owner, &format!("credits is not a balance: {raw}")))
}

fn corrupt(owner: UserId, reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("{}/{BALANCE}", user_pk(owner)),
        reason: reason.to_owned(),
    }
}

impl DynamoStore {
    pub(super) async fn credits_of(&self, owner: UserId) -> StoreResult<Credits> {
        balance_of(owner, self.get(user_pk(owner), BALANCE.into()).await?)
    }

    pub(super) async fn has_entry(&self, entry: &LedgerEntry) -> StoreResult<bool> {
        Ok(self
            .get(user_pk(entry.owner), entry_sk(&entry.key()))
            .await?
            .is_some())
    }

    /// Whether the stored entry is the one a write with `token` left.
    async fn entry_written_with(&self, entry: &LedgerEntry, token: &str) -> bool {
        self.wrote(user_pk(entry.owner), entry_sk(&entry.key()), token)
            .await
    }
}

#[async_trait]
impl CreditLedger for DynamoStore {
    async fn balance(&self, owner: UserId) -> StoreResult<Credits> {
        self.credits_of(owner).await
    }

    async fn ledger(&self, owner: UserId, limit: usize) -> StoreResult<Vec<LedgerEntry>> {
        // The newest `limit` from the history, by time.
        let page = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut entries = self
            .query_range(user_pk(owner), SortKeys::Prefix(HISTORY), false, Some(page))
            .await?
            .into_iter()
            .take(limit)
            .map(from_item::<LedgerEntry>)
            .collect::<StoreResult<Vec<_>>>()?;
        if entries.len() < limit {
            // Entries written before the history was kept have no history item: with fewer
            // than asked for there, the entries themselves are read (keyed for idempotency,
            // not time, so all of them) and merged. Once a user has `limit` newer entries,
            // this read is never made for them again.
            let known: std::collections::HashSet<String> =
                entries.iter().map(LedgerEntry::key).collect();
            for item in self
                .query_range(user_pk(owner), SortKeys::Prefix(LEDGER), true, None)
                .await?
            {
                let entry: LedgerEntry = from_item(item)?;
                if !known.contains(&entry.key()) {
                    entries.push(entry);
                }
            }
            entries.sort_by_key(|e| std::cmp::Reverse(e.at));
            entries.truncate(limit);
        }
        Ok(entries)
    }

    async fn payment_entries(&self, since: Timestamp) -> StoreResult<Vec<LedgerEntry>> {
        let mut entries = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "begins_with(#sk, :purchase) OR begins_with(#sk, :refund) OR begins_with(#sk, :reversed)",
            )
            .expression_attribute_names("#sk", TableLayout::SORT_KEY)
            .expression_attribute_values(":purchase", s(entry_sk("purchase:")))
            .expression_attribute_values(":refund", s(entry_sk("payment_refund:")))
            .expression_attribute_values(":reversed", s(entry_sk("payment_refund_reversed:")))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_err)?.items.unwrap_or_default() {
                let entry: LedgerEntry = from_item(item)?;
                if entry.at >= since {
                    entries.push(entry);
                }
            }
        }
        Ok(entries)
    }

    async fn ledger_entry(&self, owner: UserId, key: &str) -> StoreResult<Option<LedgerEntry>> {
        self.get(user_pk(owner), entry_sk(key))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn apply_entry(
        &self,
        entry: &LedgerEntry,
    ) -> StoreResult<Result<Applied, NotEnoughCredits>> {
        let token = write_token();
        let items = entry_items(&self.table, entry, &token)?;
        for attempt in 0..super::transact::CONFLICT_ATTEMPTS {
            let written = self.transact(&items).await;
            // Applied with its answer lost (the retry refused by its own result): still new.
            if matches!(written, Ok(true)) || self.entry_written_with(entry, &token).await {
                return Ok(Ok(Applied::New(self.credits_of(entry.owner).await?)));
            }
            written?;
            if self.has_entry(entry).await? {
                return Ok(Ok(Applied::Repeat(self.credits_of(entry.owner).await?)));
            }
            let balance = self.credits_of(entry.owner).await?;
            let price = needs(entry);
            if balance < price {
                return Ok(Err(NotEnoughCredits { balance, price }));
            }
            super::transact::backoff(attempt).await;
        }
        Err(StoreError::Conflict(format!(
            "concurrent writes kept cancelling ledger entry {}",
            entry.key()
        )))
    }
}
