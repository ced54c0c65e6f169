//! Messages on the launch queue: the contract between whoever enqueues work and the launch
//! worker (the training-launch function) that performs it, for every kind of paid work.
//! They carry ids only; the worker re-reads the record, so a stale or duplicated message can
//! never do anything the record's state forbids.

use serde::{Deserialize, Serialize};

use crate::domain::{AttemptId, AvatarId, GenerationId, UserId, WorkId, WorkKind, WorkRef};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredJob", into = "StoredJob")]
pub enum Job {
    /// Prepare and submit a piece of paid work. Sent by the Telegram webhook when the user
    /// commits to it, and by the sweep for work a launch never picked up.
    Launch(WorkRef),
    /// Test mode: the simulated work is over; complete it with a realistic result.
    /// Delivered after the mock duration (an SQS delay).
    FinishTest {
        work: WorkRef,
        attempt: AttemptId,
        request_id: String,
        endpoint: String,
    },
    /// Stop a running fal.ai request whose avatar was deleted (the conversation holds no
    /// fal key; the launch worker does).
    CancelFalRequest {
        endpoint: String,
        request_id: String,
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

/// Jobs as they travel: `launch` and `finish_test` name the work by kind and ids; the
/// messages of the first release (one per kind) are still read, as a queue may hold them
/// across a deployment.
#[derive(Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
enum StoredJob {
    Launch {
        kind: WorkKind,
        owner: UserId,
        avatar_id: AvatarId,
        work_id: WorkId,
    },
    FinishTest {
        kind: WorkKind,
        owner: UserId,
        avatar_id: AvatarId,
        work_id: WorkId,
        attempt: AttemptId,
        request_id: String,
        endpoint: String,
    },
    CancelFalRequest {
        endpoint: String,
        request_id: String,
    },
    LaunchTraining {
        owner: UserId,
        avatar_id: AvatarId,
    },
    FinishTestTraining {
        owner: UserId,
        avatar_id: AvatarId,
        attempt: AttemptId,
        request_id: String,
        endpoint: String,
    },
    LaunchGeneration {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
    },
    FinishTestGeneration {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        request_id: String,
        endpoint: String,
    },
}

impl TryFrom<StoredJob> for Job {
    type Error = String;

    fn try_from(stored: StoredJob) -> Result<Self, Self::Error> {
        let work = |kind, owner, avatar_id, id| WorkRef {
            kind,
            owner,
            avatar_id,
            id,
        };
        Ok(match stored {
            StoredJob::Launch {
                kind,
                owner,
                avatar_id,
                work_id,
            } => Job::Launch(work(kind, owner, avatar_id, work_id)),
            StoredJob::FinishTest {
                kind,
                owner,
                avatar_id,
                work_id,
                attempt,
                request_id,
                endpoint,
            } => Job::FinishTest {
                work: work(kind, owner, avatar_id, work_id),
                attempt,
                request_id,
                endpoint,
            },
            StoredJob::CancelFalRequest {
                endpoint,
                request_id,
            } => Job::CancelFalRequest {
                endpoint,
                request_id,
            },
            StoredJob::LaunchTraining { owner, avatar_id } => {
                Job::Launch(WorkRef::training(owner, avatar_id))
            }
            StoredJob::FinishTestTraining {
                owner,
                avatar_id,
                attempt,
                request_id,
                endpoint,
            } => Job::FinishTest {
                work: WorkRef::training(owner, avatar_id),
                attempt,
                request_id,
                endpoint,
            },
            StoredJob::LaunchGeneration {
                owner,
                avatar_id,
                generation_id,
            } => Job::Launch(WorkRef::generation(owner, avatar_id, generation_id)),
            StoredJob::FinishTestGeneration {
                owner,
                avatar_id,
                generation_id,
                request_id,
                endpoint,
            } => Job::FinishTest {
                work: WorkRef::generation(owner, avatar_id, generation_id),
                attempt: AttemptId::LEGACY,
                request_id,
                endpoint,
            },
        })
    }
}

impl From<Job> for StoredJob {
    fn from(job: Job) -> Self {
        match job {
            Job::Launch(work) => StoredJob::Launch {
                kind: work.kind,
                owner: work.owner,
                avatar_id: work.avatar_id,
                work_id: work.id,
            },
            Job::FinishTest {
                work,
                attempt,
                request_id,
                endpoint,
            } => StoredJob::FinishTest {
                kind: work.kind,
                owner: work.owner,
                avatar_id: work.avatar_id,
                work_id: work.id,
                attempt,
                request_id,
                endpoint,
            },
            Job::CancelFalRequest {
                endpoint,
                request_id,
            } => StoredJob::CancelFalRequest {
                endpoint,
                request_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_garbage_is_refused() {
        let avatar_id = AvatarId::new();
        let launch = Job::Launch(WorkRef::training(UserId(42), avatar_id));
        assert_eq!(
            launch.to_body(),
            format!(
                r#"{{"job":"launch","kind":"training","owner":42,"avatar_id":"{avatar_id}","work_id":"{avatar_id}"}}"#
            )
        );
        assert_eq!(Job::from_body(&launch.to_body()).unwrap(), launch);
        let generation_id = GenerationId::new();
        let finish = Job::FinishTest {
            work: WorkRef::generation(UserId(42), avatar_id, generation_id),
            attempt: AttemptId::new(),
            request_id: "test_1".into(),
            endpoint: "fal-ai/flux-lora".into(),
        };
        assert_eq!(Job::from_body(&finish.to_body()).unwrap(), finish);
        for bad in [
            r#"{"owner":1}"#,
            r#"{"job":"launch_training","owner":1}"#,
            r#"{"job":"explode"}"#,
            "not json",
        ] {
            assert!(Job::from_body(bad).is_err(), "{bad}");
        }
        let extra = format!(
            r#"{{"job":"launch","kind":"training","owner":1,"avatar_id":"{avatar_id}","work_id":"{avatar_id}","x":1}}"#
        );
        assert!(
            Job::from_body(&extra).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn messages_of_the_first_release_are_still_read() {
        let avatar_id = AvatarId::new();
        let generation_id = GenerationId::new();
        let old = format!(r#"{{"job":"launch_training","owner":42,"avatar_id":"{avatar_id}"}}"#);
        assert_eq!(
            Job::from_body(&old).unwrap(),
            Job::Launch(WorkRef::training(UserId(42), avatar_id))
        );
        let old = format!(
            r#"{{"job":"launch_generation","owner":42,"avatar_id":"{avatar_id}","generation_id":"{generation_id}"}}"#
        );
        assert_eq!(
            Job::from_body(&old).unwrap(),
            Job::Launch(WorkRef::generation(UserId(42), avatar_id, generation_id))
        );
        let old = format!(
            r#"{{"job":"finish_test_generation","owner":42,"avatar_id":"{avatar_id}","generation_id":"{generation_id}","request_id":"test_1","endpoint":"fal-ai/flux-lora"}}"#
        );
        assert!(matches!(
            Job::from_body(&old).unwrap(),
            Job::FinishTest { attempt, .. } if attempt == AttemptId::LEGACY
        ));
    }
}
