//! Messages on the launch queue: the contract between whoever enqueues work and the launch
//! worker (the training-launch function) that performs it, for trainings and generations.
//! They carry ids only; the worker re-reads the record, so a stale or duplicated message can
//! never do anything the record's state forbids.

use serde::{Deserialize, Serialize};

use crate::domain::{AttemptId, AvatarId, GenerationId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    /// Archive the avatar's photos and submit its training. Sent by the Telegram webhook when
    /// the user confirms, and by the sweep for avatars a launch never picked up.
    LaunchTraining { owner: UserId, avatar_id: AvatarId },
    /// Test mode: the simulated training is over; complete it with a realistic result.
    /// Delivered after `FAL_MOCK_TRAINING_DURATION` seconds (an SQS delay).
    FinishTestTraining {
        owner: UserId,
        avatar_id: AvatarId,
        attempt: AttemptId,
        request_id: String,
        endpoint: String,
    },
    /// Submit a recorded generation to fal.ai. Sent by the Telegram webhook when the user
    /// asks for images, and by the sweep for generations a launch never picked up.
    LaunchGeneration {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
    },
    /// Stop a running fal.ai request whose avatar was deleted (the conversation holds no
    /// fal key; the launch worker does).
    CancelFalRequest {
        endpoint: String,
        request_id: String,
    },
    /// Test mode: the simulated generation is over; deliver placeholder images.
    FinishTestGeneration {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        request_id: String,
        endpoint: String,
    },
}

impl Job {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("jobs always serialize")
    }

    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_garbage_is_refused() {
        let avatar_id = AvatarId::new();
        let launch = Job::LaunchTraining {
            owner: UserId(42),
            avatar_id,
        };
        assert_eq!(
            launch.to_body(),
            format!(r#"{{"job":"launch_training","owner":42,"avatar_id":"{avatar_id}"}}"#)
        );
        assert_eq!(Job::from_body(&launch.to_body()).unwrap(), launch);
        let finish = Job::FinishTestTraining {
            owner: UserId(42),
            avatar_id,
            attempt: AttemptId::new(),
            request_id: "test_1".into(),
            endpoint: "fal-ai/flux-lora-portrait-trainer".into(),
        };
        assert_eq!(Job::from_body(&finish.to_body()).unwrap(), finish);
        let generation_id = GenerationId::new();
        let generate = Job::LaunchGeneration {
            owner: UserId(42),
            avatar_id,
            generation_id,
        };
        assert_eq!(
            generate.to_body(),
            format!(
                r#"{{"job":"launch_generation","owner":42,"avatar_id":"{avatar_id}","generation_id":"{generation_id}"}}"#
            )
        );
        assert_eq!(Job::from_body(&generate.to_body()).unwrap(), generate);
        for bad in [
            r#"{"owner":1}"#,
            r#"{"job":"launch_training","owner":1}"#,
            r#"{"job":"explode"}"#,
            "not json",
        ] {
            assert!(Job::from_body(bad).is_err(), "{bad}");
        }
        let extra =
            format!(r#"{{"job":"launch_training","owner":1,"avatar_id":"{avatar_id}","x":1}}"#);
        assert!(
            Job::from_body(&extra).is_err(),
            "unknown fields are refused"
        );
    }
}
