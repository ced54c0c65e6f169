//! The bot under test: the real `telegram-webhook` handler on a backend (moto or embedded),
//! talking to [`FakeTelegram`] through the URL an operator would configure. Updates go in as
//! API Gateway HTTP API (payload 2.0) events, parsed by lambda_http as in production.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use fluxbot::bot::Conversation;
use fluxbot::config::EnvReader;
use fluxbot::domain::Limits;
use fluxbot::domain::{Avatar, UserId, UserProfile};
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::{TelegramSettings, WebhookSecret};
use serde_json::{Value, json};
use telegram_webhook::App;

use crate::backends::Backend;
use crate::fake_telegram::{ChatMessage, FakeTelegram, TOKEN, updates::User};

pub const SECRET: &str = "webhook-secret_for-tests-0123456789";

pub struct BotWorld {
    pub backend: Backend,
    pub telegram: FakeTelegram,
    /// Instances of the telegram-webhook function; updates go to them in turn, as Lambda
    /// hands concurrent requests to separate instances. One unless made by [`Self::fleet`].
    apps: Vec<App>,
    /// What each app was built on, to build it again with other client settings.
    wired: Vec<fluxbot::backend::Backend>,
    limits: Vec<(String, String)>,
    next_update: AtomicU32,
    next_instance: AtomicUsize,
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl BotWorld {
    /// `limits` are extra environment pairs (`PHOTOS_MAX`...) over the defaults.
    pub async fn new(backend: Backend, limits: &[(&str, &str)]) -> Self {
        Self::fleet(backend, limits, 1).await
    }

    /// `instances` independent instances of the function over `backend`'s resources: each
    /// has its own SDK clients (its own connections) and Telegram client, as separate Lambda
    /// processes would; instance 0 runs on `backend` itself.
    pub async fn fleet(backend: Backend, limits: &[(&str, &str)], instances: usize) -> Self {
        crate::init_tracing();
        let telegram = FakeTelegram::start().await;
        let limits: Vec<(String, String)> = limits
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut wired = Vec::with_capacity(instances);
        for i in 0..instances {
            wired.push(if i == 0 {
                backend.wired.clone()
            } else {
                backend.another_instance().await
            });
        }
        let apps = wired
            .iter()
            .map(|w| Self::app_on(w, &telegram, &limits, None))
            .collect();
        Self {
            backend,
            telegram,
            apps,
            wired,
            limits,
            next_update: AtomicU32::new(1000),
            next_instance: AtomicUsize::new(0),
        }
    }

    /// The function as its `main` builds it, on `wired`, with the test configuration.
    fn app_on(
        wired: &fluxbot::backend::Backend,
        telegram: &FakeTelegram,
        limits: &[(String, String)],
        telegram_timeout: Option<std::time::Duration>,
    ) -> App {
        let mut pairs: Vec<(String, String)> = vec![
            ("TELEGRAM_TOKEN".into(), TOKEN.into()),
            ("TELEGRAM_API_URL".into(), telegram.url()),
            ("TELEGRAM_WEBHOOK_SECRET".into(), SECRET.into()),
        ];
        pairs.extend(limits.iter().cloned());
        // No spend cap unless a test sets one: most tests train more than $20's worth.
        let (settings, secret, limits) = EnvReader::from_pairs(pairs)
            .with_default("SPEND_CAP_USD_PER_DAY", "off")
            .load::<(TelegramSettings, WebhookSecret, Limits)>()
            .expect("test configuration is valid");
        let mut client = TelegramClient::new(&settings);
        if let Some(timeout) = telegram_timeout {
            client = client.with_timeout(timeout);
        }
        App::new(secret, Conversation::new(wired, client, limits))
    }

    /// Every instance's Telegram client gives up on a call after `timeout` (teloxide waits
    /// 17 s), so a stalled Bot API call shows within a test.
    pub fn with_telegram_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.apps = self
            .wired
            .iter()
            .map(|w| Self::app_on(w, &self.telegram, &self.limits, Some(timeout)))
            .collect();
        self
    }

    /// How many instances of the function take updates.
    pub fn instances(&self) -> usize {
        self.apps.len()
    }

