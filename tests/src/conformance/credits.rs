//! The credits ledger: every entry applies once by its key, a balance never goes below zero,
//! and a debit taken with a commit is all or nothing with it, however many arrive at once.

use super::*;

fn grant(owner: UserId, request: &str, credits: u64) -> LedgerEntry {
    LedgerEntry::grant(owner, request, Credits(credits), T0)
}

fn debit_for(owner: UserId, work: Work, credits: u64, at: Timestamp) -> LedgerEntry {
    LedgerEntry::debit(owner, work, Credits(credits), at)
}

pub async fn entries_apply_once_and_never_overdraw(store: &dyn RecordStore) {
    let owner = random_user();
    assert_eq!(store.balance(owner).await.unwrap(), Credits(0));
    assert_eq!(
        store.apply_entry(&grant(owner, "req-1", 10)).await.unwrap(),
        Ok(Applied::New(Credits(10)))
    );
    assert_eq!(
        store.apply_entry(&grant(owner, "req-1", 10)).await.unwrap(),
        Ok(Applied::Repeat(Credits(10))),
        "the same request id applies once"
    );
    let first = Work::generation(GenerationId::new());
    let spend = debit_for(owner, first, 7, T0.plus(secs(1)));
    assert_eq!(
        store.apply_entry(&spend).await.unwrap(),
        Ok(Applied::New(Credits(3)))
    );
    let too_much = debit_for(
        owner,
        Work::generation(GenerationId::new()),
        5,
        T0.plus(secs(2)),
    );
    assert_eq!(
        store.apply_entry(&too_much).await.unwrap(),
        Err(NotEnoughCredits {
            balance: Credits(3),
            price: Credits(5)
        })
    );
    assert_eq!(store.balance(owner).await.unwrap(), Credits(3));
    assert!(
        store
            .ledger_entry(owner, &too_much.key())
            .await
            .unwrap()
            .is_none(),
        "a refused debit leaves no entry"
    );
    // A refund of the debit, twice: once.
    let refund = LedgerEntry::refund_of(&spend, T0.plus(secs(3))).unwrap();
    for _ in 0..2 {
        store.apply_entry(&refund).await.unwrap().unwrap();
    }
    assert_eq!(store.balance(owner).await.unwrap(), Credits(10));
    let listed = store.ledger(owner, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.key()).collect::<Vec<_>>(),
        vec![refund.key(), spend.key(), grant(owner, "req-1", 10).key()],
        "newest first"
    );
    assert_eq!(store.ledger(owner, 2).await.unwrap().len(), 2);
    assert_eq!(
        store
            .ledger_entry(owner, &LedgerEntry::debit_key(first))
            .await
            .unwrap(),
        Some(spend)
    );
    // Another user's ledger is their own.
    assert_eq!(store.balance(random_user()).await.unwrap(), Credits(0));
    assert!(store.ledger(random_user(), 10).await.unwrap().is_empty());
}

/// Eight debits of 3 at once on a balance of 10: three pass, the balance ends at 1.
pub async fn concurrent_debits_never_overspend(store: &dyn RecordStore) {
    let owner = random_user();
    store
        .apply_entry(&grant(owner, "start", 10))
        .await
        .unwrap()
        .unwrap();
    let debits: Vec<LedgerEntry> = (0..8)
        .map(|i| {
            debit_for(
                owner,
                Work::generation(GenerationId::new()),
                3,
                T0.plus(secs(i + 1)),
            )
        })
        .collect();
    let results = join_all(debits.iter().map(|d| store.apply_entry(d))).await;
    let passed = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(Err(_)))).count();
    assert_eq!((passed, refused), (3, 5), "{results:?}");
    assert_eq!(store.balance(owner).await.unwrap(), Credits(1));
    assert_eq!(store.ledger(owner, 100).await.unwrap().len(), 4);
}

/// The same purchase delivered five times at once is credited once.
pub async fn one_purchase_per_charge_id(store: &dyn RecordStore) {
    let owner = random_user();
    let charge = format!("stxCharge{}", rand::random::<u32>());
    let purchase = LedgerEntry::purchase(owner, &charge, 250, Credits(50), T0);
    let results = join_all((0..5).map(|_| store.apply_entry(&purchase))).await;
    let new = results
        .iter()
        .filter(|r| matches!(r, Ok(Ok(Applied::New(_)))))
        .count();
    let repeats = results
        .iter()
        .filter(|r| matches!(r, Ok(Ok(Applied::Repeat(_)))))
        .count();
    assert_eq!((new, repeats), (1, 4), "{results:?}");
    assert_eq!(store.balance(owner).await.unwrap(), Credits(50));
    // Taking a purchase back needs its credits unspent.
    let spent = debit_for(owner, Work::generation(GenerationId::new()), 1, T0);
    store.apply_entry(&spent).await.unwrap().unwrap();
    let back = LedgerEntry::payment_refund_of(&purchase, T0).unwrap();
    assert_eq!(
        store.apply_entry(&back).await.unwrap(),
        Err(NotEnoughCredits {
            balance: Credits(49),
            price: Credits(50)
        })
    );
    store
        .apply_entry(&LedgerEntry::refund_of(&spent, T0).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.apply_entry(&back).await.unwrap(),
        Ok(Applied::New(Credits(0)))
    );
}

