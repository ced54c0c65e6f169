//! Generation end to end: avatars trained through the real conversation and pipeline, then
//! asked for pictures through the Telegram webhook; submissions by the real SQS handler to the
//! fake fal.ai (exact JSON pinned), results by signed webhooks or the sweep, images fetched from
//! fal's (fake) CDN, kept in S3 (moto) and uploaded to the fake Telegram as real multipart.

use std::time::{Duration, Instant};

use fluxbot::domain::{
    Avatar, AvatarStatus, GeneratedImage, Generation, GenerationState, OutcomeNotice, Timestamp,
};
use fluxbot::ports::BlobKey;
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::json;

const ANNA: User = User {
    id: 7_000_101,
    language_code: "en",
};
const OLEG: User = User {
    id: 7_000_102,
    language_code: "ru",
};

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

async fn trained(w: &PipelineWorld, user: User, kind: &str, trainer_result: &str) -> Avatar {
    w.trained_avatar(user, kind, trainer_result).await
}

async fn prompted(
    w: &PipelineWorld,
    user: User,
    avatar: &Avatar,
    prompt: &str,
) -> fluxbot_tests::fake_fal::Submission {
    w.prompted(user, avatar, prompt).await
}

async fn generations(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.bot
        .backend
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
}

/// The photos the user received (in albums or alone), in order.
fn photos_in_chat(w: &PipelineWorld, user: User) -> Vec<fluxbot_tests::fake_telegram::ChatMessage> {
    w.bot
        .telegram
        .chat(user.id)
        .into_iter()
        .filter(|m| m.photo.is_some())
        .collect()
}

