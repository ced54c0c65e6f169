//! The Telegram webhook's HTTP edge: authenticate, parse, hand the update to the
//! conversation, and turn the outcome into the status Telegram should see.
//!
//! - wrong or missing `X-Telegram-Bot-Api-Secret-Token`: 401, before the body is read;
//! - a body that is not an `Update`: 400, nothing written;
//! - processed, repeated or ignored updates: 200 (a callback answer rides in the body);
//! - an update another invocation is still processing: 503, so Telegram comes back;
//! - a transient failure on our side: 500, so Telegram retries the update later.

use fluxbot::adapters::aws::Resources;
use fluxbot::backend::Backend;
use fluxbot::bot::{Conversation, Processed};
use fluxbot::config::{ConfigError, EnvReader};
use fluxbot::domain::Limits;
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::{TelegramSettings, WebhookSecret};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use teloxide_core::types::Update;

/// Updates are a few kilobytes (a message's text is at most 4096 characters, a caption 1024);
/// anything this big is not one, and is refused before it is parsed.
pub const MAX_UPDATE_BYTES: usize = 256 * 1024;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub struct App {
    secret: WebhookSecret,
    conversation: Conversation,
}

impl App {
    pub fn new(secret: WebhookSecret, conversation: Conversation) -> Self {
        Self {
            secret,
            conversation,
        }
    }

    /// Reads the configuration and builds the AWS clients, once per cold start.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let (resources, telegram, secret, limits) =
            EnvReader::from_process()
                .load::<(Resources, TelegramSettings, WebhookSecret, Limits)>()?;
        let backend = Backend::aws(&resources).await;
        Ok(Self::new(
            secret,
            Conversation::new(&backend, TelegramClient::new(&telegram), limits),
        ))
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        if request.method() != Method::POST {
            return status(StatusCode::METHOD_NOT_ALLOWED, "POST only");
        }
        if request.body().len() > MAX_UPDATE_BYTES {
            tracing::warn!(
                bytes = request.body().len(),
                "webhook body too large for an update"
            );
            return status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large for an update",
            );
        }
        let presented = request
            .headers()
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !self.secret.matches(presented) {
            tracing::warn!("webhook call with a missing or wrong secret token rejected");
            fluxbot::metrics::count("WebhookRejections", &[("Source", "telegram")]);
            return status(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        let update: Update = match serde_json::from_slice(request.body().as_ref()) {
            Ok(update) => update,
            Err(e) => {
                tracing::warn!(error = %e, "webhook body is not a Telegram update");
                return status(StatusCode::BAD_REQUEST, "body is not a Telegram update");
            }
        };
        let update_id = update.id.0;
        let span = tracing::info_span!("update", update_id);
        let _guard = span.enter();
        match self.conversation.process(&update).await {
            Ok(Processed::Done(Some(answer))) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(answer.to_webhook_body().to_string()))
                .expect("static response parts are valid"),
            Ok(Processed::Done(None) | Processed::Duplicate) => status(StatusCode::OK, ""),
            // A retry that overtook its own first delivery: come back when that one is done.
            Ok(Processed::InProgress) => status(
                StatusCode::SERVICE_UNAVAILABLE,
                "update in progress; retry later",
            ),
            Err(_) => status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporary failure; retry later",
            ),
        }
    }
}

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .expect("static response parts are valid")
}
