use async_trait::async_trait;

use super::{DynamoStore, TableLayout, from_item, n, to_item};
use crate::ports::store::{FalRequestOwner, FalRequests, StoreResult};

const FAL_REQUEST_TTL_SECS: i64 = 30 * 24 * 3600;
const OWNER: &str = "OWNER";

fn request_pk(request_id: &str) -> String {
    format!("FALREQ#{request_id}")
}

#[async_trait]
impl FalRequests for DynamoStore {
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()> {
        let mut item = to_item(
            owner,
            request_pk(&owner.request_id),
            OWNER.into(),
            "fal_request",
        )?;
        item.insert(
            TableLayout::TTL_ATTRIBUTE.into(),
            n(owner.created_at.as_secs() + FAL_REQUEST_TTL_SECS),
        );
        self.put(item).await
    }

    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>> {
        self.get(request_pk(request_id), OWNER.into())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()> {
        self.delete(request_pk(request_id), OWNER.into()).await
    }

    async fn delete_fal_requests(&self, request_ids: &[String]) -> StoreResult<()> {
        // 25 to a call rather than one each: a heavy user's deletion forgets hundreds.
        let keys = request_ids
            .iter()
            .map(|id| super::key(request_pk(id), OWNER.into()))
            .collect();
        self.batch_delete(keys).await
    }
}
