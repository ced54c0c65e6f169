//! Telegram update ids are processed once.

use super::*;

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
