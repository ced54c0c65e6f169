//! The in-flight index on DynamoDB: a sparse GSI whose partition key is one of [`SHARDS`]
//! values, chosen by a hash of the item's identity, because one partition takes at most
//! 1,000 writes a second and every state change of work in flight writes the index
//! (docs/scale.md, item 3). A listing reads every shard and merges them, so the port's order
//! (oldest first, across the whole index) is kept.

use async_trait::async_trait;

use super::generations::generation_sk;
use super::{DynamoStore, Item, TableLayout, avatar_pk, avatar_sk, key, s, sdk_err, user_pk};
use crate::domain::{Timestamp, WorkKind, WorkRef};
use crate::ports::store::{
    InFlightCursor, InFlightIndex, InFlightItem, InFlightPage, StoreError, StoreResult,
    parse_in_flight_sort_key,
};

/// Index partitions. 16 take the index to about 100x today's peak (docs/scale.md).
const SHARDS: usize = TableLayout::IN_FLIGHT_SHARDS;

/// The one partition of the index before it was sharded. Its entries are listed beside the
/// shards; each moves to its shard on its item's next write, which every step of in-flight
/// work makes.
const UNSHARDED: &str = "IN_FLIGHT";

/// How many entries a page reads from each shard, per entry it returns (more reads fewer
/// shards' worth ahead of the merge; fewer would return short pages).
const READ_AHEAD: u32 = 2;

/// The index partition of shard `n` (`n == SHARDS` is the unsharded one).
fn partition(n: usize) -> String {
    if n == SHARDS {
        UNSHARDED.to_owned()
    } else {
        format!("{UNSHARDED}#{n:02}")
    }
}

/// The partition an entry goes to: a hash of what it points at (the sort key after its
/// time), so an item keeps its shard while its time moves. FNV-1a: stable across builds and
/// processes, unlike the standard library's hasher.
pub(super) fn partition_of(sort_key: &str) -> String {
    let identity = sort_key.split_once('#').map_or(sort_key, |(_, rest)| rest);
    let hash = identity.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    partition((hash % SHARDS as u64) as usize)
}

/// Where a listing stands in one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    Start,
    /// After the entry with this sort key.
    After(String),
    Done,
}

/// The cursor: each shard's position, `|`-separated (sort keys hold no `|`); `~` is done,
/// empty is not started.
fn encode(positions: &[Position]) -> InFlightCursor {
    let parts: Vec<&str> = positions
        .iter()
        .map(|p| match p {
            Position::Start => "",
            Position::After(key) => key,
            Position::Done => "~",
        })
        .collect();
    InFlightCursor(parts.join("|"))
}

fn decode(cursor: Option<InFlightCursor>) -> StoreResult<Vec<Position>> {
    let Some(InFlightCursor(text)) = cursor else {
        return Ok(vec![Position::Start; SHARDS + 1]);
    };
    let positions: Vec<Position> = text
        .split('|')
        .map(|part| match part {
            "" => Position::Start,
            "~" => Position::Done,
            key => Position::After(key.to_owned()),
        })
        .collect();
    if positions.len() != SHARDS + 1 {
        return Err(bad_key(text, "bad in-flight cursor"));
    }
    Ok(positions)
}

/// The table key of the record an in-flight entry points at (for pagination).
fn in_flight_item_key(work: &WorkRef) -> Item {
    match work.kind {
        WorkKind::Training => key(user_pk(work.owner), avatar_sk(work.avatar_id)),
        WorkKind::Generation
        | WorkKind::Upscale
        | WorkKind::Restyle
        | WorkKind::PhotoPack
        | WorkKind::FirstLook => key(avatar_pk(work.avatar_id), generation_sk(work.id.into())),
    }
}

fn bad_key(key: String, reason: &str) -> StoreError {
    StoreError::Corrupt {
        key,
        reason: reason.into(),
    }
}

/// One shard's read: its entries in order, and whether it has more after them.
struct ShardRead {
    shard: usize,
    entries: Vec<(String, InFlightItem)>,
    /// The sort key DynamoDB stopped at, when there may be more.
    stopped_at: Option<String>,
}

