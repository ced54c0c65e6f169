//! Telegram webhook (API Gateway HTTP API, payload 2.0; a Function URL works too).
//! Wiring only: configuration and clients once per cold start, then every request to
//! [`telegram_webhook::App::handle`].

use lambda_http::{Error, Request, service_fn};
use telegram_webhook::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(app.handle(request).await)
    }))
    .await
}
