//! fal.ai's storage upload, for a machine fal cannot reach (the local runner): the archive is
//! uploaded to fal's CDN and its URL handed to the trainer. Two steps, as fal's SDKs do it:
//! `POST {rest}/storage/upload/initiate?storage_type=fal-cdn-v3` with the file's name and
//! type returns `{upload_url, file_url}`; the bytes are PUT to `upload_url`. Files over 90 MB
//! go up in 10 MB parts (`initiate-multipart`, `PUT {upload_url}/{n}`, then
//! `POST {upload_url}/complete` with each part's ETag). Every upload asks fal to expire the
//! file soon (`X-Fal-Object-Lifecycle-Preference`).

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncReadExt;
use url::Url;

use super::FalError;
use crate::ports::BlobReader;

/// Above this, uploads go in parts.
pub const SINGLE_PUT_MAX: u64 = 90 * 1024 * 1024;
const PART_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone)]
pub struct FalStorage {
    http: reqwest::Client,
    rest: Url,
    key: SecretString,
    single_put_max: u64,
    part_bytes: usize,
}

impl std::fmt::Debug for FalStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FalStorage")
            .field("rest", &self.rest.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Initiated {
    upload_url: String,
    file_url: String,
}

impl FalStorage {
    pub const DEFAULT_REST_URL: &'static str = "https://rest.fal.ai";

    pub fn new(rest: Url, key: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .expect("a rustls client with timeouts always builds");
        Self {
            http,
            rest,
            key,
            single_put_max: SINGLE_PUT_MAX,
            part_bytes: PART_BYTES,
        }
    }

    /// Other thresholds than fal's (tests of the multipart path with small files).
    pub fn with_part_sizes(mut self, single_put_max: u64, part_bytes: usize) -> Self {
        self.single_put_max = single_put_max;
        self.part_bytes = part_bytes.max(1);
        self
    }

    /// Uploads `size` bytes from `body`; returns the file's URL on fal's CDN, which fal
    /// deletes after `expires_after`.
    pub async fn upload(
        &self,
        mut body: BlobReader,
        size: u64,
        file_name: &str,
        content_type: &str,
        expires_after: Duration,
    ) -> Result<Url, FalError> {
        let multipart = size > self.single_put_max;
        let initiated = self
            .initiate(
                if multipart {
                    "initiate-multipart"
                } else {
                    "initiate"
                },
                file_name,
                content_type,
                expires_after,
            )
            .await?;
        let upload_url = Url::parse(&initiated.upload_url)
            .map_err(|e| FalError::Protocol(format!("upload URL: {e}")))?;
        if multipart {
            let mut parts = Vec::new();
            let mut number = 1u32;
            loop {
                let mut chunk = Vec::with_capacity(self.part_bytes);
                (&mut body)
                    .take(self.part_bytes as u64)
                    .read_to_end(&mut chunk)
                    .await
                    .map_err(|e| FalError::Protocol(format!("reading the file: {e}")))?;
                if chunk.is_empty() {
                    break;
                }
                let part_url = Url::parse(&format!(
                    "{}/{number}",
                    initiated.upload_url.trim_end_matches('/')
                ))
                .map_err(|e| FalError::Protocol(e.to_string()))?;
                let response = self.put(part_url, chunk, content_type).await?;
                let etag = response
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FalError::Protocol("a part without an ETag".into()))?
                    .to_owned();
                parts.push(json!({"partNumber": number, "etag": etag}));
                number += 1;
            }
            let complete = Url::parse(&format!(
                "{}/complete",
                initiated.upload_url.trim_end_matches('/')
            ))
            .map_err(|e| FalError::Protocol(e.to_string()))?;
            let response = self
                .http
                .post(complete)
                .json(&json!({ "parts": parts }))
                .send()
                .await
                .map_err(unavailable)?;
            check(response.status(), "completing the upload")?;
        } else {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            body.read_to_end(&mut bytes)
                .await
                .map_err(|e| FalError::Protocol(format!("reading the file: {e}")))?;
            self.put(upload_url, bytes, content_type).await?;
        }
        Url::parse(&initiated.file_url).map_err(|e| FalError::Protocol(format!("file URL: {e}")))
    }

    async fn initiate(
        &self,
        step: &str,
        file_name: &str,
        content_type: &str,
        expires_after: Duration,
    ) -> Result<Initiated, FalError> {
        let base = self.rest.as_str().trim_end_matches('/');
        let url = Url::parse(&format!(
            "{base}/storage/upload/{step}?storage_type=fal-cdn-v3"
        ))
        .map_err(|e| FalError::Protocol(e.to_string()))?;
        let response = self
            .http
            .post(url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Key {}", self.key.expose_secret()),
            )
            .header(
                "X-Fal-Object-Lifecycle-Preference",
                format!(
                    r#"{{"expiration_duration_seconds":{}}}"#,
                    expires_after.as_secs()
                ),
            )
            .json(&json!({"file_name": file_name, "content_type": content_type}))
            .send()
            .await
            .map_err(unavailable)?;
        check(response.status(), "starting an upload")?;
        response
            .json()
            .await
            .map_err(|e| FalError::Protocol(format!("upload answer: {}", e.without_url())))
    }

    async fn put(
        &self,
        url: Url,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<reqwest::Response, FalError> {
        let response = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes)
            .send()
            .await
            .map_err(unavailable)?;
        check(response.status(), "uploading")?;
        Ok(response)
    }
}

fn unavailable(e: reqwest::Error) -> FalError {
    let e = e.without_url();
    let mut reason = format!("network: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    FalError::Unavailable {
        reason,
        attempts: 1,
    }
}

fn check(status: StatusCode, what: &str) -> Result<(), FalError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        401 | 403 => Err(FalError::Unauthorized {
            status: status.as_u16(),
        }),
        400..=499 => Err(FalError::Rejected {
            status: status.as_u16(),
            details: vec![format!("fal.ai storage refused {what}")],
        }),
        _ => Err(FalError::Unavailable {
            reason: format!("HTTP {status} while {what}"),
            attempts: 1,
        }),
    }
}
