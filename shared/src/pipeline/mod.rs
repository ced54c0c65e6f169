//! The pipeline's use cases, shared by the training-launch worker, the fal-webhook function,
//! the status sweep and the local runner. Every kind of paid work (`training/`,
//! `generation/`) runs on one engine (`engine/`): launch, completion, settlement, the sweep;
//! [`kinds`] is the one place that names the kinds.
//!
//! [`webhook`] routes authenticated fal.ai results, [`submit`] says what a submit's answer
//! means, [`fetch`] fetches result files safely, [`simulation`] is test mode's stand-in for
//! fal.ai, [`jobs`] the launch queue's dispatch, [`deletion`] ends everything of an avatar.

pub mod deletion;
mod engine;
pub mod erasure;
mod fetch;
mod first_look;
mod generation;
mod jobs;
mod kinds;
mod notice;
mod photo_pack;
mod pictures;
pub mod refund;
mod restyle;
mod simulation;
mod sweep;
mod training;
mod upscale;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::{Backend, BackendKind};
use crate::domain::{Avatar, Generation};
use crate::fal::generation::GenerationSettings;
use crate::fal::settings::{FalMode, FalSettings, FalWebhooks};
use crate::fal::storage::FalStorage;
use crate::fal::training::TrainingSettings;
use crate::fal::{FalClient, FalError};
use crate::ports::{
    BlobError, BlobStore, JobQueue, QueueDelay, QueueError, RecordStore, StoreError, Versioned,
};
use crate::telegram::client::{TelegramClient, TelegramError};

pub use crate::domain::NOTICE_CLAIM;
pub use engine::Completion;
pub use fetch::ResultFetcher;
pub use jobs::JobOutcome;
pub use sweep::{CONCURRENCY as SWEEP_CONCURRENCY, SweepReport};
pub use webhook::WebhookResult;

/// How long a launch worker holds a record while it prepares the submit: far longer than
/// archiving takes, so only a crashed worker's claim runs out.
pub const LAUNCH_LEASE: Duration = Duration::from_secs(600);
/// Progress messages are edited at most this often: enough for a wait of minutes, and few
/// calls against Telegram's rates.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(300);

/// How fal.ai gets the files we give it: a training's photo archive, our copy of a LoRA.
#[derive(Clone, Debug)]
pub enum InputHost {
    /// A presigned URL of the blob store (S3): fal downloads it from there.
    Presigned,
    /// Uploaded to fal's CDN first (the local runner, which fal cannot reach), to expire
    /// after the URL lifetime the presigned URL would have had.
    FalStorage(FalStorage),
}

