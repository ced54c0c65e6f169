//! Photo packs through the real handlers (moto, the fake Telegram, the fake fal.ai validating
//! flux-lora's documented input): a themed set of prompts offered with its price, committed in
//! one tap (paid once however often it is tapped), every picture submitted with the avatar's
//! trigger phrase, delivered as one album once the last picture is over, the pictures that did
//! not come refunded one by one, refused past the daily cap, free and simulated in test mode,
//! and settled when the avatar is deleted.

use std::time::Duration;

use fluxbot::domain::{
    Avatar, AvatarKind, Catalogue, Generation, OutcomeNotice, PhotoPack, WorkKind,
};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_fal::Submission;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 7_700_001,
    language_code: "en",
};

/// A paying bot: a picture costs 2 credits.
const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
];

/// The first pack for portraits: its place in the catalogue and the pack.
fn business() -> (u8, &'static PhotoPack) {
    Catalogue::shipped().for_kind(AvatarKind::Portrait)[0]
}

async fn pictures(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.pipeline
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.kind() == WorkKind::PhotoPack)
        .collect()
}

async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

/// The pack's submissions, once the launch worker has sent them all.
async fn launched(w: &PipelineWorld, size: usize) -> Vec<Submission> {
    let before = w.fal.submissions().len();
    drain_queue(w).await;
    let subs = w.fal.submissions();
    assert_eq!(subs.len(), before + size, "one submission a picture");
    subs[before..].to_vec()
}

/// The card, Photo packs, the first pack's offer.
async fn open_offer(w: &PipelineWorld, avatar: &Avatar) {
    let (index, _) = business();
    w.bot.tap_newest(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Packs(avatar.id)).await;
    w.bot
        .tap_newest(ANNA, Callback::PackOffer(avatar.id, index))
        .await;
}

fn run_tap(avatar: &Avatar) -> Callback {
    let (index, pack) = business();
    Callback::RunPack(avatar.id, index, pack.fingerprint())
}

/// The card (from the last message), Delete, and the confirmation: the confirmation as it
/// was shown.
async fn delete(w: &PipelineWorld, avatar: &Avatar) -> fluxbot_tests::fake_telegram::ChatMessage {
    let at = w.bot.telegram.last_message(ANNA.id).message_id;
    w.bot.tap(ANNA, at, Callback::Card(avatar.id)).await;
    w.bot.tap_newest(ANNA, Callback::Delete(avatar.id)).await;
    let confirm = w.bot.telegram.last_message(ANNA.id);
    w.bot
        .tap(ANNA, confirm.message_id, Callback::ConfirmDelete(avatar.id))
        .await;
    confirm
}

