//! Hostile input, property-based: thousands of random and malformed inputs at the parsers and
//! through the real handlers. Nothing panics; the webhook answers 2xx or 4xx as appropriate
//! (never a 5xx that would make Telegram or fal retry garbage); rejected input writes nothing.
//! `HOSTILE_CASES` sets the number of cases per property (default 256).

use std::sync::OnceLock;

use fluxbot::config::EnvReader;
use fluxbot::domain::Limits;
use fluxbot::domain::{AvatarName, Pack, Prompt, Usd, UserId};
use fluxbot::fal::settings::{FalSettings, FalWebhooks};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::backends;
use fluxbot_tests::bot_world::{BotWorld, SECRET};
use fluxbot_tests::pipeline_world::PipelineWorld;
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases() -> u32 {
    fluxbot_tests::size("HOSTILE_CASES", 256) as u32
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One runtime for the handler cases, which proptest drives synchronously.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The bot on the embedded backend (fast; the AWS adapters are covered elsewhere), paying, so
/// the pre-checkout and payment paths are in play.
fn bot() -> &'static BotWorld {
    static BOT: OnceLock<BotWorld> = OnceLock::new();
    BOT.get_or_init(|| {
        runtime().block_on(async {
            BotWorld::new(
                backends::embedded().await,
                &[("BILLING", "stars"), ("CREDIT_PACKS", "60:300")],
            )
            .await
        })
    })
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("update_id".to_owned()),
                    Just("message".to_owned()),
                    Just("callback_query".to_owned()),
                    Just("pre_checkout_query".to_owned()),
                    Just("from".to_owned()),
                    Just("chat".to_owned()),
                    Just("text".to_owned()),
                    Just("id".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A user of the hostile cases: ids far from every other test's.
fn user_id() -> impl Strategy<Value = i64> {
    prop_oneof![
        8_000_000i64..8_000_100,
        Just(0i64),
        Just(-1i64),
        Just(i64::MAX)
    ]
}

/// Updates with the right skeleton and hostile contents: texts, commands, callback data,
/// pre-checkout queries and payments with random strings and numbers.
fn shaped_update() -> impl Strategy<Value = Value> {
    let text = ".{0,300}";
    (
        0u32..5,
        user_id(),
        text,
        any::<i64>(),
        any::<u32>(),
        ".{0,10}",
    )
        .prop_map(|(kind, user, text, number, amount, currency)| {
            let from = json!({"id": user, "is_bot": false, "first_name": text.chars().take(5).collect::<String>(),
                              "language_code": currency});
            let chat = json!({"id": user, "type": "private", "first_name": "x"});
            let update_id = (number & 0x7fff_ffff) as i32;
            match kind {
                0 => json!({"update_id": update_id, "message": {"message_id": 1, "date": 1,
                            "from": from, "chat": chat, "text": text}}),
                1 => json!({"update_id": update_id, "message": {"message_id": 1, "date": 1,
                            "from": from, "chat": chat, "text": format!("/{text}")}}),
                2 => json!({"update_id": update_id, "callback_query": {"id": "q", "from": from,
                            "chat_instance": "c", "data": text,
                            "message": {"message_id": number as i32, "date": 1, "chat": chat, "text": "…"}}}),
                3 => json!({"update_id": update_id, "pre_checkout_query": {"id": text, "from": from,
                            "currency": currency, "total_amount": amount, "invoice_payload": text}}),
                _ => json!({"update_id": update_id, "message": {"message_id": 1, "date": 1,
                            "from": from, "chat": chat,
                            "successful_payment": {"currency": currency, "total_amount": amount,
                                "invoice_payload": text, "telegram_payment_charge_id": text,
                                "provider_payment_charge_id": ""}}}),
            }
        })
}

fn post_telegram(body: &str) -> (u16, String) {
    let w = bot();
    let answer = runtime().block_on(w.post_raw(
        json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET}),
        body,
    ));
    (answer.status, answer.body)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn callback_data_parses_or_is_refused_and_round_trips(data in ".{0,80}") {
        if let Some(callback) = Callback::parse(&data) {
            let encoded = callback.encode();
            prop_assert!(encoded.len() <= 64);
            prop_assert_eq!(Callback::parse(&encoded), Some(callback));
        }
    }

    #[test]
    fn user_strings_never_panic_the_parsers(s in ".{0,200}") {
        let _ = Pack::from_payload(&s);
        let _ = Usd::parse(&s);
        let _ = Prompt::parse(&s);
        let _ = AvatarName::parse(&s);
    }

    #[test]
    fn configuration_values_are_read_or_refused(
        name in prop::sample::select(vec![
            "BILLING", "CREDIT_PACKS", "PRICE_IMAGE_CREDITS", "PRICE_TRAINING_CREDITS_FAST",
            "SPEND_CAP_USD_PER_DAY", "COST_IMAGE_USD", "BOT_ACCESS", "ALLOWED_USER_IDS",
            "ADMIN_USER_IDS", "PHOTOS_MAX", "GENERATIONS_PER_HOUR", "FAL_TRAINING_TIMEOUT",
            "FAL_WEBHOOK_SECRET", "FAL_WEBHOOK_URL", "FAL_RESULT_HOSTS", "FAL_MODEL_URL_TTL",
            "FAL_OBJECT_EXPIRATION", "AVATAR_TEST_MODE",
        ]),
        value in ".{0,60}",
    ) {
        let pairs = [(name.to_owned(), value.clone()), ("AVATAR_TEST_MODE".to_owned(), "true".to_owned())];
        let loaded = EnvReader::from_pairs(pairs).load::<(Limits, FalSettings, FalWebhooks)>();
        if let Err(e) = loaded {
            // A refusal names what is wrong.
            prop_assert!(!e.issues.is_empty());
        }
    }

    #[test]
    fn random_bytes_are_refused_with_400(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let body = String::from_utf8_lossy(&body).into_owned();
        let (status, _) = post_telegram(&body);
        prop_assert_eq!(status, 400);
    }

    #[test]
    fn random_json_is_refused_or_ignored_never_a_5xx(value in any_json()) {
        let (status, _) = post_telegram(&value.to_string());
        prop_assert!(status == 200 || status == 400, "{} for {}", status, value);
    }

    #[test]
    fn hostile_contents_of_real_shapes_are_answered(update in shaped_update()) {
        let (status, body) = post_telegram(&update.to_string());
        prop_assert!(status == 200 || status == 400, "{} for {}", status, update);
        // A query Telegram's types cannot hold (a negative user id...) is ignored like any
        // unknown update; a readable one is answered, and only our packs pass.
        if update.get("pre_checkout_query").is_some() && !body.is_empty() {
            let answer: Value = serde_json::from_str(&body).unwrap();
            prop_assert_eq!(&answer["method"], "answerPreCheckoutQuery");
            prop_assert_eq!(&answer["ok"], false);
        }
        if let Some(paid) = update["message"].get("successful_payment") {
            // A payload of ours names credits:<n>:<stars>; nothing random credits anything
            // (a payment matching no pack is recorded at 0, for its refund).
            let payer = UserId(update["message"]["from"]["id"].as_i64().unwrap());
            let balance = runtime().block_on(bot().backend.store.balance(payer)).unwrap();
            let ours = paid["invoice_payload"].as_str().is_some_and(|p| p.starts_with("credits:"));
            prop_assert!(balance.get() == 0 || ours, "{} credited for {}", balance, update);
        }
    }
}