impl Pipeline {
    /// A URL fal.ai can read `key` from for `ttl`.
    pub(crate) async fn url_for_fal(
        &self,
        key: &crate::ports::BlobKey,
        file_name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> PipelineResult<url::Url> {
        match &self.inputs {
            InputHost::Presigned => Ok(self.blobs.presign_get(key, ttl).await?),
            InputHost::FalStorage(storage) => {
                let size = self
                    .blobs
                    .size(key)
                    .await?
                    .ok_or_else(|| BlobError::NotFound(key.as_str().to_owned()))?;
                let reader = self.blobs.get(key).await?;
                let url = storage
                    .upload(reader, size, file_name, content_type, ttl)
                    .await?;
                tracing::info!(bytes = size, %file_name, "uploaded to fal.ai's storage");
                Ok(url)
            }
        }
    }
}

/// Where paid work runs: fal.ai, or nowhere (test mode), its simulated results brought by a
/// delayed job after the mock durations.
#[derive(Clone, Debug)]
pub enum FalBackend {
    Live(FalClient),
    Test {
        mock_duration: QueueDelay,
        mock_generation: QueueDelay,
    },
}

impl FalBackend {
    pub fn from_settings(fal: &FalSettings) -> Self {
        match &fal.mode {
            FalMode::Live { key } => FalBackend::Live(
                FalClient::new(fal.queue_url.clone(), key.clone()).with_retention(fal.retention),
            ),
            FalMode::Test {
                mock_training_duration,
                mock_generation_duration,
            } => FalBackend::Test {
                mock_duration: *mock_training_duration,
                mock_generation: *mock_generation_duration,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Fal(#[from] FalError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error("gave up after repeated write conflicts on {0}")]
    Contended(String),
    /// A result file could not be fetched now (network, 5xx): retried later.
    #[error("could not fetch a result file: {0}")]
    ImageFetch(String),
}

impl PipelineError {
    /// Whether running the same step later may succeed. A corrupt record, an invalid key or
    /// a refusal will not get better by waiting: its job is abandoned at once (logged, and
    /// counted in `JobsAbandoned`) instead of being retried like a timeout; the record stays
    /// in the in-flight index, so the sweep still ends it and tells the user.
    pub fn is_transient(&self) -> bool {
        match self {
            PipelineError::Store(e) => e.is_transient(),
            PipelineError::Blob(BlobError::InvalidKey(_)) => false,
            PipelineError::Blob(_) | PipelineError::Queue(_) => true,
            PipelineError::Fal(e) => !e.is_permanent(),
            PipelineError::Telegram(e) => e.is_transient(),
            PipelineError::Contended(_) | PipelineError::ImageFetch(_) => true,
        }
    }
}

pub type PipelineResult<T> = Result<T, PipelineError>;

#[derive(Clone)]
pub struct Pipeline {
    pub store: Arc<dyn RecordStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// The launch queue (also carries test-mode completions and cancels at fal.ai): the
    /// backend's `launches`.
    pub launches: Arc<dyn JobQueue>,
    pub telegram: TelegramClient,
    pub fal: FalBackend,
    pub fal_settings: FalSettings,
    pub webhooks: FalWebhooks,
    pub fetcher: ResultFetcher,
    /// How fal.ai reads the files we give it (a training's archive, our LoRA copies).
    pub inputs: InputHost,
    pub training: TrainingSettings,
    pub generation: GenerationSettings,
}

/// A versioned record the pipeline changes with conditional writes: its write and re-read.
#[async_trait]
pub(crate) trait Updatable: Versioned {
    /// Writes `self` if the stored record is still at `self.version`.
    async fn write(&self, store: &dyn RecordStore) -> Result<Self, StoreError>;
    /// The stored record now, if it still exists.
    async fn reread(&self, store: &dyn RecordStore) -> Result<Option<Self>, StoreError>;
}

#[async_trait]
impl Updatable for Avatar {
    async fn write(&self, store: &dyn RecordStore) -> Result<Self, StoreError> {
        store.update_avatar(self).await
    }
    async fn reread(&self, store: &dyn RecordStore) -> Result<Option<Self>, StoreError> {
        store.get_avatar(self.owner, self.id).await
    }
}

#[async_trait]
impl Updatable for Generation {
    async fn write(&self, store: &dyn RecordStore) -> Result<Self, StoreError> {
        store.update_generation(self).await
    }
    async fn reread(&self, store: &dyn RecordStore) -> Result<Option<Self>, StoreError> {
        store.get_generation(self.avatar_id, self.id).await
    }
}

/// Applies `change` to the record and writes it conditionally; after a conflicting write it
/// re-reads and applies `change` again, a few times. `Ok(None)` when `change` declines (the
/// record moved on) or the record is gone.
pub(crate) async fn update_with<R: Updatable>(
    store: &dyn RecordStore,
    start: R,
    mut change: impl FnMut(&R) -> Option<R>,
) -> PipelineResult<Option<R>> {
    let mut current = start;
    for _ in 0..5 {
        let Some(next) = change(&current) else {
            return Ok(None);
        };
        match next.write(store).await {
            Ok(stored) => return Ok(Some(stored)),
            Err(StoreError::Conflict(_)) => match current.reread(store).await? {
                Some(fresh) => current = fresh,
                None => return Ok(None),
            },
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Err(PipelineError::Contended(current.label()))
}

/// Moves a piece of paid work on by `event`, written conditionally (re-read and tried again
/// after a lost race); `Ok(None)` when the event no longer applies or the record is gone.
pub(crate) async fn advance<R: crate::domain::PaidRecord + Updatable>(
    store: &dyn RecordStore,
    record: &R,
    event: crate::domain::WorkEvent<R::Output>,
    now: crate::domain::Timestamp,
) -> PipelineResult<Option<R>> {
    update_with(store, record.clone(), |current| {
        current.apply_work(event.clone(), now).ok()
    })
    .await
}

impl Pipeline {
    /// [`advance`] on this pipeline's store.
    pub(crate) async fn advance<R: crate::domain::PaidRecord + Updatable>(
        &self,
        record: &R,
        event: crate::domain::WorkEvent<R::Output>,
        now: crate::domain::Timestamp,
    ) -> PipelineResult<Option<R>> {
        advance(self.store.as_ref(), record, event, now).await
    }

    /// [`update_with`] on this pipeline's store.
    pub(crate) async fn update_with<R: Updatable>(
        &self,
        start: R,
        change: impl FnMut(&R) -> Option<R>,
    ) -> PipelineResult<Option<R>> {
        update_with(self.store.as_ref(), start, change).await
    }

    /// [`Self::update_with`], tried again over about a second and a half when the store
    /// fails: for the mark that an outcome message went out, the one write whose loss costs
    /// the user a second copy of the message (the sweep sends a notice left unmarked again,
    /// so it is never lost).
    pub(crate) async fn update_persistently<R: Updatable + Clone>(
        &self,
        start: R,
        mut change: impl FnMut(&R) -> Option<R>,
    ) -> PipelineResult<Option<R>> {
        let mut wait = std::time::Duration::from_millis(200);
        for attempt in 1.. {
            match self.update_with(start.clone(), &mut change).await {
                Err(e) if attempt < 4 => {
                    tracing::warn!(error = %e, "write failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                done => return done,
            }
        }
        unreachable!("the loop returns")
    }

    /// The pipeline on `backend`. fal.ai reads inputs by presigned URL on AWS; from the
    /// embedded backend, which fal cannot reach, they are uploaded to fal's storage first.
    pub fn new(
        backend: &Backend,
        telegram: TelegramClient,
        fal_settings: FalSettings,
        webhooks: FalWebhooks,
        training: TrainingSettings,
        generation: GenerationSettings,
    ) -> Self {
        let inputs = match (backend.kind, &fal_settings.mode) {
            (BackendKind::Embedded, FalMode::Live { key }) => {
                InputHost::FalStorage(FalStorage::new(fal_settings.rest_url.clone(), key.clone()))
            }
            _ => InputHost::Presigned,
        };
        Self {
            store: backend.store.clone(),
            blobs: backend.blobs.clone(),
            launches: backend.launches.clone(),
            // Notices and deliveries from every instance share one pace.
            telegram: telegram.paced(backend.pace.clone()),
            fal: FalBackend::from_settings(&fal_settings),
            fetcher: ResultFetcher::new(fal_settings.result_hosts.clone()),
            inputs,
            fal_settings,
            webhooks,
            training,
            generation,
        }
    }

    /// The production pipeline from the environment: every missing or malformed variable is
    /// named in one error.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let (resources, telegram, fal, webhooks, training, generation) =
            crate::config::EnvReader::from_process().load::<(
                crate::adapters::aws::Resources,
                crate::telegram::settings::TelegramSettings,
                FalSettings,
                FalWebhooks,
                TrainingSettings,
                GenerationSettings,
            )>()?;
        let backend = Backend::aws(&resources).await;
        Ok(Self::new(
            &backend,
            TelegramClient::new(&telegram),
            fal,
            webhooks,
            training,
            generation,
        ))
    }

    /// Says plainly at cold start how trainings will run.
    pub fn log_mode(&self) {
        match &self.fal {
            FalBackend::Live(_) => {
                tracing::info!(webhook = self.webhooks.url.is_some(), "fal.ai live mode")
            }
            FalBackend::Test { mock_duration, .. } => tracing::warn!(
                mock_duration_s = mock_duration.as_secs(),
                "TEST MODE: no fal.ai calls; trainings are simulated and cost nothing"
            ),
        }
    }
}
