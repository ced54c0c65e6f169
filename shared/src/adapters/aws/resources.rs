//! The AWS resources the functions share (their names come from `template.yaml`) and how S3
//! keeps objects, read from the environment.

use url::Url;

use crate::config::{EnvReader, FromEnv};

/// How S3 encrypts objects at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// SSE-S3 (AES-256 with S3-managed keys).
    S3Managed,
    /// SSE-KMS, with a specific key or the account's default `aws/s3` key.
    Kms { key_id: Option<String> },
}

/// The AWS resources the functions share; names come from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Resources {
    pub table_name: String,
    pub launch_queue_url: String,
    pub bucket_name: String,
    /// Path-style S3 URLs, for emulators that cannot do virtual-hosted buckets.
    pub s3_force_path_style: bool,
    pub s3_encryption: ServerSideEncryption,
}

impl FromEnv for Resources {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let table_name = env.required("TABLE_NAME");
        let launch_queue_url = env.required::<Url>("LAUNCH_QUEUE_URL");
        let bucket_name = env.required("BUCKET_NAME");
        let s3_force_path_style = env.flag("S3_FORCE_PATH_STYLE", false);
        let sse: Option<String> = env.optional("S3_SSE", "AES256".to_owned());
        let kms_key: Option<Option<String>> = env.maybe("S3_SSE_KMS_KEY_ID");
        let s3_encryption = match (sse.as_deref(), kms_key) {
            (Some("AES256"), Some(None)) => Some(ServerSideEncryption::S3Managed),
            (Some("aws:kms"), Some(key_id)) => Some(ServerSideEncryption::Kms { key_id }),
            (Some("AES256"), Some(Some(_))) => {
                env.reject(
                    "S3_SSE_KMS_KEY_ID",
                    "is set but S3_SSE is AES256 (set S3_SSE=aws:kms)",
                );
                None
            }
            (Some(other), _) => {
                env.reject(
                    "S3_SSE",
                    format!("must be AES256 or aws:kms, got {other:?}"),
                );
                None
            }
            _ => None,
        };
        Some(Self {
            table_name: table_name?,
            launch_queue_url: launch_queue_url?.to_string(),
            bucket_name: bucket_name?,
            s3_force_path_style: s3_force_path_style?,
            s3_encryption: s3_encryption?,
        })
    }
}
