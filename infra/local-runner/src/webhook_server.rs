//! The fal-webhook function served on localhost: the same handler (`fal_webhook::App`), fed by
//! a small HTTP/1 server instead of API Gateway. fal.ai reaches it only through a tunnel
//! (point `FAL_WEBHOOK_URL` at the tunnel's `/fal/webhook`); `GET /health` works as deployed.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// fal.ai's webhook bodies are small JSON; anything bigger is refused.
const MAX_BODY: usize = 1024 * 1024;

pub async fn serve(listener: TcpListener, app: Arc<fal_webhook::App>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "fal webhook server: accept failed");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(app.clone(), request));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "fal webhook connection ended");
            }
        });
    }
}

async fn handle(
    app: Arc<fal_webhook::App>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let mut response = hyper::Response::new(Full::new(Bytes::from_static(
                b"body too large or unreadable",
            )));
            *response.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(response);
        }
    };
    let request = lambda_http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()));
    let response = app.handle(request).await;
    let (parts, body) = response.into_parts();
    Ok(hyper::Response::from_parts(
        parts,
        Full::new(Bytes::copy_from_slice(body.as_ref())),
    ))
}
