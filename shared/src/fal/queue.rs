//! The fal.ai queue API: submit (with a webhook), status (with logs), result, cancel.
//!
//! - Submit takes the full model id; status, result and cancel take only `owner/app`
//!   ([`app_path`]): `fal-ai/flux-pro/v1.1-ultra-finetuned` is polled under `fal-ai/flux-pro`.
//! - Every call carries `Authorization: Key <FAL_KEY>`.
//! - Reads and cancels are retried after 429, 5xx and network errors, with exponential
//!   backoff and full jitter, a bounded number of times.
//! - A submit is paid once fal.ai queued it, so it is repeated only when it provably was not
//!   queued: the connection was refused, or fal answered 429 (its queue-length limit).
//!   Anything else that is not a clear answer (a timeout, a 5xx from fal or a gateway, a 2xx
//!   whose body cannot be read) is [`FalError::SubmitOutcomeUnknown`]: the caller keeps the
//!   intent recorded and waits for the result instead of submitting again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum FalError {
    /// 401/403: the key is wrong or lacks access. An operator problem; retrying cannot help.
    #[error("fal.ai refused the API key (HTTP {status})")]
    Unauthorized { status: u16 },
    /// 422 and other input errors: fal's own explanation, one line per problem.
    #[error("fal.ai rejected the input: {}", .details.join("; "))]
    Rejected { status: u16, details: Vec<String> },
    /// No such request (or not ours).
    #[error("fal.ai does not know this request")]
    NotFound,
    /// 429/5xx or network trouble that outlasted the retries: try again later.
    #[error("fal.ai is unavailable ({reason}) after {attempts} attempt(s)")]
    Unavailable { reason: String, attempts: u32 },
    /// A submit whose fate is unknown (timed out, 5xx, unreadable answer): it may have been
    /// queued.
    #[error("fal.ai gave no clear answer to a submit ({0}); it may or may not have been queued")]
    SubmitOutcomeUnknown(String),
    /// An answer that does not follow the documented shape.
    #[error("unexpected answer from fal.ai: {0}")]
    Protocol(String),
}

impl FalError {
    /// Errors that no retry will fix: the avatar should fail and the user be told.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            FalError::Unauthorized { .. } | FalError::Rejected { .. }
        )
    }
}

/// How transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait up to the exponential bound, so retries from many
    /// invocations do not arrive together.
    fn delay(&self, attempt: u32) -> Duration {
        let bound = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }
}

/// What a submit returned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Submitted {
    pub request_id: String,
    #[serde(default)]
    pub status_url: Option<String>,
    #[serde(default)]
    pub response_url: Option<String>,
    #[serde(default)]
    pub cancel_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogEntry {
    pub message: String,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStatus {
    InQueue {
        position: Option<u32>,
    },
    InProgress {
        logs: Vec<LogEntry>,
    },
    /// Finished: successfully, or with `error` (a failed job is still COMPLETED).
    Completed {
        logs: Vec<LogEntry>,
        error: Option<String>,
        error_type: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancellation was requested; the request may still finish.
    Requested,
    AlreadyCompleted,
    NotFound,
}

/// What fal.ai may keep of a request (sent as headers with every submit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `X-Fal-Object-Lifecycle-Preference`: how long fal keeps the files of the request
    /// (our inputs it copied, its outputs) on its CDN.
    pub object_expiration: std::time::Duration,
    /// `X-Fal-Store-IO: 0` unless true: whether fal keeps the request and response payloads
    /// in its request history.
    pub store_payloads: bool,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            object_expiration: std::time::Duration::from_secs(24 * 3600),
            store_payloads: false,
        }
    }
}

#[derive(Clone)]
pub struct FalClient {
    http: reqwest::Client,
    base: Url,
    key: SecretString,
    retry: RetryPolicy,
    retention: Retention,
}

impl std::fmt::Debug for FalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FalClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// `owner/app` of a model id: the prefix status, result and cancel URLs live under.
pub fn app_path(endpoint: &str) -> &str {
    let mut slashes = endpoint.match_indices('/').map(|(i, _)| i);
    match (slashes.next(), slashes.next()) {
        (Some(_), Some(second)) => &endpoint[..second],
        _ => endpoint,
    }
}

#[derive(Clone, Copy)]
enum Call {
    /// Safe to repeat: reads and cancel.
    Idempotent,
    /// Paid: repeat only when the request provably was not received.
    Submit,
}

