//! The composition root: which adapters the use cases run on. The four functions, the local
//! runner, the ops CLI and the tests all build a [`Backend`] here and hand it to
//! `Conversation::new` and `Pipeline::new`; the use cases never name an adapter. (The ops CLI
//! also builds two SQS queues itself, to move dead letters back: an operator's tool, not a
//! use case.)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use crate::adapters::aws::Resources;
use crate::adapters::aws::{AwsClients, DynamoStore};
use crate::adapters::embedded::{Database, EmbeddedQueue, EmbeddedStore, LocalBlobs, LocalPace};
use crate::ports::{BlobStore, JobQueue, RecordStore, SendPace, StoreError};

/// How long a received launch job stays hidden on the embedded queue: the launch queue's
/// visibility timeout in `template.yaml` (a test keeps the two equal).
pub const LAUNCH_VISIBILITY: Duration = Duration::from_secs(540);

/// Where the records, files and jobs live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// DynamoDB, S3, SQS: fal.ai fetches inputs by presigned S3 URL.
    Aws,
    /// SQLite and a folder on this machine, which fal.ai cannot reach.
    Embedded,
}

/// The ports the use cases run on.
#[derive(Clone)]
pub struct Backend {
    pub kind: BackendKind,
    pub store: Arc<dyn RecordStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// The launch queue (it also carries test-mode completions).
    pub launches: Arc<dyn JobQueue>,
    /// The pace of the bot's own messages, shared by every instance.
    pub pace: Arc<dyn SendPace>,
}

impl Backend {
    /// The production backend from the standard AWS configuration (credentials, region,
    /// `AWS_ENDPOINT_URL` for emulators), clients built once per cold start.
    pub async fn aws(resources: &Resources) -> Self {
        Self::aws_with(&AwsClients::from_env(resources).await, resources)
    }

    /// The production backend on clients built already.
    pub fn aws_with(clients: &AwsClients, resources: &Resources) -> Self {
        let store = Arc::new(clients.store(resources));
        Self {
            kind: BackendKind::Aws,
            store: store.clone(),
            blobs: Arc::new(clients.blobs(resources)),
            launches: Arc::new(clients.launch_queue(resources)),
            pace: store,
        }
    }

    /// The record store alone, for operators' reports that need only the table.
    pub fn aws_records(sdk: &SdkConfig, table: &str) -> Arc<dyn RecordStore> {
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table))
    }

    /// The send pace in the table, shared with every function instance: an operator's
    /// announcement waits its turn with the bot's own messages.
    pub fn aws_pace(sdk: &SdkConfig, table: &str) -> Arc<dyn SendPace> {
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table))
    }

    /// The embedded backend over `dir` (created if missing): `bot.sqlite3` holds the records
    /// and the launch queue, `blobs/` the files. Everything survives a restart.
    pub fn embedded(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let db = Database::open(&dir.join("bot.sqlite3"))?;
        let public_url = url::Url::parse("http://127.0.0.1:8080/").map_err(StoreError::backend)?;
        let blobs =
            LocalBlobs::open(&dir.join("blobs"), public_url).map_err(StoreError::backend)?;
        Ok(Self {
            kind: BackendKind::Embedded,
            store: Arc::new(EmbeddedStore::new(db.clone())),
            blobs: Arc::new(blobs),
            launches: Arc::new(EmbeddedQueue::new(db, "launch", LAUNCH_VISIBILITY)),
            pace: Arc::new(LocalPace::default()),
        })
    }

    /// The same backend with another record store (tests wrap the real one to inject faults).
    pub fn with_store(&self, store: Arc<dyn RecordStore>) -> Self {
        Self {
            store,
            ..self.clone()
        }
    }
}
