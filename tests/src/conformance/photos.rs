//! Photos: deduplicated, bounded, counted exactly under an album arriving at once.

use super::*;

pub async fn photos_are_deduplicated_and_bounded(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar = collecting(store, owner).await;
    let max = 3;
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u1", b"one"), max)
            .await
            .unwrap()
            .photo_count(),
        Some(1)
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
            .unwrap()
            .photo_count(),
        Some(2)
    );
    assert_eq!(
        store
            .add_photo(&photo(&avatar, "u3", b"three"), max)
            .await
            .unwrap(),
        PhotoAdded::Added(Box::new(
            store.get_avatar(owner, avatar.id).await.unwrap().unwrap()
        )),
        "the avatar as stored, this photo counted"
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
            .unwrap()
            .photo_count(),
        Some(1)
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
        .filter(|o| matches!(o, PhotoAdded::Added(_)))
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