impl FalClient {
    /// Per-call limit: fal answers queue calls in well under a second when healthy.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(base: Url, key: SecretString) -> Self {
        Self {
            http: Self::http(Self::DEFAULT_TIMEOUT),
            base,
            key,
            retry: RetryPolicy::default(),
            retention: Retention::default(),
        }
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    fn http(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .expect("a rustls client with timeouts always builds")
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = Self::http(timeout);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn url(&self, path: &str) -> Result<Url, FalError> {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| FalError::Protocol(e.to_string()))
    }

    /// Submits `input` to the model `endpoint`; fal calls `webhook` with the result.
    pub async fn submit(
        &self,
        endpoint: &str,
        input: &Value,
        webhook: Option<&Url>,
    ) -> Result<Submitted, FalError> {
        let mut url = self.url(endpoint)?;
        if let Some(webhook) = webhook {
            url.query_pairs_mut()
                .append_pair("fal_webhook", webhook.as_str());
        }
        let (status, body) = self
            .send(Method::POST, url, Some(input), Call::Submit)
            .await?;
        expect_success(status, &body)?;
        // Accepted, but we cannot tell by what id: the request may be in fal's queue.
        serde_json::from_str(&body)
            .map_err(|e| FalError::SubmitOutcomeUnknown(format!("unreadable 2xx answer: {e}")))
    }

