//! Upscaling a delivered picture, the first kind of paid work added on the engine, through
//! the real handlers (moto, the fake Telegram, the fake fal.ai validating the upscaler's
//! documented input): offered with its price, paid once however often it is tapped, sent to
//! the upscaler with our own copy of the picture, delivered as a file, refunded once when it
//! fails or cannot be delivered, free and simulated in test mode, refused past the daily cap,
//! settled when its avatar is deleted.

use std::time::Duration;

use fluxbot::domain::{Avatar, Generation, GenerationId, OutcomeNotice, WorkKind};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_fal::Submission;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::json;

const ANNA: User = User {
    id: 7_600_001,
    language_code: "en",
};

/// A paying bot: a picture costs 2 credits, an upscale 3.
const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
    ("PRICE_UPSCALE_CREDITS", "3"),
];

const UPSCALER: &str = "fal-ai/seedvr/upscale/image";

async fn grant(w: &PipelineWorld, credits: u64) {
    w.grant(ANNA, credits).await;
}

async fn balance(w: &PipelineWorld) -> u64 {
    w.balance(ANNA).await
}

/// The user's debits (or refunds) for upscales.
async fn upscale_entries(w: &PipelineWorld, refunds: bool) -> usize {
    w.paid_entries(ANNA, WorkKind::Upscale, refunds).await
}

async fn records(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.pipeline
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
}

async fn upscales(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    records(w, avatar)
        .await
        .into_iter()
        .filter(|g| g.kind() == WorkKind::Upscale)
        .collect()
}

fn files_in_chat(w: &PipelineWorld) -> Vec<fluxbot_tests::fake_telegram::ChatMessage> {
    w.bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .filter(|m| m.photo.is_some() && m.as_file)
        .collect()
}

/// Upscales picture `picture` the way a paying user does: its button, then the offer's.
async fn upscale(w: &PipelineWorld, avatar: &Avatar, generation: GenerationId, picture: u8) {
    w.bot
        .tap_newest(ANNA, Callback::Upscale(avatar.id, generation, picture))
        .await;
    w.bot
        .tap_newest(
            ANNA,
            Callback::ConfirmUpscale(avatar.id, generation, picture),
        )
        .await;
}

async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

/// A trained avatar and a delivered generation of two pictures: its id.
async fn delivered(w: &PipelineWorld, prompt: &str) -> (Avatar, GenerationId) {
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let generation = picture_of(w, &avatar, prompt).await;
    (avatar, generation)
}

async fn picture_of(w: &PipelineWorld, avatar: &Avatar, prompt: &str) -> GenerationId {
    let sub = w.prompted(ANNA, avatar, prompt).await;
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    records(w, avatar)
        .await
        .into_iter()
        .find(|g| g.prompt.as_str() == prompt)
        .unwrap()
        .id
}

