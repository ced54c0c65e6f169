//! The first look through the real handlers (moto, the fake Telegram, the fake fal.ai
//! validating flux-pulid's documented input): off unless the operator turns it on; when on,
//! a portrait avatar's Confirm also commits one or two pictures drawn from the user's best
//! photo (its own price and debit, counted against the daily cap, committed once however
//! often the Confirm is delivered), delivered as one album with a plain word that the trained
//! avatar will look more like them; a withheld picture is refunded; a style avatar gets none.

use std::time::Duration;

use fluxbot::domain::{Avatar, Generation, WorkKind};
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 7_800_001,
    language_code: "en",
};

const PULID: &str = "fal-ai/flux-pulid";

/// A paying bot with a first look of two pictures at 1 credit each.
const ON: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("INSTANT_PREVIEW", "2"),
    ("PRICE_FIRST_LOOK_CREDITS", "1"),
];

async fn first_looks(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.pipeline
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.kind() == WorkKind::FirstLook)
        .collect()
}

async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

/// A portrait avatar with nine 640 x 800 photos and one 900 x 1200, confirmed.
async fn confirmed(w: &PipelineWorld, kind: &str) -> Avatar {
    confirmed_at(w, kind).await.0
}

/// [`confirmed`], with the message its Confirm was tapped on.
async fn confirmed_at(w: &PipelineWorld, kind: &str) -> (Avatar, i32) {
    let message = w.bot.create_avatar(ANNA, kind, "Anna", "fast").await;
    let photos = if kind == "portrait" { 10u8 } else { 5 };
    for seed in 0..photos {
        let size = if seed == 4 { (900, 1200) } else { (640, 800) };
        let file = w.bot.telegram.add_file(
            fluxbot_tests::images::jpeg(size.0, size.1, seed.wrapping_mul(13)),
            "jpg",
        );
        w.bot
            .send_photo(ANNA, &file, (u32::from(size.0), u32::from(size.1)), None)
            .await;
    }
    let avatar = w.bot.avatars(ANNA).await.pop().unwrap();
    w.bot
        .press_data(ANNA, message, &format!("ts:{}", avatar.id))
        .await;
    w.bot
        .press_data(ANNA, message, &format!("tc:{}", avatar.id))
        .await;
    (w.avatar_now(&avatar).await, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_look_comes_from_the_best_photo_while_training_runs() {
    let w = PipelineWorld::with_env(false, ON).await;
    w.grant(ANNA, 100).await;
    let (avatar, message) = confirmed_at(&w, "portrait").await;
    assert_eq!(avatar.status().as_str(), "queued");
    // Paid: the training, and each picture of the first look.
    assert_eq!(w.balance(ANNA).await, 100 - 50 - 2);
    assert_eq!(w.paid_entries(ANNA, WorkKind::FirstLook, false).await, 2);
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("here comes a first look: two pictures");

    // Confirm tapped again (a double tap): nothing more is committed or paid.
    w.bot
        .press_data(ANNA, message, &format!("tc:{}", avatar.id))
        .await;
    assert_eq!(first_looks(&w, &avatar).await.len(), 2);
    assert_eq!(w.balance(ANNA).await, 100 - 50 - 2);

    // The launch worker sends the training and both pictures; the pictures use the
    // largest photo, readable at the URL fal gets.
    drain_queue(&w).await;
    let subs = w.fal.submissions();
    let pulid: Vec<_> = subs.iter().filter(|s| s.endpoint == PULID).collect();
    assert_eq!(pulid.len(), 2);
    assert!(
        w.fal.refused_inputs().is_empty(),
        "{:?}",
        w.fal.refused_inputs()
    );
    for sub in &pulid {
        let url = sub.input["reference_image_url"].as_str().unwrap();
        let photo = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        let size = imagesize::blob_size(&photo).unwrap();
        assert_eq!((size.width, size.height), (900, 1200), "the best photo");
        assert!(
            sub.input["prompt"]
                .as_str()
                .unwrap()
                .starts_with("a photo of a")
        );
    }
    assert_eq!(
        subs.iter().filter(|s| s.endpoint != PULID).count(),
        1,
        "and the training"
    );

    // One album once both are over, with a plain word about what it is.
    for sub in &pulid {
        let result = w.fal.generation_result(&sub.request_id, &[false]);
        assert_eq!(w.deliver_ok(sub, &result).await.status, 200);
    }
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
    w.bot
        .telegram
        .last_with_buttons(ANNA.id)
        .says("A first look of <b>Anna</b> (2 of 2)")
        .says("The trained avatar will look much more like you");
    // The training goes on meanwhile.
    assert_eq!(w.avatar_now(&avatar).await.status().as_str(), "training");
}

/// A picture withheld by the safety filter is refunded; the other comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_first_look_picture_is_refunded() {
    let w = PipelineWorld::with_env(false, ON).await;
    w.grant(ANNA, 100).await;
    let avatar = confirmed(&w, "portrait").await;
    drain_queue(&w).await;
    let pulid: Vec<_> = w
        .fal
        .submissions()
        .into_iter()
        .filter(|s| s.endpoint == PULID)
        .collect();
    for (i, sub) in pulid.iter().enumerate() {
        let result = w.fal.generation_result(&sub.request_id, &[i == 0]);
        assert_eq!(w.deliver_ok(sub, &result).await.status, 200);
    }
    w.sweeps_at(&[5]).await;
    w.bot
        .telegram
        .last_with_buttons(ANNA.id)
        .says("(1 of 2)")
        .says("1 credits are back on your balance");
    assert_eq!(w.paid_entries(ANNA, WorkKind::FirstLook, true).await, 1);
    assert_eq!(w.balance(ANNA).await, 100 - 50 - 1);
    assert_eq!(first_looks(&w, &avatar).await.len(), 2);
}

/// Off by default, none for a style avatar, and refused past the daily cap while the
/// training itself goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_first_look_when_off_for_styles_or_past_the_cap() {
    let off = PipelineWorld::new(false).await;
    let avatar = confirmed(&off, "portrait").await;
    assert!(
        first_looks(&off, &avatar).await.is_empty(),
        "off by default"
    );

    let on = PipelineWorld::with_env(false, &[("INSTANT_PREVIEW", "1")]).await;
    let style = confirmed(&on, "style").await;
    assert!(first_looks(&on, &style).await.is_empty(), "not for a style");

    // The cap holds the training ($2) and not the first look ($0.035) beside it.
    let capped = PipelineWorld::with_env(
        false,
        &[("INSTANT_PREVIEW", "1"), ("SPEND_CAP_USD_PER_DAY", "2.01")],
    )
    .await;
    let avatar = confirmed(&capped, "portrait").await;
    assert_eq!(avatar.status().as_str(), "queued", "the training goes on");
    assert!(first_looks(&capped, &avatar).await.is_empty());
    capped
        .bot
        .telegram
        .last_message(ANNA.id)
        .says("reached its budget for today");
}

