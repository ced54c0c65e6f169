//! A metering proxy in front of moto: the SDK clients of the functions under test talk to it
//! as their AWS endpoint; it forwards every request to moto unchanged and counts it by
//! service and operation, as AWS bills them. DynamoDB request units are worked out from the
//! sizes on the wire (request body for writes, response body for reads), rounded up per item
//! the way DynamoDB rounds (1 KB per write unit, 4 KB per read unit, transactions twice):
//! DynamoDB JSON is larger than the stored item, so the units are an upper bound.
//!
//! It also injects faults on the wire ([`Meter::inject`]): the n-th call of an operation
//! answered with AWS's own 500 error shape, either instead of reaching moto (the call did
//! nothing) or after moto did it (the answer was lost), as often as asked (the SDK retries a
//! 500 twice, so three in a row reach the code).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::Value;

/// What went through the proxy so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Requests per `service operation`, e.g. `dynamodb TransactWriteItems`, `s3 PutObject`.
    pub calls: BTreeMap<String, u64>,
    pub read_units: f64,
    pub write_units: f64,
}

impl Usage {
    pub fn count(&self, service: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{service} ")))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn of(&self, call: &str) -> u64 {
        self.calls.get(call).copied().unwrap_or(0)
    }

    /// What happened between `before` and now.
    pub fn since(&self, before: &Usage) -> Usage {
        let mut calls = BTreeMap::new();
        for (k, n) in &self.calls {
            let d = n - before.calls.get(k).copied().unwrap_or(0);
            if d > 0 {
                calls.insert(k.clone(), d);
            }
        }
        Usage {
            calls,
            read_units: self.read_units - before.read_units,
            write_units: self.write_units - before.write_units,
        }
    }
}

/// Where an injected 500 happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAt {
    /// The request never reaches AWS.
    Before,
    /// AWS does it; its answer is lost.
    After,
}

#[derive(Debug, Clone)]
struct Fault {
    call: String,
    skip: u64,
    times: u64,
    at: FaultAt,
}

type Faults = Arc<Mutex<Vec<Fault>>>;

/// Calls whose answer is lost at random: `(call, one in n)`.
type Lossy = Arc<Mutex<Vec<(String, u32)>>>;

/// The proxy; clone the [`Usage`] with [`Meter::usage`].
#[derive(Clone)]
pub struct Meter {
    url: String,
    usage: Arc<Mutex<Usage>>,
    faults: Faults,
    lossy: Lossy,
    lost: Arc<Mutex<u64>>,
}

impl Meter {
    /// Starts a proxy to `upstream` (moto's endpoint) on a loopback port.
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let usage = Arc::new(Mutex::new(Usage::default()));
        let faults: Faults = Arc::default();
        let lossy: Lossy = Arc::default();
        let lost = Arc::new(Mutex::new(0));
        let state = State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            usage: usage.clone(),
            faults: faults.clone(),
            lossy: lossy.clone(),
            lost: lost.clone(),
        };
        crate::http_server::serve(listener, move |request| {
            let state = state.clone();
            async move { forward(&state, request).await }
        });
        Self {
            url,
            usage,
            faults,
            lossy,
            lost,
        }
    }

    /// From now on, one in `one_in` calls of `call` is done by AWS with its answer lost (a
    /// 500 after the fact; the SDK's retry then meets what the first attempt did).
    pub fn lose_answers(&self, call: &str, one_in: u32) {
        self.lossy
            .lock()
            .unwrap()
            .push((call.to_owned(), one_in.max(1)));
    }

    /// How many answers were lost at random so far.
    pub fn answers_lost(&self) -> u64 {
        *self.lost.lock().unwrap()
    }

    /// After `skip` more calls of `call` (e.g. `dynamodb PutItem`, `s3 UploadPart`, `sqs
    /// SendMessage`) pass, the next `times` calls fail with a 500 at `at`.
    pub fn inject(&self, call: &str, skip: u64, times: u64, at: FaultAt) {
        self.faults.lock().unwrap().push(Fault {
            call: call.to_owned(),
            skip,
            times,
            at,
        });
    }

    /// Injected faults not yet spent (a fault point the flow never reached).
    pub fn faults_left(&self) -> u64 {
        self.faults.lock().unwrap().iter().map(|f| f.times).sum()
    }

    /// The endpoint to give the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn usage(&self) -> Usage {
        self.usage.lock().unwrap().clone()
    }
}

/// Headers of one connection, not of the message (RFC 9110 7.6.1), plus the length, which the
/// proxy sets itself: moto's "Connection: close" must not close the client's kept-alive one.
fn hop_by_hop(name: &hyper::header::HeaderName) -> bool {
    use hyper::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
    name == CONNECTION
        || name == CONTENT_LENGTH
        || name == TRANSFER_ENCODING
        || name == "keep-alive"
}

/// What the proxy's requests share.
#[derive(Clone)]
struct State {
    upstream: String,
    client: reqwest::Client,
    usage: Arc<Mutex<Usage>>,
    faults: Faults,
    lossy: Lossy,
    lost: Arc<Mutex<u64>>,
}

/// Whether this call's answer is to be lost at random.
fn lose_at_random(state: &State, call: &str) -> bool {
    let lossy = state.lossy.lock().unwrap();
    let lose = lossy
        .iter()
        .any(|(c, one_in)| c == call && rand::random::<u32>().is_multiple_of(*one_in));
    if lose {
        *state.lost.lock().unwrap() += 1;
    }
    lose
}