/// The submission of the one upscale the launch worker sent.
async fn launched(w: &PipelineWorld) -> Submission {
    let before = w.fal.submissions().len();
    drain_queue(w).await;
    let subs = w.fal.submissions();
    assert_eq!(subs.len(), before + 1, "one submission");
    let sub = subs.last().unwrap().clone();
    assert_eq!(sub.endpoint, UPSCALER);
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upscale_is_offered_with_its_price_paid_once_and_delivered_as_a_file() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let (avatar, generation) = delivered(&w, "a lighthouse at dawn").await;
    let summary = w.bot.telegram.last_with_buttons(ANNA.id);
    assert_eq!(&summary.labels()[..2], ["🔍 1", "🔍 2"]);
    let start = balance(&w).await;

    // The second picture: first the offer, with its price, and nothing paid yet.
    let offer_tap = Callback::Upscale(avatar.id, generation, 1);
    assert_eq!(
        w.bot.tap(ANNA, summary.message_id, offer_tap).await.status,
        200
    );
    let offer = w.bot.telegram.last_message(ANNA.id);
    offer
        .says("Upscale picture 2")
        .says("×2")
        .says("Price: <b>3</b> credits");
    assert_eq!(offer.labels(), ["🔍 Upscale ×2", "👤 Back to avatar"]);
    assert_eq!(balance(&w).await, start);
    assert!(upscales(&w, &avatar).await.is_empty());

    // Confirmed twice at once (a double tap): one upscale, paid once.
    let confirm = Callback::ConfirmUpscale(avatar.id, generation, 1);
    let (a, b) = futures::join!(
        w.bot.tap(ANNA, offer.message_id, confirm),
        w.bot.tap(ANNA, offer.message_id, confirm)
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(upscales(&w, &avatar).await.len(), 1, "one upscale");
    assert_eq!(upscale_entries(&w, false).await, 1, "one debit");
    assert_eq!(balance(&w).await, start - 3);
    w.bot
        .telegram
        .message(ANNA.id, offer.message_id)
        .says("Upscaling a picture");

    // The upscaler gets our own copy of the second picture, readable at its URL.
    let sub = launched(&w).await;
    assert!(
        w.fal.refused_inputs().is_empty(),
        "{:?}",
        w.fal.refused_inputs()
    );
    assert_eq!(sub.input["upscale_mode"], "factor");
    assert_eq!(sub.input["upscale_factor"], 2);
    let url = sub.input["image_url"].as_str().unwrap();
    assert!(url.contains(&format!("/{generation}/2.jpg")), "{url}");
    let source = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        imagesize::blob_size(&source)
            .map(|s| (s.width, s.height))
            .unwrap(),
        (768, 1024),
        "the kept picture itself"
    );

    // Its result comes as a file, once, however often fal delivers it.
    let result = w.fal.upscale_result(&sub.request_id, 1536, 2048);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200, "fal retries");
    let files = files_in_chat(&w);
    assert_eq!(files.len(), 1, "the file once");
    let photo = files[0].photo.as_ref().unwrap();
    assert_eq!(
        (photo.width, photo.height),
        (1536, 2048),
        "not recompressed"
    );
    files[0].says("×2 · a lighthouse at dawn");
    w.bot
        .telegram
        .message(ANNA.id, offer.message_id)
        .says("upscaled ×2: the file is below");
    let done = upscales(&w, &avatar).await.remove(0);
    assert_eq!(done.state.status().as_str(), "completed");
    assert_eq!(done.notice, OutcomeNotice::Sent);
    assert_eq!(upscale_entries(&w, true).await, 0, "nothing refunded");
    assert_eq!(balance(&w).await, start - 3);
    // The Balance screen names it.
    w.bot.say(ANNA, "/balance").await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("One picture upscaled: 3 credit(s)")
        .says("an upscale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_undeliverable_upscale_is_refunded_once() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let (avatar, generation) = delivered(&w, "a paper boat").await;
    let start = balance(&w).await;

    // fal reports an error: refunded once, said in place of "upscaling...".
    upscale(&w, &avatar, generation, 0).await;
    let status = w.bot.telegram.last_message(ANNA.id).message_id;
    let sub = launched(&w).await;
    assert_eq!(
        w.deliver_error(&sub, "upscaler out of memory").await.status,
        200
    );
    let told = w.bot.telegram.message(ANNA.id, status);
    told.says("could not be upscaled")
        .says("3 credits are back on your balance");
    assert_eq!(balance(&w).await, start);

    // Telegram refuses the file for good: refunded once, said.
    let refused = json!({"ok": false, "error_code": 400,
                         "description": "Bad Request: file is too big"});
    upscale(&w, &avatar, generation, 1).await;
    let status = w.bot.telegram.last_message(ANNA.id).message_id;
    let sub = launched(&w).await;
    w.bot.telegram.inject_error("sendDocument", 400, refused);
    let result = w.fal.upscale_result(&sub.request_id, 1536, 2048);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    w.bot
        .telegram
        .message(ANNA.id, status)
        .says("Telegram refused the file")
        .says("3 credits are back on your balance");
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(upscale_entries(&w, true).await, 2, "each refunded once");
    assert_eq!(balance(&w).await, start);
    assert!(files_in_chat(&w).is_empty());
}

