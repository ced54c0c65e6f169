//! Telegram webhook (API Gateway HTTP API, payload 2.0; a Function URL works too).
//!
//! Wiring only. Until the conversation lands (issue #3) it authenticates updates and answers
//! 503 so Telegram keeps them and retries, rather than acknowledging updates it would lose.

use fluxbot::adapters::aws::AwsClients;
use fluxbot::config::{EnvReader, Resources, TelegramSettings, WebhookSecret};
use lambda_http::{Body, Error, Request, Response, service_fn};

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let (resources, _telegram, secret) =
        EnvReader::from_process().load::<(Resources, TelegramSettings, WebhookSecret)>()?;
    let clients = AwsClients::from_env(&resources).await;
    let _store = clients.store(&resources);
    let secret = &secret;
    lambda_http::run(service_fn(move |request: Request| async move {
        handle(secret, request)
    }))
    .await
}

fn handle(secret: &WebhookSecret, request: Request) -> Result<Response<Body>, Error> {
    let presented = request
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let response = if !secret.matches(presented) {
        Response::builder()
            .status(401)
            .body(Body::from("unauthorized"))?
    } else {
        tracing::warn!(
            "update received but the conversation is not wired yet; Telegram will retry"
        );
        Response::builder()
            .status(503)
            .body(Body::from("not wired yet"))?
    };
    Ok(response)
}
