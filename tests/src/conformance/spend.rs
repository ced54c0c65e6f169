//! The daily spend cap: charges are added only with the record that commits to the work, and
//! never pass the cap, however many arrive at once.

use super::*;

/// A commit that only adds `charge` to its day.
fn spend(charge: &Charge) -> CommitCost {
    CommitCost {
        spend: Some(charge.clone()),
        ..CommitCost::default()
    }
}

/// A day of its own, so tests sharing a table do not share a day's spend.
fn some_day() -> Timestamp {
    T0.plus(secs(86_400 * u64::from(rand::random::<u16>())))
}

pub async fn charges_never_pass_the_daily_cap(store: &dyn RecordStore) {
    let day = some_day();
    let cap = SpendCap::PerDay(Usd::parse("1").unwrap());
    let charge = cap.charge(Usd::parse("0.30").unwrap(), day).unwrap();
    // Ten users' generations at once with room for three.
    let mut avatars = Vec::new();
    for _ in 0..10 {
        avatars.push(training_since(store, random_user(), T0).await);
    }
    let attempts = avatars.iter().map(|avatar| {
        let g = generation(avatar, day);
        let charge = charge.clone();
        async move {
            (
                g.clone(),
                store.start_generation(&g, 0, &spend(&charge)).await,
            )
        }
    });
    let results = join_all(attempts).await;
    let mut written = 0;
    for (g, result) in results {
        match result.expect("no backend error") {
            Ok(stored) => {
                written += 1;
                assert_eq!(stored.version, 1);
                assert!(
                    store
                        .get_generation(g.avatar_id, g.id)
                        .await
                        .unwrap()
                        .is_some()
                );
            }
            Err(CommitRefused::NotEnoughCredits(short)) => panic!("no debit asked: {short:?}"),
            Err(refused @ (CommitRefused::Duplicate(_) | CommitRefused::Gone)) => {
                panic!("no cause given, and the avatar is there: {refused:?}")
            }
            Err(CommitRefused::OverBudget { spent }) => {
                assert!(
                    spent.micros() + 300_000 > 1_000_000,
                    "refused with room: {spent:?}"
                );
                assert!(
                    store
                        .get_generation(g.avatar_id, g.id)
                        .await
                        .unwrap()
                        .is_none(),
                    "a refused generation is not written"
                );
            }
        }
    }
    assert_eq!(written, 3);
    assert_eq!(
        store.spent_on(&SpendDay::of(day)).await.unwrap(),
        Usd::parse("0.90").unwrap()
    );
    // The next day starts from nothing (a user of its own, whose count is 0).
    let avatar = training_since(store, random_user(), T0).await;
    let next = day.plus(secs(86_400));
    assert_eq!(store.spent_on(&SpendDay::of(next)).await.unwrap(), Usd(0));
    let tomorrow = cap.charge(Usd::parse("0.30").unwrap(), next).unwrap();
    assert!(
        store
            .start_generation(&generation(&avatar, next), 0, &spend(&tomorrow))
            .await
            .unwrap()
            .is_ok()
    );
    // A charge larger than the whole cap never fits.
    let huge = cap.charge(Usd::parse("2").unwrap(), next).unwrap();
    assert!(
        store
            .start_generation(&generation(&avatar, next), 1, &spend(&huge))
            .await
            .unwrap()
            .is_err()
    );
}

pub async fn a_charged_enqueue_is_all_or_nothing(store: &dyn RecordStore) {
    let owner = random_user();
    let ready = collecting(store, owner).await;
    let ready = step(store, &ready, AvatarEvent::MinimumReached, T0).await;
    let queued = ready.apply(AvatarEvent::Enqueue, T0).unwrap();
    let day = some_day();
    let cap = SpendCap::PerDay(Usd::parse("5").unwrap());
    let four = cap.charge(Usd::parse("4").unwrap(), day).unwrap();

    // A stale version conflicts and charges nothing.
    let stale = Avatar {
        version: ready.version - 1,
        ..queued.clone()
    };
    assert!(matches!(
        store.enqueue_avatar(&stale, 0, &spend(&four)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.spent_on(&SpendDay::of(day)).await.unwrap(), Usd(0));

    // Written with its charge.
    let stored = store
        .enqueue_avatar(&queued, 0, &spend(&four))
        .await
        .unwrap()
        .expect("within the cap");
    assert_eq!(stored.status(), AvatarStatus::Queued);
    assert_eq!(stored.version, ready.version + 1);
    assert_eq!(
        store.spent_on(&SpendDay::of(day)).await.unwrap(),
        Usd::parse("4").unwrap()
    );

    // Over the cap: refused, the avatar as it was.
    let other = collecting(store, owner).await;
    let other = step(store, &other, AvatarEvent::MinimumReached, T0).await;
    let other_queued = other.apply(AvatarEvent::Enqueue, T0).unwrap();
    let refused = store
        .enqueue_avatar(&other_queued, 1, &spend(&four))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Err(CommitRefused::OverBudget {
            spent: Usd::parse("4").unwrap()
        })
    );
    let unchanged = store.get_avatar(owner, other.id).await.unwrap().unwrap();
    assert_eq!(unchanged, other);
}

/// Two Confirms of one user at once, each having checked the limits with the same launch
/// count: exactly one queues its avatar; the other conflicts, writes nothing, and checks again.
pub async fn one_enqueue_per_launch_count(store: &dyn RecordStore) {
    let owner = random_user();
    let mut queued = Vec::new();
    for _ in 0..2 {
        let a = collecting(store, owner).await;
        let a = step(store, &a, AvatarEvent::MinimumReached, T0).await;
        queued.push((a.clone(), a.apply(AvatarEvent::Enqueue, T0).unwrap()));
    }
    let seen = store.launch_count(owner).await.unwrap();
    assert_eq!(seen, 0);
    let results =
        join_all(queued.iter().map(|(_, q)| async move {
            store.enqueue_avatar(q, seen, &CommitCost::default()).await
        }))
        .await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let lost = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((won, lost), (1, 1), "{results:?}");
    assert_eq!(store.launch_count(owner).await.unwrap(), 1);
    let statuses: Vec<AvatarStatus> = join_all(
        queued
            .iter()
            .map(|(a, _)| async move { store.get_avatar(owner, a.id).await.unwrap().unwrap() }),
    )
    .await
    .iter()
    .map(|a| a.status())
    .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == AvatarStatus::Queued)
            .count(),
        1
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == AvatarStatus::Ready)
            .count(),
        1,
        "the loser is left as it was"
    );
    // Another user's count is their own.
    assert_eq!(store.launch_count(random_user()).await.unwrap(), 0);
}

/// Two generations of one user at once with the same count seen: one is written, the other
/// conflicts and writes nothing.
pub async fn one_generation_start_per_count(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    assert_eq!(store.generation_count(owner).await.unwrap(), 0);
    let (a, b) = (generation(&avatar, T0), generation(&avatar, T0));
    let free = CommitCost::default();
    let (ra, rb) = futures::join!(
        store.start_generation(&a, 0, &free),
        store.start_generation(&b, 0, &free)
    );
    let results = [ra, rb];
    assert_eq!(results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count(),
        1
    );
    assert_eq!(
        store.list_generations(avatar.id, 10).await.unwrap().len(),
        1
    );
    assert_eq!(store.generation_count(owner).await.unwrap(), 1);
    // The count of trainings is a different count, untouched.
    assert_eq!(store.launch_count(owner).await.unwrap(), 0);
}
