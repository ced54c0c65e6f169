//! The local runner against the fake Telegram (long polling), on the embedded backend in a
//! temporary folder, in test mode: a whole avatar, from /start to "trained and ready", then
//! placeholder pictures for a prompt, then a restart that finds everything where it was.

use std::time::Duration;

use fluxbot::config::{EnvReader, FalSettings, FalWebhooks, Limits, TelegramSettings};
use fluxbot::domain::{AvatarStatus, UserId};
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::training::TrainingSettings;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::fake_telegram::{FakeTelegram, TOKEN};
use fluxbot_tests::images;
use local_runner::{LocalBot, LocalConfig};
use serde_json::Value;

const EVA: User = User {
    id: 5_000_301,
    language_code: "en",
};

fn config(telegram: &FakeTelegram) -> LocalConfig {
    let (telegram, fal, webhooks, limits, training, generation) = EnvReader::from_pairs([
        ("TELEGRAM_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram.url()),
        ("AVATAR_TEST_MODE", "true".to_owned()),
        ("FAL_MOCK_TRAINING_DURATION", "1".to_owned()),
        ("FAL_MOCK_GENERATION_DURATION", "1".to_owned()),
        ("PHOTOS_MIN_STYLE", "2".to_owned()),
        // Nothing listens there: the health check reports fal's keys unreachable at once.
        (
            "FAL_JWKS_URL",
            "http://127.0.0.1:9/.well-known/jwks.json".to_owned(),
        ),
    ])
    .load::<(
        TelegramSettings,
        FalSettings,
        FalWebhooks,
        Limits,
        TrainingSettings,
        GenerationSettings,
    )>()
    .unwrap();
    LocalConfig {
        telegram,
        fal,
        webhooks,
        limits,
        training,
        generation,
        sweep_every: Duration::from_secs(1),
        fal_webhook_addr: "127.0.0.1:0".parse().unwrap(),
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Queues an update for long polling and waits until the runner has taken it.
async fn deliver(telegram: &FakeTelegram, update: Value) {
    let id = update["update_id"].as_i64().unwrap();
    telegram.push_update(update);
    wait_for(&format!("update {id} to be consumed"), || {
        telegram
            .calls_of("getUpdates")
            .iter()
            .any(|c| c.params["offset"].as_i64().unwrap_or(0) > id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_avatar_in_test_mode_over_long_polling_and_a_restart() {
    fluxbot_tests::init_tracing();
    let telegram = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();

    let bot = LocalBot::open(dir.path(), config(&telegram)).unwrap();
    let webhook = format!("http://{}", bot.fal_webhook_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        bot.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    deliver(&telegram, updates::text(1, EVA, "/start")).await;
    assert_eq!(
        telegram.calls()[0].method,
        "deletewebhook",
        "webhook removed first"
    );
    let menu = telegram.last_message(EVA.id).message_id;
    assert!(telegram.message(EVA.id, menu).text.contains("Welcome"));
    let mut id = 1;
    for data in ["c", "k:style", "g:other"] {
        id += 1;
        deliver(&telegram, updates::callback(id, EVA, menu, data)).await;
    }
    assert!(
        !telegram.calls_of("answerCallbackQuery").is_empty(),
        "answered by a call"
    );
    id += 1;
    deliver(&telegram, updates::text(id, EVA, "Ink")).await;
    let photos = telegram.last_message(EVA.id).message_id;
    id += 1;
    deliver(&telegram, updates::callback(id, EVA, photos, "p:fast")).await;
    for seed in 0..2u8 {
        id += 1;
        let file = telegram.add_file(images::jpeg(640, 800, seed), "jpg");
        deliver(&telegram, updates::photo(id, EVA, &file, (640, 800), None)).await;
    }
    let start = telegram
        .message(EVA.id, photos)
        .button("Start training")
        .unwrap()
        .to_owned();
    id += 1;
    deliver(&telegram, updates::callback(id, EVA, photos, &start)).await;
    let confirm = telegram
        .message(EVA.id, photos)
        .button("Confirm")
        .unwrap()
        .to_owned();
    id += 1;
    deliver(&telegram, updates::callback(id, EVA, photos, &confirm)).await;

    // The worker launches (test mode), the simulated result arrives a second later.
    wait_for("the avatar to be ready and the user told", || {
        telegram
            .chat(EVA.id)
            .iter()
            .any(|m| m.text.contains("is trained and ready"))
    })
    .await;

    // And draws: /generate opens the only trained avatar; a prompt brings placeholders.
    id += 1;
    deliver(&telegram, updates::text(id, EVA, "/generate")).await;
    id += 1;
    deliver(&telegram, updates::text(id, EVA, "a lighthouse in ink")).await;
    wait_for("the placeholder pictures", || {
        telegram
            .chat(EVA.id)
            .iter()
            .filter(|m| m.photo.is_some())
            .count()
            == 2
    })
    .await;

    // The fal-webhook handler is served on localhost: health, and signatures checked first.
    let http = reqwest::Client::new();
    let health = http.get(format!("{webhook}/health")).send().await.unwrap();
    assert_eq!(health.status(), 503, "fal's keys are unreachable here");
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["fal_mode"], "test");
    assert_eq!(health["checks"]["table"], "ok");
    let unsigned = http
        .post(format!("{webhook}/fal/webhook"))
        .body(r#"{"request_id":"x","status":"OK","payload":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the runner stops when asked")
        .unwrap()
        .unwrap();

    // A restart on the same folder finds the trained avatar.
    let again = LocalBot::open(dir.path(), config(&telegram)).unwrap();
    let avatars = again
        .conversation
        .store
        .list_avatars(UserId(EVA.id))
        .await
        .unwrap();
    assert_eq!(avatars.len(), 1);
    assert_eq!(avatars[0].status(), AvatarStatus::Completed);
}
