//! The fal-webhook function's HTTP edge.
//!
//! - `POST .../fal/webhook`, checked before the body is parsed: fal's ED25519 signature
//!   (401 otherwise; 503 when fal's keys cannot be fetched, so fal retries), then our own
//!   token in the URL, which binds it to the record and attempt we gave fal (401 otherwise:
//!   fal signs every customer's webhooks alike), then, when `FAL_WEBHOOK_USER_ID` is set, the
//!   signed fal user id (401). A body that is not a fal webhook is 400; everything else is
//!   200 once applied, duplicates, results for deleted avatars and requests that are not
//!   ours included. A transient failure on our side is 500: fal retries, and the sweep
//!   recovers whatever it gives up on.
//! - `GET .../health`: configuration sanity and reachability of the table and fal's keys
//!   (the cached keys; fetched only when none are cached), without secrets or error texts;
//!   200 when all is well, 503 otherwise.

use fluxbot::config::{ConfigError, ConfigIssue};
use fluxbot::domain::Timestamp;
use fluxbot::fal::webhook::{WebhookBody, WebhookVerifier};
use fluxbot::fal::webhook_token::WebhookRoute;
use fluxbot::pipeline::{FalBackend, Pipeline};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

/// fal's webhooks carry the result's JSON: file URLs and a few fields, kilobytes. A body past
/// this is refused before its signature is hashed or it is parsed; a real result refused
/// here is still collected by the sweep through the status and result API.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub struct App {
    pipeline: Pipeline,
    verifier: WebhookVerifier,
}

impl App {
    pub fn new(pipeline: Pipeline) -> Self {
        let verifier = WebhookVerifier::new(pipeline.fal_settings.jwks_url.clone());
        Self { pipeline, verifier }
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        let pipeline = Pipeline::from_env().await?;
        if matches!(pipeline.fal, FalBackend::Live(_)) && pipeline.webhooks.key.is_none() {
            // Without it no webhook can be told from a forgery: refuse to start.
            return Err(ConfigError {
                issues: vec![ConfigIssue {
                    variable: "FAL_WEBHOOK_SECRET",
                    problem: "is not set; the fal-webhook function needs it to check webhook URLs"
                        .into(),
                }],
            });
        }
        pipeline.log_mode();
        Ok(Self::new(pipeline))
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match (request.method(), path.as_str()) {
            (&Method::GET, p) if p.ends_with("/health") => self.health().await,
            (&Method::POST, p) if p.ends_with("/fal/webhook") => self.webhook(request).await,
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    async fn webhook(&self, request: Request) -> Response<Body> {
        let now = Timestamp::now();
        let raw = request.body().as_ref();
        if raw.len() > MAX_WEBHOOK_BYTES {
            tracing::warn!(
                bytes = raw.len(),
                "fal.ai webhook body too large; refused unread"
            );
            fluxbot::metrics::count("WebhookRejections", &[("Source", "fal")]);
            return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        let signed = match self.verifier.verify(request.headers(), raw, now).await {
            Ok(signed) => signed,
            Err(e) if e.is_ours() => {
                tracing::error!(error = %e, "cannot verify fal.ai webhooks now");
                return text(StatusCode::SERVICE_UNAVAILABLE, "cannot verify now; retry");
            }
            Err(e) => {
                tracing::warn!(error = %e, "fal.ai webhook rejected");
                fluxbot::metrics::count("WebhookRejections", &[("Source", "fal")]);
                return text(StatusCode::UNAUTHORIZED, "invalid signature");
            }
        };
        // Ours, not just fal's: the token in the URL we gave fal, before the body is read.
        let route = match self
            .pipeline
            .webhooks
            .key
            .as_ref()
            .ok_or_else(|| "FAL_WEBHOOK_SECRET is not set".to_owned())
            .and_then(|key| {
                WebhookRoute::verify(request.uri().query().unwrap_or(""), key)
                    .map_err(|e| e.to_string())
            }) {
            Ok(route) => route,
            Err(why) => {
                tracing::warn!(%why, "fal.ai webhook for a URL we did not issue");
                fluxbot::metrics::count("WebhookRejections", &[("Source", "fal")]);
                return text(StatusCode::UNAUTHORIZED, "unknown webhook URL");
            }
        };
        if let Some(expected) = &self.pipeline.webhooks.user_id
            && !bool::from(expected.as_bytes().ct_eq(signed.user_id.as_bytes()))
        {
            tracing::warn!("fal.ai webhook signed for another fal user");
            fluxbot::metrics::count("WebhookRejections", &[("Source", "fal")]);
            return text(StatusCode::UNAUTHORIZED, "not our fal account");
        }
        let raw_text = String::from_utf8_lossy(raw).into_owned();
        let body: WebhookBody = match serde_json::from_str(&raw_text) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(error = %e, "signed webhook body is not a fal.ai webhook");
                return text(StatusCode::BAD_REQUEST, "not a fal.ai webhook body");
            }
        };
        // The signed header names the request (or, after fal's own retries, possibly the
        // gateway attempt); anything else is a body replayed under another signature.
        if signed.request_id != body.request_id
            && Some(&signed.request_id) != body.gateway_request_id.as_ref()
        {
            tracing::warn!("webhook body names another request than its signed header");
            return text(StatusCode::BAD_REQUEST, "request id mismatch");
        }
        match self
            .pipeline
            .apply_webhook(&body, &raw_text, &route, now)
            .await
        {
            Ok(result) => {
                tracing::info!(request = %body.request_id, ?result, "fal.ai webhook applied");
                text(StatusCode::OK, "ok")
            }
            Err(e) => {
                tracing::warn!(request = %body.request_id, error = %e, "webhook not applied; fal.ai will retry");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "temporary failure; retry",
                )
            }
        }
    }

    async fn health(&self) -> Response<Body> {
        let table = match self.pipeline.store.get_fal_request("health-check").await {
            Ok(_) => "ok".to_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "health: the table is unreachable");
                "unreachable".to_owned()
            }
        };
        let keys = match self.verifier.keys().await {
            Ok(count) => format!("ok ({count} keys)"),
            Err(e) => {
                tracing::warn!(error = %e, "health: fal.ai's webhook keys are unreachable");
                "unreachable".to_owned()
            }
        };
        let healthy = table == "ok" && keys.starts_with("ok");
        let mode = match &self.pipeline.fal {
            FalBackend::Live(_) => "live",
            FalBackend::Test { .. } => "test",
        };
        let body = json!({
            "status": if healthy { "ok" } else { "degraded" },
            "fal_mode": mode,
            "checks": {
                "table": table,
                "fal_webhook_keys": keys,
            },
            "config": {
                "fal_queue_url": self.pipeline.fal_settings.queue_url.as_str(),
                "fal_jwks_url": self.verifier.jwks_url().as_str(),
                "fal_webhook_secret_set": self.pipeline.webhooks.key.is_some(),
                "fal_webhook_user_pinned": self.pipeline.webhooks.user_id.is_some(),
                "status_check_interval_s": self.pipeline.fal_settings.status_check_interval.as_secs(),
                "training_timeout_s": self.pipeline.fal_settings.training_timeout.as_secs(),
                "generation_timeout_s": self.pipeline.fal_settings.generation_timeout.as_secs(),
            },
            "version": env!("CARGO_PKG_VERSION"),
        });
        let status = if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("static response parts are valid")
    }
}

fn text(code: StatusCode, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body))
        .expect("static response parts are valid")
}