fn albums(w: &PipelineWorld) -> usize {
    w.bot.telegram.calls_of("sendMediaGroup").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_is_offered_with_its_price_paid_once_and_delivered_as_one_album() {
    let w = PipelineWorld::with_env(false, STARS).await;
    w.grant(ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let (_, pack) = business();
    let size = pack.pictures.len();
    let start = w.balance(ANNA).await;

    open_offer(&w, &avatar).await;
    let offer = w.bot.telegram.last_message(ANNA.id);
    offer
        .says("Business portrait")
        .says(&format!("{size} pictures"))
        .says(&format!("The pack costs <b>{}</b> credits", 2 * size));
    assert_eq!(
        offer.labels(),
        [format!("▶️ Draw all {size}").as_str(), "📸 More packs"]
    );
    assert!(pictures(&w, &avatar).await.is_empty(), "nothing paid yet");

    // Tapped twice at once: one pack, each picture paid once.
    let (a, b) = futures::join!(
        w.bot.tap(ANNA, offer.message_id, run_tap(&avatar)),
        w.bot.tap(ANNA, offer.message_id, run_tap(&avatar))
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(pictures(&w, &avatar).await.len(), size);
    assert_eq!(w.paid_entries(ANNA, WorkKind::PhotoPack, false).await, size);
    assert_eq!(w.balance(ANNA).await, start - 2 * size as u64);
    w.bot
        .telegram
        .message(ANNA.id, offer.message_id)
        .says("is drawing the pack «Business portrait»");

    // Each picture is its own flux-lora request, the trigger phrase put in by the bot.
    let subs = launched(&w, size).await;
    assert!(
        w.fal.refused_inputs().is_empty(),
        "{:?}",
        w.fal.refused_inputs()
    );
    let trigger = avatar.trigger_phrase();
    for (sub, picture) in subs.iter().zip(&pack.pictures) {
        assert_eq!(sub.endpoint, "fal-ai/flux-lora");
        let prompt = sub.input["prompt"].as_str().unwrap();
        assert!(prompt.starts_with(trigger.as_str()), "{prompt}");
        assert!(prompt.ends_with(picture.prompt.as_str()), "{prompt}");
        assert_eq!(sub.input["num_images"], 1);
    }

    // Nothing is sent until the last picture is over; then one album, once.
    let (last, first) = subs.split_last().unwrap();
    for sub in first {
        let result = w.fal.generation_result(&sub.request_id, &[false]);
        assert_eq!(w.deliver_ok(sub, &result).await.status, 200);
    }
    assert_eq!(albums(&w), 0, "the album waits for its last picture");
    let result = w.fal.generation_result(&last.request_id, &[false]);
    assert_eq!(w.deliver_ok(last, &result).await.status, 200);
    assert_eq!(albums(&w), 1, "sent by the last picture to end");
    assert_eq!(w.deliver_ok(last, &result).await.status, 200, "fal retries");
    w.sweeps_at(&[5]).await;
    assert_eq!(albums(&w), 1, "one album");
    let album: Vec<_> = w
        .bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .filter(|m| m.media_group_id.is_some())
        .collect();
    assert_eq!(album.len(), size);
    let summary = w.bot.telegram.message(ANNA.id, offer.message_id);
    summary.says(&format!(
        "The pack «Business portrait» by <b>Anna</b>: {size} of {size} pictures"
    ));
    assert_eq!(summary.labels()[0], "🔍 1");
    assert_eq!(summary.labels()[size - 1], format!("🔍 {size}"));
    assert!(summary.labels().contains(&"📸 More packs"));
    for picture in pictures(&w, &avatar).await {
        assert_eq!(picture.notice, OutcomeNotice::Sent);
    }
    assert_eq!(w.paid_entries(ANNA, WorkKind::PhotoPack, true).await, 0);
    assert_eq!(w.balance(ANNA).await, start - 2 * size as u64);
}

/// Pictures withheld by the safety filter or failed at fal.ai are refunded one by one, and
/// the album holds the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_that_did_not_come_are_refunded_one_by_one() {
    let w = PipelineWorld::with_env(false, STARS).await;
    w.grant(ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let size = business().1.pictures.len();
    let start = w.balance(ANNA).await;
    open_offer(&w, &avatar).await;
    let offer = w.bot.telegram.last_message(ANNA.id);
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    let subs = launched(&w, size).await;

    // Two withheld, one failed, the rest drawn; the pack's first picture (the one that
    // sends the album) ends last.
    for (i, sub) in subs.iter().enumerate().rev() {
        let status = match i {
            0 | 3 => {
                let result = w.fal.generation_result(&sub.request_id, &[true]);
                w.deliver_ok(sub, &result).await.status
            }
            i if i == size - 1 => w.deliver_error(sub, "GPU fell over").await.status,
            _ => {
                let result = w.fal.generation_result(&sub.request_id, &[false]);
                w.deliver_ok(sub, &result).await.status
            }
        };
        assert_eq!(status, 200);
    }
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(albums(&w), 1);
    let shown = size - 3;
    let summary = w.bot.telegram.message(ANNA.id, offer.message_id);
    summary
        .says(&format!("{shown} of {size} pictures"))
        .says("2 hidden: the safety filter flagged them")
        .says("1 could not be drawn")
        .says("6 credits are back on your balance");
    assert_eq!(w.paid_entries(ANNA, WorkKind::PhotoPack, true).await, 3);
    assert_eq!(w.balance(ANNA).await, start - 2 * shown as u64);
}

/// The daily cap counts the whole pack: past it nothing is recorded, paid or submitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_past_the_daily_cap_is_refused_unpaid() {
    let w = PipelineWorld::with_env(
        false,
        &[
            ("SPEND_CAP_USD_PER_DAY", "0.2"),
            ("COST_TRAINING_USD_FAST", "0"),
            ("COST_IMAGE_USD", "0.04"),
        ],
    )
    .await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    open_offer(&w, &avatar).await;
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("reached its budget for today");
    assert!(pictures(&w, &avatar).await.is_empty());
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), before, "nothing submitted");
}

