//! Identifiers and timestamps. Newtypes so a user id can never be passed where a chat id belongs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A Telegram user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// A Telegram chat id (equal to the user id in private chats, but not in general).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChatId(pub i64);

/// A message the bot sent and may edit later (progress, menus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    pub chat_id: ChatId,
    pub message_id: i32,
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: expected 32 lowercase hex digits")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        /// Time-ordered (UUID v7), printed as 32 lowercase hex digits: short enough for
        /// Telegram's 64-byte callback data and safe in keys and URLs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The 16 raw bytes, for compact encodings (two ids in one callback).
            pub fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let well_formed = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if !well_formed {
                    return Err(InvalidId);
                }
                Uuid::try_parse(s).map(Self).map_err(|_| InvalidId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// Identifies an avatar.
    AvatarId
);
uuid_id!(
    /// Identifies one generation request.
    GenerationId
);
uuid_id!(
    /// Identifies one attempt to submit a piece of paid work; travels in the fal.ai webhook
    /// URL so a late result of a crashed attempt can be recognised and adopted.
    AttemptId
);
uuid_id!(
    /// Identifies one piece of paid work within its kind: the avatar's id for a training,
    /// the generation's for a generation.
    WorkId
);

impl AttemptId {
    /// The attempt of generations submitted before their attempts were named (their records
    /// and webhook URLs carry none).
    pub const LEGACY: AttemptId = AttemptId(Uuid::nil());
}

macro_rules! work_id_of {
    ($($id:ident),*) => {$(
        impl From<$id> for WorkId {
            fn from(id: $id) -> Self {
                WorkId::from_bytes(id.to_bytes())
            }
        }

        impl From<WorkId> for $id {
            fn from(id: WorkId) -> Self {
                $id::from_bytes(id.to_bytes())
            }
        }
    )*};
}

work_id_of!(AvatarId, GenerationId);

impl GenerationId {
    /// Picture `index` of the photo pack this id leads (0 is the leader itself): the last
    /// byte moved on by `index`, so a pack's ids follow from its leader's and sort together.
    pub fn member(self, index: u8) -> GenerationId {
        let mut bytes = self.to_bytes();
        bytes[15] = bytes[15].wrapping_add(index);
        GenerationId::from_bytes(bytes)
    }
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    pub fn minus(self, d: std::time::Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// Fixed-width decimal form whose lexicographic order is chronological (until 2286):
    /// used in sort keys.
    pub fn sortable(self) -> String {
        format!("{:013}", self.0.max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = AvatarId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<AvatarId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<AvatarId>(&json).unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "xyz",
            "ABCDEF0123456789ABCDEF0123456789",
            "0123456789abcdef0123456789abcde",
            "../etc/passwd",
        ] {
            assert!(bad.parse::<AvatarId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = AvatarId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = AvatarId::new();
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn sortable_timestamps_order_like_numbers() {
        let (a, b) = (Timestamp(999), Timestamp(1_700_000_000_000));
        assert!(a.sortable() < b.sortable());
        assert_eq!(a.sortable().len(), b.sortable().len());
    }
}