impl DynamoStore {
    async fn read_shard(
        &self,
        shard: usize,
        after: Option<&str>,
        older_than: Timestamp,
        limit: u32,
    ) -> StoreResult<ShardRead> {
        let start = match after {
            None => None,
            Some(sort_key) => {
                let item = parse_in_flight_sort_key(sort_key)
                    .ok_or_else(|| bad_key(sort_key.to_owned(), "bad in-flight cursor"))?;
                let mut start = in_flight_item_key(&item.work);
                start.insert(
                    TableLayout::IN_FLIGHT_PARTITION_KEY.into(),
                    s(partition(shard)),
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
            .expression_attribute_values(":partition", s(partition(shard)))
            .expression_attribute_values(":cutoff", s(older_than.sortable()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_err)?;
        let sort_key_of = |item: &Item| {
            item.get(TableLayout::IN_FLIGHT_SORT_KEY)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| {
                let sort_key = sort_key_of(item);
                match parse_in_flight_sort_key(&sort_key) {
                    Some(entry) => Ok((sort_key, entry)),
                    None => Err(bad_key(sort_key, "bad in-flight key")),
                }
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ShardRead {
            shard,
            entries,
            stopped_at: out.last_evaluated_key.as_ref().map(sort_key_of),
        })
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
        let limit = limit.max(1);
        let mut positions = decode(cursor)?;
        let open = positions.iter().filter(|p| **p != Position::Done).count();
        let per_shard = (limit * READ_AHEAD).div_ceil(open.max(1) as u32);
        let reads = futures::future::try_join_all(
            positions
                .iter()
                .enumerate()
                .filter_map(|(shard, position)| match position {
                    Position::Done => None,
                    Position::Start => Some((shard, None)),
                    Position::After(key) => Some((shard, Some(key.as_str()))),
                })
                .map(|(shard, after)| self.read_shard(shard, after, older_than, per_shard)),
        )
        .await?;

        // Only what sorts before every unread remainder is certainly next in the whole index.
        let frontier = reads.iter().filter_map(|r| r.stopped_at.as_deref()).min();
        let mut merged: Vec<(&str, usize, &InFlightItem)> = reads
            .iter()
            .flat_map(|r| r.entries.iter().map(|(k, e)| (k.as_str(), r.shard, e)))
            .filter(|(k, _, _)| frontier.is_none_or(|f| *k <= f))
            .collect();
        merged.sort_unstable_by_key(|(k, _, _)| *k);
        merged.truncate(limit as usize);

        for read in &reads {
            // A shard's share of the page is a prefix of what was read from it: both in order.
            let taken = merged.iter().filter(|(_, s, _)| *s == read.shard).count();
            let last_taken = taken.checked_sub(1).map(|i| read.entries[i].0.clone());
            let all_taken = taken == read.entries.len();
            positions[read.shard] = match (last_taken, &read.stopped_at) {
                (_, None) if all_taken => Position::Done,
                (Some(key), _) => Position::After(key),
                // Nothing returned yet: an empty answer that still stopped moves on past it.
                (None, Some(stop)) if read.entries.is_empty() => Position::After(stop.clone()),
                (None, _) => positions[read.shard].clone(),
            };
        }
        let items = merged.into_iter().map(|(_, _, e)| e.clone()).collect();
        let next = positions
            .iter()
            .any(|p| *p != Position::Done)
            .then(|| encode(&positions));
        Ok(InFlightPage { items, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_keeps_its_shard_as_its_time_moves_and_items_spread() {
        let at = |t: i64, id: u64| format!("{}#T#7#{id}", Timestamp(t).sortable());
        assert_eq!(partition_of(&at(1, 42)), partition_of(&at(999_999, 42)));
        let used: std::collections::HashSet<String> =
            (0..1000).map(|id| partition_of(&at(1, id))).collect();
        assert_eq!(used.len(), SHARDS, "every shard used: {used:?}");
        assert!(!used.contains(UNSHARDED), "new entries are sharded");
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let mut positions = vec![Position::Start; SHARDS + 1];
        positions[3] = Position::After("0000000042#T#7#1".into());
        positions[SHARDS] = Position::Done;
        assert_eq!(decode(Some(encode(&positions))).unwrap(), positions);
        assert!(decode(Some(InFlightCursor("a|b".into()))).is_err());
    }
}
