//! A fake Telegram Bot API server speaking the real wire format: `POST /bot<token>/<Method>`
//! with JSON bodies answered `{"ok":true,"result":...}` or `{"ok":false,"error_code":...,
//! "description":...,"parameters":{...}}`, and file downloads under `/file/bot<token>/<path>`.
//! It keeps the chat as a user would see it (messages with their current text and buttons,
//! edits applied) and records every call, so tests assert on what the user sees.
//!
//! It also refuses what the real server refuses: empty or over-long texts, callback data over
//! 64 bytes, HTML with unknown tags (unescaped user input), edits to unknown messages, and
//! "message is not modified" for edits that change nothing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const BOT_ID: i64 = 7_000_000_001;
pub const TOKEN: &str = "7000000001:AAFakeTokenForTestsOnly_abcdefghijk";

/// A message in the chat as the user sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub chat_id: i64,
    pub message_id: i32,
    pub text: String,
    /// Button rows as (label, callback_data).
    pub buttons: Vec<Vec<(String, String)>>,
    /// A photo message's picture (its text is the caption).
    pub photo: Option<SentPhoto>,
    /// Whether that picture came as a file (sendDocument, an album of documents): Telegram
    /// keeps it as it is, without recompressing it.
    pub as_file: bool,
    /// Set on every message of one album.
    pub media_group_id: Option<String>,
}

/// A picture the bot uploaded, as Telegram decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentPhoto {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl ChatMessage {
    /// Asserts that the message says `part` (its text or caption), showing it all if not.
    #[track_caller]
    pub fn says(&self, part: &str) -> &Self {
        assert!(
            self.text.contains(part),
            "expected the bot to say {part:?}, it said:\n{}",
            self.text
        );
        self
    }

    /// Asserts that the message does not say `part`.
    #[track_caller]
    pub fn never_says(&self, part: &str) -> &Self {
        assert!(
            !self.text.contains(part),
            "expected the bot not to say {part:?}, it said:\n{}",
            self.text
        );
        self
    }

    pub fn button(&self, label_part: &str) -> Option<&str> {
        self.buttons
            .iter()
            .flatten()
            .find(|(label, _)| label.contains(label_part))
            .map(|(_, data)| data.as_str())
    }

    pub fn labels(&self) -> Vec<&str> {
        self.buttons
            .iter()
            .flatten()
            .map(|(l, _)| l.as_str())
            .collect()
    }
}

/// One Bot API call as received.
#[derive(Debug, Clone)]
pub struct Call {
    /// Lower-case method name (clients may use any case).
    pub method: String,
    pub params: Value,
    /// What the fake answered: true when `ok`.
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct FakeFile {
    pub file_id: String,
    pub file_unique_id: String,
    pub size: usize,
}

#[derive(Default)]
struct State {
    next_message_id: i32,
    next_file: u32,
    messages: HashMap<(i64, i32), ChatMessage>,
    /// In the order they were sent.
    order: Vec<(i64, i32)>,
    calls: Vec<Call>,
    /// file_id -> (unique id, path, bytes)
    files: HashMap<String, (String, String, Vec<u8>)>,
    /// path -> bytes
    downloads: HashMap<String, Vec<u8>>,
    /// Answers to give instead of the normal one, per lower-case method, in order.
    injected: HashMap<String, VecDeque<Fault>>,
    blocked_chats: HashSet<i64>,
    downloads_served: u32,
    /// Updates waiting for getUpdates (long polling).
    pending_updates: Vec<Value>,
    /// The webhook as set by setWebhook: its parameters as received.
    webhook: Option<Value>,
    /// The last delivery error getWebhookInfo reports: (unix time, message).
    webhook_error: Option<(i64, String)>,
    /// Stars payments made (charge id -> payer, Stars, refunded).
    payments: HashMap<String, (i64, u32, bool)>,
    /// The bot's Star transactions as getStarTransactions lists them, oldest first.
    star_transactions: Vec<Value>,
    /// Telegram's flood limits on new messages, when a test turns them on.
    rates: Option<Rates>,
}

/// Telegram's limits on new messages as the fake enforces them: at most `per_second` in any
/// second for the bot (an album counts its pictures), and one per `chat_interval` in a chat
/// (less a tenth, for the time a request spends in flight); the rest get 429 with
/// `retry_after`, as Telegram answers.
struct Rates {
    per_second: u32,
    chat_interval: Duration,
    sent: VecDeque<(std::time::Instant, u32)>,
    last_in_chat: HashMap<i64, std::time::Instant>,
    refused: u32,
    /// Why each refusal: "chat" (too soon in a chat) or "bot" (over the bot's second).
    reasons: Vec<&'static str>,
}

/// What the next call of a method meets instead of the normal answer.
enum Fault {
    /// This status with this error body.
    Error(u16, Value),
    /// No answer for `delay`: the call is carried out first when `carried_out` (the answer is
    /// what is late), or never (the request is stuck before Telegram acts on it).
    Stall { delay: Duration, carried_out: bool },
}

/// An invoice the bot sent, as the user's client would show it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentInvoice {
    pub chat_id: i64,
    pub title: String,
    pub payload: String,
    pub stars: u32,
}

