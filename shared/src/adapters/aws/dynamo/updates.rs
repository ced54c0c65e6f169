use async_trait::async_trait;

use super::{DynamoStore, TableLayout, key, n, put_outcome, s};
use crate::domain::Timestamp;
use crate::ports::store::{StoreResult, UpdateClaim, UpdateLog};

const SEEN: &str = "SEEN";

fn update_pk(update_id: i64) -> String {
    format!("UPDATE#{update_id}")
}

#[async_trait]
impl UpdateLog for DynamoStore {
    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim> {
        // The SDK sends a write again when its answer is lost (a dropped connection, a 500):
        // the claim may then exist already, written by this very call. The token tells it
        // apart from another invocation's claim, which would hold the update "in progress"
        // (503 to Telegram) until its lease ends. Found by the 200-user load run.
        let token = format!("{:032x}", rand::random::<u128>());
        let mut item = key(update_pk(update_id), SEEN.into());
        item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(lease_until.as_secs()));
        item.insert("state".into(), s("processing"));
        item.insert("claim".into(), s(token.as_str()));
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
        let seen = self.get(update_pk(update_id), SEEN.into()).await?;
        let text = |name: &str| {
            seen.as_ref()
                .and_then(|i| i.get(name))
                .and_then(|v| v.as_s().ok())
                .cloned()
        };
        Ok(match (text("state").as_deref(), text("claim")) {
            (Some("done"), _) => UpdateClaim::Done,
            (Some("processing"), Some(claim)) if claim == token => UpdateClaim::Fresh,
            _ => UpdateClaim::InProgress,
        })
    }

    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()> {
        let mut item = key(update_pk(update_id), SEEN.into());
        item.insert(TableLayout::TTL_ATTRIBUTE.into(), n(expires_at.as_secs()));
        item.insert("state".into(), s("done"));
        self.put(item).await
    }

    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        self.delete(update_pk(update_id), SEEN.into()).await
    }
}
