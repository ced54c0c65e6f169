//! Estimated spend per UTC day: one item per day, `SPEND#<day>` / `TOTAL`, whose `micros` only
//! ever grows, and only in the same transaction as the record that commits to the work.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{DynamoStore, TableLayout, TableRecord, key, key_parts, n};
use crate::domain::{Charge, SpendDay, Usd};
use crate::ports::store::{OverBudget, SpendLedger, StoreError, StoreResult};

const TOTAL: &str = "TOTAL";
/// Transactions cancelled only by concurrent charges are tried this often.
const CONFLICT_ATTEMPTS: u32 = 8;
/// Day items are kept a while for the operator's reports, then expire.
const KEEP_SECS: i64 = 40 * 24 * 3600;

fn spend_pk(day: &SpendDay) -> String {
    format!("SPEND#{}", day.as_str())
}

/// How a record's put takes part in a charged transaction.
pub(super) enum Condition {
    /// The item must not exist yet.
    New,
    /// The stored item must be at this version.
    AtVersion(u64),
}

impl DynamoStore {
    /// Puts `stored` under `condition` and adds `charge` to its day, in one transaction.
    pub(super) async fn charged<T: TableRecord>(
        &self,
        record: &T,
        stored: T,
        condition: Condition,
        charge: &Charge,
    ) -> StoreResult<Result<T, OverBudget>> {
        let Some(limit) = charge.cap.micros().checked_sub(charge.amount.micros()) else {
            // More than the whole cap: no day could fit it.
            let spent = self.spent_on(&charge.day).await?;
            return Ok(Err(OverBudget { spent }));
        };
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
            .expression_attribute_values(":spend", super::s("spend"))
            .build()
            .map_err(StoreError::backend)?;
        // Concurrent charges on the same day item cancel each other's transactions
        // (TransactionConflict) though both conditions hold: those are tried again.
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put.clone()).build())
                .transact_items(TransactWriteItem::builder().update(add.clone()).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Ok(stored)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_transaction_canceled_exception()) => {}
                Err(e) => return Err(super::sdk_err(e)),
            }
            // Which condition failed: the budget, the record (a lost race), or neither?
            let spent = self.spent_on(&charge.day).await?;
            if !charge.fits(spent) {
                return Ok(Err(OverBudget { spent }));
            }
            let current = self.get(pk.clone(), sk.clone()).await?;
            let version = current
                .as_ref()
                .and_then(|i| i.get("version"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let holds = match (&condition, version) {
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
            tokio::time::sleep(std::time::Duration::from_millis(
                10 * (1 << attempt) + u64::from(rand::random::<u8>() % 20),
            ))
            .await;
        }
        Err(StoreError::Conflict(format!(
            "the day's spend stayed contended while writing {}",
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