#[derive(Clone)]
pub struct FakeTelegram {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next_message_id: 100,
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    /// What `TELEGRAM_API_URL` is set to.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Registers a file the bot can fetch with getFile and download.
    pub fn add_file(&self, bytes: Vec<u8>, extension: &str) -> FakeFile {
        let mut s = self.state.lock().unwrap();
        s.next_file += 1;
        let n = s.next_file;
        let file_id = format!("AgACAgIAAxkBAAI{n:06}FileId");
        let unique = format!("AQAD{n:06}Uq");
        let path = format!("photos/file_{n}.{extension}");
        let size = bytes.len();
        s.downloads.insert(path.clone(), bytes.clone());
        s.files
            .insert(file_id.clone(), (unique.clone(), path, bytes));
        FakeFile {
            file_id,
            file_unique_id: unique,
            size,
        }
    }

    /// The next call of `method` gets `status` with this error body: JSON, or, when `body` is
    /// a JSON string, that text as an HTML page (what a proxy in front of the Bot API answers).
    /// `method` "file" is the next file download.
    pub fn inject_error(&self, method: &str, status: u16, body: Value) {
        self.inject(method, Fault::Error(status, body));
    }

    /// The next call of `method` gets no answer for `delay` (longer than the client waits, it
    /// is a timeout). With `carried_out` Telegram has already acted on it (the message is in
    /// the chat, only the answer is late); without, the call has no effect. `method` "file"
    /// is the next file download (served late either way).
    pub fn stall(&self, method: &str, delay: Duration, carried_out: bool) {
        self.inject(method, Fault::Stall { delay, carried_out });
    }

    fn inject(&self, method: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .injected
            .entry(method.to_ascii_lowercase())
            .or_default()
            .push_back(fault);
    }

    /// The next call of `method` answers 429 Too Many Requests with `retry_after`.
    pub fn inject_429(&self, method: &str, retry_after: u32) {
        self.inject_error(
            method,
            429,
            json!({"ok": false, "error_code": 429,
                   "description": format!("Too Many Requests: retry after {retry_after}"),
                   "parameters": {"retry_after": retry_after}}),
        );
    }

    /// From now on new messages beyond Telegram's flood limits get 429 (see [`Rates`]).
    pub fn enforce_rates(&self, per_second: u32, chat_interval: Duration) {
        self.state.lock().unwrap().rates = Some(Rates {
            per_second,
            chat_interval,
            sent: VecDeque::new(),
            last_in_chat: HashMap::new(),
            refused: 0,
            reasons: Vec::new(),
        });
    }

    /// How many new messages the enforced limits refused with 429, and why each was.
    pub fn rate_refusals(&self) -> (u32, Vec<&'static str>) {
        self.state
            .lock()
            .unwrap()
            .rates
            .as_ref()
            .map_or((0, Vec::new()), |r| (r.refused, r.reasons.clone()))
    }

    /// Queues an update for the bot's next getUpdates.
    pub fn push_update(&self, update: Value) {
        self.state.lock().unwrap().pending_updates.push(update);
    }

    /// What getWebhookInfo will report as the last delivery error.
    pub fn set_webhook_error(&self, unix_time: i64, message: &str) {
        self.state.lock().unwrap().webhook_error = Some((unix_time, message.to_owned()));
    }

    /// The parameters of the last setWebhook.
    pub fn webhook(&self) -> Option<Value> {
        self.state.lock().unwrap().webhook.clone()
    }

