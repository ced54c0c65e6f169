//! A fake fal.ai speaking the queue API's wire format (submit, status with logs, result,
//! cancel under the `owner/app` sub-path, `Authorization: Key`), serving a JWKS, and signing
//! webhook deliveries with a real Ed25519 key exactly as fal does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use fluxbot::fal::webhook::signed_message;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const FAL_KEY: &str = "test-key-id:test-key-secret";
/// fal's user id in the signed headers.
pub const FAL_USER: &str = "fal-user-7";

#[derive(Debug, Clone)]
pub struct Submission {
    pub endpoint: String,
    pub input: Value,
    pub webhook: Option<String>,
    pub request_id: String,
    /// The retention headers the submit carried (`X-Fal-Object-Lifecycle-Preference`,
    /// `X-Fal-Store-IO`).
    pub lifecycle: Option<String>,
    pub store_io: Option<String>,
}

/// How the next submit goes wrong *after* fal queued it (so it is paid for), as seen by the
/// caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptedBut {
    /// The answer comes after this long (longer than the client waits).
    AnswerAfter(std::time::Duration),
    /// A gateway answers this status instead of fal's 200.
    Status(u16),
    /// A 200 whose body is not JSON.
    GarbageBody,
}

#[derive(Default)]
struct State {
    next: u32,
    submissions: Vec<Submission>,
    statuses: HashMap<String, Value>,
    results: HashMap<String, String>,
    cancels: Vec<String>,
    reject_next_submit: Option<(u16, Value)>,
    accept_next_but: Option<AcceptedBut>,
    /// Faults for the submits to come, in order (`None`: a clean answer).
    submit_faults: std::collections::VecDeque<Option<AcceptedBut>>,
    status_queries: Vec<String>,
    /// Submits refused for breaking their endpoint's documented input: (endpoint, 422 body).
    refused_inputs: Vec<(String, Value)>,
    /// The CDN: path under /files/ -> bytes (public, as fal's media URLs are).
    files: HashMap<String, Vec<u8>>,
    files_served: u32,
    /// Storage uploads: (file name, lifecycle header, parts uploaded).
    uploads: HashMap<String, Upload>,
    /// The server's own address (wiremock's request URLs do not carry the port).
    base: String,
    /// What the usage API reports: (day, endpoint, unit, quantity, unit price).
    usage: Vec<(String, String, String, f64, f64)>,
    /// The usage API's requests, as query strings.
    usage_queries: Vec<String>,
}

/// Usage lines a page of `/v1/models/usage` holds at most (fal pages its answers too).
const USAGE_PAGE: usize = 2;

/// `GET /v1/models/usage`: fal's time series of billed usage, bucketed by day, for the
/// `endpoint_id`s asked (1-50, required) between `start` and `end`, paged by `cursor`.
fn usage_page(s: &mut State, request: &Request) -> ResponseTemplate {
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    s.usage_queries
        .push(request.url.query().unwrap_or_default().to_owned());
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let endpoints: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "endpoint_id")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    if endpoints.is_empty() || endpoints.len() > 50 {
        return ResponseTemplate::new(422)
            .set_body_json(json!({"detail": "endpoint_id: 1-50 endpoint IDs required"}));
    }
    if !query
        .iter()
        .any(|(k, v)| k == "expand" && v.contains("time_series"))
    {
        return ResponseTemplate::new(422)
            .set_body_json(json!({"detail": "expand must include time_series or summary"}));
    }
    let start = get("start").unwrap_or_default();
    let end = get("end").unwrap_or_else(|| "9999".into());
    let lines: Vec<&(String, String, String, f64, f64)> = s
        .usage
        .iter()
        .filter(|(day, endpoint, ..)| {
            endpoints.contains(endpoint)
                && day.as_str() >= &start[..start.len().min(10)]
                && day.as_str() < end.as_str()
        })
        .collect();
    let page: usize = get("cursor")
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let chunk: Vec<_> = lines
        .iter()
        .skip(page * USAGE_PAGE)
        .take(USAGE_PAGE)
        .collect();
    let mut buckets: Vec<Value> = Vec::new();
    for (day, endpoint, unit, quantity, unit_price) in chunk {
        let line = json!({
            "endpoint_id": endpoint,
            "unit": unit,
            "quantity": quantity,
            "unit_price": unit_price,
            "cost": quantity * unit_price,
            "currency": "USD",
        });
        let bucket = format!("{day}T00:00:00Z");
        match buckets.iter_mut().find(|b| b["bucket"] == bucket) {
            Some(b) => b["results"].as_array_mut().unwrap().push(line),
            None => buckets.push(json!({"bucket": bucket, "results": [line]})),
        }
    }
    let more = lines.len() > (page + 1) * USAGE_PAGE;
    let next =
        more.then(|| base64::engine::general_purpose::STANDARD.encode((page + 1).to_string()));
    ResponseTemplate::new(200).set_body_json(json!({
        "next_cursor": next,
        "has_more": more,
        "time_series": buckets,
    }))
}

