//! User profiles: created once, then versioned.

use super::*;

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

/// Forgetting a user (`pipeline::erasure`) deletes their profile, avatars and every file of
/// theirs, even one no record leads to, and keeps their books; another user is untouched,
/// and forgetting again changes nothing.
pub async fn forgetting_a_user_leaves_only_their_books(backend: &fluxbot::backend::Backend) {
    let (store, blobs) = (&*backend.store, &*backend.blobs);
    let (id, other) = (random_user(), random_user());
    for user in [id, other] {
        store
            .save_user(&UserProfile::new(user, ChatId(user.0), None, T0))
            .await
            .unwrap();
        let entry = LedgerEntry::grant(user, "welcome", Credits(30), T0);
        store.apply_entry(&entry).await.unwrap().unwrap();
    }
    let avatar = store
        .create_avatar(&draft(id, AvatarKind::Portrait))
        .await
        .unwrap();
    let theirs = store
        .create_avatar(&draft(other, AvatarKind::Portrait))
        .await
        .unwrap();
    let file = |owner: UserId, avatar: AvatarId, name: &str| {
        BlobKey::new(format!("photos/{owner}/{avatar}/{name}")).unwrap()
    };
    let stray = BlobKey::new(format!("generations/{id}/{}/x/1.png", AvatarId::new())).unwrap();
    let keep = file(other, theirs.id, "a.jpg");
    for key in [file(id, avatar.id, "a.jpg"), stray.clone(), keep.clone()] {
        blobs
            .put(&key, body(vec![1, 2, 3]), "image/jpeg")
            .await
            .unwrap();
    }

    for _ in 0..2 {
        let done =
            fluxbot::pipeline::erasure::forget_user(store, blobs, &*backend.launches, id, T0)
                .await
                .unwrap();
        assert_eq!(done.refunded, Credits(0));
        assert!(store.get_user(id).await.unwrap().is_none());
        assert!(store.list_avatars(id).await.unwrap().is_empty());
        assert_eq!(blobs.size(&stray).await.unwrap(), None, "stray file gone");
        assert_eq!(store.balance(id).await.unwrap(), Credits(30), "books kept");
        assert_eq!(store.ledger(id, 10).await.unwrap().len(), 1);
    }
    assert!(store.get_user(other).await.unwrap().is_some());
    assert_eq!(store.list_avatars(other).await.unwrap().len(), 1);
    assert_eq!(blobs.size(&keep).await.unwrap(), Some(3));
}

/// Every profile comes back once, page by page (the operator's broadcast), and an
/// announcement's note applies once until it is taken back.
pub async fn users_are_listed_page_by_page_and_noted_once(store: &dyn RecordStore) {
    let ids: Vec<UserId> = (0..5).map(|_| random_user()).collect();
    for id in &ids {
        store
            .save_user(&UserProfile::new(*id, ChatId(id.0), None, T0))
            .await
            .unwrap();
    }
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = store.list_users(cursor, 2).await.unwrap();
        pages += 1;
        seen.extend(page.users.iter().map(|u| u.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10_000, "the listing ends");
    }
    for id in &ids {
        assert_eq!(seen.iter().filter(|s| *s == id).count(), 1, "{id} once");
    }
    assert!(pages >= 3, "paged: {pages}");
    let until = T0.plus(secs(3600));
    assert!(store.note_broadcast(ids[0], "news-1", until).await.unwrap());
    assert!(!store.note_broadcast(ids[0], "news-1", until).await.unwrap());
    assert!(store.note_broadcast(ids[1], "news-1", until).await.unwrap());
    assert!(store.note_broadcast(ids[0], "news-2", until).await.unwrap());
    store.unnote_broadcast(ids[0], "news-1").await.unwrap();
    assert!(store.note_broadcast(ids[0], "news-1", until).await.unwrap());
}