/// In test mode the first look is simulated and free, through the same completion path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_look_in_test_mode_is_simulated() {
    let w = PipelineWorld::with_env(true, &[("INSTANT_PREVIEW", "2")]).await;
    let avatar = confirmed(&w, "portrait").await;
    while w.run_queue(&w.pipeline, Duration::from_secs(3)).await.0 > 0 {}
    assert!(w.fal.submissions().is_empty());
    let looks = first_looks(&w, &avatar).await;
    assert_eq!(looks.len(), 2);
    assert!(
        looks
            .iter()
            .all(|g| g.state.status().as_str() == "completed")
    );
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
}

/// A first look fal fails is refunded; deleting the avatar while the other still runs
/// cancels it at fal.ai and no album comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_look_is_refunded_and_deletion_cancels_the_rest() {
    let w = PipelineWorld::with_env(false, ON).await;
    w.grant(ANNA, 100).await;
    let avatar = confirmed(&w, "portrait").await;
    drain_queue(&w).await;
    let pulid: Vec<_> = w
        .fal
        .submissions()
        .into_iter()
        .filter(|s| s.endpoint == PULID)
        .collect();
    assert_eq!(
        w.deliver_error(&pulid[0], "no face found").await.status,
        200
    );
    assert_eq!(w.paid_entries(ANNA, WorkKind::FirstLook, true).await, 1);
    assert_eq!(w.balance(ANNA).await, 100 - 50 - 1);

    // The avatar deleted while the second picture runs at fal.ai.
    let at = w.bot.telegram.last_message(ANNA.id).message_id;
    w.bot
        .tap(
            ANNA,
            at,
            fluxbot::telegram::callback::Callback::Card(avatar.id),
        )
        .await;
    w.bot
        .tap_newest(
            ANNA,
            fluxbot::telegram::callback::Callback::Delete(avatar.id),
        )
        .await;
    let confirm = w.bot.telegram.last_message(ANNA.id);
    w.bot
        .tap(
            ANNA,
            confirm.message_id,
            fluxbot::telegram::callback::Callback::ConfirmDelete(avatar.id),
        )
        .await;
    drain_queue(&w).await;
    assert!(
        w.fal.cancels().contains(&pulid[1].request_id),
        "the running picture cancelled at fal.ai"
    );
    let result = w.fal.generation_result(&pulid[1].request_id, &[false]);
    assert_eq!(w.deliver_ok(&pulid[1], &result).await.status, 200);
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 0);
    assert!(first_looks(&w, &avatar).await.is_empty(), "forgotten");
}
