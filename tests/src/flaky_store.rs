//! A record store that fails chosen operations once, delegating everything else to a real
//! store: for crash windows that cannot be produced from outside (a worker dying between
//! submitting to fal.ai and recording the request id).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use fluxbot::domain::{
    Avatar, AvatarId, AvatarStatus, ContentHash, Credits, Generation, GenerationId, LedgerEntry,
    NotEnoughCredits, Photo, SpendDay, Timestamp, Usd, UserId, UserProfile, WorkRef,
};
use fluxbot::ports::{
    Applied, AvatarStore, Cause, CauseLog, CommitCost, CommitRefused, CreditLedger,
    FalRequestOwner, FalRequests, GenerationStore, InFlightCursor, InFlightIndex, InFlightPage,
    PhotoAdded, PhotoStore, RecordStore, SpendLedger, StoreError, StoreResult, UpdateClaim,
    UpdateLog, UserStore,
};

pub struct FlakyStore {
    inner: Arc<dyn RecordStore>,
    /// How many `put_fal_request` calls still fail.
    pub fail_put_fal_request: AtomicU32,
    /// How many `save_user` calls still fail.
    pub fail_save_user: AtomicU32,
    /// How many `add_photo` calls still write, then report a failure (the answer was lost).
    pub lose_add_photo_answer: AtomicU32,
}

impl FlakyStore {
    pub fn failing_put_fal_request(inner: Arc<dyn RecordStore>, times: u32) -> Self {
        Self {
            inner,
            fail_put_fal_request: AtomicU32::new(times),
            fail_save_user: AtomicU32::new(0),
            lose_add_photo_answer: AtomicU32::new(0),
        }
    }