async fn forward(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let State {
        upstream,
        client,
        usage,
        faults,
        ..
    } = state;
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let call = call_name(&target, &parts.method, &parts.uri);
    let fault = take_fault(faults, &call)
        .or_else(|| lose_at_random(state, &call).then_some(FaultAt::After));
    if fault == Some(FaultAt::Before) {
        return injected(&target);
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = client.request(parts.method.clone(), format!("{upstream}{path_and_query}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && !hop_by_hop(name) {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(e) => {
            return Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap();
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let response_body = answer.bytes().await.unwrap_or_default();
    if status.is_success() {
        record(
            &mut usage.lock().unwrap(),
            &target,
            &call,
            &body,
            &response_body,
        );
    }
    if fault == Some(FaultAt::After) {
        return injected(&target);
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    response.body(Full::new(response_body)).unwrap()
}

fn call_name(target: &str, method: &hyper::Method, uri: &hyper::Uri) -> String {
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        format!("dynamodb {op}")
    } else if let Some(op) = target.strip_prefix("AmazonSQS.") {
        format!("sqs {op}")
    } else {
        match s3_operation(method, uri) {
            "Other" => format!("s3 {method} {}", uri.query().unwrap_or("")),
            op => format!("s3 {op}"),
        }
    }
}

fn take_fault(faults: &Faults, call: &str) -> Option<FaultAt> {
    let mut faults = faults.lock().unwrap();
    let fault = faults.iter_mut().find(|f| f.call == call && f.times > 0)?;
    if fault.skip > 0 {
        fault.skip -= 1;
        return None;
    }
    fault.times -= 1;
    Some(fault.at)
}

/// AWS's 500 in each protocol's error shape (JSON for DynamoDB and SQS, XML for S3).
fn injected(target: &str) -> Response<Full<Bytes>> {
    let (content_type, body) = if target.starts_with("DynamoDB_") {
        (
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"injected"}"#,
        )
    } else if target.starts_with("AmazonSQS.") {
        (
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.sqs#InternalError","message":"injected"}"#,
        )
    } else {
        (
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
             <Message>injected</Message><RequestId>0</RequestId></Error>",
        )
    };
    Response::builder()
        .status(500)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn record(usage: &mut Usage, target: &str, call: &str, request: &[u8], response: &[u8]) {
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        let (read, write) = dynamodb_units(op, request, response);
        usage.read_units += read;
        usage.write_units += write;
    }
    *usage.calls.entry(call.to_owned()).or_default() += 1;
}

fn units(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// Read and write units of one DynamoDB call (see the module's note on sizes).
fn dynamodb_units(op: &str, request: &[u8], response: &[u8]) -> (f64, f64) {
    let req: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
    let res: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
    let size = |v: &Value| serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
    let consistent = req["ConsistentRead"] == Value::Bool(true);
    let read = |bytes: usize| units(bytes, 4096) * if consistent { 1.0 } else { 0.5 };
    match op {
        "GetItem" => (read(size(&res["Item"])), 0.0),
        "Query" | "Scan" => {
            let items: usize = res["Items"]
                .as_array()
                .map(|items| items.iter().map(size).sum())
                .unwrap_or(0);
            (read(items), 0.0)
        }
        "PutItem" => (0.0, units(size(&req["Item"]), 1024)),
        "UpdateItem" | "DeleteItem" => (0.0, units(size(&req["Key"]) + size(&res), 1024)),
        "TransactWriteItems" => {
            let w = req["TransactItems"]
                .as_array()
                .map(|items| items.iter().map(|i| 2.0 * units(size(i), 1024)).sum())
                .unwrap_or(0.0);
            (0.0, w)
        }
        "TransactGetItems" => {
            let r = res["Responses"]
                .as_array()
                .map(|items| items.iter().map(|i| 2.0 * units(size(i), 4096)).sum())
                .unwrap_or(0.0);
            (r, 0.0)
        }
        "BatchWriteItem" => {
            let w = req["RequestItems"]
                .as_object()
                .map(|tables| {
                    tables
                        .values()
                        .flat_map(|reqs| reqs.as_array().cloned().unwrap_or_default())
                        .map(|r| units(size(&r), 1024))
                        .sum()
                })
                .unwrap_or(0.0);
            (0.0, w)
        }
        _ => (0.0, 0.0),
    }
}

/// S3's REST operation from the method, the path (bucket/key, path style) and the query.
fn s3_operation(method: &hyper::Method, uri: &hyper::Uri) -> &'static str {
    let query = uri.query().unwrap_or("");
    let has = |k: &str| {
        query
            .split('&')
            .any(|p| p == k || p.starts_with(&format!("{k}=")))
    };
    let object = uri.path().trim_matches('/').contains('/');
    match (method.as_str(), object) {
        ("PUT", true) if has("partNumber") => "UploadPart",
        ("PUT", true) => "PutObject",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", true) if has("uploadId") => "AbortMultipartUpload",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("DELETE", true) => "DeleteObject",
        ("POST", false) if has("delete") => "DeleteObjects",
        ("GET", false) if has("list-type") => "ListObjectsV2",
        ("GET", false) => "ListObjects",
        ("PUT", false) => "CreateBucket",
        _ => "Other",
    }
}
