//! fal.ai webhook and `GET /health` (API Gateway HTTP API).
//!
//! Wiring only. Until result handling lands (issue #4) result deliveries get 503, so fal.ai
//! retries them, and the status sweep recovers anything it gives up on.

use fluxbot::adapters::aws::AwsClients;
use fluxbot::config::{EnvReader, FalSettings, Resources, TelegramSettings};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let (resources, _telegram, fal) =
        EnvReader::from_process().load::<(Resources, TelegramSettings, FalSettings)>()?;
    let clients = AwsClients::from_env(&resources).await;
    let _store = clients.store(&resources);
    let fal = &fal;
    lambda_http::run(service_fn(move |request: Request| async move {
        handle(fal, request)
    }))
    .await
}

fn handle(fal: &FalSettings, request: Request) -> Result<Response<Body>, Error> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, path) if path.ends_with("/health") => {
            let body = serde_json::json!({ "status": "ok", "test_mode": fal.is_test_mode() });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))?
        }
        (&Method::POST, path) if path.ends_with("/fal/webhook") => {
            tracing::warn!(
                "fal.ai result received but result handling is not wired yet; fal.ai will retry"
            );
            Response::builder()
                .status(503)
                .body(Body::from("not wired yet"))?
        }
        _ => Response::builder()
            .status(404)
            .body(Body::from("not found"))?,
    };
    Ok(response)
}
