//! Commit points: the write that commits to paid work (an avatar's move to `queued`, a new
//! generation) together, in one transaction, with what must change with it:
//!
//! - the day's estimated spend (`SPEND#<day>` / `TOTAL`, `micros`), conditional on staying
//!   within the cap;
//! - the owner's count of trainings (`USER#<uid>` / `LAUNCHES`) or generations
//!   (`USER#<uid>` / `GENERATIONS`), conditional on being what it was when the owner's limits
//!   were checked, so two requests of one user cannot both pass a limit each checked alone;
//! - the owner's debit in credits (`credits.rs`): a new ledger entry and the balance, which
//!   must cover it;
//! - what caused it (`USER#<uid>` / `CAUSE#<key>`: the Telegram update, the tapped button),
//!   conditional on being new or expired, naming the work: the update delivered again, or a
//!   second tap, finds the work instead of paying for another;
//! - for work under an avatar (a generation), a check that the avatar is there and not being
//!   deleted.
//!
//! The record's put carries a write token: a transaction applied with its answer lost (the
//! retry then cancelled on its own result) is recognised as ours.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use super::transact::{CONFLICT_ATTEMPTS, backoff};
use super::{
    DynamoStore, Item, TableLayout, TableRecord, WRITE_TOKEN, avatar_sk, key, key_parts, n, s,
    user_pk, write_token, written_with,
};
use crate::domain::{AvatarId, Credits, NotEnoughCredits, Quota, SpendDay, Usd, UserId, WorkRef};
use crate::ports::store::{
    Cause, CauseLog, CommitCost, CommitRefused, SpendLedger, StoreError, StoreResult,
};

const TOTAL: &str = "TOTAL";
/// Day items are kept a while for the operator's reports, then expire.
const KEEP_SECS: i64 = 40 * 24 * 3600;

fn spend_pk(day: &SpendDay) -> String {
    format!("SPEND#{}", day.as_str())
}

fn cause_sk(key: &str) -> String {
    format!("CAUSE#{key}")
}

/// How the record's put takes part in the transaction.
pub(super) enum Condition {
    /// The item must not exist yet.
    New,
    /// The stored item must be at this version.
    AtVersion(u64),
}

fn quota_sk(quota: Quota) -> &'static str {
    match quota {
        Quota::Trainings => "LAUNCHES",
        Quota::Pictures => "GENERATIONS",
    }
}

/// The owner's count must still be `seen`; it becomes `seen + 1`.
pub(super) struct CountGuard {
    pub owner: UserId,
    pub quota: Quota,
    pub seen: u64,
}

/// What a commit writes beside the record.
pub(super) struct Commit<'a> {
    pub condition: Condition,
    pub cost: &'a CommitCost,
    pub guard: Option<CountGuard>,
    /// The avatar the work belongs to, which must exist and not be being deleted.
    pub parent: Option<(UserId, AvatarId)>,
    /// The work the record carries (what its causes name).
    pub work: WorkRef,
}

/// Records committed beside the one the causes name (a photo pack's other pictures): new,
/// with the same token.
pub(super) type Others = Vec<Item>;

