//! fal.ai webhook and `GET /health` (API Gateway HTTP API). Wiring only: configuration and
//! clients once per cold start, then every request to [`fal_webhook::App::handle`].

use fal_webhook::App;
use lambda_http::{Error, Request, service_fn};

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
