//! Avatars: versioned, owned, deleted with their records, counted for operators.

use super::*;

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
                AvatarEvent::Work(WorkEvent::Claim {
                    attempt: *attempt,
                    lease: LEASE,
                }),
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
        AvatarState::Work(WorkState::Submitting { attempt, .. }) => {
            assert_eq!(attempt, contenders[winners[0]])
        }
        other => panic!("expected submitting, got {other:?}"),
    }
    // A loser that re-reads finds the lease held and may not take it.
    assert!(
        stored
            .apply(
                AvatarEvent::Work(WorkEvent::Claim {
                    attempt: AttemptId::new(),
                    lease: LEASE
                }),
                T0
            )
            .is_err()
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
    let g = record_generation(store, &generation(&avatar, T0))
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