    /// From now on, sending to this chat fails as when the user blocked the bot.
    pub fn block(&self, chat_id: i64) {
        self.state.lock().unwrap().blocked_chats.insert(chat_id);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The invoices the bot sent, oldest first.
    pub fn invoices(&self) -> Vec<SentInvoice> {
        self.calls_of("sendInvoice")
            .iter()
            .filter(|c| c.ok)
            .filter_map(|c| validate_invoice(&c.params).ok())
            .collect()
    }

    /// The user pays `invoice`: Telegram records the charge (so it can be refunded) and
    /// returns what it posts, the `pre_checkout_query` update and then, if the bot said ok,
    /// the `successful_payment` one.
    pub fn pay(
        &self,
        invoice: &SentInvoice,
        user: updates::User,
        charge_id: &str,
        update_ids: (u32, u32),
    ) -> (Value, Value) {
        {
            let mut state = self.state.lock().unwrap();
            state
                .payments
                .insert(charge_id.to_owned(), (user.id, invoice.stars, false));
            let paid = star_transaction(
                charge_id,
                invoice.stars,
                "source",
                user.id,
                &invoice.payload,
            );
            state.star_transactions.push(paid);
        }
        (
            updates::pre_checkout_query(
                update_ids.0,
                user,
                charge_id,
                invoice.stars,
                &invoice.payload,
            ),
            updates::successful_payment(
                update_ids.1,
                user,
                charge_id,
                invoice.stars,
                &invoice.payload,
            ),
        )
    }

    /// How many Star transactions Telegram lists for the bot.
    pub fn star_transaction_count(&self) -> usize {
        self.state.lock().unwrap().star_transactions.len()
    }

    /// Whether Telegram gave back the Stars of this charge.
    pub fn refunded(&self, charge_id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .payments
            .get(charge_id)
            .is_some_and(|p| p.2)
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    pub fn downloads_served(&self) -> u32 {
        self.state.lock().unwrap().downloads_served
    }

    /// The chat's messages from the bot, oldest first, as they look now.
    pub fn chat(&self, chat_id: i64) -> Vec<ChatMessage> {
        let s = self.state.lock().unwrap();
        s.order
            .iter()
            .filter(|(c, _)| *c == chat_id)
            .filter_map(|k| s.messages.get(k).cloned())
            .collect()
    }

    /// The newest message with buttons (a result's summary sits above its pictures: it is
    /// the "drawing..." message, edited).
    pub fn last_with_buttons(&self, chat_id: i64) -> ChatMessage {
        self.chat(chat_id)
            .into_iter()
            .rev()
            .find(|m| !m.buttons.is_empty())
            .expect("the bot has sent a message with buttons")
    }

    pub fn last_message(&self, chat_id: i64) -> ChatMessage {
        self.chat(chat_id)
            .pop()
            .expect("the bot has sent at least one message")
    }

    pub fn message(&self, chat_id: i64, message_id: i32) -> ChatMessage {
        self.state.lock().unwrap().messages[&(chat_id, message_id)].clone()
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": result}))
}

fn bad_request(description: &str) -> (u16, Value) {
    (
        400,
        json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {description}")}),
    )
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let mut s = self.state.lock().unwrap();
        if let Some(rest) = path.strip_prefix(&format!("/file/bot{TOKEN}/")) {
            let delay = match s.injected.get_mut("file").and_then(VecDeque::pop_front) {
                Some(Fault::Error(status, body)) => return error_response(status, body),
                // A download has no effect to carry out: only its lateness matters.
                Some(Fault::Stall { delay, .. }) => delay,
                None => Duration::ZERO,
            };
            // teloxide sends the file path as one segment ("photos%2Ffile_1.jpg"); the Bot
            // API server decodes it, and so does the fake.
            let rest = rest.replace("%2F", "/").replace("%2f", "/");
            let response = match s.downloads.get(&rest).cloned() {
                Some(bytes) => {
                    s.downloads_served += 1;
                    ResponseTemplate::new(200)
                        .insert_header("content-type", "application/octet-stream")
                        .set_body_bytes(bytes)
                }
                None => ResponseTemplate::new(404).set_body_string("Not Found"),
            };
            return response.set_delay(delay);
        }
        let Some(method) = path.strip_prefix(&format!("/bot{TOKEN}/")) else {
            return ResponseTemplate::new(401).set_body_json(
                json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
            );
        };
        let method = method.to_ascii_lowercase();
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // teloxide sends JSON for most methods and multipart/form-data for the ones that may
        // carry files (setWebhook, sendPhoto...), as the Bot API allows.
        let (params, files) = if content_type.starts_with("multipart/form-data") {
            parse_multipart(&content_type, &request.body)
        } else {
            (
                serde_json::from_slice(&request.body).unwrap_or(Value::Null),
                HashMap::new(),
            )
        };
        if method == "getupdates" {
            // getUpdates confirms everything below `offset`; with nothing new the real server
            // holds the request for `timeout` seconds: a short pause keeps clients from spinning.
            let offset = params["offset"].as_i64().unwrap_or(0);
            s.pending_updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            let updates = s.pending_updates.clone();
            s.calls.push(Call {
                method,
                params,
                ok: true,
            });
            let response = ok(Value::Array(updates.clone()));
            return if updates.is_empty() {
                response.set_delay(Duration::from_millis(200))
            } else {
                response
            };
        }
        if let Some(refusal) = s.over_rate(&method, &params) {
            s.calls.push(Call {
                method,
                params,
                ok: false,
            });
            return error_response(429, refusal);
        }
        let (outcome, delay) = match s.injected.get_mut(&method).and_then(VecDeque::pop_front) {
            None => (s.execute(&method, &params, &files), None),
            Some(Fault::Error(status, body)) => (Err((status, body)), None),
            Some(Fault::Stall {
                delay,
                carried_out: true,
            }) => (s.execute(&method, &params, &files), Some(delay)),
            // What a proxy says once it gives up on a Bot API server that never answered.
            Some(Fault::Stall {
                delay,
                carried_out: false,
            }) => (
                Err((
                    504,
                    json!("<html><body><h1>504 Gateway Time-out</h1></body></html>"),
                )),
                Some(delay),
            ),
        };
        s.calls.push(Call {
            method,
            params,
            ok: outcome.is_ok(),
        });
        let response = match outcome {
            Ok(result) => ok(result),
            Err((status, body)) => error_response(status, body),
        };
        match delay {
            Some(delay) => response.set_delay(delay),
            None => response,
        }
    }
}

fn error_response(status: u16, body: Value) -> ResponseTemplate {
    match body {
        Value::String(page) => ResponseTemplate::new(status).set_body_raw(page, "text/html"),
        json => ResponseTemplate::new(status).set_body_json(json),
    }
}

impl State {
    /// Telegram's 429 for a new message over the enforced limits, if it is.
    fn over_rate(&mut self, method: &str, p: &Value) -> Option<Value> {
        let rates = self.rates.as_mut()?;
        let weight = match method {
            "sendmessage" | "sendphoto" | "senddocument" => 1,
            "sendmediagroup" => {
                let media = match &p["media"] {
                    Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                media.as_array().map_or(1, |m| m.len() as u32)
            }
            _ => return None,
        };
        let chat = p["chat_id"]
            .as_i64()
            .or_else(|| p["chat_id"].as_str().and_then(|s| s.parse().ok()))?;
        let now = std::time::Instant::now();
        while rates
            .sent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= Duration::from_secs(1))
        {
            rates.sent.pop_front();
        }
        let in_last_second: u32 = rates.sent.iter().map(|(_, w)| w).sum();
        let chat_too_soon = rates
            .last_in_chat
            .get(&chat)
            .is_some_and(|last| now.duration_since(*last) < rates.chat_interval.mul_f64(0.9));
        if chat_too_soon || in_last_second + weight > rates.per_second {
            rates.refused += 1;
            rates
                .reasons
                .push(if chat_too_soon { "chat" } else { "bot" });
            return Some(json!({"ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1}}));
        }
        rates.sent.push_back((now, weight));
        rates.last_in_chat.insert(chat, now);
        None
    }

    /// The chat a send goes to, refusing blocked users as Telegram does.
    fn reachable_chat(&self, p: &Value) -> Result<i64, (u16, Value)> {
        let chat_id = p["chat_id"]
            .as_i64()
            .or_else(|| p["chat_id"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad_request("chat not found"))?;
        if self.blocked_chats.contains(&chat_id) {
            return Err((
                403,
                json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
            ));
        }
        Ok(chat_id)
    }

    fn add_message(
        &mut self,
        chat_id: i64,
        text: String,
        buttons: Vec<Vec<(String, String)>>,
        photo: Option<SentPhoto>,
        media_group_id: Option<String>,
    ) -> ChatMessage {
        self.next_message_id += 1;
        let message = ChatMessage {
            chat_id,
            message_id: self.next_message_id,
            text,
            buttons,
            photo,
            as_file: false,
            media_group_id,
        };
        self.messages
            .insert((chat_id, message.message_id), message.clone());
        self.order.push((chat_id, message.message_id));
        message
    }

    fn execute(
        &mut self,
        method: &str,
        p: &Value,
        files: &HashMap<String, Vec<u8>>,
    ) -> Result<Value, (u16, Value)> {
        match method {
            "sendphoto" => {
                let chat_id = self.reachable_chat(p)?;
                let photo = decode_photo(resolve_file(&p["photo"], "photo", files)?)?;
                let caption = caption_of(p)?;
                let buttons = validate_keyboard(p)?;
                let message = self.add_message(chat_id, caption, buttons, Some(photo), None);
                Ok(photo_message_json(&message))
            }
            "senddocument" => {
                let chat_id = self.reachable_chat(p)?;
                let picture = decode_document(resolve_file(&p["document"], "document", files)?)?;
                let caption = caption_of(p)?;
                let buttons = validate_keyboard(p)?;
                let mut message = self.add_message(chat_id, caption, buttons, Some(picture), None);
                message.as_file = true;
                self.messages
                    .insert((chat_id, message.message_id), message.clone());
                Ok(photo_message_json(&message))
            }
            "sendmediagroup" => {
                let chat_id = self.reachable_chat(p)?;
                let media = p["media"].as_array().cloned().unwrap_or_default();
                if !(2..=10).contains(&media.len()) {
                    return Err(bad_request("wrong number of media in the group"));
                }
                // An album is all photos, or all documents (Telegram refuses a mix).
                let as_file = media.first().is_some_and(|m| m["type"] == "document");
                let kind = if as_file { "document" } else { "photo" };
                let mut photos = Vec::new();
                for item in &media {
                    if item["type"] != kind {
                        return Err(bad_request("unsupported media type in the group"));
                    }
                    let file = resolve_file(&item["media"], "", files)?;
                    let photo = if as_file {
                        decode_document(file)?
                    } else {
                        decode_photo(file)?
                    };
                    photos.push((photo, caption_of(item)?));
                }
                self.next_file += 1;
                let group = format!("album{}", self.next_file);
                let sent: Vec<Value> = photos
                    .into_iter()
                    .map(|(photo, caption)| {
                        let mut m = self.add_message(
                            chat_id,
                            caption,
                            Vec::new(),
                            Some(photo),
                            Some(group.clone()),
                        );
                        m.as_file = as_file;
                        self.messages.insert((chat_id, m.message_id), m.clone());
                        photo_message_json(&m)
                    })
                    .collect();
                Ok(Value::Array(sent))
            }
            "sendmessage" => {
                let chat_id = self.reachable_chat(p)?;
                let (text, buttons) = validate_message(p)?;
                let message = self.add_message(chat_id, text, buttons, None, None);
                Ok(message_json(&message, p))
            }
            "editmessagetext" => {
                let chat_id = p["chat_id"]
                    .as_i64()
                    .ok_or_else(|| bad_request("chat not found"))?;
                if self.blocked_chats.contains(&chat_id) {
                    return Err((
                        403,
                        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
                    ));
                }
                let message_id = p["message_id"].as_i64().unwrap_or_default() as i32;
                let (text, buttons) = validate_message(p)?;
                let Some(existing) = self.messages.get_mut(&(chat_id, message_id)) else {
                    return Err(bad_request("message to edit not found"));
                };
                if existing.text == text && existing.buttons == buttons {
                    return Err(bad_request(
                        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    ));
                }
                existing.text = text;
                existing.buttons = buttons;
                let message = existing.clone();
                Ok(message_json(&message, p))
            }
            "answercallbackquery" => {
                if p["callback_query_id"].as_str().is_none() {
                    return Err(bad_request(
                        "query is too old and response timeout expired or query id is invalid",
                    ));
                }
                Ok(Value::Bool(true))
            }
            "getfile" => {
                let file_id = p["file_id"].as_str().unwrap_or_default();
                let Some((unique, path, bytes)) = self.files.get(file_id) else {
                    return Err(bad_request("invalid file_id"));
                };
                if bytes.len() > 20 * 1024 * 1024 {
                    return Err(bad_request("file is too big"));
                }
                Ok(json!({"file_id": file_id, "file_unique_id": unique,
                          "file_size": bytes.len(), "file_path": path}))
            }
            "setwebhook" => {
                let url = p["url"].as_str().unwrap_or_default();
                if !url.starts_with("https://") {
                    return Err(bad_request(
                        "bad webhook: An HTTPS URL must be provided for webhook",
                    ));
                }
                let secret = p["secret_token"].as_str().unwrap_or_default();
                if !secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(bad_request("secret token contains unallowed characters"));
                }
                let max = p["max_connections"].as_u64().unwrap_or(40);
                if !(1..=100).contains(&max) {
                    return Err(bad_request("bad webhook: max_connections must be 1-100"));
                }
                if p["drop_pending_updates"] == true {
                    self.pending_updates.clear();
                }
                self.webhook = Some(p.clone());
                Ok(Value::Bool(true))
            }
            "deletewebhook" => {
                self.webhook = None;
                Ok(Value::Bool(true))
            }
            "getwebhookinfo" => {
                let mut info = json!({
                    "url": self.webhook.as_ref().map(|w| w["url"].clone()).unwrap_or(json!("")),
                    "has_custom_certificate": false,
                    "pending_update_count": self.pending_updates.len(),
                });
                if let Some(w) = &self.webhook {
                    info["max_connections"] = json!(w["max_connections"].as_u64().unwrap_or(40));
                    info["allowed_updates"] = w["allowed_updates"].clone();
                }
                if let Some((at, message)) = &self.webhook_error {
                    info["last_error_date"] = json!(at);
                    info["last_error_message"] = json!(message);
                }
                Ok(info)
            }
            "sendinvoice" => {
                let chat_id = self.reachable_chat(p)?;
                let invoice = validate_invoice(p)?;
                let message =
                    self.add_message(chat_id, invoice.title.clone(), Vec::new(), None, None);
                let mut json = message_json(&message, p);
                json.as_object_mut().unwrap().remove("text");
                json["invoice"] = json!({"title": invoice.title, "description": p["description"],
                    "start_parameter": "", "currency": "XTR", "total_amount": invoice.stars});
                Ok(json)
            }
            "answerprecheckoutquery" => {
                if p["pre_checkout_query_id"]
                    .as_str()
                    .is_none_or(str::is_empty)
                {
                    return Err(bad_request("QUERY_ID_INVALID"));
                }
                match p["ok"].as_bool() {
                    Some(true) => Ok(Value::Bool(true)),
                    Some(false) if p["error_message"].as_str().is_some_and(|e| !e.is_empty()) => {
                        Ok(Value::Bool(true))
                    }
                    Some(false) => Err(bad_request("error_message is required when ok is false")),
                    None => Err(bad_request("parameter \"ok\" is required")),
                }
            }
            "refundstarpayment" => {
                let user = p["user_id"].as_i64().unwrap_or_default();
                let charge = p["telegram_payment_charge_id"].as_str().unwrap_or_default();
                match self.payments.get_mut(charge) {
                    Some((payer, stars, refunded)) if *payer == user => {
                        if *refunded {
                            return Err(bad_request("CHARGE_ALREADY_REFUNDED"));
                        }
                        *refunded = true;
                        let back = star_transaction(charge, *stars, "receiver", user, "");
                        self.star_transactions.push(back);
                        Ok(Value::Bool(true))
                    }
                    _ => Err(bad_request("CHARGE_NOT_FOUND")),
                }
            }
            "getstartransactions" => {
                let offset = p["offset"].as_u64().unwrap_or(0) as usize;
                let limit = p["limit"].as_u64().unwrap_or(100);
                if !(1..=100).contains(&limit) {
                    return Err(bad_request("limit must be 1-100"));
                }
                let page: Vec<Value> = self
                    .star_transactions
                    .iter()
                    .skip(offset)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                Ok(json!({ "transactions": page }))
            }
            "setmycommands" | "sendchataction" => Ok(Value::Bool(true)),
            "getme" => Ok(json!({"id": BOT_ID, "is_bot": true, "first_name": "Flux",
                                  "username": "flux_test_bot", "can_join_groups": false,
                                  "can_read_all_group_messages": false,
                                  "supports_inline_queries": false})),
            other => Err(bad_request(&format!(
                "method {other} is not implemented by the fake"
            ))),
        }
    }
}

/// A Star transaction as getStarTransactions lists it: a user's invoice payment (`source`)
/// or the Stars going back to them (`receiver`, the payment's id).
fn star_transaction(id: &str, stars: u32, side: &str, user: i64, payload: &str) -> Value {
    let mut partner = json!({
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": {"id": user, "is_bot": false, "first_name": "Анна"},
    });
    if side == "source" {
        partner["invoice_payload"] = json!(payload);
    }
    let date = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut transaction = json!({"id": id, "amount": stars, "date": date});
    transaction[side] = partner;
    transaction
}

/// The fields of a multipart/form-data body as a JSON object (text fields as strings, or as
/// the JSON they hold: arrays, objects, booleans, numbers, as the Bot API reads them), and
/// the uploaded files by field name.
fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, HashMap<String, Vec<u8>>) {
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return (Value::Null, HashMap::new());
    };
    let body = bytes::Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = serde_json::Map::new();
    let mut files = HashMap::new();
    futures::executor::block_on(async {
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let Ok(bytes) = field.bytes().await else {
                break;
            };
            if is_file {
                files.insert(name, bytes.to_vec());
                continue;
            }
            let value = String::from_utf8_lossy(&bytes).into_owned();
            let parsed = match serde_json::from_str::<Value>(&value) {
                Ok(
                    v @ (Value::Array(_) | Value::Object(_) | Value::Bool(_) | Value::Number(_)),
                ) => v,
                _ => Value::String(value),
            };
            fields.insert(name, parsed);
        }
    });
    (Value::Object(fields), files)
}

/// The bytes of an uploaded file: the part named `field`, or the one an `attach://<name>`
/// value points at.
fn resolve_file<'a>(
    value: &Value,
    field: &str,
    files: &'a HashMap<String, Vec<u8>>,
) -> Result<&'a [u8], (u16, Value)> {
    let attached = value
        .as_str()
        .and_then(|v| v.strip_prefix("attach://"))
        .and_then(|name| files.get(name));
    attached
        .or_else(|| files.get(field))
        .map(Vec::as_slice)
        .ok_or_else(|| bad_request("wrong file identifier/HTTP URL specified"))
}