fn number(item: &Option<Item>, name: &str) -> Option<u64> {
    item.as_ref()
        .and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

impl DynamoStore {
    /// One of the owner's counts (0 before the first).
    pub(super) async fn count_of(&self, owner: UserId, quota: Quota) -> StoreResult<u64> {
        let item = self.get(user_pk(owner), quota_sk(quota).into()).await?;
        Ok(number(&item, "count").unwrap_or(0))
    }

    /// Puts `stored` with what `commit` carries, in one transaction. Past the cap or the
    /// balance, for a cause that committed other work, or for a vanished avatar nothing is
    /// written (`Ok(Err(_))`); a lost condition on the record or the guard is `Conflict`
    /// (`NotFound` for a vanished record).
    pub(super) async fn commit<T: TableRecord>(
        &self,
        record: &T,
        stored: T,
        others: Others,
        commit: Commit<'_>,
    ) -> StoreResult<Result<T, CommitRefused>> {
        let cost = commit.cost;
        let charge = cost.spend.as_ref();
        let token = write_token();
        let mut item = stored.item()?;
        item.insert(WRITE_TOKEN.into(), s(token.as_str()));
        let (pk, sk) = key_parts(&item);
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match &commit.condition {
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
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for mut other in others {
            other.insert(WRITE_TOKEN.into(), s(token.as_str()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(other))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
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
        if let Some(guard) = &commit.guard {
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    user_pk(guard.owner),
                    quota_sk(guard.quota).into(),
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
        items.extend(super::credits::entries_items(
            &self.table,
            &cost.debits,
            &token,
        )?);
        for cause in &cost.causes {
            items.push(self.cause_item(cause, &commit.work)?);
        }
        if let Some((owner, avatar)) = commit.parent {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(owner), avatar_sk(avatar))))
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#deleting)")
                .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
                .expression_attribute_names("#deleting", "deleting_since")
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        // Concurrent commits on the same day item cancel each other's transactions
        // (TransactionConflict) though every condition holds: those are tried again.
        for attempt in 0..CONFLICT_ATTEMPTS {
            let written = self.transact(&items).await;
            if matches!(written, Ok(true)) {
                return Ok(Ok(stored));
            }
            // Ours, its answer lost (the SDK's retry then cancelled on its own result, or
            // every attempt's answer was lost): the transaction is all or nothing.
            let current = self.get(pk.clone(), sk.clone()).await?;
            if written_with(current.as_ref(), &token) {
                return Ok(Ok(stored));
            }
            written?;
            match self.why_cancelled(record, &commit, &current).await? {
                Cancelled::Ours => return Ok(Ok(stored)),
                Cancelled::Refused(why) => return Ok(Err(why)),
                Cancelled::Lost(e) => return Err(e),
                Cancelled::Contended => backoff(attempt).await,
            }
        }
        Err(StoreError::Conflict(format!(
            "concurrent commits kept cancelling the write of {}",
            record.label()
        )))
    }

    /// The cause's item: new, or expired, naming the work it committed.
    fn cause_item(&self, cause: &Cause, work: &WorkRef) -> StoreResult<TransactWriteItem> {
        let mut item = key(user_pk(cause.owner), cause_sk(&cause.key));
        let work: Item = serde_dynamo::to_item(work).map_err(StoreError::backend)?;
        item.insert(
            "work".into(),
            aws_sdk_dynamodb::types::AttributeValue::M(work),
        );
        item.insert("until".into(), n(cause.until.0));
        item.insert(
            TableLayout::TTL_ATTRIBUTE.into(),
            n(cause.until.as_secs() + 1),
        );
        item.insert("entity".into(), s("cause"));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #until <= :at")
            .expression_attribute_names("#pk", TableLayout::PARTITION_KEY)
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":at", n(cause.at.0))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The work a cause committed, while it is remembered.
    async fn cause(&self, cause: &Cause) -> StoreResult<Option<WorkRef>> {
        let Some(item) = self.get(user_pk(cause.owner), cause_sk(&cause.key)).await? else {
            return Ok(None);
        };
        let until = number(&Some(item.clone()), "until").unwrap_or(0);
        if i64::try_from(until).unwrap_or(i64::MAX) <= cause.at.0 {
            return Ok(None);
        }
        let Some(work) = item.get("work").and_then(|w| w.as_m().ok()) else {
            return Ok(None);
        };
        Ok(serde_dynamo::from_item(work.clone()).ok())
    }

    /// Which condition of a cancelled commit failed, if one did: its causes first (one that
    /// names this very work means the commit was applied, its answer lost), then a race with
    /// other work (the record or the count moved, or this work was paid for: the caller looks
    /// again, and a Confirm tapped twice finds its avatar queued), then its avatar, then the
    /// budget and the balance.
    async fn why_cancelled<T: TableRecord>(
        &self,
        record: &T,
        commit: &Commit<'_>,
        current: &Option<Item>,
    ) -> StoreResult<Cancelled> {
        for cause in &commit.cost.causes {
            match self.cause(cause).await? {
                Some(work) if work == commit.work => return Ok(Cancelled::Ours),
                Some(work) => return Ok(Cancelled::Refused(CommitRefused::Duplicate(work))),
                None => {}
            }
        }
        let holds = match (&commit.condition, number(current, "version")) {
            (Condition::New, _) => current.is_none(),
            (Condition::AtVersion(expected), Some(v)) => v == *expected,
            (Condition::AtVersion(_), None) => {
                return Ok(Cancelled::Lost(StoreError::NotFound(record.label())));
            }
        };
        if !holds {
            return Ok(Cancelled::Lost(StoreError::Conflict(
                match commit.condition {
                    Condition::New => format!("{} already exists", record.label()),
                    Condition::AtVersion(v) => {
                        format!("{} changed since version {v}", record.label())
                    }
                },
            )));
        }
        if let Some((owner, avatar)) = commit.parent {
            let parent = self.get(user_pk(owner), avatar_sk(avatar)).await?;
            if parent.is_none_or(|p| p.contains_key("deleting_since")) {
                return Ok(Cancelled::Refused(CommitRefused::Gone));
            }
        }
        if let Some(guard) = &commit.guard
            && self.count_of(guard.owner, guard.quota).await? != guard.seen
        {
            return Ok(Cancelled::Lost(StoreError::Conflict(format!(
                "user {} committed other work meanwhile",
                guard.owner
            ))));
        }
        let cost = commit.cost;
        if let Some(debit) = cost.debits.first()
            && self.has_entry(debit).await?
        {
            return Ok(Cancelled::Lost(StoreError::Conflict(format!(
                "{} was paid for already",
                record.label()
            ))));
        }
        if let Some(charge) = &cost.spend {
            let spent = self.spent_on(&charge.day).await?;
            if !charge.fits(spent) {
                return Ok(Cancelled::Refused(CommitRefused::OverBudget { spent }));
            }
        }
        if let Some(debit) = cost.debits.first() {
            let balance = self.credits_of(debit.owner).await?;
            let price = Credits(cost.debits.iter().map(|d| super::credits::needs(d).0).sum());
            if balance < price {
                return Ok(Cancelled::Refused(CommitRefused::NotEnoughCredits(
                    NotEnoughCredits { balance, price },
                )));
            }
        }
        Ok(Cancelled::Contended)
    }
}

/// Why a commit's transaction was cancelled.
enum Cancelled {
    /// It was applied (its answer lost): the commit succeeded.
    Ours,
    /// A condition refused it for good: nothing written.
    Refused(CommitRefused),
    /// The record or the count moved: the caller reads again.
    Lost(StoreError),
    /// No condition failed: a concurrent transaction; try again.
    Contended,
}

#[async_trait]
impl CauseLog for DynamoStore {
    async fn committed_by(&self, cause: &Cause) -> StoreResult<Option<WorkRef>> {
        self.cause(cause).await
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