    pub fn failing_save_user(inner: Arc<dyn RecordStore>, times: u32) -> Self {
        Self {
            inner,
            fail_put_fal_request: AtomicU32::new(0),
            fail_save_user: AtomicU32::new(times),
            lose_add_photo_answer: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl UserStore for FlakyStore {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>> {
        self.inner.get_user(id).await
    }
    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile> {
        if take_one(&self.fail_save_user) {
            return Err(StoreError::backend(std::io::Error::other(
                "injected: DynamoDB throttled the profile write",
            )));
        }
        self.inner.save_user(user).await
    }
    async fn forget_user(&self, id: UserId) -> StoreResult<()> {
        self.inner.forget_user(id).await
    }
    async fn list_users(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> StoreResult<fluxbot::ports::UserPage> {
        self.inner.list_users(cursor, limit).await
    }
    async fn note_broadcast(
        &self,
        user: UserId,
        broadcast: &str,
        until: fluxbot::domain::Timestamp,
    ) -> StoreResult<bool> {
        self.inner.note_broadcast(user, broadcast, until).await
    }
    async fn unnote_broadcast(&self, user: UserId, broadcast: &str) -> StoreResult<()> {
        self.inner.unnote_broadcast(user, broadcast).await
    }
}

#[async_trait]
impl AvatarStore for FlakyStore {
    async fn launch_count(&self, owner: UserId) -> StoreResult<u64> {
        self.inner.launch_count(owner).await
    }
    async fn enqueue_avatar(
        &self,
        avatar: &Avatar,
        launches_seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Avatar, CommitRefused>> {
        self.inner.enqueue_avatar(avatar, launches_seen, cost).await
    }
    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.inner.create_avatar(avatar).await
    }
    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>> {
        self.inner.get_avatar(owner, id).await
    }
    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>> {
        self.inner.list_avatars(owner).await
    }
    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar> {
        self.inner.update_avatar(avatar).await
    }
    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()> {
        self.inner.delete_avatar(owner, id).await
    }
    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>> {
        self.inner.count_avatars_by_status().await
    }
}

#[async_trait]
impl PhotoStore for FlakyStore {
    async fn add_photo(&self, photo: &Photo, max_photos: u32) -> StoreResult<PhotoAdded> {
        let added = self.inner.add_photo(photo, max_photos).await?;
        if take_one(&self.lose_add_photo_answer) {
            return Err(StoreError::backend(std::io::Error::other(
                "injected: the photo transaction's answer was lost",
            )));
        }
        Ok(added)
    }
    async fn forget_photos(&self, owner: UserId, avatar_id: AvatarId) -> StoreResult<()> {
        self.inner.forget_photos(owner, avatar_id).await
    }
    async fn list_photos(&self, avatar_id: AvatarId) -> StoreResult<Vec<Photo>> {
        self.inner.list_photos(avatar_id).await
    }
    async fn find_photo_by_hash(
        &self,
        avatar_id: AvatarId,
        hash: &ContentHash,
    ) -> StoreResult<Option<Photo>> {
        self.inner.find_photo_by_hash(avatar_id, hash).await
    }
}

#[async_trait]
impl GenerationStore for FlakyStore {
    async fn generation_count(&self, owner: UserId) -> StoreResult<u64> {
        self.inner.generation_count(owner).await
    }
    async fn expired_generations(
        &self,
        now: fluxbot::domain::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        self.inner.expired_generations(now, limit).await
    }
    async fn start_generations(
        &self,
        generations: &[Generation],
        seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Vec<Generation>, CommitRefused>> {
        self.inner.start_generations(generations, seen, cost).await
    }
    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>> {
        self.inner.get_generation(avatar_id, id).await
    }
    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation> {
        self.inner.update_generation(generation).await
    }
    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        self.inner.list_generations(avatar_id, limit).await
    }
    async fn delete_generation(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<()> {
        self.inner.delete_generation(owner, avatar_id, id).await
    }
}

#[async_trait]
impl CauseLog for FlakyStore {
    async fn committed_by(&self, cause: &Cause) -> StoreResult<Option<WorkRef>> {
        self.inner.committed_by(cause).await
    }
}

#[async_trait]
impl FalRequests for FlakyStore {
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()> {
        if take_one(&self.fail_put_fal_request) {
            return Err(StoreError::backend(std::io::Error::other(
                "injected: the worker died here",
            )));
        }
        self.inner.put_fal_request(owner).await
    }
    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()> {
        self.inner.delete_fal_request(request_id).await
    }
    async fn delete_fal_requests(&self, request_ids: &[String]) -> StoreResult<()> {
        self.inner.delete_fal_requests(request_ids).await
    }
    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>> {
        self.inner.get_fal_request(request_id).await
    }
}

#[async_trait]
impl UpdateLog for FlakyStore {
    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim> {
        self.inner.claim_update(update_id, now, lease_until).await
    }
    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()> {
        self.inner.complete_update(update_id, expires_at).await
    }
    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        self.inner.forget_update(update_id).await
    }
}

#[async_trait]
impl InFlightIndex for FlakyStore {
    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage> {
        self.inner.list_in_flight(older_than, limit, cursor).await
    }
}

/// Counts one injected failure down; true while there are failures left.
fn take_one(left: &AtomicU32) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait]
impl SpendLedger for FlakyStore {
    async fn spent_on(&self, day: &SpendDay) -> StoreResult<Usd> {
        self.inner.spent_on(day).await
    }
}

#[async_trait]
impl CreditLedger for FlakyStore {
    async fn balance(&self, owner: UserId) -> StoreResult<Credits> {
        self.inner.balance(owner).await
    }
    async fn ledger(&self, owner: UserId, limit: usize) -> StoreResult<Vec<LedgerEntry>> {
        self.inner.ledger(owner, limit).await
    }
    async fn payment_entries(
        &self,
        since: fluxbot::domain::Timestamp,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.inner.payment_entries(since).await
    }
    async fn ledger_entry(&self, owner: UserId, key: &str) -> StoreResult<Option<LedgerEntry>> {
        self.inner.ledger_entry(owner, key).await
    }
    async fn apply_entry(
        &self,
        entry: &LedgerEntry,
    ) -> StoreResult<Result<Applied, NotEnoughCredits>> {
        self.inner.apply_entry(entry).await
    }
}