/// Telegram decodes every uploaded photo; anything that is not an image is refused.
fn decode_photo(bytes: &[u8]) -> Result<SentPhoto, (u16, Value)> {
    if bytes.len() > 10 * 1024 * 1024 {
        return Err(bad_request("file is too big"));
    }
    let size = imagesize::blob_size(bytes).map_err(|_| bad_request("IMAGE_PROCESS_FAILED"))?;
    Ok(SentPhoto {
        width: size.width as u32,
        height: size.height as u32,
        bytes: bytes.to_vec(),
    })
}

/// A file sent as a document: up to 50 MB, kept as it is (decoded here so tests can look at
/// the picture).
fn decode_document(bytes: &[u8]) -> Result<SentPhoto, (u16, Value)> {
    if bytes.len() > 50 * 1024 * 1024 {
        return Err((
            413,
            json!({"ok": false, "error_code": 413, "description": "Request Entity Too Large"}),
        ));
    }
    let size = imagesize::blob_size(bytes).map_err(|_| bad_request("not a picture"))?;
    Ok(SentPhoto {
        width: size.width as u32,
        height: size.height as u32,
        bytes: bytes.to_vec(),
    })
}

fn caption_of(p: &Value) -> Result<String, (u16, Value)> {
    let caption = p["caption"].as_str().unwrap_or_default().to_owned();
    if caption.chars().count() > 1024 {
        return Err(bad_request("message caption is too long"));
    }
    if p["parse_mode"].as_str() == Some("HTML") {
        check_html(&caption).map_err(|e| bad_request(&format!("can't parse entities: {e}")))?;
    }
    Ok(caption)
}

