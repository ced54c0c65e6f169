//! The port contract, written once, one file per port. `tests/conformance.rs` runs every
//! function here against the embedded backend and against the AWS backend in moto.

mod avatars;
mod blobs;
mod credits;
mod fal_requests;
mod generations;
mod in_flight;
mod photos;
mod queue;
mod spend;
mod updates;
mod users;

pub use avatars::*;
pub use blobs::*;
pub use credits::*;
pub use fal_requests::*;
pub use generations::*;
pub use in_flight::*;
pub use photos::*;
pub use queue::*;
pub use spend::*;
pub use updates::*;
pub use users::*;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fluxbot::domain::*;
use fluxbot::ports::*;
use futures::future::join_all;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

const T0: Timestamp = Timestamp(1_800_000_000_000);
const LEASE: Duration = Duration::from_secs(300);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn random_user() -> UserId {
    UserId(i64::from(rand::random::<u32>()) + 1)
}

pub fn draft(owner: UserId, kind: AvatarKind) -> Avatar {
    Avatar::draft(
        owner,
        kind,
        Gender::Female,
        AvatarName::parse("Анна").unwrap(),
        Preset::Balanced,
        T0,
    )
}

fn request(id: &str) -> FalRequest {
    FalRequest {
        request_id: id.to_owned(),
        endpoint: "fal-ai/flux-lora-portrait-trainer".to_owned(),
    }
}

/// Applies `event` at `now` and stores the result conditionally.
pub async fn step(
    store: &dyn RecordStore,
    avatar: &Avatar,
    event: AvatarEvent,
    now: Timestamp,
) -> Avatar {
    let next = avatar.apply(event, now).expect("legal transition");
    store.update_avatar(&next).await.expect("update avatar")
}

/// A stored avatar that is collecting photos.
pub async fn collecting(store: &dyn RecordStore, owner: UserId) -> Avatar {
    let created = store
        .create_avatar(&draft(owner, AvatarKind::Portrait))
        .await
        .unwrap();
    step(store, &created, AvatarEvent::BeginPhotos, T0).await
}

/// A stored avatar in `training`, submitted at `at`.
pub async fn training_since(store: &dyn RecordStore, owner: UserId, at: Timestamp) -> Avatar {
    let a = collecting(store, owner).await;
    let a = step(store, &a, AvatarEvent::MinimumReached, at).await;
    let a = step(store, &a, AvatarEvent::Enqueue, at).await;
    let attempt = AttemptId::new();
    let a = step(
        store,
        &a,
        AvatarEvent::Work(WorkEvent::Claim {
            attempt,
            lease: LEASE,
        }),
        at,
    )
    .await;
    let req = request(&format!("req-{}", a.id));
    let a = step(
        store,
        &a,
        AvatarEvent::Work(WorkEvent::BeginSubmit {
            attempt,
            endpoint: req.endpoint.clone(),
        }),
        at,
    )
    .await;
    step(
        store,
        &a,
        AvatarEvent::Work(WorkEvent::Submitted {
            attempt,
            request: req,
        }),
        at,
    )
    .await
}

pub fn photo(avatar: &Avatar, file_unique_id: &str, content: &[u8]) -> Photo {
    Photo {
        avatar_id: avatar.id,
        owner: avatar.owner,
        file_unique_id: file_unique_id.to_owned(),
        file_id: format!("file-{file_unique_id}"),
        blob_key: blob_keys::photo(avatar.owner, avatar.id, file_unique_id, ImageFormat::Jpeg),
        content_hash: ContentHash::of(content),
        format: ImageFormat::Jpeg,
        width: 1024,
        height: 768,
        size_bytes: content.len() as u64,
        added_at: T0,
    }
}

/// Records a generation as the conversation does (the owner's count moving on, nothing paid).
async fn record_generation(store: &dyn RecordStore, g: &Generation) -> StoreResult<Generation> {
    let seen = store.generation_count(g.owner).await?;
    match store
        .start_generation(g, seen, &CommitCost::default())
        .await?
    {
        Ok(stored) => Ok(stored),
        Err(refused) => panic!("nothing to refuse: {refused:?}"),
    }
}

fn generation(avatar: &Avatar, created_at: Timestamp) -> Generation {
    Generation {
        id: GenerationId::new(),
        avatar_id: avatar.id,
        owner: avatar.owner,
        prompt: Prompt::parse("a portrait in the rain").unwrap(),
        style: None,
        aspect_ratio: AspectRatio::Portrait3x4,
        num_images: ImageCount::try_from(2).unwrap(),
        order: Order::Prompt,
        state: GenerationState::Queued {
            queued_at: created_at,
            claims: 0,
        },
        status_message: None,
        notice: OutcomeNotice::NotDue,
        tidy: Tidy::Done,
        keep_until: None,
        created_at,
        updated_at: created_at,
        version: 0,
    }
}