/// A picture that is not kept (withheld by the safety filter) is not offered, and a forged
/// tap for it is refused before anything is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_kept_pictures_can_be_upscaled() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let sub = w.prompted(ANNA, &avatar, "a paper crane").await;
    let result = w.fal.generation_result(&sub.request_id, &[true, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let summary = w.bot.telegram.last_with_buttons(ANNA.id);
    assert_eq!(summary.labels()[0], "🔍 Upscale", "one picture, one button");
    let generation = records(&w, &avatar).await[0].id;
    let start = balance(&w).await;
    let forged = w
        .bot
        .tap(
            ANNA,
            summary.message_id,
            Callback::ConfirmUpscale(avatar.id, generation, 0),
        )
        .await;
    assert_eq!(
        forged.json()["text"],
        "This picture is no longer kept, so it cannot be upscaled."
    );
    let stranger = w
        .bot
        .tap(
            ANNA,
            summary.message_id,
            Callback::ConfirmUpscale(avatar.id, GenerationId::new(), 1),
        )
        .await;
    assert_eq!(stranger.status, 200);
    assert!(upscales(&w, &avatar).await.is_empty());
    assert_eq!(balance(&w).await, start);
}

/// In test mode nothing reaches fal.ai and nothing is paid: the upscale comes back as a
/// bigger placeholder through the same completion path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upscale_in_test_mode_is_simulated_and_free() {
    let w = PipelineWorld::new(true).await;
    // Simulated results come as jobs delayed by the mock durations (1 s here).
    let run = || async { while w.run_queue(&w.pipeline, Duration::from_secs(3)).await.0 > 0 {} };
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    run().await;
    w.bot.say(ANNA, "/generate").await;
    w.bot.say(ANNA, "a lighthouse").await;
    run().await;
    let generation = records(&w, &avatar).await[0].clone();
    assert_eq!(generation.state.status().as_str(), "completed");
    // A free bot: the tap upscales at once.
    w.bot
        .tap_newest(ANNA, Callback::Upscale(avatar.id, generation.id, 0))
        .await;
    run().await;
    assert!(w.fal.submissions().is_empty(), "nothing reached fal.ai");
    let files = files_in_chat(&w);
    assert_eq!(files.len(), 1);
    let photo = files[0].photo.as_ref().unwrap();
    assert_eq!(
        (photo.width, photo.height),
        (384, 512),
        "twice the 3:4 placeholder"
    );
    assert_eq!(
        upscales(&w, &avatar).await[0].state.status().as_str(),
        "completed"
    );
}

/// The daily spend cap counts an upscale at the upscaler's price per megapixel of output:
/// SeedVR2 at $0.001, ×2 of 768 x 1024 is about $0.0032, past a cap of $0.003.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upscale_past_the_daily_cap_is_refused_unpaid() {
    let w = PipelineWorld::with_env(
        false,
        &[
            ("SPEND_CAP_USD_PER_DAY", "0.003"),
            ("COST_TRAINING_USD_FAST", "0"),
            ("COST_IMAGE_USD", "0"),
        ],
    )
    .await;
    let (avatar, generation) = delivered(&w, "a red kite").await;
    w.bot
        .tap_newest(ANNA, Callback::Upscale(avatar.id, generation, 0))
        .await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("reached its budget for today");
    assert!(upscales(&w, &avatar).await.is_empty());
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), before, "nothing submitted");
}

/// Deleting the avatar settles its upscales like any paid work: one never sent to fal.ai is
/// refunded, and nothing is submitted afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_avatar_refunds_an_upscale_that_never_ran() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let (avatar, generation) = delivered(&w, "a quiet harbour").await;
    let start = balance(&w).await;
    upscale(&w, &avatar, generation, 0).await;
    assert_eq!(balance(&w).await, start - 3);
    w.bot.tap_newest(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Delete(avatar.id)).await;
    let data = Callback::ConfirmDelete(avatar.id).encode();
    w.bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .find(|m| m.buttons.iter().flatten().any(|(_, d)| *d == data))
        .unwrap()
        .says("its 3 credit(s) returned");
    w.bot
        .tap_newest(ANNA, Callback::ConfirmDelete(avatar.id))
        .await;
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), before, "nothing submitted");
    assert_eq!(upscale_entries(&w, true).await, 1, "refunded once");
    assert_eq!(balance(&w).await, start);
}
