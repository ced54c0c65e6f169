//! The port contract, written once. `tests/conformance.rs` runs every function here against
//! the embedded backend and against the AWS backend in moto.

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
        AvatarEvent::Claim {
            attempt,
            lease: LEASE,
        },
        at,
    )
    .await;
    let req = request(&format!("req-{}", a.id));
    let a = step(
        store,
        &a,
        AvatarEvent::BeginSubmit {
            attempt,
            endpoint: req.endpoint.clone(),
        },
        at,
    )
    .await;
    step(
        store,
        &a,
        AvatarEvent::Submitted {
            attempt,
            request: req,
        },
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

fn generation(avatar: &Avatar, created_at: Timestamp) -> Generation {
    Generation {
        id: GenerationId::new(),
        avatar_id: avatar.id,
        owner: avatar.owner,
        prompt: Prompt::parse("a portrait in the rain").unwrap(),
        style: None,
        aspect_ratio: AspectRatio::Portrait3x4,
        num_images: ImageCount::try_from(2).unwrap(),
        state: GenerationState::Pending { claims: 0 },
        status_message: None,
        notice: OutcomeNotice::NotDue,
        created_at,
        updated_at: created_at,
        version: 0,
    }
}

// ---------------------------------------------------------------- record store

pub async fn users_are_versioned(store: &dyn RecordStore) {
    let id = random_user();
    assert!(store.get_user(id).await.unwrap().is_none());
    let fresh = UserProfile::new(id, ChatId(id.0), Some("en-US"), T0);
    let saved = store.save_user(&fresh).await.unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(store.get_user(id).await.unwrap().as_ref(), Some(&saved));
    assert!(
        matches!(store.save_user(&fresh).await, Err(StoreError::Conflict(_))),
        "creating twice conflicts"
    );

    let mut moved = saved.clone();
    moved.dialogue = DialogueState::ChoosingGender {
        kind: AvatarKind::Style,
    };
    let moved = store.save_user(&moved).await.unwrap();
    assert_eq!(moved.version, 2);
    assert!(
        matches!(store.save_user(&saved).await, Err(StoreError::Conflict(_))),
        "a stale write loses"
    );
    let read = store.get_user(id).await.unwrap().unwrap();
    assert_eq!(
        read.dialogue,
        DialogueState::ChoosingGender {
            kind: AvatarKind::Style
        }
    );
    assert_eq!(read.language, Language::En);
}

pub async fn avatars_are_versioned_and_owned(store: &dyn RecordStore) {
    let (owner, stranger) = (random_user(), random_user());
    let first = store
        .create_avatar(&draft(owner, AvatarKind::Portrait))
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    assert!(matches!(
        store
            .create_avatar(&Avatar {
                version: 0,
                ..first.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let second = store
        .create_avatar(&draft(owner, AvatarKind::Style))
        .await
        .unwrap();

    assert_eq!(
        store.get_avatar(owner, first.id).await.unwrap().as_ref(),
        Some(&first)
    );
    assert_eq!(
        store.get_avatar(stranger, first.id).await.unwrap(),
        None,
        "another user's avatar is invisible"
    );
    let listed: Vec<_> = store
        .list_avatars(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, vec![first.id, second.id], "oldest first");
    assert!(store.list_avatars(stranger).await.unwrap().is_empty());

    let moved = step(store, &first, AvatarEvent::BeginPhotos, T0).await;
    assert_eq!(
        (moved.version, moved.status()),
        (2, AvatarStatus::CollectingPhotos)
    );
    let stale = first.apply(AvatarEvent::Cancel, T0).unwrap();
    assert!(matches!(
        store.update_avatar(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_avatar(owner, first.id)
            .await
            .unwrap()
            .unwrap()
            .status(),
        AvatarStatus::CollectingPhotos
    );

    // A forged delete by a stranger changes nothing.
    store.delete_avatar(stranger, first.id).await.unwrap();
    assert!(store.get_avatar(owner, first.id).await.unwrap().is_some());

    store.delete_avatar(owner, first.id).await.unwrap();
    store.delete_avatar(owner, first.id).await.unwrap();
    assert_eq!(store.get_avatar(owner, first.id).await.unwrap(), None);
    let late = moved.apply(AvatarEvent::Cancel, T0).unwrap();
    assert!(
        matches!(
            store.update_avatar(&late).await,
            Err(StoreError::NotFound(_))
        ),
        "updating a deleted avatar"
    );
}

pub async fn concurrent_transitions_have_one_winner(store: &dyn RecordStore) {
    let owner = random_user();
    let a = collecting(store, owner).await;
    let a = step(store, &a, AvatarEvent::MinimumReached, T0).await;
    let queued = step(store, &a, AvatarEvent::Enqueue, T0).await;

    let contenders: Vec<AttemptId> = (0..8).map(|_| AttemptId::new()).collect();
    let results = join_all(contenders.iter().map(|attempt| {
        let next = queued
            .apply(
                AvatarEvent::Claim {
                    attempt: *attempt,
                    lease: LEASE,
                },
                T0,
            )
            .unwrap();
        async move { store.update_avatar(&next).await }
    }))
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins: {results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::Conflict(_))),
            "losers see a conflict: {r:?}"
        );
    }
    let stored = store.get_avatar(owner, queued.id).await.unwrap().unwrap();
    match stored.state {
        AvatarState::Submitting { attempt, .. } => assert_eq!(attempt, contenders[winners[0]]),
        other => panic!("expected submitting, got {other:?}"),
    }
    // A loser that re-reads finds the lease held and may not take it.
    assert!(
        stored
            .apply(
                AvatarEvent::Claim {
                    attempt: AttemptId::new(),
                    lease: LEASE
                },
                T0
            )
            .is_err()
    );
}

pub async fn photos_are_deduplicated_and_bounded(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = collecting(store, owner).await;
    let max = 3;
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u1", b"one"), max)
            .await
            .unwrap(),
        PhotoAdded::Added { photo_count: 1 }
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u1", b"one"), max)
            .await
            .unwrap(),
        PhotoAdded::DuplicateFile
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u1b", b"one"), max)
            .await
            .unwrap(),
        PhotoAdded::DuplicateContent
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u2", b"two"), max)
            .await
            .unwrap(),
        PhotoAdded::Added { photo_count: 2 }
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u3", b"three"), max)
            .await
            .unwrap(),
        PhotoAdded::Added { photo_count: 3 }
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u4", b"four"), max)
            .await
            .unwrap(),
        PhotoAdded::Full { max }
    );

    let stored = store.get_avatar(owner, avatar.id).await.unwrap().unwrap();
    assert_eq!(stored.photo_count, 3);
    assert!(
        stored.version > avatar.version,
        "each photo bumps the version, so stale full writes lose"
    );
    let mut names: Vec<_> = store
        .list_photos(avatar.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.file_unique_id)
        .collect();
    names.sort();
    assert_eq!(names, ["u1", "u2", "u3"]);
    let found = store
        .find_photo_by_hash(avatar.id, &ContentHash::of(b"two"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, photo(&avatar, "u2", b"two"));
    assert_eq!(
        store
            .find_photo_by_hash(avatar.id, &ContentHash::of(b"nope"))
            .await
            .unwrap(),
        None
    );

    // Not accepting: a draft, and a stranger writing to someone else's avatar.
    let drafted = store
        .create_avatar(&draft(owner, AvatarKind::Style))
        .await
        .unwrap();
    assert_eq!(
        store
            .add_photo(&photo(&drafted, "d1", b"d"), max)
            .await
            .unwrap(),
        PhotoAdded::NotAccepting
    );
    let forged = Photo {
        owner: random_user(),
        ..photo(&avatar, "x1", b"x")
    };
    assert_eq!(
        store.add_photo(&forged, max).await.unwrap(),
        PhotoAdded::AvatarMissing
    );
    // The same file may belong to two different avatars.
    let other = collecting(store, owner).await;
    assert_eq!(
        store
            .add_photo(&photo(&other, "u1", b"one"), max)
            .await
            .unwrap(),
        PhotoAdded::Added { photo_count: 1 }
    );
    // Forgetting an avatar's photos (after training) leaves the avatar, its count and the
    // other avatar's photos; another owner cannot forget them.
    store.forget_photos(random_user(), avatar.id).await.unwrap();
    assert_eq!(store.list_photos(avatar.id).await.unwrap().len(), 3);
    store.forget_photos(owner, avatar.id).await.unwrap();
    store.forget_photos(owner, avatar.id).await.unwrap();
    assert!(store.list_photos(avatar.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_photo_by_hash(avatar.id, &ContentHash::of(b"one"))
            .await
            .unwrap(),
        None,
        "the hash markers go too"
    );
    let kept = store.get_avatar(owner, avatar.id).await.unwrap().unwrap();
    assert_eq!(kept.photo_count, 3);
    assert_eq!(store.list_photos(other.id).await.unwrap().len(), 1);
}

pub async fn an_album_arriving_at_once_is_counted_exactly(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = collecting(store, owner).await;
    let max = 6;
    let photos: Vec<Photo> = (0..10)
        .map(|i| {
            photo(
                &avatar,
                &format!("album-{i}"),
                format!("bytes {i}").as_bytes(),
            )
        })
        .collect();
    let outcomes = join_all(photos.iter().map(|p| async move {
        // Under contention a backend may report a conflict; callers retry, as here.
        for _ in 0..20 {
            match store.add_photo(p, max).await {
                Err(StoreError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(20)).await,
                other => return other.unwrap(),
            }
        }
        panic!("add_photo kept conflicting");
    }))
    .await;
    let added = outcomes
        .iter()
        .filter(|o| matches!(o, PhotoAdded::Added { .. }))
        .count();
    let full = outcomes
        .iter()
        .filter(|o| matches!(o, PhotoAdded::Full { .. }))
        .count();
    assert_eq!((added, full), (6, 4), "{outcomes:?}");
    assert_eq!(
        store
            .get_avatar(owner, avatar.id)
            .await
            .unwrap()
            .unwrap()
            .photo_count,
        6
    );
    assert_eq!(store.list_photos(avatar.id).await.unwrap().len(), 6);
}

pub async fn generations_are_versioned_and_listed_newest_first(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let g = store
            .create_generation(&generation(&avatar, T0.plus(secs(i))))
            .await
            .unwrap();
        assert_eq!(g.version, 1);
        ids.push(g.id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first = store
        .get_generation(avatar.id, ids[0])
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store
            .create_generation(&Generation {
                version: 0,
                ..first.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    let submitted = Generation {
        state: GenerationState::InProgress {
            request: request("gen-req"),
            submitted_at: T0,
        },
        ..first.clone()
    };
    let submitted = store.update_generation(&submitted).await.unwrap();
    assert_eq!(submitted.version, 2);
    assert!(matches!(
        store.update_generation(&first).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_generation(avatar.id, ids[0]).await.unwrap(),
        Some(submitted)
    );

    let newest: Vec<_> = store
        .list_generations(avatar.id, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(newest, vec![ids[3], ids[2], ids[1]]);
    let stranger_avatar = AvatarId::new();
    assert!(
        store
            .get_generation(stranger_avatar, ids[0])
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn deleting_an_avatar_removes_its_records(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = collecting(store, owner).await;
    for i in 0..30 {
        store
            .add_photo(
                &photo(&avatar, &format!("p{i}"), format!("{i}").as_bytes()),
                40,
            )
            .await
            .unwrap();
    }
    let g = store
        .create_generation(&generation(&avatar, T0))
        .await
        .unwrap();
    let keep = collecting(store, owner).await;
    store
        .add_photo(&photo(&keep, "k1", b"keep"), 20)
        .await
        .unwrap();

    store.delete_avatar(owner, avatar.id).await.unwrap();
    assert!(store.get_avatar(owner, avatar.id).await.unwrap().is_none());
    assert!(store.list_photos(avatar.id).await.unwrap().is_empty());
    assert!(
        store
            .find_photo_by_hash(avatar.id, &ContentHash::of(b"3"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_generation(avatar.id, g.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_generations(avatar.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_photos(keep.id).await.unwrap().len(),
        1,
        "other avatars are untouched"
    );
}

pub async fn fal_requests_route_to_their_owner(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar_id = AvatarId::new();
    let training = FalRequestOwner {
        request_id: "764cabcf-b745-4b3e-ae38-1200304cf45b".into(),
        target: FalTarget::Training { owner, avatar_id },
        created_at: T0,
    };
    let generation_request = FalRequestOwner {
        request_id: "gen-1".into(),
        target: FalTarget::Generation {
            owner,
            avatar_id,
            generation_id: GenerationId::new(),
        },
        created_at: T0,
    };
    store.put_fal_request(&training).await.unwrap();
    store.put_fal_request(&generation_request).await.unwrap();
    store.put_fal_request(&generation_request).await.unwrap();
    assert_eq!(
        store.get_fal_request(&training.request_id).await.unwrap(),
        Some(training.clone())
    );
    assert_eq!(
        store.get_fal_request("gen-1").await.unwrap(),
        Some(generation_request)
    );
    assert_eq!(store.get_fal_request("unknown").await.unwrap(), None);
    // Forgotten when its avatar is deleted; forgetting twice is fine.
    store.delete_fal_request("gen-1").await.unwrap();
    store.delete_fal_request("gen-1").await.unwrap();
    assert_eq!(store.get_fal_request("gen-1").await.unwrap(), None);
    assert!(
        store
            .get_fal_request(&training.request_id)
            .await
            .unwrap()
            .is_some(),
        "others stay"
    );
}

pub async fn update_ids_are_processed_once(store: &dyn RecordStore) {
    use fluxbot::ports::UpdateClaim::{Done, Fresh, InProgress};
    let (day, lease) = (secs(24 * 3600), secs(90));
    let claim = |id: i64, at: Timestamp| async move {
        store.claim_update(id, at, at.plus(lease)).await.unwrap()
    };
    assert_eq!(claim(1001, T0).await, Fresh);
    assert_eq!(
        claim(1001, T0).await,
        InProgress,
        "a retry during processing"
    );
    store.complete_update(1001, T0.plus(day)).await.unwrap();
    assert_eq!(
        claim(1001, T0.plus(secs(3600))).await,
        Done,
        "a retry after processing"
    );
    assert_eq!(claim(1002, T0).await, Fresh, "other ids are independent");

    // A transient failure forgets the id: Telegram's retry runs the update again.
    store.forget_update(1002).await.unwrap();
    assert_eq!(
        claim(1002, T0).await,
        Fresh,
        "a forgotten update runs again"
    );

    // A worker that crashed mid-update leaves a lease that runs out: the retry then runs.
    assert_eq!(claim(1003, T0).await, Fresh);
    assert_eq!(claim(1003, T0.plus(secs(60))).await, InProgress);
    assert_eq!(claim(1003, T0.plus(secs(91))).await, Fresh, "lease expired");
    // Expired "done" marks count as absent too, even before TTL removes them.
    store
        .complete_update(1003, T0.plus(secs(100)))
        .await
        .unwrap();
    assert_eq!(claim(1003, T0.plus(secs(99))).await, Done);
    assert_eq!(claim(1003, T0.plus(secs(101))).await, Fresh);
}

async fn all_in_flight(
    store: &dyn RecordStore,
    older_than: Timestamp,
    page: u32,
) -> Vec<InFlightItem> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let result = store
            .list_in_flight(older_than, page, cursor)
            .await
            .unwrap();
        assert!(result.items.len() <= page as usize);
        items.extend(result.items);
        match result.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("in-flight pagination does not end");
}

pub async fn avatars_are_counted_by_status(store: &dyn RecordStore) {
    let (one, two) = (random_user(), random_user());
    collecting(store, one).await;
    collecting(store, two).await;
    training_since(store, two, T0).await;
    let ready = collecting(store, one).await;
    step(store, &ready, AvatarEvent::MinimumReached, T0).await;
    let counts = store.count_avatars_by_status().await.unwrap();
    assert_eq!(counts.len(), AvatarStatus::ALL.len());
    let of = |status| counts.iter().find(|(s, _)| *s == status).unwrap().1;
    assert_eq!(of(AvatarStatus::CollectingPhotos), 2);
    assert_eq!(of(AvatarStatus::Ready), 1);
    assert_eq!(of(AvatarStatus::Training), 1);
    assert_eq!(of(AvatarStatus::Completed), 0);
}

/// Marks the avatar's outcome as told to the user.
async fn told(store: &dyn RecordStore, mut avatar: Avatar) -> Avatar {
    avatar.notice = fluxbot::domain::OutcomeNotice::Sent;
    store
        .update_avatar(&avatar)
        .await
        .expect("notice marked sent")
}

pub async fn in_flight_index_holds_exactly_the_waiting_work(store: &dyn RecordStore) {
    let owner = random_user();
    let now = T0.plus(secs(3600));
    let a = training_since(store, owner, now.minus(secs(300))).await;
    // Submitting since now-200 s.
    let b = collecting(store, owner).await;
    let b = step(store, &b, AvatarEvent::MinimumReached, now).await;
    let b = step(store, &b, AvatarEvent::Enqueue, now).await;
    let b = step(
        store,
        &b,
        AvatarEvent::Claim {
            attempt: AttemptId::new(),
            lease: LEASE,
        },
        now.minus(secs(200)),
    )
    .await;
    // Queued since now-100 s: in the index too, so a lost launch message is sent again.
    let e = collecting(store, owner).await;
    let e = step(store, &e, AvatarEvent::MinimumReached, now).await;
    let e = step(store, &e, AvatarEvent::Enqueue, now.minus(secs(100))).await;
    // Not in flight: ready; completed with the user told.
    let c = collecting(store, owner).await;
    let _c = step(store, &c, AvatarEvent::MinimumReached, now).await;
    let d = training_since(store, owner, now.minus(secs(1000))).await;
    let output = TrainingOutput {
        model: TrainedModel::Lora {
            lora_url: "https://fal.media/l.safetensors".into(),
            config_url: None,
            stored_key: None,
        },
        raw_response: "{}".into(),
    };
    let d = step(
        store,
        &d,
        AvatarEvent::Succeed {
            output: output.clone(),
        },
        now.minus(secs(900)),
    )
    .await;
    let _d = told(store, d).await;
    // A generation in progress since now-250 s, and a pending one.
    let g = store
        .create_generation(&generation(&a, now.minus(secs(260))))
        .await
        .unwrap();
    let g = store
        .update_generation(&Generation {
            state: GenerationState::InProgress {
                request: request("g"),
                submitted_at: now.minus(secs(250)),
            },
            ..g
        })
        .await
        .unwrap();
    // Pending work is watched too (a lost launch message is re-sent), from its creation.
    let _pending = store
        .create_generation(&generation(&a, now.plus(secs(5))))
        .await
        .unwrap();

    let training = |x: &Avatar| FalTarget::Training {
        owner,
        avatar_id: x.id,
    };
    let gen_target = FalTarget::Generation {
        owner,
        avatar_id: a.id,
        generation_id: g.id,
    };
    let targets =
        |items: Vec<InFlightItem>| items.into_iter().map(|i| i.target).collect::<Vec<_>>();

    let expected = vec![training(&a), gen_target.clone(), training(&b), training(&e)];
    assert_eq!(
        targets(all_in_flight(store, now, 50).await),
        expected,
        "oldest first, only in-flight items"
    );
    assert_eq!(
        targets(all_in_flight(store, now, 1).await),
        expected,
        "the same through pages of one"
    );
    let items = all_in_flight(store, now, 50).await;
    assert_eq!(items[0].since, now.minus(secs(300)));
    assert_eq!(
        targets(all_in_flight(store, now.minus(secs(220)), 50).await),
        vec![training(&a), gen_target.clone()],
        "younger items are left out"
    );

    // Items leave the index when their state does; an outcome stays until the user is told.
    let a = step(store, &a, AvatarEvent::Succeed { output }, now).await;
    assert_eq!(
        targets(all_in_flight(store, now.plus(secs(1)), 50).await),
        vec![gen_target.clone(), training(&b), training(&e), training(&a)],
        "completed, not yet told: still watched"
    );
    let a = told(store, a).await;
    store.delete_avatar(owner, e.id).await.unwrap();
    assert_eq!(
        targets(all_in_flight(store, now, 50).await),
        vec![gen_target, training(&b)]
    );
    let g = store.get_generation(a.id, g.id).await.unwrap().unwrap();
    store
        .update_generation(&Generation {
            state: GenerationState::Completed {
                request: request("g"),
                images: vec![],
                completed_at: now,
            },
            notice: OutcomeNotice::Sent,
            ..g
        })
        .await
        .unwrap();
    store.delete_avatar(owner, b.id).await.unwrap();
    assert!(all_in_flight(store, now, 50).await.is_empty());
}

// ---------------------------------------------------------------- job queue

pub async fn queue_delivers_and_acknowledges(queue: &dyn JobQueue) {
    let id = queue
        .send(r#"{"job":"launch","n":1}"#, QueueDelay::NONE)
        .await
        .unwrap();
    let got = queue.receive(10, secs(5)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].message_id.as_str(),
            got[0].body.as_str(),
            got[0].receive_count
        ),
        (id.as_str(), r#"{"job":"launch","n":1}"#, 1)
    );
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "invisible while being processed"
    );
    queue.ack(&got[0].receipt).await.unwrap();
    assert!(
        queue.receive(10, secs(1)).await.unwrap().is_empty(),
        "gone once acknowledged"
    );
}

pub async fn queue_honours_delays(queue: &dyn JobQueue) {
    queue
        .send("later", QueueDelay::from_secs(2).unwrap())
        .await
        .unwrap();
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "not before its delay"
    );
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && started.elapsed() < secs(15) {
        got = queue.receive(10, secs(1)).await.unwrap();
    }
    assert_eq!(got.first().map(|m| m.body.as_str()), Some("later"));
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "delivered after about 2 s, got {:?}",
        started.elapsed()
    );
    queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn queue_redelivers_released_messages(queue: &dyn JobQueue) {
    queue.send("retry me", QueueDelay::NONE).await.unwrap();
    let first = queue.receive(1, secs(5)).await.unwrap();
    assert_eq!(first.len(), 1);
    queue
        .release(&first[0].receipt, QueueDelay::NONE)
        .await
        .unwrap();
    let second = queue.receive(1, secs(5)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].body.as_str(), second[0].receive_count),
        ("retry me", 2)
    );
    queue.ack(&second[0].receipt).await.unwrap();
}

// ---------------------------------------------------------------- blob storage

pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::SmallRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

pub fn body(bytes: Vec<u8>) -> BlobReader {
    Box::pin(std::io::Cursor::new(bytes))
}

pub async fn read_all(blobs: &dyn BlobStore, key: &BlobKey) -> Vec<u8> {
    let mut out = Vec::new();
    blobs
        .get(key)
        .await
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    out
}

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).unwrap()
}

pub async fn blobs_round_trip(blobs: &dyn BlobStore) {
    let small = key("photos/1/a/one.jpg");
    assert_eq!(
        blobs
            .put(&small, body(b"jpeg bytes".to_vec()), "image/jpeg")
            .await
            .unwrap(),
        10
    );
    assert_eq!(read_all(blobs, &small).await, b"jpeg bytes");
    assert_eq!(blobs.size(&small).await.unwrap(), Some(10));
    blobs
        .put(&small, body(b"replaced".to_vec()), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(read_all(blobs, &small).await, b"replaced");

    // Larger than one multipart part.
    let large = random_bytes(7, 19 * 1024 * 1024 + 123);
    let big = key("photos/1/a/large.png");
    assert_eq!(
        blobs
            .put(&big, body(large.clone()), "image/png")
            .await
            .unwrap(),
        large.len() as u64
    );
    assert_eq!(
        Sha256::digest(read_all(blobs, &big).await),
        Sha256::digest(&large)
    );

    let missing = key("photos/1/a/missing.jpg");
    assert!(matches!(
        blobs.get(&missing).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(blobs.size(&missing).await.unwrap(), None);
}

pub async fn delete_prefix_removes_exactly_the_prefix(blobs: &dyn BlobStore) {
    for k in [
        "photos/7/av1/a.jpg",
        "photos/7/av1/b.jpg",
        "photos/7/av1/deep/c.jpg",
        "photos/7/av11/x.jpg",
        "archives/7/av1/z.zip",
    ] {
        blobs
            .put(&key(k), body(k.as_bytes().to_vec()), "image/jpeg")
            .await
            .unwrap();
    }
    assert_eq!(blobs.delete_prefix("photos/7/av1/").await.unwrap(), 3);
    assert_eq!(blobs.size(&key("photos/7/av1/a.jpg")).await.unwrap(), None);
    assert_eq!(
        blobs.size(&key("photos/7/av11/x.jpg")).await.unwrap(),
        Some(19),
        "a sibling with a longer name stays"
    );
    assert_eq!(
        blobs.size(&key("archives/7/av1/z.zip")).await.unwrap(),
        Some(20)
    );
    assert_eq!(
        blobs.delete_prefix("photos/7/av1/").await.unwrap(),
        0,
        "idempotent"
    );
    assert!(
        blobs.delete_prefix("photos/7/av1").await.is_err(),
        "a prefix must end in /"
    );
}

pub async fn delete_removes_one_object_idempotently(blobs: &dyn BlobStore) {
    let (a, b) = (key("photos/8/av/a.jpg"), key("photos/8/av/ab.jpg"));
    for k in [&a, &b] {
        blobs
            .put(k, body(vec![1, 2, 3]), "image/jpeg")
            .await
            .unwrap();
    }
    blobs.delete(&a).await.unwrap();
    assert_eq!(blobs.size(&a).await.unwrap(), None);
    assert_eq!(blobs.size(&b).await.unwrap(), Some(3), "only that key");
    blobs
        .delete(&a)
        .await
        .expect("deleting a missing object is fine");
}

/// A body that yields `good` bytes, then fails.
struct FailingBody {
    remaining: usize,
}

impl AsyncRead for FailingBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.remaining == 0 {
            return Poll::Ready(Err(std::io::Error::other("connection reset by Telegram")));
        }
        let n = self.remaining.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![0xAB; n]);
        self.remaining -= n;
        Poll::Ready(Ok(()))
    }
}

pub async fn a_failed_upload_stores_nothing(blobs: &dyn BlobStore) {
    for (name, good) in [("small", 1000), ("multipart", 12 * 1024 * 1024)] {
        let k = key(&format!("photos/9/f/{name}.jpg"));
        assert!(
            blobs
                .put(&k, Box::pin(FailingBody { remaining: good }), "image/jpeg")
                .await
                .is_err()
        );
        assert_eq!(
            blobs.size(&k).await.unwrap(),
            None,
            "{name}: nothing stored"
        );
    }
}

pub async fn presigned_urls_name_the_object(blobs: &dyn BlobStore) -> url::Url {
    let k = key("archives/3/x/attempt.zip");
    blobs
        .put(&k, body(b"PK zip".to_vec()), "application/zip")
        .await
        .unwrap();
    let url = blobs.presign_get(&k, secs(3600)).await.unwrap();
    assert!(url.path().ends_with("archives/3/x/attempt.zip"), "{url}");
    assert!(
        url.query().is_some_and(|q| !q.is_empty()),
        "carries a signature: {url}"
    );
    url
}

/// 25 objects of 5 MB each, zipped in a stream and unpacked byte-identical.
pub async fn zip_of_25_photos_unpacks_identically(blobs: Arc<dyn BlobStore>) {
    const COUNT: usize = 25;
    const SIZE: usize = 5 * 1000 * 1000;
    let owner = UserId(25);
    let avatar = AvatarId::new();
    let mut sources = Vec::new();
    let mut digests = Vec::new();
    for i in 0..COUNT {
        let bytes = random_bytes(i as u64, SIZE);
        digests.push(Sha256::digest(&bytes));
        let k = blob_keys::photo(owner, avatar, &format!("unique-{i}"), ImageFormat::Jpeg);
        blobs.put(&k, body(bytes), "image/jpeg").await.unwrap();
        sources.push(ZipSource {
            key: k,
            name: format!("photo_{:02}.jpg", i + 1),
        });
    }
    let dest = blob_keys::archive(owner, avatar, AttemptId::new());
    let summary = blobs.zip_into(&sources, &dest).await.unwrap();
    assert_eq!(summary.entries, COUNT as u32);
    assert_eq!(summary.content_bytes, (COUNT * SIZE) as u64);
    assert_eq!(
        blobs.size(&dest).await.unwrap(),
        Some(summary.archive_bytes)
    );

    let archive = read_all(&*blobs, &dest).await;
    assert_eq!(archive.len() as u64, summary.archive_bytes);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("a valid zip");
    assert_eq!(zip.len(), COUNT);
    for (i, digest) in digests.iter().enumerate() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.name(), format!("photo_{:02}.jpg", i + 1));
        let mut content = Vec::with_capacity(SIZE);
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        assert_eq!(
            &Sha256::digest(&content),
            digest,
            "entry {i} is byte-identical"
        );
    }
}

pub async fn a_zip_with_a_missing_source_stores_nothing(blobs: &dyn BlobStore) {
    let present = key("photos/4/z/present.jpg");
    blobs
        .put(
            &present,
            body(random_bytes(1, 3 * 1024 * 1024)),
            "image/jpeg",
        )
        .await
        .unwrap();
    let sources = [
        ZipSource {
            key: present,
            name: "1.jpg".into(),
        },
        ZipSource {
            key: key("photos/4/z/gone.jpg"),
            name: "2.jpg".into(),
        },
    ];
    let dest = key("archives/4/z/a.zip");
    assert!(matches!(
        blobs.zip_into(&sources, &dest).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(
        blobs.size(&dest).await.unwrap(),
        None,
        "no truncated archive"
    );
}
