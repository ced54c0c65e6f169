//! Both backends, built through the library's composition root (`fluxbot::backend`), as the
//! functions and the local runner build them.

use std::ops::Deref;

use fluxbot::adapters::aws::AwsClients;
use fluxbot::adapters::aws::Resources;
use fluxbot::backend::Backend as Wired;

use crate::aws_meter::Meter;
use crate::{moto, template};

/// A backend under test: the library's [`Wired`] backend, plus what tests look at directly.
pub struct Backend {
    pub name: &'static str,
    pub wired: Wired,
    /// The AWS resources, for tests that look at them directly.
    pub aws: Option<(AwsClients, Resources)>,
    /// Keeps the embedded backend's directory alive.
    pub dir: Option<tempfile::TempDir>,
}

impl Deref for Backend {
    type Target = Wired;
    fn deref(&self) -> &Wired {
        &self.wired
    }
}

impl Backend {
    /// The same backend over another record store (to inject failures).
    pub fn with_store(self, store: std::sync::Arc<dyn fluxbot::ports::RecordStore>) -> Self {
        Self {
            wired: self.wired.with_store(store),
            ..self
        }
    }
}

impl Backend {
    /// The same resources through new clients, as another Lambda instance would reach them:
    /// new SDK clients for AWS, a new connection to the same SQLite file for embedded. They
    /// reach moto directly, past any [`Meter`] of this backend: tests use them to look and to
    /// play Lambda's SQS poller, outside the calls they count or fail.
    pub async fn another_instance(&self) -> Wired {
        match (&self.aws, &self.dir) {
            (Some((_, resources)), _) => {
                let sdk = moto::sdk_config().await;
                Wired::aws_with(&AwsClients::from_sdk_config(&sdk, resources), resources)
            }
            (None, Some(dir)) => Wired::embedded(dir.path()).expect("embedded backend"),
            (None, None) => unreachable!("a backend is AWS or embedded"),
        }
    }
}

/// DynamoDB, SQS and S3 in moto, with resources created from `template.yaml`.
pub async fn aws() -> Backend {
    aws_at(moto::endpoint()).await
}

/// [`aws`] with the functions' SDK clients going through a [`Meter`] that counts every call.
pub async fn aws_metered() -> (Backend, Meter) {
    let meter = Meter::start(moto::endpoint()).await;
    (aws_at(meter.url()).await, meter)
}

/// [`aws`] with the functions' SDK clients sending their calls to `endpoint` (a proxy in front
/// of moto); the resources are created in moto directly.
pub async fn aws_at(endpoint: &str) -> Backend {
    crate::init_tracing();
    let resources = template::provision(&moto::sdk_config().await).await;
    let clients = AwsClients::from_sdk_config(&moto::sdk_config_at(endpoint).await, &resources);
    Backend {
        name: "aws",
        wired: Wired::aws_with(&clients, &resources),
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
    Backend {
        name: "embedded",
        wired: Wired::embedded(dir.path()).expect("embedded backend"),
        aws: None,
        dir: Some(dir),
    }
}
