//! The in-flight index: avatars and generations the status sweep looks after, by the time
//! from which it should (see `Avatar::sweep_due_at`, `Generation::sweep_due_at`). Written by
//! the avatar and generation writes themselves, so it is never out of step with them.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{Avatar, Generation, Timestamp, UserId, WorkKind, WorkRef};

/// One entry of the in-flight index: enough to load the item, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightItem {
    pub since: Timestamp,
    pub work: WorkRef,
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
/// backends so their order and cursors agree. A training is `T#<owner>#<avatar>` (its id is
/// the avatar's); picture work under an avatar is `<letter>#<owner>#<avatar>#<id>`, `G` for a
/// generation, `U` for an upscale, `R` for a restyle.
pub(crate) fn in_flight_sort_key(since: Timestamp, work: &WorkRef) -> String {
    let WorkRef {
        kind,
        owner,
        avatar_id,
        id,
    } = work;
    let letter = letter(*kind);
    match kind {
        WorkKind::Training => format!("{}#{letter}#{owner}#{avatar_id}", since.sortable()),
        WorkKind::Generation
        | WorkKind::Upscale
        | WorkKind::Restyle
        | WorkKind::PhotoPack
        | WorkKind::FirstLook => {
            format!("{}#{letter}#{owner}#{avatar_id}#{id}", since.sortable())
        }
    }
}

fn letter(kind: WorkKind) -> &'static str {
    match kind {
        WorkKind::Training => "T",
        WorkKind::Generation => "G",
        WorkKind::Upscale => "U",
        WorkKind::Restyle => "R",
        WorkKind::PhotoPack => "P",
        WorkKind::FirstLook => "F",
    }
}

/// The index entry an avatar's write puts beside it, if the sweep should look after it.
pub(crate) fn avatar_entry(avatar: &Avatar) -> Option<String> {
    avatar
        .sweep_due_at()
        .map(|due| in_flight_sort_key(due, &avatar.work()))
}

/// The index entry a generation's write puts beside it, if the sweep should look after it.
pub(crate) fn generation_entry(g: &Generation) -> Option<String> {
    g.sweep_due_at()
        .map(|due| in_flight_sort_key(due, &g.work()))
}

pub(crate) fn parse_in_flight_sort_key(key: &str) -> Option<InFlightItem> {
    let mut parts = key.split('#');
    let since = Timestamp(parts.next()?.parse().ok()?);
    let kind = parts.next()?;
    let owner = UserId(parts.next()?.parse().ok()?);
    let avatar_id = parts.next()?.parse().ok()?;
    let kind = WorkKind::ALL.into_iter().find(|k| letter(*k) == kind)?;
    let work = match kind {
        WorkKind::Training => WorkRef::training(owner, avatar_id),
        WorkKind::Generation
        | WorkKind::Upscale
        | WorkKind::Restyle
        | WorkKind::PhotoPack
        | WorkKind::FirstLook => WorkRef {
            kind,
            owner,
            avatar_id,
            id: parts.next()?.parse().ok()?,
        },
    };
    parts
        .next()
        .is_none()
        .then_some(InFlightItem { since, work })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarId, GenerationId};

    #[test]
    fn in_flight_keys_round_trip_and_sort_by_time() {
        let g = WorkRef::generation(UserId(-5), AvatarId::new(), GenerationId::new());
        let key = in_flight_sort_key(Timestamp(42), &g);
        assert_eq!(
            parse_in_flight_sort_key(&key),
            Some(InFlightItem {
                since: Timestamp(42),
                work: g
            })
        );
        let a = WorkRef::training(UserId(9), AvatarId::new());
        let key = in_flight_sort_key(Timestamp(99), &a);
        assert_eq!(parse_in_flight_sort_key(&key).map(|i| i.work), Some(a));
        assert!(key < in_flight_sort_key(Timestamp(100), &a));
        assert_eq!(parse_in_flight_sort_key("12#X#1#2"), None);
        let u = WorkRef {
            kind: WorkKind::Upscale,
            ..g
        };
        let key = in_flight_sort_key(Timestamp(7), &u);
        assert!(key.contains("#U#"));
        assert_eq!(parse_in_flight_sort_key(&key).map(|i| i.work), Some(u));
    }
}