fn photo_message_json(m: &ChatMessage) -> Value {
    let photo = m.photo.as_ref().expect("a photo message");
    let mut json = json!({
        "message_id": m.message_id,
        "date": 1_763_700_000,
        "chat": {"id": m.chat_id, "type": "private", "first_name": "Test"},
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Flux", "username": "flux_test_bot"},
    });
    if m.as_file {
        json["document"] = json!({"file_id": format!("sent_document_{}", m.message_id),
                                  "file_unique_id": format!("sd{}", m.message_id),
                                  "file_name": format!("{}.jpg", m.message_id),
                                  "mime_type": "image/jpeg",
                                  "file_size": photo.bytes.len()});
    } else {
        json["photo"] = json!([{"file_id": format!("sent_photo_{}", m.message_id),
                   "file_unique_id": format!("sp{}", m.message_id),
                   "width": photo.width, "height": photo.height,
                   "file_size": photo.bytes.len()}]);
    }
    if !m.text.is_empty() {
        json["caption"] = json!(m.text);
    }
    if let Some(group) = &m.media_group_id {
        json["media_group_id"] = json!(group);
    }
    json
}

/// Checks a message's text and keyboard the way Telegram does; returns them.
#[allow(clippy::type_complexity)]
fn validate_message(p: &Value) -> Result<(String, Vec<Vec<(String, String)>>), (u16, Value)> {
    let text = p["text"].as_str().unwrap_or_default().to_owned();
    if text.trim().is_empty() {
        return Err(bad_request("message text is empty"));
    }
    if text.chars().count() > 4096 {
        return Err(bad_request("message is too long"));
    }
    if p["parse_mode"].as_str() == Some("HTML") {
        check_html(&text).map_err(|e| bad_request(&format!("can't parse entities: {e}")))?;
    }
    let buttons = validate_keyboard(p)?;
    Ok((text, buttons))
}