    pub async fn status(
        &self,
        endpoint: &str,
        request_id: &str,
        with_logs: bool,
    ) -> Result<QueueStatus, FalError> {
        let mut url = self.url(&format!(
            "{}/requests/{request_id}/status",
            app_path(endpoint)
        ))?;
        if with_logs {
            url.query_pairs_mut().append_pair("logs", "1");
        }
        let (status, body) = self.send(Method::GET, url, None, Call::Idempotent).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(FalError::NotFound);
        }
        expect_success(status, &body)?;
        #[derive(Deserialize)]
        struct Raw {
            status: String,
            #[serde(default)]
            queue_position: Option<u32>,
            #[serde(default)]
            logs: Option<Vec<LogEntry>>,
            #[serde(default)]
            error: Option<String>,
            #[serde(default)]
            error_type: Option<String>,
        }
        let raw: Raw = serde_json::from_str(&body)
            .map_err(|e| FalError::Protocol(format!("status answer: {e}")))?;
        let logs = raw.logs.unwrap_or_default();
        match raw.status.as_str() {
            "IN_QUEUE" => Ok(QueueStatus::InQueue {
                position: raw.queue_position,
            }),
            "IN_PROGRESS" => Ok(QueueStatus::InProgress { logs }),
            "COMPLETED" => Ok(QueueStatus::Completed {
                logs,
                error: raw.error,
                error_type: raw.error_type,
            }),
            other => Err(FalError::Protocol(format!("unknown status {other:?}"))),
        }
    }

    /// The model's output, exactly as fal returned it (kept raw for the record).
    pub async fn result(&self, endpoint: &str, request_id: &str) -> Result<String, FalError> {
        let url = self.url(&format!("{}/requests/{request_id}", app_path(endpoint)))?;
        let (status, body) = self.send(Method::GET, url, None, Call::Idempotent).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(FalError::NotFound);
        }
        expect_success(status, &body)?;
        Ok(body)
    }

    pub async fn cancel(
        &self,
        endpoint: &str,
        request_id: &str,
    ) -> Result<CancelOutcome, FalError> {
        let url = self.url(&format!(
            "{}/requests/{request_id}/cancel",
            app_path(endpoint)
        ))?;
        let (status, body) = self.send(Method::PUT, url, None, Call::Idempotent).await?;
        let reported = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_owned));
        match (status.as_u16(), reported.as_deref()) {
            (_, Some("ALREADY_COMPLETED")) => Ok(CancelOutcome::AlreadyCompleted),
            (404, _) | (_, Some("NOT_FOUND")) => Ok(CancelOutcome::NotFound),
            (200..=299, _) => Ok(CancelOutcome::Requested),
            _ => {
                expect_success(status, &body)?;
                Ok(CancelOutcome::Requested)
            }
        }
    }

    /// One call with retries of transient failures. Returns the final status and body.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        call: Call,
    ) -> Result<(StatusCode, String), FalError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), url.clone()).header(
                reqwest::header::AUTHORIZATION,
                format!("Key {}", self.key.expose_secret()),
            );
            if matches!(call, Call::Submit) {
                request = request
                    .header(
                        "X-Fal-Object-Lifecycle-Preference",
                        format!(
                            r#"{{"expiration_duration_seconds":{}}}"#,
                            self.retention.object_expiration.as_secs()
                        ),
                    )
                    .header(
                        "X-Fal-Store-IO",
                        if self.retention.store_payloads {
                            "1"
                        } else {
                            "0"
                        },
                    );
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let last = attempt >= self.retry.attempts;
            let reason = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await;
                    match (call, status.as_u16(), text) {
                        // 429 means fal did not queue it: safe to repeat, even a submit.
                        (_, 429, _) => format!("HTTP {status}"),
                        (Call::Submit, 500..=599, _) => {
                            tracing::warn!(%status, "fal.ai submit answered 5xx; outcome unknown");
                            return Err(FalError::SubmitOutcomeUnknown(format!("HTTP {status}")));
                        }
                        (Call::Submit, _, Err(e)) => {
                            return Err(FalError::SubmitOutcomeUnknown(format!(
                                "HTTP {status} with an unreadable body: {}",
                                e.without_url()
                            )));
                        }
                        (Call::Idempotent, 500 | 502 | 503 | 504, _) => format!("HTTP {status}"),
                        (Call::Idempotent, _, Err(e)) => {
                            format!("unreadable answer: {}", e.without_url())
                        }
                        (_, _, Ok(text)) => return Ok((status, text)),
                    }
                }
                Err(e) => {
                    let never_sent = e.is_connect();
                    let e = e.without_url();
                    if matches!(call, Call::Submit) && !never_sent {
                        tracing::warn!(error = %e, "fal.ai submit outcome unknown");
                        return Err(FalError::SubmitOutcomeUnknown(e.to_string()));
                    }
                    format!("network: {e}")
                }
            };
            if last {
                return Err(FalError::Unavailable {
                    reason,
                    attempts: attempt,
                });
            }
            let wait = self.retry.delay(attempt - 1);
            tracing::info!(%reason, attempt, wait_ms = wait.as_millis() as u64, "fal.ai call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Maps a non-2xx final answer to its error.
fn expect_success(status: StatusCode, body: &str) -> Result<(), FalError> {
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    match code {
        401 | 403 => Err(FalError::Unauthorized { status: code }),
        404 => Err(FalError::NotFound),
        400..=499 => Err(FalError::Rejected {
            status: code,
            details: details(body),
        }),
        _ => Err(FalError::Unavailable {
            reason: format!("HTTP {code}"),
            attempts: 1,
        }),
    }
}

/// fal's `detail`: a list of `{loc, msg, type}` (validation) or a plain string.
fn details(body: &str) -> Vec<String> {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return vec![body.chars().take(300).collect()];
    };
    match &json["detail"] {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let field = item["loc"]
                    .as_array()
                    .map(|loc| {
                        loc.iter()
                            .filter(|p| p.as_str() != Some("body"))
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                let msg = item["msg"].as_str().unwrap_or("invalid");
                if field.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{field}: {msg}")
                }
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![json.to_string().chars().take(300).collect()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_path_rule() {
        assert_eq!(
            app_path("fal-ai/flux-pro/v1.1-ultra-finetuned"),
            "fal-ai/flux-pro"
        );
        assert_eq!(
            app_path("fal-ai/flux-lora-portrait-trainer"),
            "fal-ai/flux-lora-portrait-trainer"
        );
        assert_eq!(app_path("fal-ai/flux-lora"), "fal-ai/flux-lora");
    }

    #[test]
    fn validation_details_are_readable() {
        let body = r#"{"detail":[{"loc":["body","steps"],"msg":"ensure this value is less than or equal to 10000","type":"value_error"},{"loc":["body","images_data_url"],"msg":"field required","type":"missing"}]}"#;
        assert_eq!(
            details(body),
            vec![
                "steps: ensure this value is less than or equal to 10000",
                "images_data_url: field required"
            ]
        );
        assert_eq!(
            details(r#"{"detail":"Unsupported archive"}"#),
            vec!["Unsupported archive"]
        );
        assert_eq!(details("oops"), vec!["oops"]);
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..20 {
            assert!(p.delay(attempt) <= Duration::from_secs(1));
        }
    }
}
