//! The in-flight index holds exactly the work the sweep looks after.

use super::*;

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

/// Marks the avatar's outcome as told to the user, and its training's files as deleted.
async fn told(store: &dyn RecordStore, mut avatar: Avatar) -> Avatar {
    avatar.notice = fluxbot::domain::OutcomeNotice::Sent;
    avatar.tidy = fluxbot::domain::Tidy::Done;
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
        AvatarEvent::Work(WorkEvent::Claim {
            attempt: AttemptId::new(),
            lease: LEASE,
        }),
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
        AvatarEvent::Work(WorkEvent::Succeed {
            request: request(&format!("req-{}", d.id)),
            output: output.clone(),
        }),
        now.minus(secs(900)),
    )
    .await;
    let _d = told(store, d).await;
    // A generation in progress since now-250 s, and a pending one.
    let g = record_generation(store, &generation(&a, now.minus(secs(260))))
        .await
        .unwrap();
    let g = store
        .update_generation(&Generation {
            state: GenerationState::Running {
                attempt: AttemptId::new(),
                request: request("g"),
                submitted_at: now.minus(secs(250)),
            },
            ..g
        })
        .await
        .unwrap();
    // Pending work is watched too (a lost launch message is re-sent), from its creation.
    let _pending = record_generation(store, &generation(&a, now.plus(secs(5))))
        .await
        .unwrap();

    let training = |x: &Avatar| WorkRef::training(owner, x.id);
    let gen_target = WorkRef::generation(owner, a.id, g.id);
    let targets = |items: Vec<InFlightItem>| items.into_iter().map(|i| i.work).collect::<Vec<_>>();

    let expected = vec![training(&a), gen_target, training(&b), training(&e)];
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
        vec![training(&a), gen_target],
        "younger items are left out"
    );

    // Items leave the index when their state does; an outcome stays until the user is told.
    let succeed = AvatarEvent::Work(WorkEvent::Succeed {
        request: request(&format!("req-{}", a.id)),
        output,
    });
    let a = step(store, &a, succeed, now).await;
    assert_eq!(
        targets(all_in_flight(store, now.plus(secs(1)), 50).await),
        vec![gen_target, training(&b), training(&e), training(&a)],
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
                submitted_at: now,
                output: vec![],
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
