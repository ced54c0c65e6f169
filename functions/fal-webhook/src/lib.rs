//! The fal-webhook function's HTTP edge.
//!
//! - `POST .../fal/webhook`: the ED25519 signature is verified before the body is parsed (401
//!   otherwise; 503 when fal's keys cannot be fetched, so fal retries); a body that is not a
//!   fal webhook is 400; everything else is 200 once applied, duplicates and results for
//!   deleted avatars included. A transient failure on our side is 500: fal retries, and the
//!   sweep recovers whatever it gives up on.
//! - `GET .../health`: configuration sanity and reachability of the table and fal's keys,
//!   without secrets; 200 when all is well, 503 otherwise.

use fluxbot::config::ConfigError;
use fluxbot::domain::Timestamp;
use fluxbot::fal::webhook::{WebhookBody, WebhookVerifier};
use fluxbot::pipeline::{FalBackend, Pipeline, RouteHint};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

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
        let hint = request.uri().query().and_then(RouteHint::from_query);
        match self
            .pipeline
            .apply_webhook(&body, &raw_text, hint, now)
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
            Err(e) => format!("error: {e}"),
        };
        let keys = match self.verifier.refresh().await {
            Ok(jwks) => format!("ok ({} keys)", jwks.len()),
            Err(e) => format!("error: {e}"),
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
                "fal_webhook_url_set": self.pipeline.training.webhook_url.is_some(),
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