/// One storage upload as the fake saw it.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub lifecycle: Option<String>,
    pub multipart: bool,
    parts: std::collections::BTreeMap<u32, Vec<u8>>,
    pub completed: bool,
}

#[derive(Clone)]
pub struct FakeFal {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
    key: Arc<SigningKey>,
}

impl FakeFal {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        let key = Arc::new(SigningKey::from_bytes(&[7; 32]));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
                key: key.clone(),
            })
            .mount(&server)
            .await;
        state.lock().unwrap().base = server.uri();
        Self {
            server: Arc::new(server),
            state,
            key,
        }
    }

    /// fal bills `quantity` units of `endpoint` on `day` (`2026-12-01`) at `unit_price`.
    pub fn bill(&self, day: &str, endpoint: &str, unit: &str, quantity: f64, unit_price: f64) {
        self.state.lock().unwrap().usage.push((
            day.into(),
            endpoint.into(),
            unit.into(),
            quantity,
            unit_price,
        ));
    }

    /// The usage API's requests so far, as query strings.
    pub fn usage_queries(&self) -> Vec<String> {
        self.state.lock().unwrap().usage_queries.clone()
    }

    pub fn queue_url(&self) -> String {
        self.server.uri()
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.server.uri())
    }

    pub fn submissions(&self) -> Vec<Submission> {
        self.state.lock().unwrap().submissions.clone()
    }

    pub fn cancels(&self) -> Vec<String> {
        self.state.lock().unwrap().cancels.clone()
    }

    /// The next submit is queued (and paid) but its answer is lost this way.
    pub fn accept_next_submit_but(&self, fault: AcceptedBut) {
        self.state.lock().unwrap().accept_next_but = Some(fault);
    }

    /// Storage uploads so far, by upload id.
    pub fn uploads(&self) -> Vec<Upload> {
        self.state
            .lock()
            .unwrap()
            .uploads
            .values()
            .cloned()
            .collect()
    }

    /// The coming submits are queued (paid) and answered with these faults, in order.
    pub fn plan_submit_faults(&self, faults: Vec<Option<AcceptedBut>>) {
        self.state.lock().unwrap().submit_faults = faults.into();
    }

    /// Request ids the status API was asked about.
    /// Submits refused because their input broke the endpoint's documented schema.
    pub fn refused_inputs(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().refused_inputs.clone()
    }

    /// An upscaler's result as fal returns it: one hosted picture of `width` x `height`.
    pub fn upscale_result(&self, request_id: &str, width: u16, height: u16) -> String {
        let url = self.host_file(
            &format!("{request_id}/upscaled.jpeg"),
            crate::images::jpeg(width, height, 9),
        );
        json!({
            "image": {"url": url, "width": width, "height": height,
                      "content_type": "image/jpeg", "file_name": "upscaled.jpeg"},
            "seed": 424_242
        })
        .to_string()
    }

    pub fn status_queries(&self) -> Vec<String> {
        self.state.lock().unwrap().status_queries.clone()
    }

    /// The CDN forgets a file (fal's retention ran out).
    pub fn delete_file(&self, name: &str) {
        self.state.lock().unwrap().files.remove(name);
    }

    /// The origin of the fake's CDN, to allow in `FAL_RESULT_HOSTS`.
    pub fn cdn_origin(&self) -> String {
        self.server.uri()
    }

    /// A portrait trainer's output as fal returns it, its LoRA and config on the fake CDN
    /// (`{request_id}/pytorch_lora_weights.safetensors`, `{request_id}/config.json`).
    pub fn portrait_result(&self, request_id: &str) -> String {
        self.portrait_result_with(request_id, lora_bytes(request_id))
    }

    /// As [`Self::portrait_result`], with these LoRA bytes (a real LoRA's size, for benches).
    pub fn portrait_result_with(&self, request_id: &str, lora_file: Vec<u8>) -> String {
        let lora_size = lora_file.len();
        let lora = self.host_file(
            &format!("{request_id}/pytorch_lora_weights.safetensors"),
            lora_file,
        );
        let config = self.host_file(
            &format!("{request_id}/config.json"),
            br#"{"lora_rank":16}"#.to_vec(),
        );
        json!({
            "diffusers_lora_file": {
                "url": lora,
                "content_type": "application/octet-stream",
                "file_name": "pytorch_lora_weights.safetensors",
                "file_size": lora_size
            },
            "config_file": {
                "url": config,
                "content_type": "application/octet-stream",
                "file_name": "config.json",
                "file_size": 16
            }
        })
        .to_string()
    }

    /// The next submit is refused with this status and body.
    pub fn reject_next_submit(&self, status: u16, body: Value) {
        self.state.lock().unwrap().reject_next_submit = Some((status, body));
    }

    pub fn set_status(&self, request_id: &str, status: Value) {
        self.state
            .lock()
            .unwrap()
            .statuses
            .insert(request_id.to_owned(), status);
    }

    pub fn set_result(&self, request_id: &str, raw: &str) {
        self.state
            .lock()
            .unwrap()
            .results
            .insert(request_id.to_owned(), raw.to_owned());
    }

    /// The request finished: its status is COMPLETED and its result is `raw`.
    pub fn complete(&self, request_id: &str, raw: &str) {
        self.set_status(
            request_id,
            serde_json::json!({"status": "COMPLETED", "request_id": request_id, "logs": []}),
        );
        self.set_result(request_id, raw);
    }

    /// Puts bytes on the fake CDN; returns their public URL.
    pub fn host_file(&self, name: &str, bytes: Vec<u8>) -> String {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(name.to_owned(), bytes);
        format!("{}/files/{name}", self.server.uri())
    }

    pub fn files_served(&self) -> u32 {
        self.state.lock().unwrap().files_served
    }

    /// A flux-lora / ultra-finetuned result as fal returns it: one hosted 768x1024 JPEG per
    /// flag, `has_nsfw_concepts` as given.
    pub fn generation_result(&self, request_id: &str, nsfw: &[bool]) -> String {
        let images: Vec<Value> = nsfw
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let url = self.host_file(
                    &format!("{request_id}/{i}.jpeg"),
                    crate::images::jpeg(768, 1024, i as u8 + 1),
                );
                json!({"url": url, "width": 768, "height": 1024,
                       "content_type": "image/jpeg", "file_name": format!("{i}.jpeg")})
            })
            .collect();
        json!({
            "images": images,
            "timings": {"inference": 1.93},
            "seed": 1_234_567,
            "has_nsfw_concepts": nsfw,
            "prompt": "as sent"
        })
        .to_string()
    }

    /// The headers fal sends with a webhook body: signed now (or at `timestamp`).
    pub fn signed_headers(&self, request_id: &str, body: &str, timestamp: i64) -> Value {
        sign(&self.key, request_id, body, timestamp)
    }

    /// Headers signed with a key fal does not publish.
    pub fn forged_headers(&self, request_id: &str, body: &str, timestamp: i64) -> Value {
        sign(
            &SigningKey::from_bytes(&[9; 32]),
            request_id,
            body,
            timestamp,
        )
    }
}