    /// Asserts that the bot's last message to `user` says `part`; returns it.
    #[track_caller]
    pub fn bot_says(&self, user: User, part: &str) -> ChatMessage {
        let last = self.telegram.last_message(user.id);
        last.says(part);
        last
    }

    /// Asserts that message `message_id` of `user`'s chat (as edited now) says `part`.
    #[track_caller]
    pub fn screen_says(&self, user: User, message_id: i32, part: &str) -> ChatMessage {
        let screen = self.telegram.message(user.id, message_id);
        screen.says(part);
        screen
    }

    pub fn next_update_id(&self) -> u32 {
        self.next_update.fetch_add(1, Ordering::SeqCst)
    }

    /// Posts an API Gateway event with these headers and body to the handler.
    pub async fn post_raw(&self, headers: Value, body: &str) -> Answer {
        let request = apigw_request("POST", "/telegram/webhook", "", headers, body);
        let instance = self.next_instance.fetch_add(1, Ordering::SeqCst) % self.apps.len();
        let response = self.apps[instance].handle(request).await;
        Answer {
            status: response.status().as_u16(),
            body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
        }
    }

    /// /start, Create, kind, gender, name, preset: returns the photo message's id.
    pub async fn create_avatar(&self, user: User, kind: &str, name: &str, preset: &str) -> i32 {
        self.say(user, "/start").await;
        self.press_cb(user, "c").await;
        self.press_cb(user, &format!("k:{kind}")).await;
        self.press_cb(user, "g:female").await;
        self.say(user, name).await;
        self.press_cb(user, &format!("p:{preset}")).await;
        if kind == "portrait" {
            // A person's photos wait for the user's consent, asked in the same message.
            let avatar = self.avatars(user).await.pop().expect("the avatar exists");
            self.press_cb(user, &format!("cs:{}", avatar.id)).await;
        }
        self.telegram.last_message(user.id).message_id
    }

    /// A style avatar taken to its training summary (`ready`) with `photos` fresh photos
    /// (`seed` tells them apart from other avatars'): the summary's message and the avatar.
    pub async fn summary_shown(
        &self,
        user: User,
        name: &str,
        photos: u8,
        seed: u8,
    ) -> (i32, Avatar) {
        let message = self.create_avatar(user, "style", name, "fast").await;
        for n in 0..photos {
            let file = self
                .telegram
                .add_file(crate::images::jpeg(640, 800, seed.wrapping_add(n)), "jpg");
            self.send_photo(user, &file, (640, 800), None).await;
        }
        let avatar = self.avatars(user).await.pop().expect("the avatar exists");
        self.press_data(user, message, &format!("ts:{}", avatar.id))
            .await;
        (message, avatar)
    }

