//! The local runner against the fake Telegram (long polling), on the embedded backend in a
//! temporary folder, in test mode: a whole avatar, from /start to "trained and ready", then
//! placeholder pictures for a prompt, then a restart that finds everything where it was.

use std::time::Duration;

use fluxbot::config::EnvReader;
use fluxbot::domain::Limits;
use fluxbot::domain::{AvatarStatus, UserId};
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::settings::{FalSettings, FalWebhooks};
use fluxbot::fal::training::TrainingSettings;
use fluxbot::telegram::settings::TelegramSettings;
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
    config_with(
        telegram,
        &[
            ("AVATAR_TEST_MODE", "true".to_owned()),
            ("FAL_MOCK_TRAINING_DURATION", "1".to_owned()),
            ("FAL_MOCK_GENERATION_DURATION", "1".to_owned()),
            // Nothing listens there: the health check reports fal's keys unreachable at once.
            (
                "FAL_JWKS_URL",
                "http://127.0.0.1:9/.well-known/jwks.json".to_owned(),
            ),
        ],
    )
}

fn config_with(telegram: &FakeTelegram, extra: &[(&str, String)]) -> LocalConfig {
    let mut pairs = vec![
        ("TELEGRAM_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram.url()),
        ("PHOTOS_MIN_STYLE", "2".to_owned()),
    ];
    pairs.extend(extra.iter().cloned());
    let (telegram, fal, webhooks, limits, training, generation) = EnvReader::from_pairs(pairs)
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

/// With a real key the laptop cannot be reached by fal.ai: the archive goes to fal's storage
/// (initiate, then PUT), asked to expire, and the trainer gets that URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fal_key_archives_are_uploaded_to_fal_storage() {
    fluxbot_tests::init_tracing();
    use fluxbot::domain::{
        Avatar, AvatarEvent, AvatarKind, AvatarName, ContentHash, Gender, ImageFormat, Photo,
        Preset, Timestamp, blob_keys,
    };
    let telegram = FakeTelegram::start().await;
    let fal = fluxbot_tests::fake_fal::FakeFal::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = LocalBot::open(
        dir.path(),
        config_with(
            &telegram,
            &[
                ("FAL_KEY", fluxbot_tests::fake_fal::FAL_KEY.to_owned()),
                ("FAL_QUEUE_URL", fal.queue_url()),
                ("FAL_REST_URL", fal.queue_url()),
                ("FAL_JWKS_URL", fal.jwks_url()),
                (
                    "FAL_WEBHOOK_SECRET",
                    "local-secret-0123456789abcdef0123".to_owned(),
                ),
            ],
        ),
    )
    .unwrap();
    // An avatar as the conversation leaves it when the user confirms: 10 photos, queued.
    let (store, blobs) = (&bot.pipeline.store, &bot.pipeline.blobs);
    let now = Timestamp::now();
    let draft = Avatar::draft(
        UserId(EVA.id),
        AvatarKind::Portrait,
        Gender::Female,
        AvatarName::parse("Eva").unwrap(),
        Preset::Fast,
        now,
    );
    let avatar = store.create_avatar(&draft).await.unwrap();
    let avatar = store
        .update_avatar(&avatar.apply(AvatarEvent::BeginPhotos, now).unwrap())
        .await
        .unwrap();
    for i in 0..10u8 {
        let jpeg = images::jpeg(640, 800, i * 7);
        let key = blob_keys::photo(avatar.owner, avatar.id, &format!("f{i}"), ImageFormat::Jpeg);
        blobs
            .put(
                &key,
                Box::pin(std::io::Cursor::new(jpeg.clone())),
                "image/jpeg",
            )
            .await
            .unwrap();
        let photo = Photo {
            avatar_id: avatar.id,
            owner: avatar.owner,
            file_unique_id: format!("f{i}"),
            file_id: format!("file-{i}"),
            blob_key: key,
            content_hash: ContentHash::of(&jpeg),
            format: ImageFormat::Jpeg,
            width: 640,
            height: 800,
            size_bytes: jpeg.len() as u64,
            added_at: now,
        };
        store.add_photo(&photo, 20).await.unwrap();
    }
    let avatar = store
        .get_avatar(avatar.owner, avatar.id)
        .await
        .unwrap()
        .unwrap();
    let avatar = store
        .update_avatar(&avatar.apply(AvatarEvent::MinimumReached, now).unwrap())
        .await
        .unwrap();
    store
        .update_avatar(&avatar.apply(AvatarEvent::Enqueue, now).unwrap())
        .await
        .unwrap();

    let job =
        fluxbot::jobs::Job::Launch(fluxbot::domain::WorkRef::training(avatar.owner, avatar.id));
    let outcome = bot.pipeline.run_job(job, Timestamp::now()).await;
    assert_eq!(outcome, fluxbot::pipeline::JobOutcome::Done);
    let sub = fal.submissions().pop().expect("submitted");
    let archive_url = sub.input["images_data_url"].as_str().unwrap();
    assert!(
        archive_url.starts_with(&format!("{}/files/uploads/", fal.cdn_origin())),
        "on fal's CDN, not on localhost: {archive_url}"
    );
    let uploads = fal.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].completed && !uploads[0].multipart);
    assert_eq!(uploads[0].content_type, "application/zip");
    assert_eq!(
        uploads[0].lifecycle.as_deref(),
        Some(r#"{"expiration_duration_seconds":86400}"#),
        "fal is asked to expire it"
    );
    let zip_bytes = reqwest::get(archive_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 10);
    let training = store
        .get_avatar(avatar.owner, avatar.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(training.status(), AvatarStatus::Training);
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

/// A paying bot on a laptop, in test mode: long polling asks for pre-checkout queries, answers
/// them by a call (there is no webhook response to carry it), and a payment is credited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stars_purchases_work_over_long_polling() {
    fluxbot_tests::init_tracing();
    let telegram = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_with(
        &telegram,
        &[
            ("AVATAR_TEST_MODE", "true".to_owned()),
            ("BILLING", "stars".to_owned()),
            ("CREDIT_PACKS", "60:300".to_owned()),
            (
                "FAL_JWKS_URL",
                "http://127.0.0.1:9/.well-known/jwks.json".to_owned(),
            ),
        ],
    );
    cfg.sweep_every = Duration::from_secs(60);
    let bot = LocalBot::open(dir.path(), cfg).unwrap();
    let store = bot.pipeline.store.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        bot.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    deliver(&telegram, updates::text(1, EVA, "/balance")).await;
    let screen = telegram.last_message(EVA.id);
    let buy = screen.button("60 credits").unwrap().to_owned();
    deliver(
        &telegram,
        updates::callback(2, EVA, screen.message_id, &buy),
    )
    .await;
    let polled = telegram.calls_of("getUpdates");
    assert!(
        polled[0].params["allowed_updates"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("pre_checkout_query")),
        "{:?}",
        polled[0].params
    );
    let invoice = telegram.invoices().pop().expect("an invoice");
    let (pre_checkout, paid) = telegram.pay(&invoice, EVA, "stxLocal1", (3, 4));
    deliver(&telegram, pre_checkout).await;
    wait_for("the pre-checkout answer", || {
        !telegram.calls_of("answerPreCheckoutQuery").is_empty()
    })
    .await;
    let answer = telegram.calls_of("answerPreCheckoutQuery").pop().unwrap();
    assert_eq!(answer.params["ok"], true);
    assert_eq!(answer.params["pre_checkout_query_id"], "pcqstxLocal1");
    deliver(&telegram, paid.clone()).await;
    let mut again = paid;
    again["update_id"] = serde_json::json!(5);
    deliver(&telegram, again).await;
    wait_for("the thanks", || {
        telegram
            .last_message(EVA.id)
            .text
            .contains("60 credits added")
    })
    .await;
    assert_eq!(
        store.balance(UserId(EVA.id)).await.unwrap(),
        fluxbot::domain::Credits(60)
    );
    stop_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
}
