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
