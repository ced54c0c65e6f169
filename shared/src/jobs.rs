//! Messages on the queues: the contract between the function that enqueues work and the
//! worker that performs it. Versioned by shape: unknown fields are refused, not guessed at.

use serde::{Deserialize, Serialize};

use crate::domain::{AvatarId, UserId};

/// "Launch the training of this avatar": sent by the Telegram webhook when the user confirms,
/// consumed by the training-launch worker. Carries ids only; the worker re-reads the avatar,
/// so a stale or duplicated message can never launch anything the avatar's state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTraining {
    pub owner: UserId,
    pub avatar_id: AvatarId,
}

impl LaunchTraining {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("ids always serialize")
    }

    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_message_round_trips_and_refuses_garbage() {
        let m = LaunchTraining {
            owner: UserId(42),
            avatar_id: AvatarId::new(),
        };
        assert_eq!(LaunchTraining::from_body(&m.to_body()).unwrap(), m);
        assert!(LaunchTraining::from_body("{\"owner\":1}").is_err());
        assert!(LaunchTraining::from_body("not json").is_err());
    }
}