fn sign(key: &SigningKey, request_id: &str, body: &str, timestamp: i64) -> Value {
    let message = signed_message(request_id, FAL_USER, timestamp, body.as_bytes());
    json!({
        "content-type": "application/json",
        "x-fal-webhook-request-id": request_id,
        "x-fal-webhook-user-id": FAL_USER,
        "x-fal-webhook-timestamp": timestamp.to_string(),
        "x-fal-webhook-signature": hex::encode(key.sign(&message).to_bytes()),
    })
}

/// The bytes of the fake LoRA trained for `request_id` (what the CDN serves).
pub fn lora_bytes(request_id: &str) -> Vec<u8> {
    format!("safetensors-of-{request_id}-")
        .repeat(64)
        .into_bytes()
}

/// The webhook body fal posts for a successful request.
pub fn ok_webhook(request_id: &str, payload: &str) -> String {
    format!(
        r#"{{"request_id":"{request_id}","gateway_request_id":"{request_id}","status":"OK","payload":{payload}}}"#
    )
}

/// `PUT upload/{id}` (whole file), `PUT upload/{id}/{n}` (a part), `POST upload/{id}/complete`.
fn upload_bytes(s: &mut State, request: &Request, rest: &str) -> ResponseTemplate {
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(upload) = s.uploads.get_mut(id) else {
        return ResponseTemplate::new(404);
    };
    let name = format!("uploads/{id}/{}", upload.file_name);
    match (request.method.as_str(), tail) {
        ("PUT", "") if !upload.multipart => {
            upload.completed = true;
            s.files.insert(name, request.body.clone());
            ResponseTemplate::new(200)
        }
        ("PUT", n) if upload.multipart => match n.parse::<u32>() {
            Ok(n) => {
                upload.parts.insert(n, request.body.clone());
                ResponseTemplate::new(200).insert_header("etag", format!("\"etag-{n}\"").as_str())
            }
            Err(_) => ResponseTemplate::new(400),
        },
        ("POST", "complete") if upload.multipart => {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let listed: Vec<u32> = body["parts"]
                .as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .filter(|p| {
                            p["etag"].as_str() == Some(&format!("\"etag-{}\"", p["partNumber"]))
                        })
                        .filter_map(|p| p["partNumber"].as_u64().map(|n| n as u32))
                        .collect()
                })
                .unwrap_or_default();
            let uploaded: Vec<u32> = upload.parts.keys().copied().collect();
            if listed != uploaded {
                return ResponseTemplate::new(400).set_body_json(json!({"detail": "parts differ"}));
            }
            let bytes: Vec<u8> = upload.parts.values().flatten().copied().collect();
            upload.completed = true;
            s.files.insert(name, bytes);
            ResponseTemplate::new(200)
        }
        _ => ResponseTemplate::new(405),
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    key: Arc<SigningKey>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().trim_start_matches('/').to_owned();
        if path == ".well-known/jwks.json" {
            let x = |k: &SigningKey| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(k.verifying_key().as_bytes())
            };
            return ResponseTemplate::new(200).set_body_json(json!({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "kid": "old", "x": x(&SigningKey::from_bytes(&[3; 32]))},
                {"kty": "OKP", "crv": "Ed25519", "kid": "current", "x": x(&self.key)},
            ]}));
        }
        if let Some(name) = path.strip_prefix("files/") {
            let mut s = self.state.lock().unwrap();
            return match s.files.get(name).cloned() {
                Some(bytes) => {
                    s.files_served += 1;
                    ResponseTemplate::new(200)
                        .insert_header("content-type", "image/jpeg")
                        .set_body_bytes(bytes)
                }
                None => ResponseTemplate::new(404).set_body_string("Not Found"),
            };
        }
        // Storage upload URLs are capabilities: no key, as with fal's real ones.
        if let Some(rest) = path.strip_prefix("upload/") {
            return upload_bytes(&mut self.state.lock().unwrap(), request, rest);
        }
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(&format!("Key {FAL_KEY}"));
        if !authorized {
            return ResponseTemplate::new(401).set_body_json(json!({"detail": "Unauthorized"}));
        }
        let mut s = self.state.lock().unwrap();
        let method = request.method.as_str();
        if path == "v1/models/usage" && method == "GET" {
            return usage_page(&mut s, request);
        }
        if let Some(step) = path.strip_prefix("storage/upload/") {
            let storage_type = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "storage_type")
                .map(|(_, v)| v.into_owned());
            if method != "POST" || storage_type.as_deref() != Some("fal-cdn-v3") {
                return ResponseTemplate::new(400).set_body_json(json!({"detail": "bad upload"}));
            }
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let file_name = body["file_name"].as_str().unwrap_or("file").to_owned();
            s.next += 1;
            let id = format!("up{}", s.next);
            let base = s.base.clone();
            s.uploads.insert(
                id.clone(),
                Upload {
                    file_name: file_name.clone(),
                    content_type: body["content_type"].as_str().unwrap_or("").to_owned(),
                    lifecycle: request
                        .headers
                        .get("x-fal-object-lifecycle-preference")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    multipart: step == "initiate-multipart",
                    ..Upload::default()
                },
            );
            return ResponseTemplate::new(200).set_body_json(json!({
                "upload_url": format!("{base}/upload/{id}"),
                "file_url": format!("{base}/files/uploads/{id}/{file_name}"),
            }));
        }
        match path.split_once("/requests/") {
            None if method == "POST" => {
                if let Some((status, body)) = s.reject_next_submit.take() {
                    return ResponseTemplate::new(status).set_body_json(body);
                }
                let input: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                if let Some(refusal) = crate::fal_schemas::refusal(&path, &input) {
                    s.refused_inputs.push((path.clone(), refusal.clone()));
                    return ResponseTemplate::new(422).set_body_json(refusal);
                }
                let header = |name: &str| {
                    request
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (lifecycle, store_io) = (
                    header("x-fal-object-lifecycle-preference"),
                    header("x-fal-store-io"),
                );
                s.next += 1;
                let request_id = format!("0192a3b4-fake-4000-8000-{:012}", s.next);
                let webhook = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "fal_webhook")
                    .map(|(_, v)| v.into_owned());
                s.submissions.push(Submission {
                    endpoint: path.clone(),
                    input,
                    webhook,
                    request_id: request_id.clone(),
                    lifecycle,
                    store_io,
                });
                let app = fluxbot::fal::app_path(&path).to_owned();
                let base = format!(
                    "{}://{}/{app}/requests/{request_id}",
                    request.url.scheme(),
                    request.url.authority()
                );
                let answer = ResponseTemplate::new(200).set_body_json(json!({
                    "request_id": request_id, "response_url": base,
                    "status_url": format!("{base}/status"), "cancel_url": format!("{base}/cancel"),
                    "queue_position": 0
                }));
                let fault = match s.accept_next_but.take() {
                    Some(fault) => Some(fault),
                    None => s.submit_faults.pop_front().flatten(),
                };
                match fault {
                    None => answer,
                    Some(AcceptedBut::AnswerAfter(delay)) => answer.set_delay(delay),
                    Some(AcceptedBut::Status(code)) => ResponseTemplate::new(code)
                        .set_body_string("<html><body>Bad Gateway</body></html>"),
                    Some(AcceptedBut::GarbageBody) => ResponseTemplate::new(200)
                        .insert_header("content-type", "application/json")
                        .set_body_string("{\"request_id\": \"0192"),
                }
            }
            Some((_app, rest)) => {
                let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
                if action == "status" {
                    s.status_queries.push(id.to_owned());
                }
                let known = s.submissions.iter().any(|sub| sub.request_id == id);
                if !known {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"status": "NOT_FOUND"}));
                }
                match (method, action) {
                    ("GET", "status") => {
                        let status = s.statuses.get(id).cloned().unwrap_or(
                            json!({"status": "IN_QUEUE", "request_id": id, "queue_position": 0}),
                        );
                        let code = if status["status"] == "COMPLETED" {
                            200
                        } else {
                            202
                        };
                        ResponseTemplate::new(code).set_body_json(status)
                    }
                    ("GET", "") => match s.results.get(id) {
                        Some(raw) => ResponseTemplate::new(200)
                            .insert_header("content-type", "application/json")
                            .set_body_string(raw.clone()),
                        None => ResponseTemplate::new(400)
                            .set_body_json(json!({"detail": "Request is still in progress"})),
                    },
                    ("PUT", "cancel") => {
                        s.cancels.push(id.to_owned());
                        // A request with a result has finished: fal says so, and it stays.
                        if s.results.contains_key(id) {
                            ResponseTemplate::new(400)
                                .set_body_json(json!({"status": "ALREADY_COMPLETED"}))
                        } else {
                            ResponseTemplate::new(202)
                                .set_body_json(json!({"status": "CANCELLATION_REQUESTED"}))
                        }
                    }
                    _ => ResponseTemplate::new(405),
                }
            }
            None => ResponseTemplate::new(405),
        }
    }
}