/// fal.ai's webhook with random headers and bodies: refused (401/400) before anything is read
/// from the table or fetched; a signed one for a request we never made is ignored.
#[test]
fn hostile_fal_webhooks_are_refused() {
    let w = runtime().block_on(PipelineWorld::new(false));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases() / 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::collection::btree_map(
            prop_oneof![
                Just("x-fal-webhook-request-id".to_owned()),
                Just("x-fal-webhook-user-id".to_owned()),
                Just("x-fal-webhook-timestamp".to_owned()),
                Just("x-fal-webhook-signature".to_owned()),
                Just("content-type".to_owned()),
                "[a-z-]{1,20}"
            ],
            "[ -~]{0,140}",
            0..6,
        ),
        ".{0,400}",
        "[a-z=&0-9%]{0,80}",
    );
    runner
        .run(&strategy, |(headers, body, query)| {
            let headers = Value::Object(
                headers
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            );
            let url = format!("{}?{query}", fluxbot_tests::pipeline_world::WEBHOOK_URL);
            let answer = runtime().block_on(w.post_webhook(&url, headers, &body));
            prop_assert!(
                (400..500).contains(&answer.status),
                "{} {}",
                answer.status,
                answer.body
            );
            Ok(())
        })
        .unwrap();
    assert!(w.fal.submissions().is_empty());
}

/// A body past the limit is refused with 413 before it is parsed: an update padded past
/// 256 KB (with the right secret, so only its size stops it) leaves no trace, and a fal.ai
/// webhook past 1 MB signed with fal's real key is refused before its signature is hashed.
#[test]
fn oversized_bodies_are_refused_before_they_are_parsed() {
    let w = bot();
    let pad = "x".repeat(telegram_webhook::MAX_UPDATE_BYTES);
    let update = fluxbot_tests::fake_telegram::updates::text(
        w.next_update_id(),
        fluxbot_tests::fake_telegram::updates::User {
            id: 9_400_001,
            language_code: "en",
        },
        &pad,
    );
    let (status, body) = post_telegram(&update.to_string());
    assert_eq!(status, 413, "{body}");
    let stored = runtime()
        .block_on(w.backend.store.get_user(fluxbot::domain::UserId(9_400_001)))
        .unwrap();
    assert!(stored.is_none(), "nothing written for a refused body");

    let p = runtime().block_on(PipelineWorld::new(false));
    let payload = json!({"images": [{"url": "x".repeat(fal_webhook::MAX_WEBHOOK_BYTES)}]});
    let body = fluxbot_tests::fake_fal::ok_webhook(
        "0192a1b2-0000-7000-8000-000000000001",
        &payload.to_string(),
    );
    let headers = p.fal.signed_headers(
        "0192a1b2-0000-7000-8000-000000000001",
        &body,
        fluxbot::domain::Timestamp::now().as_secs(),
    );
    let answer = runtime().block_on(p.post_webhook(
        fluxbot_tests::pipeline_world::WEBHOOK_URL,
        headers,
        &body,
    ));
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(p.fal.status_queries().is_empty(), "nothing fetched for it");
}
