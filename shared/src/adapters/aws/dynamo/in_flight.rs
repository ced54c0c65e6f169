use async_trait::async_trait;

use super::generations::generation_sk;
use super::{
    DynamoStore, IN_FLIGHT_PARTITION, Item, TableLayout, avatar_pk, avatar_sk, key, s, sdk_err,
    user_pk,
};
use crate::domain::Timestamp;
use crate::ports::store::{
    FalTarget, InFlightCursor, InFlightIndex, InFlightPage, StoreError, StoreResult,
    parse_in_flight_sort_key,
};

/// The table key of the item an in-flight entry points at (for pagination).
fn in_flight_item_key(target: &FalTarget) -> Item {
    match target {
        FalTarget::Training { owner, avatar_id } => key(user_pk(*owner), avatar_sk(*avatar_id)),
        FalTarget::Generation {
            avatar_id,
            generation_id,
            ..
        } => key(avatar_pk(*avatar_id), generation_sk(*generation_id)),
    }
}

fn bad_key(key: String, reason: &str) -> StoreError {
    StoreError::Corrupt {
        key,
        reason: reason.into(),
    }
}

#[async_trait]
impl InFlightIndex for DynamoStore {
    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage> {
        let start = match cursor {
            None => None,
            Some(InFlightCursor(sort_key)) => {
                let item = parse_in_flight_sort_key(&sort_key)
                    .ok_or_else(|| bad_key(sort_key.clone(), "bad in-flight cursor"))?;
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
                parse_in_flight_sort_key(&sort_key)
                    .ok_or_else(|| bad_key(sort_key, "bad in-flight key"))
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