fn stored_keys(g: &Generation) -> Vec<BlobKey> {
    match &g.state {
        GenerationState::Completed { output: images, .. } => images
            .iter()
            .filter_map(|i| match i {
                GeneratedImage::Stored { key, .. } => Some(BlobKey::new(key.clone()).unwrap()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portrait_generation_goes_to_flux_lora_and_comes_back_by_webhook_as_an_album() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA, "portrait", "").await;
    let id = avatar.id;
    let lora_url = match &avatar.state {
        fluxbot::domain::AvatarState::Work(fluxbot::domain::WorkState::Completed {
            output,
            ..
        }) => match &output.model {
            fluxbot::domain::TrainedModel::Lora { lora_url, .. } => lora_url.clone(),
            other => panic!("portrait trainers make LoRAs, got {other:?}"),
        },
        _ => unreachable!(),
    };

    // The completion notice -> card (with Generate) -> settings: 9:16, 3 images -> back.
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    let card = w.bot.telegram.last_message(ANNA.id);
    assert!(card.button("Generate").is_some(), "{card:#?}");
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;
    let screen = w.bot.telegram.last_message(ANNA.id);
    assert_eq!(
        screen.buttons.len(),
        4 + 2,
        "8 styles two a row, settings, back"
    );
    screen.says("3:4 · 2 images");
    w.bot.tap_last(ANNA, Callback::GenerationSettings(id)).await;
    w.bot
        .tap_last(
            ANNA,
            Callback::SetRatio(id, fluxbot::domain::AspectRatio::Portrait9x16),
        )
        .await;
    w.bot
        .tap_last(
            ANNA,
            Callback::SetCount(id, fluxbot::domain::ImageCount::try_from(3).unwrap()),
        )
        .await;
    let settings = w.bot.telegram.last_message(ANNA.id);
    assert!(settings.labels().contains(&"✓ 9:16"), "{settings:#?}");
    assert!(settings.labels().contains(&"✓ 3"), "{settings:#?}");
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;

    // A typed prompt, with HTML in it and surrounding spaces.
    let sends_of = |w: &PipelineWorld| {
        ["sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument"]
            .iter()
            .map(|m| w.bot.telegram.calls_of(m).len())
            .sum::<usize>()
    };
    let sends_before = sends_of(&w);
    w.bot.say(ANNA, "  on a <sunny> beach & smiling  ").await;
    let status = w.bot.telegram.last_message(ANNA.id);
    assert!(
        status.text.contains("drawing 3 images (9:16)"),
        "{}",
        status.text
    );
    let pending = generations(&w, &avatar).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].prompt.as_str(), "on a <sunny> beach & smiling");
    let profile = w.bot.profile(ANNA).await.unwrap();
    assert_eq!(profile.generation.num_images.get(), 3, "remembered");

    // fal's retention removes its copy of the LoRA: generating still works, from ours.
    let training_request = w.fal.submissions()[0].request_id.clone();
    w.fal.delete_file(&format!(
        "{training_request}/pytorch_lora_weights.safetensors"
    ));
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    let subs = w.fal.submissions();
    assert_eq!(subs.len(), 2, "the training, then this generation");
    let sub = subs[1].clone();
    assert_eq!(sub.endpoint, "fal-ai/flux-lora");
    // fal is given our copy of the LoRA (presigned now), not its own expiring one; it
    // serves the very bytes the trainer produced.
    let path = sub.input["loras"][0]["path"].as_str().unwrap().to_owned();
    assert_ne!(path, lora_url);
    let served = reqwest::get(&path).await.unwrap();
    assert!(served.status().is_success(), "{}", served.status());
    assert_eq!(
        served.bytes().await.unwrap().to_vec(),
        fluxbot_tests::fake_fal::lora_bytes(&subs[0].request_id)
    );
    assert_eq!(
        sub.input,
        json!({
            "prompt": format!("{} woman, on a <sunny> beach & smiling", avatar.trigger_phrase().as_str()),
            "loras": [{"path": path, "scale": 1.0}],
            "image_size": "portrait_16_9",
            "num_images": 3,
            "output_format": "jpeg",
            "enable_safety_checker": true
        })
    );
    let webhook = sub.webhook.clone().unwrap();
    assert!(
        webhook.contains("kind=generation") && webhook.contains(&format!("work={}", pending[0].id)),
        "{webhook}"
    );

    // fal.ai flags the second of three images.
    let result = w
        .fal
        .generation_result(&sub.request_id, &[false, true, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let albums = w.bot.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.len(), 1);
    let media = albums[0].params["media"].as_array().unwrap().clone();
    assert_eq!(media.len(), 2, "the flagged image is not sent");
    assert_eq!(media[0]["caption"], "on a <sunny> beach & smiling");
    let photos = photos_in_chat(&w, ANNA);
    assert_eq!(photos.len(), 2);
    assert!(photos.iter().all(|p| {
        let photo = p.photo.as_ref().unwrap();
        (photo.width, photo.height) == (768, 1024) && p.media_group_id == photos[0].media_group_id
    }));
    // The "drawing..." message became the summary: two messages in all.
    let summary = w.bot.telegram.last_with_buttons(ANNA.id);
    assert_eq!(summary.message_id, status.message_id);
    summary.says("2 images");
    summary.says("1 hidden");
    // Each picture in the album may be upscaled, numbered as the album shows them.
    assert_eq!(
        summary.labels(),
        [
            "🔍 1",
            "🔍 2",
            "🔁 Again",
            "✏️ New prompt",
            "👤 Back to avatar"
        ]
    );
    assert_eq!(
        sends_of(&w) - sends_before,
        2,
        "\"drawing...\" and the album"
    );

    // Kept in S3 under the avatar; the record is done and told.
    let done = generations(&w, &avatar).await.remove(0);
    assert_eq!(done.notice, OutcomeNotice::Sent);
    let keys = stored_keys(&done);
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert!(
            key.as_str()
                .starts_with(&format!("generations/{}/{id}/", ANNA.id))
        );
        assert!(w.bot.backend.blobs.size(key).await.unwrap().is_some());
    }

    // fal.ai retrying the webhook changes nothing.
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);

    // Again: the same prompt and settings; this time everything is flagged.
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(id)).await; // card, with the history line
    let card = w.bot.telegram.last_message(ANNA.id);
    card.says("Recent pictures");
    card.says("on a &lt;sunny&gt; beach");
    let again = summary.button("Again").unwrap().to_owned();
    w.bot.press_data(ANNA, summary.message_id, &again).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub2 = w.fal.submissions()[2].clone();
    // Exactly, but for a freshly signed URL of the same LoRA copy.
    let unsigned = |input: &serde_json::Value| {
        let mut input = input.clone();
        let path = input["loras"][0]["path"].as_str().unwrap();
        input["loras"][0]["path"] = json!(path.split('?').next().unwrap());
        input
    };
    assert_eq!(
        unsigned(&sub2.input),
        unsigned(&sub.input),
        "Again repeats the request exactly"
    );
    let flagged = w
        .fal
        .generation_result(&sub2.request_id, &[true, true, true]);
    assert_eq!(w.deliver_ok(&sub2, &flagged).await.status, 200);
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
    assert_eq!(w.bot.telegram.calls_of("sendPhoto").len(), 0);
    let told = w.bot.telegram.last_message(ANNA.id);
    told.says("3 hidden");

    // Deleting the avatar deletes its generations and their images.
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Delete(id)).await;
    w.bot.tap_last(ANNA, Callback::ConfirmDelete(id)).await;
    assert!(generations(&w, &avatar).await.is_empty());
    for key in &keys {
        assert_eq!(w.bot.backend.blobs.size(key).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finetuned_style_generation_goes_to_ultra_and_the_sweep_delivers_a_lost_result() {
    let w = PipelineWorld::with_env(false, &[("FAL_STYLE_TRAINER", "flux-pro-trainer")]).await;
    let avatar = trained(&w, OLEG, "style", r#"{"finetune_id":"ft-5a1"}"#).await;
    let id = avatar.id;
    w.bot.tap_last(OLEG, Callback::Card(id)).await;
    w.bot.tap_last(OLEG, Callback::Generate(id)).await;
    let screen = w.bot.telegram.last_message(OLEG.id);
    assert!(
        screen.button("Пейзаж").is_some(),
        "Russian style names: {screen:#?}"
    );
    w.bot.tap_last(OLEG, Callback::Style(id, 0)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    assert_eq!(sub.endpoint, "fal-ai/flux-pro/v1.1-ultra-finetuned");
    assert_eq!(
        sub.input,
        json!({
            "prompt": format!("{} style, a wide mountain landscape with a lake at sunrise", avatar.trigger_phrase().as_str()),
            "finetune_id": "ft-5a1",
            "finetune_strength": 1.2,
            "aspect_ratio": "3:4",
            "num_images": 2,
            "output_format": "jpeg",
            "enable_safety_checker": true,
            "safety_tolerance": "2"
        })
    );

    // The webhook never comes; fal.ai has the result. The sweep leaves young work alone,
    // then fetches the result and delivers it once.
    let report = w
        .pipeline
        .sweep(Timestamp::now(), deadline())
        .await
        .unwrap();
    assert_eq!(report.completed, 0);
    w.fal.complete(
        &sub.request_id,
        &w.fal.generation_result(&sub.request_id, &[false, false]),
    );
    let later = Timestamp::now().plus(Duration::from_secs(180));
    let report = w.pipeline.sweep(later, deadline()).await.unwrap();
    assert_eq!(report.completed, 1, "{report:?}");
    let albums = w.bot.telegram.calls_of("sendMediaGroup");
    assert_eq!(albums.len(), 1);
    assert_eq!(
        albums[0].params["media"][0]["caption"],
        "a wide mountain landscape with a lake at sunrise"
    );
    assert_eq!(photos_in_chat(&w, OLEG).len(), 2);
    let summary = w.bot.telegram.last_with_buttons(OLEG.id);
    summary.says("2 изображения");

    // A late webhook, and another sweep, change nothing.
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let report = w
        .pipeline
        .sweep(later.plus(Duration::from_secs(300)), deadline())
        .await
        .unwrap();
    assert_eq!(report.checked, 0, "nothing left in flight: {report:?}");
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mode_placeholders_limits_and_prompt_validation() {
    let w = PipelineWorld::with_env(
        true,
        &[
            ("MAX_GENERATIONS_IN_FLIGHT", "1"),
            ("GENERATIONS_PER_HOUR", "2"),
        ],
    )
    .await;
    // Nothing trained yet: /generate says so and offers to create an avatar.
    w.bot.say(ANNA, "/generate").await;
    let nudge = w.bot.telegram.last_message(ANNA.id);
    nudge.says("no trained avatars");
    assert_eq!(nudge.button("Create"), Some("c"));
    // Trained in test mode: the launch, then the simulated result a second later.
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(5)).await;
    let avatar = w.avatar_now(&avatar).await;
    assert_eq!(avatar.status(), AvatarStatus::Completed);

    // /generate with one trained avatar opens its screen directly.
    w.bot.say(ANNA, "/generate").await;
    assert!(
        w.bot
            .telegram
            .last_message(ANNA.id)
            .text
            .contains("Pick a style"),
        "{:#?}",
        w.bot.telegram.last_message(ANNA.id)
    );
    // Prompts are validated before anything is recorded.
    w.bot.say(ANNA, &"x".repeat(1001)).await;
    assert!(
        w.bot
            .telegram
            .last_message(ANNA.id)
            .text
            .contains("1001 characters")
    );
    w.bot.say(ANNA, "\u{7}\u{7}").await;
    w.bot.bot_says(ANNA, "empty");
    assert!(generations(&w, &avatar).await.is_empty());

    // One in flight at a time.
    w.bot.say(ANNA, "a red bicycle").await;
    w.bot.say(ANNA, "a blue bicycle").await;
    let refusal = w.bot.telegram.last_message(ANNA.id);
    refusal.says("already have 1 generation");
    assert_eq!(generations(&w, &avatar).await.len(), 1);

    // Test mode: no fal.ai call; placeholders come back through the same delivery.
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(5)).await;
    assert_eq!(w.fal.submissions().len(), 0);
    let photos = photos_in_chat(&w, ANNA);
    assert_eq!(photos.len(), 2, "two placeholder images by default");
    let photo = photos[0].photo.as_ref().unwrap();
    assert_eq!((photo.width, photo.height), (576, 768), "3:4");
    assert_eq!(photos[0].text, "a red bicycle");

    // Two an hour: the second (one picture, sent as a single photo) is allowed, the third is
    // refused with the wait.
    let id = avatar.id;
    w.bot.say(ANNA, "/generate").await;
    w.bot.tap_last(ANNA, Callback::GenerationSettings(id)).await;
    w.bot
        .tap_last(
            ANNA,
            Callback::SetCount(id, fluxbot::domain::ImageCount::try_from(1).unwrap()),
        )
        .await;
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;
    w.bot.say(ANNA, "a green bicycle").await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(5)).await;
    assert_eq!(photos_in_chat(&w, ANNA).len(), 3);
    let single = w.bot.telegram.calls_of("sendPhoto");
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].params["caption"], "a green bicycle");
    w.bot.say(ANNA, "a yellow bicycle").await;
    let refusal = w.bot.telegram.last_message(ANNA.id);
    refusal.says("hourly limit");
    refusal.says("in 60 min");
    assert_eq!(generations(&w, &avatar).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_errors_from_fal_are_told_with_the_buttons() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA, "portrait", "").await;
    let id = avatar.id;
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;

    // A 422 at submit: failed, not retried, told with fal's reason.
    w.fal.reject_next_submit(
        422,
        json!({"detail": [{"loc": ["body", "prompt"], "msg": "Prompt contains forbidden words",
                           "type": "value_error"}]}),
    );
    w.bot.say(ANNA, "something fal will not draw").await;
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "permanent: not retried"
    );
    let told = w.bot.telegram.last_message(ANNA.id);
    told.says("could not draw this");
    told.says("forbidden words");
    assert_eq!(
        told.labels().len(),
        3,
        "Again / New prompt / Back to avatar"
    );

    // An error delivered by webhook: the same.
    w.bot.say(ANNA, "a quiet harbour").await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let answer = w.deliver_error(&sub, "Internal Server Error").await;
    assert_eq!(answer.status, 200);
    let told = w.bot.telegram.last_message(ANNA.id);
    told.says("Internal Server Error");
    let states: Vec<&str> = generations(&w, &avatar)
        .await
        .iter()
        .map(|g| g.state.status().as_str())
        .collect();
    assert_eq!(states, ["failed", "failed"]);
    assert!(photos_in_chat(&w, ANNA).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_for_a_deleted_avatar_is_ignored_and_nothing_is_kept() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA, "portrait", "").await;
    let id = avatar.id;
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;
    w.bot.tap_last(ANNA, Callback::Style(id, 2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    assert!(sub.input["prompt"].as_str().unwrap().contains("anime"));

    // Deleted while fal.ai draws.
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Delete(id)).await;
    w.bot.tap_last(ANNA, Callback::ConfirmDelete(id)).await;
    let gone = w
        .pipeline
        .store
        .get_avatar(avatar.owner, avatar.id)
        .await
        .unwrap();
    assert!(gone.is_none());

    let served_before = w.fal.files_served();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(
        w.fal.files_served(),
        served_before,
        "nothing fetched for a deleted avatar"
    );
    assert!(photos_in_chat(&w, ANNA).is_empty());
    let report = w
        .pipeline
        .sweep(Timestamp::now().plus(Duration::from_secs(600)), deadline())
        .await
        .unwrap();
    assert_eq!(report.checked, 0);
    // The callbacks of the old buttons find nothing.
    let stale = w
        .bot
        .tap(
            ANNA,
            w.bot.telegram.last_message(ANNA.id).message_id,
            Callback::Generate(id),
        )
        .await;
    assert!(
        stale.body.contains("not found") || stale.body.contains("Not found"),
        "{stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_telegram_failed_to_take_are_sent_again_by_the_sweep_from_s3() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA, "portrait", "").await;
    let sub = prompted(&w, ANNA, &avatar, "a lantern in the fog").await;

    // Telegram's flood control holds the album back for a minute when the result arrives:
    // the result is kept, the delivery stays due.
    w.bot.telegram.inject_429("sendMediaGroup", 60);
    let served_before = w.fal.files_served();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert!(photos_in_chat(&w, ANNA).is_empty());
    let fetched = w.fal.files_served();
    assert_eq!(fetched - served_before, 2);
    let due = generations(&w, &avatar).await.remove(0);
    assert!(
        matches!(due.notice, OutcomeNotice::Due { .. }),
        "{:?}",
        due.notice
    );

    // A minute on the sweep leaves it (too young); later the pictures go out from S3.
    let report = w
        .pipeline
        .sweep(Timestamp::now().plus(Duration::from_secs(60)), deadline())
        .await
        .unwrap();
    assert_eq!(report.notices_sent, 0, "{report:?}");
    let report = w
        .pipeline
        .sweep(Timestamp::now().plus(Duration::from_secs(300)), deadline())
        .await
        .unwrap();
    assert_eq!(report.notices_sent, 1, "{report:?}");
    assert_eq!(photos_in_chat(&w, ANNA).len(), 2);
    assert_eq!(
        w.fal.files_served(),
        fetched,
        "not fetched from fal.ai again"
    );
    let sent = generations(&w, &avatar).await.remove(0);
    assert_eq!(sent.notice, OutcomeNotice::Sent);
}

/// An album whose send times out: the pictures are kept and the sweep sends them from S3
/// once the claim lapses. Stuck before Telegram: the user gets the album once; Telegram took it
/// and only the answer was lost: twice (at least once, never lost; the Bot API has no
/// idempotency key). Either way fal.ai is asked once and its files fetched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_whose_send_times_out_is_sent_again_by_the_sweep() {
    for (i, (carried_out, albums)) in [(false, 1), (true, 2)].into_iter().enumerate() {
        let w = PipelineWorld::new(false)
            .await
            .with_telegram_timeout(Duration::from_secs(1));
        let user = User {
            id: 7_000_300 + i as i64,
            language_code: "en",
        };
        let avatar = trained(&w, user, "portrait", "").await;
        let sub = prompted(&w, user, &avatar, "a lantern in the fog").await;
        let submissions = w.fal.submissions().len();

        w.bot
            .telegram
            .stall("sendMediaGroup", Duration::from_secs(5), carried_out);
        let served_before = w.fal.files_served();
        let result = w.fal.generation_result(&sub.request_id, &[false, false]);
        assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
        let due = generations(&w, &avatar).await.remove(0);
        assert!(
            matches!(due.notice, OutcomeNotice::Due { .. }),
            "carried out {carried_out}: {:?}",
            due.notice
        );
        assert_eq!(photos_in_chat(&w, user).len(), 2 * (albums - 1));

        w.sweeps_at(&[1, 3, 6]).await;
        assert_eq!(
            photos_in_chat(&w, user).len(),
            2 * albums,
            "carried out {carried_out}"
        );
        assert_eq!(
            generations(&w, &avatar).await[0].notice,
            OutcomeNotice::Sent
        );
        assert_eq!(w.fal.files_served() - served_before, 2, "fetched once");
        assert_eq!(
            w.fal.submissions().len(),
            submissions,
            "one paid submission"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_write_failing_after_the_generation_is_recorded_does_not_repeat_it() {
    use fluxbot::bot::{Conversation, Processed};
    use fluxbot::config::EnvReader;
    use fluxbot::domain::Limits;
    use fluxbot::telegram::client::TelegramClient;
    use fluxbot::telegram::settings::TelegramSettings;
    use fluxbot_tests::fake_telegram::{TOKEN, updates};
    use fluxbot_tests::flaky_store::FlakyStore;
    use std::sync::Arc;

    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA, "portrait", "").await;
    w.bot.tap_last(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(avatar.id)).await;

    // The same conversation, over a store whose next profile write fails.
    let (telegram, limits) = EnvReader::from_pairs([
        ("TELEGRAM_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", w.bot.telegram.url()),
    ])
    .load::<(TelegramSettings, Limits)>()
    .unwrap();
    let flaky = Arc::new(FlakyStore::failing_save_user(
        w.bot.backend.store.clone(),
        1,
    ));
    let conversation = Conversation::new(
        &w.bot.backend.wired.with_store(flaky),
        TelegramClient::new(&telegram),
        limits,
    );
    // As the webhook reads it: from the bytes Telegram posts. Her Telegram is now Russian, so
    // the profile changes and must be written after the generation was recorded.
    let switched = User {
        id: ANNA.id,
        language_code: "ru",
    };
    let body = updates::text(w.bot.next_update_id(), switched, "a cat on a roof").to_string();
    let update: teloxide_core::types::Update = serde_json::from_str(&body).unwrap();
    // Recorded, then the profile write fails: acknowledged (Telegram does not retry), once.
    let first = conversation.process(&update).await.unwrap();
    assert_eq!(first, Processed::Done(None));
    assert_eq!(
        conversation.process(&update).await.unwrap(),
        Processed::Duplicate
    );
    assert_eq!(generations(&w, &avatar).await.len(), 1);
    let (received, _) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(received, 1, "one launch");
}

/// Two users asking at the same moment with room in the day's budget for one generation:
/// one is drawn, the other is told the budget is spent, and the cap is never passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_generations_of_different_users_never_pass_the_daily_cap() {
    let w = PipelineWorld::with_env(
        true,
        &[
            ("SPEND_CAP_USD_PER_DAY", "2"),
            ("COST_TRAINING_USD_FAST", "0"),
            ("COST_IMAGE_USD", "1"),
        ],
    )
    .await;
    let mut avatars = Vec::new();
    for user in [ANNA, OLEG] {
        let avatar = w.bot.queued_avatar(user, "style", "Anna", "fast", 5).await;
        avatars.push(avatar);
    }
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(5)).await;
    for (user, avatar) in [ANNA, OLEG].into_iter().zip(&avatars) {
        assert_eq!(w.avatar_now(avatar).await.status(), AvatarStatus::Completed);
        w.bot.tap_last(user, Callback::Card(avatar.id)).await;
        w.bot.tap_last(user, Callback::Generate(avatar.id)).await;
    }
    // Two pictures each: $2, the whole day's cap, fits once.
    tokio::join!(
        w.bot.say(ANNA, "a lighthouse at dawn"),
        w.bot.say(OLEG, "a lighthouse at dusk"),
    );
    let mut recorded = 0;
    for avatar in &avatars {
        recorded += generations(&w, avatar).await.len();
    }
    assert_eq!(recorded, 1, "one generation fits the cap");
    let refused: Vec<User> = [ANNA, OLEG]
        .into_iter()
        .filter(|u| {
            let text = w.bot.telegram.last_message(u.id).text;
            text.contains("budget") || text.contains("бюджет")
        })
        .collect();
    assert_eq!(refused.len(), 1, "the other user is told why");
    let spent = w
        .bot
        .backend
        .store
        .spent_on(&fluxbot::domain::SpendDay::of(
            fluxbot::domain::Timestamp::now(),
        ))
        .await
        .unwrap();
    assert_eq!(spent, fluxbot::domain::Usd::parse("2").unwrap());
}

