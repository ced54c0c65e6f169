//! Both backends, built the way the functions and the local runner build them.

use std::sync::Arc;
use std::time::Duration;

use fluxbot::adapters::aws::AwsClients;
use fluxbot::adapters::embedded::{Database, EmbeddedQueue, EmbeddedStore, LocalBlobs};
use fluxbot::config::Resources;
use fluxbot::ports::{BlobStore, JobQueue, RecordStore};

use crate::{moto, template};

pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn RecordStore>,
    pub queue: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    /// The AWS resources, for tests that look at them directly.
    pub aws: Option<(AwsClients, Resources)>,
    /// Keeps the embedded backend's directory alive.
    pub dir: Option<tempfile::TempDir>,
}

/// DynamoDB, SQS and S3 in moto, with resources created from `template.yaml`.
pub async fn aws() -> Backend {
    crate::init_tracing();
    let sdk = moto::sdk_config().await;
    let resources = template::provision(&sdk).await;
    let clients = AwsClients::from_sdk_config(&sdk, &resources);
    Backend {
        name: "aws",
        store: Arc::new(clients.store(&resources)),
        queue: Arc::new(clients.launch_queue(&resources)),
        blobs: Arc::new(clients.blobs(&resources)),
        aws: Some((clients, resources)),
        dir: None,
    }
}

/// SQLite and a blob directory in a fresh temporary folder.
pub async fn embedded() -> Backend {
    crate::init_tracing();
    let dir = tempfile::tempdir().expect("temporary directory");
    embedded_in(dir).await
}

/// The embedded backend over an existing folder (to test that data survives a restart).
pub async fn embedded_in(dir: tempfile::TempDir) -> Backend {
    let db = Database::open(&dir.path().join("bot.sqlite3")).expect("open database");
    let visibility = Duration::from_secs(launch_visibility_timeout());
    let blobs = LocalBlobs::open(
        &dir.path().join("blobs"),
        "http://127.0.0.1:8080/".parse().expect("url"),
    )
    .expect("blob dir");
    Backend {
        name: "embedded",
        store: Arc::new(EmbeddedStore::new(db.clone())),
        queue: Arc::new(EmbeddedQueue::new(db, "launch", visibility)),
        blobs: Arc::new(blobs),
        aws: None,
        dir: Some(dir),
    }
}

/// The launch queue's visibility timeout from the template, so both queues behave alike.
pub fn launch_visibility_timeout() -> u64 {
    let template = template::Template::load();
    let props = template.properties(template::LAUNCH_QUEUE);
    props
        .get("VisibilityTimeout")
        .and_then(serde_norway::Value::as_u64)
        .expect("VisibilityTimeout")
}