/// A training's debit goes with its move to `queued`: both or neither.
pub async fn a_debited_enqueue_is_all_or_nothing(store: &dyn RecordStore) {
    let owner = random_user();
    store
        .apply_entry(&grant(owner, "start", 5))
        .await
        .unwrap()
        .unwrap();
    let mut queued = Vec::new();
    for _ in 0..2 {
        let a = collecting(store, owner).await;
        let a = step(store, &a, AvatarEvent::MinimumReached, T0).await;
        queued.push((a.clone(), a.apply(AvatarEvent::Enqueue, T0).unwrap()));
    }
    let cost = |a: &Avatar| CommitCost {
        spend: None,
        debits: vec![debit_for(owner, Work::training(a.id), 5, T0)],
        causes: Vec::new(),
    };
    let (first_ready, first) = &queued[0];
    let stored = store
        .enqueue_avatar(first, 0, &cost(first))
        .await
        .unwrap()
        .expect("the balance covers it");
    assert_eq!(stored.status(), AvatarStatus::Queued);
    assert_eq!(store.balance(owner).await.unwrap(), Credits(0));
    assert!(
        store
            .ledger_entry(
                owner,
                &LedgerEntry::debit_key(Work::training(first_ready.id))
            )
            .await
            .unwrap()
            .is_some()
    );
    // The second is short: nothing written, not even the launch count.
    let (second_ready, second) = &queued[1];
    assert_eq!(
        store
            .enqueue_avatar(second, 1, &cost(second))
            .await
            .unwrap(),
        Err(CommitRefused::NotEnoughCredits(NotEnoughCredits {
            balance: Credits(0),
            price: Credits(5)
        }))
    );
    assert_eq!(
        store.get_avatar(owner, second.id).await.unwrap().as_ref(),
        Some(second_ready)
    );
    assert_eq!(store.launch_count(owner).await.unwrap(), 1);
    assert_eq!(store.ledger(owner, 10).await.unwrap().len(), 2);
}

/// Two generations at once, credits for one: one is written and paid, the other is refused
/// or conflicts (then checks again), and the balance never goes below zero.
pub async fn concurrent_generations_share_one_balance(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    store
        .apply_entry(&grant(owner, "start", 4))
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (generation(&avatar, T0), generation(&avatar, T0));
    let cost = |g: &Generation| CommitCost {
        spend: None,
        debits: vec![debit_for(owner, Work::generation(g.id), 4, T0)],
        causes: Vec::new(),
    };
    let (ca, cb) = (cost(&a), cost(&b));
    let (ra, rb) = futures::join!(
        store.start_generation(&a, 0, &ca),
        store.start_generation(&b, 0, &cb)
    );
    let results = [ra, rb];
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count(),
        1,
        "{results:?}"
    );
    assert_eq!(store.balance(owner).await.unwrap(), Credits(0));
    assert_eq!(
        store.list_generations(avatar.id, 10).await.unwrap().len(),
        1
    );
}

/// A photo pack's pictures are committed together, one debit each: short of their sum
/// nothing is written; with it every picture, every debit and the balance move as one.
pub async fn a_pack_commits_all_its_pictures_or_none(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = training_since(store, owner, T0).await;
    let (_, pack) = Catalogue::shipped().for_kind(AvatarKind::Portrait)[0];
    let size = pack.pictures.len();
    let members = pack.records(&avatar, T0);
    assert_eq!(members.len(), size);
    let cost = CommitCost {
        spend: None,
        debits: members
            .iter()
            .map(|g| debit_for(owner, g.work().paid(), 1, T0))
            .collect(),
        causes: Vec::new(),
    };
    let short = size as u64 - 1;
    store
        .apply_entry(&grant(owner, "pack-1", short))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.start_generations(&members, 0, &cost).await.unwrap(),
        Err(CommitRefused::NotEnoughCredits(NotEnoughCredits {
            balance: Credits(short),
            price: Credits(size as u64)
        }))
    );
    assert!(
        store
            .list_generations(avatar.id, 20)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.ledger(owner, 20).await.unwrap().len(), 1);

    store
        .apply_entry(&grant(owner, "pack-2", 1))
        .await
        .unwrap()
        .unwrap();
    let stored = store
        .start_generations(&members, 0, &cost)
        .await
        .unwrap()
        .expect("the balance covers the pack");
    assert_eq!(stored.len(), size);
    assert_eq!(store.balance(owner).await.unwrap(), Credits(0));
    // Any picture finds the others, the leader first.
    let ids = stored[size - 1].pack_members();
    assert_eq!(ids[0], stored[0].id);
    for id in ids {
        let member = store.get_generation(avatar.id, id).await.unwrap().unwrap();
        assert_eq!(member.piece(), stored[0].id);
        assert!(
            store
                .ledger_entry(owner, &LedgerEntry::debit_key(member.work().paid()))
                .await
                .unwrap()
                .is_some()
        );
    }
}
