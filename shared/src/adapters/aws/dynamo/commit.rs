//! Commit points: the write that commits to paid work (an avatar's move to `queued`, a new
//! generation) together, in one transaction, with what must change with it:
//!
//! - the day's estimated spend (`SPEND#<day>` / `TOTAL`, `micros`), conditional on staying
//!   within the cap;
//! - the owner's count of trainings (`USER#<uid>` / `LAUNCHES`) or generations
//!   (`USER#<uid>` / `GENERATIONS`), conditional on being what it was when the owner's limits
//!   were checked, so two requests of one user cannot both pass a limit each checked alone;
//! - the owner's debit in credits (`credits.rs`): a new ledger entry and the balance, which
//!   must cover it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{DynamoStore, Item, TableLayout, TableRecord, key, key_parts, n, s, user_pk};
use crate::domain::{NotEnoughCredits, SpendDay, Usd, UserId};
use crate::ports::store::{CommitCost, CommitRefused, SpendLedger, StoreError, StoreResult};

const TOTAL: &str = "TOTAL";
/// Transactions cancelled only by concurrent commits are tried this often.
pub(super) const CONFLICT_ATTEMPTS: u32 = 8;
/// Day items are kept a while for the operator's reports, then expire.
const KEEP_SECS: i64 = 40 * 24 * 3600;

fn spend_pk(day: &SpendDay) -> String {
    format!("SPEND#{}", day.as_str())
}

/// How the record's put takes part in the transaction.
pub(super) enum Condition {
    /// The item must not exist yet.
    New,
    /// The stored item must be at this version.
    AtVersion(u64),
}

/// Which of the owner's counts guards the commit.
#[derive(Clone, Copy)]
pub(super) enum Counter {
    Trainings,
    Generations,
}

impl Counter {
    fn sort_key(self) -> &'static str {
        match self {
            Counter::Trainings => "LAUNCHES",
            Counter::Generations => "GENERATIONS",
        }
    }
}

/// The owner's count must still be `seen`; it becomes `seen + 1`.
pub(super) struct CountGuard {
    pub owner: UserId,
    pub counter: Counter,
    pub seen: u64,
}

