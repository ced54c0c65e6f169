//! Restyling the user's own photo, a kind of paid work on the engine, through the real
//! handlers (moto, the fake Telegram, the fake fal.ai validating image-to-image's documented
//! input): the photo is checked as a training photo is, redrawn by the avatar's LoRA with
//! our own presigned copy of it, delivered, and its copy deleted once the work is over; paid
//! once per tap, refunded once on failure, simulated and free in test mode.

use std::time::Duration;

use fluxbot::domain::{Avatar, Generation, Order, WorkKind};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_fal::Submission;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::images;
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 7_700_001,
    language_code: "en",
};

const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
];

const IMAGE_TO_IMAGE: &str = "fal-ai/flux-lora/image-to-image";

async fn grant(w: &PipelineWorld, credits: u64) {
    w.grant(ANNA, credits).await;
}

async fn balance(w: &PipelineWorld) -> u64 {
    w.balance(ANNA).await
}

/// The user's debits (or refunds) for restyles.
async fn restyle_entries(w: &PipelineWorld, refunds: bool) -> usize {
    w.paid_entries(ANNA, WorkKind::Restyle, refunds).await
}

async fn restyles(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.pipeline
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.kind() == WorkKind::Restyle)
        .collect()
}

async fn source_exists(w: &PipelineWorld, restyle: &Generation) -> bool {
    let key = restyle.restyle_source().unwrap();
    w.pipeline.blobs.size(&key).await.unwrap().is_some()
}

/// The card's "Restyle a photo", then a photo of `width` x `height`.
async fn photo_sent(w: &PipelineWorld, avatar: &Avatar, width: u16, height: u16) {
    w.bot.tap_newest(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Restyle(avatar.id)).await;
    let file = w
        .bot
        .telegram
        .add_file(images::jpeg(width, height, 5), "jpg");
    let answer = w
        .bot
        .send_photo(ANNA, &file, (u32::from(width), u32::from(height)), None)
        .await;
    assert_eq!(answer.status, 200);
}

async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

async fn launched(w: &PipelineWorld) -> Submission {
    let before = w.fal.submissions().len();
    drain_queue(w).await;
    let subs = w.fal.submissions();
    assert_eq!(subs.len(), before + 1, "one submission");
    let sub = subs.last().unwrap().clone();
    assert_eq!(sub.endpoint, IMAGE_TO_IMAGE);
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_redrawn_by_the_avatar_paid_once_and_its_copy_deleted() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let start = balance(&w).await;
    photo_sent(&w, &avatar, 900, 1200).await;
    let styles = w.bot.telegram.last_message(ANNA.id);
    styles
        .says("Pick a style")
        .says("These pictures cost <b>2</b> credits");
    assert!(restyles(&w, &avatar).await.is_empty(), "nothing yet");

    // A style, tapped twice at once: one restyle, paid once.
    let style = Callback::RestyleStyle(avatar.id, 0);
    let (a, b) = futures::join!(
        w.bot.tap(ANNA, styles.message_id, style),
        w.bot.tap(ANNA, styles.message_id, style)
    );
    assert_eq!((a.status, b.status), (200, 200));
    let [restyle] = restyles(&w, &avatar).await.try_into().unwrap();
    assert_eq!(restyle_entries(&w, false).await, 1, "one debit");
    assert_eq!(balance(&w).await, start - 2);
    assert!(matches!(restyle.order, Order::Restyle { .. }));
    assert_eq!(restyle.aspect_ratio.as_str(), "3:4", "the photo's shape");
    assert!(source_exists(&w, &restyle).await, "our copy of the photo");

    // Image-to-image gets our copy (readable at its URL), the LoRA and the trigger phrase.
    let sub = launched(&w).await;
    assert!(
        w.fal.refused_inputs().is_empty(),
        "{:?}",
        w.fal.refused_inputs()
    );
    let url = sub.input["image_url"].as_str().unwrap();
    assert!(url.contains("/photos/"), "{url}");
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        imagesize::blob_size(&bytes)
            .map(|s| (s.width, s.height))
            .unwrap(),
        (900, 1200)
    );
    assert_eq!(sub.input["strength"], 0.85);
    assert_eq!(sub.input["num_images"], 1);
    assert!(
        sub.input["loras"][0]["path"]
            .as_str()
            .unwrap()
            .contains("lora.safetensors")
    );
    let prompt = sub.input["prompt"].as_str().unwrap();
    assert!(
        prompt.starts_with(avatar.trigger_phrase().as_str()),
        "{prompt}"
    );

    // The picture comes once; the photo's copy is gone.
    let result = w.fal.generation_result(&sub.request_id, &[false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200, "fal retries");
    let pictures: Vec<_> = w
        .bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .filter(|m| m.photo.is_some() && !m.as_file)
        .collect();
    assert_eq!(pictures.len(), 1);
    let summary = w.bot.telegram.last_with_buttons(ANNA.id);
    assert_eq!(
        summary.labels(),
        ["🔍 Upscale", "🖼 Restyle a photo", "👤 Back to avatar"]
    );
    let done = restyles(&w, &avatar).await.remove(0);
    assert_eq!(done.state.status().as_str(), "completed");
    assert!(!source_exists(&w, &done).await, "deleted once it is over");
    assert!(done.tidy.is_done());
    assert_eq!(restyle_entries(&w, true).await, 0);
}

