//! The production backend: DynamoDB, SQS and S3, with clients built once per cold start.

mod dynamo;
mod error;
mod on_first_use;
mod resources;
mod s3;
mod sqs;
mod tls;

pub use dynamo::{DynamoStore, TableLayout};
pub use on_first_use::OnFirstUse;
pub use resources::{Resources, ServerSideEncryption};
pub use s3::S3Blobs;
pub use sqs::SqsQueue;
pub use tls::https_client;

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK clients, built once per cold start and shared by every invocation. DynamoDB is
/// built at once (every invocation of every function uses it); S3 and SQS when first called.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: OnFirstUse<aws_sdk_s3::Client>,
    pub sqs: OnFirstUse<aws_sdk_sqs::Client>,
}

impl AwsClients {
    /// Loads the standard AWS configuration: credentials, `AWS_REGION`, and `AWS_ENDPOINT_URL`
    /// (plus per-service variants such as `AWS_ENDPOINT_URL_S3`) for emulators; HTTPS trusts
    /// the roots compiled in ([`tls`]).
    pub async fn from_env(resources: &Resources) -> Self {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(tls::https_client());
        // Lambda always sets AWS_REGION; naming it skips building the rest of the region
        // chain (the profile files and an IMDS client) at every cold start.
        if let Some(region) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
            loader = loader.region(aws_config::Region::new(region));
        }
        // Lambda gives a function its role's session credentials in the environment; reading
        // them directly skips building the rest of the default chain (an STS client for web
        // identity, an IMDS client) at every cold start. Without them the chain is as usual.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        let sdk = loader.load().await;
        Self::from_sdk_config(&sdk, resources)
    }

    pub fn from_sdk_config(sdk: &SdkConfig, resources: &Resources) -> Self {
        let (s3_sdk, sqs_sdk) = (sdk.clone(), sdk.clone());
        let force_path_style = resources.s3_force_path_style;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: OnFirstUse::new(move || {
                let config = aws_sdk_s3::config::Builder::from(&s3_sdk)
                    .force_path_style(force_path_style)
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            }),
            sqs: OnFirstUse::new(move || aws_sdk_sqs::Client::new(&sqs_sdk)),
        }
    }

    pub fn store(&self, resources: &Resources) -> DynamoStore {
        DynamoStore::new(self.dynamodb.clone(), resources.table_name.clone())
    }

    pub fn launch_queue(&self, resources: &Resources) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), resources.launch_queue_url.clone())
    }

    pub fn blobs(&self, resources: &Resources) -> S3Blobs {
        S3Blobs::new(
            self.s3.clone(),
            resources.bucket_name.clone(),
            resources.s3_encryption.clone(),
        )
    }
}
