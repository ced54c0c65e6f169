//! The in-flight index: avatars and generations the status sweep looks after, by the time
//! from which it should (see `Avatar::sweep_due_at`, `Generation::sweep_due_at`). Written by
//! the avatar and generation writes themselves, so it is never out of step with them.

use async_trait::async_trait;

use super::{FalTarget, StoreResult};
use crate::domain::{Avatar, Generation, Timestamp, UserId};

/// One entry of the in-flight index: enough to load the item, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightItem {
    pub since: Timestamp,
    pub target: FalTarget,
}

/// Where the next page of the in-flight listing starts; opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightCursor(pub(crate) String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightPage {
    pub items: Vec<InFlightItem>,
    pub next: Option<InFlightCursor>,
}

#[async_trait]
pub trait InFlightIndex: Send + Sync {
    /// Items due before `older_than`, oldest first, at most `limit` per page.
    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage>;
}

/// The sort key of the in-flight index: chronological, then unique per item. Shared by both
/// backends so their order and cursors agree.
pub(crate) fn in_flight_sort_key(since: Timestamp, target: &FalTarget) -> String {
    match target {
        FalTarget::Training { owner, avatar_id } => {
            format!("{}#T#{owner}#{avatar_id}", since.sortable())
        }
        FalTarget::Generation {
            owner,
            avatar_id,
            generation_id,
        } => {
            format!("{}#G#{owner}#{avatar_id}#{generation_id}", since.sortable())
        }
    }
}

/// The index entry an avatar's write puts beside it, if the sweep should look after it.
pub(crate) fn avatar_entry(avatar: &Avatar) -> Option<String> {
    let target = FalTarget::Training {
        owner: avatar.owner,
        avatar_id: avatar.id,
    };
    avatar
        .sweep_due_at()
        .map(|due| in_flight_sort_key(due, &target))
}

/// The index entry a generation's write puts beside it, if the sweep should look after it.
pub(crate) fn generation_entry(g: &Generation) -> Option<String> {
    let target = FalTarget::Generation {
        owner: g.owner,
        avatar_id: g.avatar_id,
        generation_id: g.id,
    };
    g.sweep_due_at().map(|due| in_flight_sort_key(due, &target))
}

pub(crate) fn parse_in_flight_sort_key(key: &str) -> Option<InFlightItem> {
    let mut parts = key.split('#');
    let since = Timestamp(parts.next()?.parse().ok()?);
    let kind = parts.next()?;
    let owner = UserId(parts.next()?.parse().ok()?);
    let avatar_id = parts.next()?.parse().ok()?;
    let target = match kind {
        "T" => FalTarget::Training { owner, avatar_id },
        "G" => FalTarget::Generation {
            owner,
            avatar_id,
            generation_id: parts.next()?.parse().ok()?,
        },
        _ => return None,
    };
    parts
        .next()
        .is_none()
        .then_some(InFlightItem { since, target })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarId, GenerationId};

    #[test]
    fn in_flight_keys_round_trip_and_sort_by_time() {
        let t = FalTarget::Generation {
            owner: UserId(-5),
            avatar_id: AvatarId::new(),
            generation_id: GenerationId::new(),
        };
        let key = in_flight_sort_key(Timestamp(42), &t);
        assert_eq!(
            parse_in_flight_sort_key(&key),
            Some(InFlightItem {
                since: Timestamp(42),
                target: t
            })
        );
        let a = FalTarget::Training {
            owner: UserId(9),
            avatar_id: AvatarId::new(),
        };
        assert!(in_flight_sort_key(Timestamp(99), &a) < in_flight_sort_key(Timestamp(100), &a));
        assert_eq!(parse_in_flight_sort_key("12#X#1#2"), None);
    }
}
