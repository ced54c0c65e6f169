//! Fetching what fal.ai produced (generated images, LoRA weights) from inside our functions,
//! which can reach our own AWS account: only https URLs on fal's CDN hosts
//! (`FAL_RESULT_HOSTS`), redirects only to those hosts, sizes capped while the body streams
//! (a missing or lying `Content-Length` changes nothing). `data:` URIs (fal's sync mode,
//! test mode) are decoded under the same cap.

use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use url::Url;

use super::{PipelineError, PipelineResult};
use crate::fal::hosts::ResultHosts;
use crate::ports::{BlobError, BlobKey, BlobStore};

/// A result file that will never be had: said to the user, not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// Fetches result files from the allowed hosts only.
#[derive(Clone)]
pub struct ResultFetcher {
    http: reqwest::Client,
    hosts: ResultHosts,
}

impl std::fmt::Debug for ResultFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultFetcher")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl ResultFetcher {
    pub fn new(hosts: ResultHosts) -> Self {
        let allowed = hosts.clone();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 3 || !allowed.allows(attempt.url()) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("a rustls client with timeouts always builds");
        Self { http, hosts }
    }

    /// The whole file, at most `max` bytes.
    pub async fn bytes(&self, url: &str, max: usize) -> PipelineResult<Result<Bytes, Unavailable>> {
        if let Some(data) = url.strip_prefix("data:") {
            return Ok(decode_data_uri(data, max));
        }
        let response = match self.get(url).await? {
            Ok(response) => response,
            Err(unavailable) => return Ok(Err(unavailable)),
        };
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| PipelineError::ImageFetch(e.without_url().to_string()))?;
            if body.len() + chunk.len() > max {
                return Ok(Err(too_big(max)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Ok(body.freeze()))
    }

    /// Streams the file into blob storage at `key`, at most `max` bytes, without holding it
    /// in memory. Returns its size.
    pub async fn copy_into(
        &self,
        url: &str,
        max: u64,
        blobs: &dyn BlobStore,
        key: &BlobKey,
        content_type: &str,
    ) -> PipelineResult<Result<u64, Unavailable>> {
        if let Some(data) = url.strip_prefix("data:") {
            let bytes = match decode_data_uri(data, usize::try_from(max).unwrap_or(usize::MAX)) {
                Ok(bytes) => bytes,
                Err(unavailable) => return Ok(Err(unavailable)),
            };
            let size = blobs
                .put(key, Box::pin(std::io::Cursor::new(bytes)), content_type)
                .await?;
            return Ok(Ok(size));
        }
        let response = match self.get(url).await? {
            Ok(response) => response,
            Err(unavailable) => return Ok(Err(unavailable)),
        };
        let mut seen = 0u64;
        let stream = response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.without_url()))?;
            seen += chunk.len() as u64;
            if seen > max {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    "larger than allowed",
                ));
            }
            Ok::<_, std::io::Error>(chunk)
        });
        let reader = tokio_util::io::StreamReader::new(stream.into_stream());
        match blobs.put(key, Box::pin(reader), content_type).await {
            Ok(size) => Ok(Ok(size)),
            Err(BlobError::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                Ok(Err(too_big(usize::try_from(max).unwrap_or(usize::MAX))))
            }
            Err(BlobError::Io(e)) => Err(PipelineError::ImageFetch(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// A GET of an allowed URL that answered 2xx. Network trouble, 429 and 5xx are errors
    /// (retried later); anything that will not get better is `Unavailable`.
    async fn get(&self, url: &str) -> PipelineResult<Result<reqwest::Response, Unavailable>> {
        let parsed = match Url::parse(url) {
            Ok(parsed) if self.hosts.allows(&parsed) => parsed,
            _ => {
                tracing::warn!("a result file outside fal.ai's CDN hosts was not fetched");
                return Ok(Err(Unavailable("not on fal.ai's CDN".into())));
            }
        };
        let response = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| PipelineError::ImageFetch(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(PipelineError::ImageFetch(format!(
                "result host answered {status}"
            )));
        }
        if status.is_redirection() {
            return Ok(Err(Unavailable("redirected off fal.ai's CDN".into())));
        }
        if !status.is_success() {
            return Ok(Err(Unavailable(format!("result host answered {status}"))));
        }
        Ok(Ok(response))
    }
}

fn too_big(max: usize) -> Unavailable {
    Unavailable(format!("larger than {} MB", max / (1024 * 1024)))
}

fn decode_data_uri(data: &str, max: usize) -> Result<Bytes, Unavailable> {
    let Some((_, encoded)) = data.split_once(";base64,") else {
        return Err(Unavailable("a data URI that is not base64".into()));
    };
    // Base64 is 4 characters per 3 bytes: refuse before decoding what cannot fit.
    if encoded.len() / 4 * 3 > max + 3 {
        return Err(too_big(max));
    }
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(bytes) if bytes.len() <= max => Ok(Bytes::from(bytes)),
        Ok(_) => Err(too_big(max)),
        Err(e) => Err(Unavailable(format!("bad base64: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hosts_outside_the_list_are_never_contacted() {
        let fetcher = ResultFetcher::new(ResultHosts::DEFAULT.parse().unwrap());
        for url in [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "https://example.com/x.jpeg",
            "ftp://v3.fal.media/x",
            "not a url",
        ] {
            assert!(matches!(fetcher.bytes(url, 10).await, Ok(Err(_))), "{url}");
        }
    }

    #[test]
    fn data_uris_are_capped_before_decoding() {
        let encoded = base64::engine::general_purpose::STANDARD.encode([7u8; 100]);
        assert_eq!(
            decode_data_uri(&format!("image/jpeg;base64,{encoded}"), 100)
                .unwrap()
                .len(),
            100
        );
        assert!(decode_data_uri(&format!("image/jpeg;base64,{encoded}"), 99).is_err());
        assert!(decode_data_uri("text/plain,hello", 100).is_err());
    }
}