/// A typed prompt redraws it too; fal's error refunds it once and deletes the photo; a
/// photo too small for the avatar is refused before anything is paid or kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restyle_is_refunded_and_a_bad_photo_refused_unpaid() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let start = balance(&w).await;

    photo_sent(&w, &avatar, 200, 300).await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("the shortest side must be at least 512 px");
    assert!(restyles(&w, &avatar).await.is_empty());

    photo_sent(&w, &avatar, 800, 800).await;
    w.bot.say(ANNA, "as a knight in shining armour").await;
    let status = w.bot.telegram.last_message(ANNA.id);
    status.says("is redrawing your photo");
    let sub = launched(&w).await;
    assert!(
        sub.input["prompt"]
            .as_str()
            .unwrap()
            .ends_with("as a knight in shining armour")
    );
    assert_eq!(
        w.deliver_error(&sub, "image-to-image failed").await.status,
        200
    );
    w.bot
        .telegram
        .message(ANNA.id, status.message_id)
        .says("could not draw this")
        .says("2 credits are back on your balance");
    let failed = restyles(&w, &avatar).await.remove(0);
    assert_eq!(failed.state.status().as_str(), "failed");
    assert!(!source_exists(&w, &failed).await, "deleted once it is over");
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(restyle_entries(&w, true).await, 1, "refunded once");
    assert_eq!(balance(&w).await, start);
}

/// In test mode nothing reaches fal.ai and nothing is paid; the photo's copy still goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restyle_in_test_mode_is_simulated_and_free() {
    let w = PipelineWorld::new(true).await;
    let run = || async { while w.run_queue(&w.pipeline, Duration::from_secs(3)).await.0 > 0 {} };
    let queued = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    run().await;
    let avatar = w.avatar_now(&queued).await;
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Restyle(avatar.id)).await;
    let file = w.bot.telegram.add_file(images::jpeg(768, 1024, 2), "jpg");
    w.bot.send_photo(ANNA, &file, (768, 1024), None).await;
    w.bot
        .tap_newest(ANNA, Callback::RestyleStyle(avatar.id, 1))
        .await;
    run().await;
    assert!(w.fal.submissions().is_empty(), "nothing reached fal.ai");
    let done = restyles(&w, &avatar).await.remove(0);
    assert_eq!(done.state.status().as_str(), "completed");
    assert!(!source_exists(&w, &done).await);
    let pictures = w
        .bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .filter(|m| m.photo.is_some())
        .count();
    assert_eq!(pictures, 1);
}

/// One of the user's own pictures, picked on the photo question instead of a photo, is
/// redrawn from its own copy; the original stays, the copy goes once the restyle is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_the_users_pictures_is_redrawn_from_its_own_copy() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let sub = w.prompted(ANNA, &avatar, "a lighthouse at dawn").await;
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let generation = w
        .pipeline
        .store
        .list_generations(avatar.id, 1)
        .await
        .unwrap()
        .remove(0);
    let start = balance(&w).await;

    w.bot.tap_newest(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Restyle(avatar.id)).await;
    // Shown in place of the summary (the card's message), above the album.
    let question = w.bot.telegram.last_with_buttons(ANNA.id);
    question.says("Or pick one of your pictures below");
    assert_eq!(
        &question.labels()[..2],
        [
            "🖼 Picture: a lighthouse at dawn",
            "🖼 Picture: a lighthouse at dawn"
        ]
    );
    w.bot
        .tap(
            ANNA,
            question.message_id,
            Callback::RestylePicture(avatar.id, generation.id, 1),
        )
        .await;
    w.bot
        .telegram
        .message(ANNA.id, question.message_id)
        .says("Pick a style");
    w.bot
        .tap_newest(ANNA, Callback::RestyleStyle(avatar.id, 2))
        .await;
    let [restyle] = restyles(&w, &avatar).await.try_into().unwrap();
    assert_eq!(balance(&w).await, start - 2);
    assert!(source_exists(&w, &restyle).await, "its own copy");

    // Image-to-image reads the copy: the picture's very bytes.
    let sub = launched(&w).await;
    assert!(w.fal.refused_inputs().is_empty());
    let copy = reqwest::get(sub.input["image_url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let kept = generation.kept_picture(1).unwrap();
    let original = fluxbot::ports::BlobKey::new(kept.key.to_owned()).unwrap();
    let mut body = w.pipeline.blobs.get(&original).await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut body, &mut bytes)
        .await
        .unwrap();
    assert_eq!(copy.as_ref(), bytes.as_slice());

    let result = w.fal.generation_result(&sub.request_id, &[false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    w.sweeps_at(&[5]).await;
    let restyle = restyles(&w, &avatar).await.remove(0);
    assert!(!source_exists(&w, &restyle).await, "the copy is gone");
    assert!(
        w.pipeline.blobs.size(&original).await.unwrap().is_some(),
        "the original stays"
    );
    // A picture that is not the user's is not found, and nothing is paid.
    let stranger = w
        .bot
        .tap(
            ANNA,
            question.message_id,
            Callback::RestylePicture(avatar.id, fluxbot::domain::GenerationId::new(), 0),
        )
        .await;
    assert_eq!(stranger.status, 200);
    assert_eq!(balance(&w).await, start - 2);
}