/// Checks an inline keyboard the way Telegram does; returns its rows.
#[allow(clippy::type_complexity)]
fn validate_keyboard(p: &Value) -> Result<Vec<Vec<(String, String)>>, (u16, Value)> {
    let mut buttons = Vec::new();
    if let Some(rows) = p["reply_markup"]["inline_keyboard"].as_array() {
        for row in rows {
            let mut out = Vec::new();
            for b in row.as_array().into_iter().flatten() {
                let data = b["callback_data"].as_str().unwrap_or_default();
                if data.is_empty() || data.len() > 64 {
                    return Err(bad_request("BUTTON_DATA_INVALID"));
                }
                out.push((
                    b["text"].as_str().unwrap_or_default().to_owned(),
                    data.to_owned(),
                ));
            }
            buttons.push(out);
        }
    }
    Ok(buttons)
}

/// Telegram's HTML subset: known tags only, entities only lt/gt/amp/quot.
fn check_html(text: &str) -> Result<(), String> {
    const TAGS: [&str; 9] = [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "code",
        "pre",
        "blockquote",
    ];
    let mut rest = text;
    while let Some(start) = rest.find(['<', '&']) {
        let tail = &rest[start..];
        if tail.starts_with('&') {
            let end = tail.find(';').ok_or("unclosed entity")?;
            if !matches!(&tail[..=end], "&lt;" | "&gt;" | "&amp;" | "&quot;") {
                return Err(format!("unsupported entity {}", &tail[..=end]));
            }
            rest = &tail[end + 1..];
        } else {
            let end = tail.find('>').ok_or("unclosed start tag")?;
            let name = tail[1..end].trim_start_matches('/');
            if !TAGS.contains(&name) {
                return Err(format!("Unsupported start tag \"{name}\""));
            }
            rest = &tail[end + 1..];
        }
    }
    Ok(())
}