/// Two prompts of one user at the same moment with a limit of one generation at a time: one
/// generation is recorded, the other prompt is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_prompts_at_once_pass_a_limit_of_one_once() {
    let w = PipelineWorld::with_env(true, &[("MAX_GENERATIONS_IN_FLIGHT", "1")]).await;
    let avatar = w.bot.queued_avatar(ANNA, "style", "Anna", "fast", 5).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    w.run_queue(&w.pipeline, Duration::from_secs(5)).await;
    assert_eq!(
        w.avatar_now(&avatar).await.status(),
        AvatarStatus::Completed
    );
    w.bot.tap_last(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(avatar.id)).await;
    let (one, two) = (
        fluxbot_tests::fake_telegram::updates::text(w.bot.next_update_id(), ANNA, "a red fox"),
        fluxbot_tests::fake_telegram::updates::text(w.bot.next_update_id(), ANNA, "a blue fox"),
    );
    let (a, b) = tokio::join!(w.bot.post(&one), w.bot.post(&two));
    // A step that lost the race on the profile may ask Telegram to retry; it does.
    for (answer, update) in [(a, &one), (b, &two)] {
        if answer.status != 200 {
            assert_eq!(w.bot.deliver(update).await.status, 200);
        }
    }
    assert_eq!(generations(&w, &avatar).await.len(), 1, "one generation");
    let refused = w
        .bot
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .unwrap_or("")
                .contains("You already have 1 generation(s) running")
        })
        .count()
        + w.bot
            .telegram
            .calls_of("editMessageText")
            .iter()
            .filter(|c| {
                c.params["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("You already have 1 generation(s) running")
            })
            .count();
    assert!(
        refused >= 1,
        "the other prompt is told why: {:#?}",
        w.bot
            .telegram
            .chat(ANNA.id)
            .iter()
            .rev()
            .take(4)
            .map(|m| m.text.clone())
            .collect::<Vec<_>>()
    );
}
