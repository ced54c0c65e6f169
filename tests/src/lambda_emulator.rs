//! The Lambda Runtime API as the Lambda service serves it to a `provided.al2023` bootstrap
//! (`/2018-06-01/runtime/...`): a function binary started with `AWS_LAMBDA_RUNTIME_API` pointing
//! here long-polls `invocation/next`, gets the events queued with [`RuntimeApi::invoke`] and posts
//! its answers back. The first `next` marks the end of the function's cold start (its init phase).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{Notify, mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(Bytes),
    Error(Bytes),
}

struct Pending {
    id: String,
    event: Bytes,
    done: oneshot::Sender<Outcome>,
}

struct State {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: Mutex<Vec<(String, oneshot::Sender<Outcome>)>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Bytes>>,
    polled: Notify,
}

/// A runtime API on a loopback port; dropped with the test or bench that made it.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    queue: mpsc::UnboundedSender<Pending>,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API");
        let addr = listener.local_addr().unwrap();
        let (queue, events) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            events: tokio::sync::Mutex::new(events),
            waiting: Mutex::new(Vec::new()),
            first_next: Mutex::new(None),
            init_error: Mutex::new(None),
            polled: Notify::new(),
        });
        let serving = state.clone();
        crate::http_server::serve(listener, move |request| {
            let state = serving.clone();
            async move { route(&state, request).await }
        });
        Self {
            addr,
            state,
            queue,
            next_id: 0.into(),
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda gives every function, for this API.
    pub fn lambda_env(&self, function: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/01/[$LATEST]0".to_owned(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// When the function first asked for an invocation, waiting up to `within`.
    pub async fn first_poll(&self, within: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let polled = self.state.polled.notified();
            if let Some(at) = *self.state.first_next.lock().unwrap() {
                return Some(at);
            }
            if tokio::time::timeout_at(deadline, polled).await.is_err() {
                return *self.state.first_next.lock().unwrap();
            }
        }
    }

    /// What the function reported through `init/error`, if it failed to start.
    pub fn init_error(&self) -> Option<Bytes> {
        self.state.init_error.lock().unwrap().clone()
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: impl Into<Bytes>) -> Outcome {
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                id: format!("8476a536-e9f4-11e8-9739-{n:012x}"),
                event: event.into(),
                done,
            })
            .expect("the runtime API is serving");
        answer.await.expect("the invocation is answered")
    }
}

async fn route(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return status(StatusCode::NOT_FOUND);
    };
    if rest == "/invocation/next" {
        {
            let mut first = state.first_next.lock().unwrap();
            first.get_or_insert_with(Instant::now);
        }
        state.polled.notify_waiters();
        let Some(pending) = state.events.lock().await.recv().await else {
            return status(StatusCode::GONE);
        };
        state
            .waiting
            .lock()
            .unwrap()
            .push((pending.id.clone(), pending.done));
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        return Response::builder()
            .header("lambda-runtime-aws-request-id", &pending.id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-central-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700",
            )
            .body(Full::new(pending.event))
            .unwrap();
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if rest == "/init/error" {
        *state.init_error.lock().unwrap() = Some(body);
        return status(StatusCode::ACCEPTED);
    }
    let Some(tail) = rest.strip_prefix("/invocation/") else {
        return status(StatusCode::NOT_FOUND);
    };
    let (id, outcome) = match tail.rsplit_once('/') {
        Some((id, "response")) => (id, Outcome::Response(body)),
        Some((id, "error")) => (id, Outcome::Error(body)),
        _ => return status(StatusCode::NOT_FOUND),
    };
    let waiter = {
        let mut waiting = state.waiting.lock().unwrap();
        waiting
            .iter()
            .position(|(w, _)| w == id)
            .map(|i| waiting.swap_remove(i).1)
    };
    match waiter {
        Some(done) => {
            let _ = done.send(outcome);
            status(StatusCode::ACCEPTED)
        }
        None => status(StatusCode::BAD_REQUEST),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .unwrap()
}