    /// An avatar taken through the whole conversation to `queued`, with `photos` photos.
    pub async fn queued_avatar(
        &self,
        user: User,
        kind: &str,
        name: &str,
        preset: &str,
        photos: u8,
    ) -> Avatar {
        let message = self.create_avatar(user, kind, name, preset).await;
        for seed in 0..photos {
            let file = self
                .telegram
                .add_file(crate::images::jpeg(640, 800, seed.wrapping_mul(13)), "jpg");
            self.send_photo(user, &file, (640, 800), None).await;
        }
        let avatar = self.avatars(user).await.pop().expect("the avatar exists");
        self.press_data(user, message, &format!("ts:{}", avatar.id))
            .await;
        self.press_data(user, message, &format!("tc:{}", avatar.id))
            .await;
        let avatar = self
            .backend
            .store
            .get_avatar(avatar.owner, avatar.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(avatar.status(), fluxbot::domain::AvatarStatus::Queued);
        avatar
    }

    /// Posts an update as Telegram does, with the secret header.
    pub async fn post(&self, update: &Value) -> Answer {
        self.post_raw(
            json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET}),
            &update.to_string(),
        )
        .await
    }

    /// Posts an update and insists on 200.
    pub async fn deliver(&self, update: &Value) -> Answer {
        let answer = self.post(update).await;
        assert_eq!(answer.status, 200, "update {update} -> {answer:?}");
        answer
    }

    pub async fn say(&self, user: User, text: &str) -> Answer {
        let id = self.next_update_id();
        self.deliver(&crate::fake_telegram::updates::text(id, user, text))
            .await
    }

    /// Presses the button whose label contains `label` on the bot's message `message_id`.
    pub async fn press(&self, user: User, message_id: i32, label: &str) -> Answer {
        let message = self.telegram.message(user.id, message_id);
        let data = message
            .button(label)
            .unwrap_or_else(|| panic!("no button {label:?} in {message:#?}"))
            .to_owned();
        self.press_data(user, message_id, &data).await
    }

    /// Presses on the last message the bot sent to the user.
    pub async fn press_last(&self, user: User, label: &str) -> Answer {
        let last = self.telegram.last_message(user.id);
        self.press(user, last.message_id, label).await
    }

    /// Presses the button with callback data `data`, which must be on the bot's last message.
    pub async fn press_cb(&self, user: User, data: &str) -> Answer {
        let last = self.telegram.last_message(user.id);
        assert!(
            last.buttons.iter().flatten().any(|(_, d)| d == data),
            "no button {data:?} on the last message {last:#?}"
        );
        self.press_data(user, last.message_id, data).await
    }

    /// Sends a compressed photo (a fresh JPEG of `size` unless `file` is given).
    pub async fn send_photo(
        &self,
        user: User,
        file: &crate::fake_telegram::FakeFile,
        size: (u32, u32),
        album: Option<&str>,
    ) -> Answer {
        let id = self.next_update_id();
        self.deliver(&crate::fake_telegram::updates::photo(
            id, user, file, size, album,
        ))
        .await
    }

    /// Taps the button `callback` on the bot's message `message_id`, as Telegram sends it.
    pub async fn tap(
        &self,
        user: User,
        message_id: i32,
        callback: fluxbot::telegram::callback::Callback,
    ) -> Answer {
        self.press_data(user, message_id, &callback.encode()).await
    }

    /// Taps `callback` on the newest message that carries it (a summary above its pictures, a
    /// card shown in place of a summary).
    pub async fn tap_newest(
        &self,
        user: User,
        callback: fluxbot::telegram::callback::Callback,
    ) -> Answer {
        let data = callback.encode();
        let message = self
            .telegram
            .chat(user.id)
            .into_iter()
            .rev()
            .find(|m| m.buttons.iter().flatten().any(|(_, d)| *d == data))
            .unwrap_or_else(|| panic!("no message carries {callback:?}"));
        self.press_data(user, message.message_id, &data).await
    }

    /// Taps `callback`, which must be a button of the bot's last message.
    pub async fn tap_last(
        &self,
        user: User,
        callback: fluxbot::telegram::callback::Callback,
    ) -> Answer {
        self.press_cb(user, &callback.encode()).await
    }

    pub async fn press_data(&self, user: User, message_id: i32, data: &str) -> Answer {
        let id = self.next_update_id();
        let answer = self
            .deliver(&crate::fake_telegram::updates::callback(
                id, user, message_id, data,
            ))
            .await;
        let body = answer.json();
        assert_eq!(
            body["method"], "answerCallbackQuery",
            "every callback is answered: {answer:?}"
        );
        assert_eq!(
            body["callback_query_id"],
            format!("{}", 900_000_000_000u64 + id as u64)
        );
        answer
    }

    pub async fn profile(&self, user: User) -> Option<UserProfile> {
        self.backend.store.get_user(UserId(user.id)).await.unwrap()
    }

    pub async fn avatars(&self, user: User) -> Vec<Avatar> {
        self.backend
            .store
            .list_avatars(UserId(user.id))
            .await
            .unwrap()
    }
}

/// An API Gateway HTTP API (payload 2.0) event, parsed by lambda_http as in production.
pub fn apigw_request(
    method: &str,
    path: &str,
    query: &str,
    headers: Value,
    body: &str,
) -> lambda_http::Request {
    let event = apigw_event(method, path, query, headers, body);
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

/// The API Gateway HTTP API (payload 2.0) event Lambda hands a function for this request.
pub fn apigw_event(method: &str, path: &str, query: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "fluxapi",
            "domainName": "fluxapi.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "fluxapi",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "149.154.167.220", "userAgent": ""},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "21/Nov/2026:07:00:00 +0000",
            "timeEpoch": 1_795_244_400_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}