/// What Telegram checks of a Stars invoice: title 1-32 and description 1-255 characters,
/// payload 1-128 bytes, currency XTR with no provider token, exactly one price.
fn validate_invoice(p: &Value) -> Result<SentInvoice, (u16, Value)> {
    let text = |name: &str| p[name].as_str().unwrap_or_default().to_owned();
    let (title, description, payload) = (text("title"), text("description"), text("payload"));
    if !(1..=32).contains(&title.chars().count()) {
        return Err(bad_request("INVOICE_TITLE_INVALID"));
    }
    if !(1..=255).contains(&description.chars().count()) {
        return Err(bad_request("INVOICE_DESCRIPTION_INVALID"));
    }
    if !(1..=128).contains(&payload.len()) {
        return Err(bad_request("INVOICE_PAYLOAD_INVALID"));
    }
    if p["currency"] != "XTR" {
        return Err(bad_request("CURRENCY_INVALID"));
    }
    if p["provider_token"].as_str().is_some_and(|t| !t.is_empty()) {
        return Err(bad_request(
            "PROVIDER_TOKEN_INVALID: Stars invoices take no provider token",
        ));
    }
    let prices = p["prices"].as_array().cloned().unwrap_or_default();
    let [price] = prices.as_slice() else {
        return Err(bad_request(
            "STARS_INVOICE_INVALID: exactly one price is allowed",
        ));
    };
    let stars = price["amount"]
        .as_u64()
        .filter(|a| (1..=10_000).contains(a));
    let Some(stars) = stars else {
        return Err(bad_request("INVOICE_AMOUNT_INVALID"));
    };
    Ok(SentInvoice {
        chat_id: p["chat_id"].as_i64().unwrap_or_default(),
        title,
        payload,
        stars: stars as u32,
    })
}