/// In test mode nothing reaches fal.ai and nothing is paid: the pack comes back as an album
/// of placeholders through the same completion path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_in_test_mode_is_simulated_and_free() {
    let w = PipelineWorld::new(true).await;
    let run = || async { while w.run_queue(&w.pipeline, Duration::from_secs(3)).await.0 > 0 {} };
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    run().await;
    let avatar = w.avatar_now(&avatar).await;
    open_offer(&w, &avatar).await;
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    run().await;
    assert!(w.fal.submissions().is_empty(), "nothing reached fal.ai");
    assert_eq!(albums(&w), 1);
    let size = business().1.pictures.len();
    assert!(
        pictures(&w, &avatar)
            .await
            .iter()
            .all(|p| p.state.status().as_str() == "completed")
    );
    w.bot
        .telegram
        .last_with_buttons(ANNA.id)
        .says(&format!("{size} of {size} pictures"));
}

/// Deleting the avatar settles a pack like any paid work: pictures that never reached
/// fal.ai are refunded, those running there are cancelled there (fal bills them), and no
/// album comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_avatar_settles_every_picture_of_a_pack() {
    let w = PipelineWorld::with_env(false, STARS).await;
    w.grant(ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let size = business().1.pictures.len();
    let start = w.balance(ANNA).await;
    // A pack committed, its launches not yet run: every picture refunded, none submitted.
    open_offer(&w, &avatar).await;
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    assert_eq!(w.balance(ANNA).await, start - 2 * size as u64);
    let confirm = delete(&w, &avatar).await;
    confirm.says(&format!("{} credit(s) returned", 2 * size));
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(w.fal.submissions().len(), before, "nothing submitted");
    assert_eq!(w.paid_entries(ANNA, WorkKind::PhotoPack, true).await, size);
    assert_eq!(w.balance(ANNA).await, start);
    assert_eq!(albums(&w), 0);
    assert!(pictures(&w, &avatar).await.is_empty(), "forgotten");
}

/// A pack running at fal.ai when its avatar is deleted: cancelled there, nothing delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_avatar_cancels_a_running_pack_at_fal() {
    let w = PipelineWorld::with_env(false, STARS).await;
    w.grant(ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let size = business().1.pictures.len();
    open_offer(&w, &avatar).await;
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    let subs = launched(&w, size).await;
    // Two are done (waiting for the others), the rest still run.
    for sub in &subs[..2] {
        let result = w.fal.generation_result(&sub.request_id, &[false]);
        assert_eq!(w.deliver_ok(sub, &result).await.status, 200);
    }
    let confirm = delete(&w, &avatar).await;
    confirm.says(&format!("{} job(s) already running", size - 2));
    drain_queue(&w).await;
    assert_eq!(
        w.fal.cancels().len(),
        size - 2,
        "the running ones cancelled"
    );
    // Their late results change nothing.
    for sub in &subs[2..] {
        let result = w.fal.generation_result(&sub.request_id, &[false]);
        assert_eq!(w.deliver_ok(sub, &result).await.status, 200);
    }
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(albums(&w), 0);
    assert!(pictures(&w, &avatar).await.is_empty(), "forgotten");
}

/// Every picture's result delivered at the same moment (and each twice, as fal retries):
/// whichever ends last, exactly one album, and every picture's notice settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn results_arriving_together_send_one_album() {
    let w = PipelineWorld::with_env(false, STARS).await;
    w.grant(ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let size = business().1.pictures.len();
    open_offer(&w, &avatar).await;
    w.bot.tap_newest(ANNA, run_tap(&avatar)).await;
    let subs = launched(&w, size).await;
    let results: Vec<String> = subs
        .iter()
        .map(|sub| w.fal.generation_result(&sub.request_id, &[false]))
        .collect();
    let answers = futures::future::join_all(
        subs.iter()
            .zip(&results)
            .flat_map(|(sub, result)| [w.deliver_ok(sub, result), w.deliver_ok(sub, result)]),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 200));
    // A take-over that lost its race leaves the album to the sweep.
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(albums(&w), 1, "one album");
    for picture in pictures(&w, &avatar).await {
        assert_eq!(picture.notice, OutcomeNotice::Sent);
    }
    w.bot
        .telegram
        .last_with_buttons(ANNA.id)
        .says(&format!("{size} of {size} pictures"));
}
