use async_trait::async_trait;

use super::{DynamoStore, TableLayout, key, n, put_outcome, s, sdk_err};
use crate::domain::Timestamp;
use crate::ports::store::{StoreResult, UpdateClaim, UpdateLog};

const SEEN: &str = "SEEN";

fn update_pk(update_id: i64) -> String {
    format!("UPDATE#{update_id}")
}

impl DynamoStore {
    /// Deletes the update's claim if it is the one `token` wrote (and still processing).
    async fn release_claim(&self, update_id: i64, token: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(update_pk(update_id), SEEN.into())))
            .condition_expression("#claim = :token AND #state = :processing")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":processing", s("processing"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not ours, or not there: nothing to take back.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        }
    }
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
        let applied = match put_outcome(result) {
            Ok(applied) => applied,
            Err(e) => {
                // Every attempt failed, yet one may have been applied with its answer lost:
                // take back a claim of ours, or Telegram's redelivery would wait out its lease.
                if let Err(undo) = self.release_claim(update_id, &token).await {
                    tracing::warn!(update_id, error = %undo, "a failed claim could not be taken back; the update waits for its lease");
                }
                return Err(e);
            }
        };
        if applied {
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
