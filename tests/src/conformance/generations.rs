//! Generations: versioned, listed newest first.

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