fn message_json(m: &ChatMessage, p: &Value) -> Value {
    let mut json = json!({
        "message_id": m.message_id,
        "date": 1_763_700_000,
        "chat": {"id": m.chat_id, "type": "private", "first_name": "Test"},
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Flux", "username": "flux_test_bot"},
        "text": m.text,
    });
    if !p["reply_markup"].is_null() {
        json["reply_markup"] = p["reply_markup"].clone();
    }
    json
}

/// Builders of Telegram updates as the real server posts them to the webhook.
pub mod updates {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    pub struct User {
        pub id: i64,
        pub language_code: &'static str,
    }

    fn user_json(u: User) -> Value {
        json!({"id": u.id, "is_bot": false, "first_name": "Анна", "username": format!("user{}", u.id),
               "language_code": u.language_code})
    }

    fn message(update_id: u32, u: User, extra: Value) -> Value {
        let mut message = json!({
            "message_id": update_id as i64 + 5000,
            "from": user_json(u),
            "chat": {"id": u.id, "type": "private", "first_name": "Анна", "username": format!("user{}", u.id)},
            "date": 1_763_700_000,
        });
        for (k, v) in extra.as_object().unwrap() {
            message[k] = v.clone();
        }
        json!({"update_id": update_id, "message": message})
    }

    pub fn text(update_id: u32, u: User, text: &str) -> Value {
        let mut extra = json!({"text": text});
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .unwrap()
                .encode_utf16()
                .count();
            extra["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        message(update_id, u, extra)
    }

    /// A compressed photo: Telegram sends a thumbnail and the full size.
    pub fn photo(
        update_id: u32,
        u: User,
        file: &FakeFile,
        (width, height): (u32, u32),
        media_group: Option<&str>,
    ) -> Value {
        let mut extra = json!({"photo": [
            {"file_id": format!("{}_thumb", file.file_id), "file_unique_id": format!("{}t", file.file_unique_id),
             "file_size": 1200, "width": 90, "height": 90 * height / width.max(1)},
            {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
             "file_size": file.size, "width": width, "height": height},
        ]});
        if let Some(group) = media_group {
            extra["media_group_id"] = json!(group);
        }
        message(update_id, u, extra)
    }

    /// An image sent "as a file".
    pub fn document(update_id: u32, u: User, file: &FakeFile, mime: &str, name: &str) -> Value {
        message(
            update_id,
            u,
            json!({"document": {"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                                "file_size": file.size, "mime_type": mime, "file_name": name}}),
        )
    }

    pub fn sticker(update_id: u32, u: User) -> Value {
        message(
            update_id,
            u,
            json!({"sticker": {"file_id": "CAACAgIAAxkBAAEStickerId", "file_unique_id": "AgADStk",
                               "type": "regular", "width": 512, "height": 512,
                               "is_animated": false, "is_video": false}}),
        )
    }

    /// Telegram asks whether the order stands, before taking the user's Stars.
    pub fn pre_checkout_query(
        update_id: u32,
        u: User,
        query: &str,
        stars: u32,
        payload: &str,
    ) -> Value {
        json!({"update_id": update_id, "pre_checkout_query": {
            "id": format!("pcq{query}"),
            "from": user_json(u),
            "currency": "XTR",
            "total_amount": stars,
            "invoice_payload": payload,
        }})
    }

    /// The service message of a completed Stars payment.
    pub fn successful_payment(
        update_id: u32,
        u: User,
        charge_id: &str,
        stars: u32,
        payload: &str,
    ) -> Value {
        message(
            update_id,
            u,
            json!({"successful_payment": {
                "currency": "XTR",
                "total_amount": stars,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }}),
        )
    }

    /// A press on an inline button of the bot's message `message_id`.
    pub fn callback(update_id: u32, u: User, message_id: i32, data: &str) -> Value {
        json!({"update_id": update_id, "callback_query": {
            "id": format!("{}", 900_000_000_000u64 + update_id as u64),
            "from": user_json(u),
            "message": {
                "message_id": message_id,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "Flux", "username": "flux_test_bot"},
                "chat": {"id": u.id, "type": "private", "first_name": "Анна"},
                "date": 1_763_700_000,
                "text": "…",
            },
            "chat_instance": "-1234567890123456789",
            "data": data,
        }})
    }
}