fn number(item: &Option<Item>, name: &str) -> Option<u64> {
    item.as_ref()
        .and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A jittered pause before a transaction cancelled by concurrent ones is tried again.
pub(super) async fn backoff(attempt: u32) {
    let millis = 10 * (1 << attempt) + u64::from(rand::random::<u8>() % 20);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

impl DynamoStore {
    /// Runs one TransactWriteItems: `true` written, `false` cancelled (a condition failed,
    /// or a concurrent transaction on one of its items: the caller finds out which).
    pub(super) async fn transact(&self, items: &[TransactWriteItem]) -> StoreResult<bool> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(super::sdk_err(e)),
        }
    }

    /// One of the owner's counts (0 before the first).
    pub(super) async fn count_of(&self, owner: UserId, counter: Counter) -> StoreResult<u64> {
        let item = self.get(user_pk(owner), counter.sort_key().into()).await?;
        Ok(number(&item, "count").unwrap_or(0))
    }

    /// Puts `stored` under `condition`, with the cost and the count guard if given, in one
    /// transaction. Past the cap or the balance nothing is written (`Ok(Err(_))`); a lost
    /// condition on the record or the guard is `Conflict` (`NotFound` for a vanished record).
    pub(super) async fn commit<T: TableRecord>(
        &self,
        record: &T,
        stored: T,
        condition: Condition,
        cost: &CommitCost,
        guard: Option<CountGuard>,
    ) -> StoreResult<Result<T, CommitRefused>> {
        let charge = cost.spend.as_ref();
        let mut items = Vec::new();
        let item = stored.item()?;
        let (pk, sk) = key_parts(&item);
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match &condition {
            Condition::New => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY),
            Condition::AtVersion(v) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", n(*v)),
        }
        .build()
        .map_err(StoreError::backend)?;
        items.push(TransactWriteItem::builder().put(put).build());
        if let Some(charge) = charge {
            let Some(limit) = charge.cap.micros().checked_sub(charge.amount.micros()) else {
                // More than the whole cap: no day could fit it.
                let spent = self.spent_on(&charge.day).await?;
                return Ok(Err(CommitRefused::OverBudget { spent }));
            };
            let expires = chrono::NaiveDate::parse_from_str(charge.day.as_str(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(0, |d| d.and_utc().timestamp())
                + KEEP_SECS;
            let add = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(spend_pk(&charge.day), TOTAL.into())))
                .update_expression("ADD #m :amount SET #exp = :expires, #entity = :spend")
                .condition_expression("attribute_not_exists(#m) OR #m <= :limit")
                .expression_attribute_names("#m", "micros")
                .expression_attribute_names("#exp", TableLayout::TTL_ATTRIBUTE)
                .expression_attribute_names("#entity", "entity")
                .expression_attribute_values(":amount", n(charge.amount.micros()))
                .expression_attribute_values(":limit", n(limit))
                .expression_attribute_values(":expires", n(expires))
                .expression_attribute_values(":spend", s("spend"))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().update(add).build());
        }
        if let Some(guard) = &guard {
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    user_pk(guard.owner),
                    guard.counter.sort_key().into(),
                )))
                .update_expression("SET #c = :next, #entity = :launches")
                .expression_attribute_names("#c", "count")
                .expression_attribute_names("#entity", "entity")
                .expression_attribute_values(":next", n(guard.seen + 1))
                .expression_attribute_values(":launches", s("counter"))
                .expression_attribute_values(":seen", n(guard.seen));
            let count = if guard.seen == 0 {
                count.condition_expression("attribute_not_exists(#c) OR #c = :seen")
            } else {
                count.condition_expression("#c = :seen")
            }
            .build()
            .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().update(count).build());
        }
        if let Some(debit) = &cost.debit {
            items.extend(super::credits::entry_items(&self.table, debit)?);
        }
        // Concurrent commits on the same day item cancel each other's transactions
        // (TransactionConflict) though every condition holds: those are tried again.
        for attempt in 0..CONFLICT_ATTEMPTS {
            if self.transact(&items).await? {
                return Ok(Ok(stored));
            }
            // Which condition failed? A race with other work first (the record or the count
            // moved, or this work was paid for: the caller looks again, and a Confirm tapped
            // twice finds its avatar queued), then the budget and the balance, else none.
            let current = self.get(pk.clone(), sk.clone()).await?;
            let holds = match (&condition, number(&current, "version")) {
                (Condition::New, _) => current.is_none(),
                (Condition::AtVersion(expected), Some(v)) => v == *expected,
                (Condition::AtVersion(_), None) => {
                    return Err(StoreError::NotFound(record.label()));
                }
            };
            if !holds {
                return Err(StoreError::Conflict(match condition {
                    Condition::New => format!("{} already exists", record.label()),
                    Condition::AtVersion(v) => {
                        format!("{} changed since version {v}", record.label())
                    }
                }));
            }
            if let Some(guard) = &guard
                && self.count_of(guard.owner, guard.counter).await? != guard.seen
            {
                return Err(StoreError::Conflict(format!(
                    "user {} committed other work meanwhile",
                    guard.owner
                )));
            }
            if let Some(debit) = &cost.debit
                && self.has_entry(debit).await?
            {
                return Err(StoreError::Conflict(format!(
                    "{} was paid for already",
                    record.label()
                )));
            }
            if let Some(charge) = charge {
                let spent = self.spent_on(&charge.day).await?;
                if !charge.fits(spent) {
                    return Ok(Err(CommitRefused::OverBudget { spent }));
                }
            }
            if let Some(debit) = &cost.debit {
                let balance = self.credits_of(debit.owner).await?;
                let price = super::credits::needs(debit);
                if balance < price {
                    return Ok(Err(CommitRefused::NotEnoughCredits(NotEnoughCredits {
                        balance,
                        price,
                    })));
                }
            }
            backoff(attempt).await;
        }
        Err(StoreError::Conflict(format!(
            "concurrent commits kept cancelling the write of {}",
            record.label()
        )))
    }
}

#[async_trait]
impl SpendLedger for DynamoStore {
    async fn spent_on(&self, day: &SpendDay) -> StoreResult<Usd> {
        let item = self.get(spend_pk(day), TOTAL.into()).await?;
        let micros = item
            .as_ref()
            .and_then(|i| i.get("micros"))
            .and_then(|v| v.as_n().ok())
            .map(|m| {
                m.parse::<u64>().map_err(|_| StoreError::Corrupt {
                    key: spend_pk(day),
                    reason: format!("micros is not a count: {m}"),
                })
            })
            .transpose()?;
        Ok(Usd(micros.unwrap_or(0)))
    }
}
