//! fal.ai request ids route to their owner.

use super::*;

pub async fn fal_requests_route_to_their_owner(store: &dyn RecordStore) {
    let owner = random_user();
    let avatar_id = AvatarId::new();
    let training = FalRequestOwner {
        request_id: "764cabcf-b745-4b3e-ae38-1200304cf45b".into(),
        work: WorkRef::training(owner, avatar_id),
        created_at: T0,
    };
    let generation_request = FalRequestOwner {
        request_id: "gen-1".into(),
        work: WorkRef::generation(owner, avatar_id, GenerationId::new()),
        created_at: T0,
    };
    store.put_fal_request(&training).await.unwrap();
    store.put_fal_request(&generation_request).await.unwrap();
    store.put_fal_request(&generation_request).await.unwrap();
    assert_eq!(
        store.get_fal_request(&training.request_id).await.unwrap(),
        Some(training.clone())
    );
    assert_eq!(
        store.get_fal_request("gen-1").await.unwrap(),
        Some(generation_request)
    );
    assert_eq!(store.get_fal_request("unknown").await.unwrap(), None);
    // Forgotten when its avatar is deleted; forgetting twice is fine.
    store.delete_fal_request("gen-1").await.unwrap();
    store.delete_fal_request("gen-1").await.unwrap();
    assert_eq!(store.get_fal_request("gen-1").await.unwrap(), None);
    assert!(
        store
            .get_fal_request(&training.request_id)
            .await
            .unwrap()
            .is_some(),
        "others stay"
    );
}
