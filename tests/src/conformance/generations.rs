//! Generations: versioned, listed newest first, committed once per cause and only under a
//! living avatar.

use super::*;

pub async fn generations_are_versioned_and_listed_newest_first(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let g = record_generation(store, &generation(&avatar, T0.plus(secs(i))))
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
        record_generation(
            store,
            &Generation {
                version: 0,
                ..first.clone()
            }
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let submitted = Generation {
        state: GenerationState::Running {
            attempt: AttemptId::new(),
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

/// A generation commits only under an avatar that is there and not being deleted: a commit
/// racing the deletion writes nothing, neither the record nor the owner's count.
pub async fn a_generation_under_a_deleted_avatar_is_gone(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    let deleting = store
        .update_avatar(&Avatar {
            deleting_since: Some(T0.plus(secs(1))),
            ..avatar.clone()
        })
        .await
        .unwrap();
    let vanished = training_since(store, owner, T0).await;
    store.delete_avatar(owner, vanished.id).await.unwrap();
    for parent in [&deleting, &vanished] {
        let refused = store
            .start_generation(&generation(parent, T0), 0, &CommitCost::default())
            .await
            .unwrap();
        assert_eq!(refused, Err(CommitRefused::Gone), "under {}", parent.id);
    }

    assert_eq!(store.generation_count(owner).await.unwrap(), 0);
    assert!(
        store
            .list_generations(avatar.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A cause (a Telegram update, a tapped button) commits one piece of work while it is
/// remembered: other work it would commit is refused and named, and nothing is written.
pub async fn a_cause_commits_one_piece_of_work(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    let update = Cause::update(owner, 4242, T0);
    let paid_by = |causes: Vec<Cause>| CommitCost {
        causes,
        ..CommitCost::default()
    };

    let first = generation(&avatar, T0);
    let stored = store
        .start_generation(&first, 0, &paid_by(vec![update.clone()]))
        .await
        .unwrap()
        .expect("the first commit of its cause");
    assert_eq!(
        store.committed_by(&update).await.unwrap(),
        Some(stored.work())
    );

    // Telegram delivers the update again; the handler builds a new generation from it.
    let again = generation(&avatar, T0.plus(secs(30)));
    let later = Cause {
        at: T0.plus(secs(30)),
        ..update.clone()
    };
    assert_eq!(
        store
            .start_generation(&again, 1, &paid_by(vec![later.clone()]))
            .await
            .unwrap(),
        Err(CommitRefused::Duplicate(stored.work()))
    );
    assert_eq!(store.generation_count(owner).await.unwrap(), 1);

    // One new cause among remembered ones still names the earlier work.
    let tap = Cause::tap(owner, 17, "go", T0.plus(secs(30)), secs(10));
    assert_eq!(
        store
            .start_generation(&again, 1, &paid_by(vec![tap.clone(), later]))
            .await
            .unwrap(),
        Err(CommitRefused::Duplicate(stored.work()))
    );
    assert_eq!(store.committed_by(&tap).await.unwrap(), None);

    // Another user's update with the same id is theirs alone.
    let stranger = random_user();
    assert_eq!(
        store
            .committed_by(&Cause::update(stranger, 4242, T0))
            .await
            .unwrap(),
        None
    );

    // Once forgotten, the same key may cause new work.
    let expired = Cause {
        at: update.until,
        until: update.until.plus(secs(3600)),
        ..update.clone()
    };
    assert_eq!(store.committed_by(&expired).await.unwrap(), None);
    let renewed = store
        .start_generation(&again, 1, &paid_by(vec![expired.clone()]))
        .await
        .unwrap()
        .expect("a forgotten cause commits again");
    assert_eq!(
        store.committed_by(&expired).await.unwrap(),
        Some(renewed.work())
    );
    assert_eq!(store.generation_count(owner).await.unwrap(), 2);
}
