//! Lambda's real concurrency: several independent instances of each function (own SDK
//! clients, own Telegram and fal.ai clients, as separate processes have) over one table, queue
//! and bucket in moto, taking simultaneous deliveries the way Telegram, SQS and fal.ai make
//! them. Each test says what must hold whichever instance wins each race.
//!
//! Size: `FLEET_USERS` (default 50) users train at once in
//! `fifty_users_create_and_train_at_once_on_four_instances_of_each_function`; the 200-user
//! load run in docs/benchmarks.md is `FLEET_USERS=200 cargo test -p fluxbot-tests --test
//! concurrency fifty -- --nocapture`. `SEND_RATE_USERS` (default 30) users' deliveries finish
//! at once in `deliveries_from_every_instance_stay_within_telegrams_flood_limits`.

use std::time::{Duration, Instant};

use fluxbot::domain::{AvatarStatus, Timestamp};
use fluxbot_tests::fake_fal::ok_webhook;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::images;
use fluxbot_tests::pipeline_world::PipelineWorld;
use futures::future::join_all;
use serde_json::json;

const ANNA: User = User {
    id: 7_100_001,
    language_code: "en",
};

fn user(n: usize) -> User {
    User {
        id: 7_200_000 + n as i64,
        language_code: "en",
    }
}

fn sent_containing(w: &PipelineWorld, user: Option<User>, needle: &str) -> usize {
    w.bot
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.ok && c.params["text"].as_str().unwrap_or("").contains(needle))
        .filter(|c| user.is_none_or(|u| c.params["chat_id"] == json!(u.id)))
        .count()
}

/// An album of 10 delivered as 10 simultaneous updates, each to another instance, and then
/// another album whose every update Telegram delivers twice at once (a retry overlapping the
/// first attempt): exactly 10 photos each, every file stored, one progress message that ends
/// at 10/20.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_album_of_ten_at_once_on_ten_instances_keeps_ten_photos_on_one_progress_message() {
    let w = PipelineWorld::fleet(false, &[], 10).await;
    let bot = &w.bot;
    for (round, twice) in [(0u8, false), (1, true)] {
        let progress = bot
            .create_avatar(ANNA, "portrait", &format!("Album {round}"), "fast")
            .await;
        let sends_before = bot.telegram.calls_of("sendMessage").len();
        let updates: Vec<_> = (0..10u8)
            .map(|i| {
                let file = bot
                    .telegram
                    .add_file(images::jpeg(640, 800, round * 50 + i), "jpg");
                let album = format!("1391234567890{round}");
                updates::photo(bot.next_update_id(), ANNA, &file, (640, 800), Some(&album))
            })
            .collect();
        let deliveries: Vec<_> = updates
            .iter()
            .flat_map(|u| std::iter::repeat_n(u, if twice { 2 } else { 1 }))
            .map(|u| bot.post(u))
            .collect();
        let answers = join_all(deliveries).await;
        // A repeat still being handled elsewhere may be turned away for Telegram to retry.
        for a in &answers {
            assert!(a.status == 200 || a.status == 503, "{a:?}");
        }
        let retried: Vec<_> = answers
            .iter()
            .zip(
                updates
                    .iter()
                    .flat_map(|u| std::iter::repeat_n(u, if twice { 2 } else { 1 })),
            )
            .filter(|(a, _)| a.status != 200)
            .map(|(_, u)| bot.deliver(u))
            .collect();
        join_all(retried).await;

        let avatar = bot.avatars(ANNA).await.pop().unwrap();
        assert_eq!(avatar.photo_count, 10, "round {round}");
        let photos = bot.backend.store.list_photos(avatar.id).await.unwrap();
        assert_eq!(photos.len(), 10, "round {round}: each photo once");
        for p in &photos {
            let size = bot.backend.blobs.size(&p.blob_key).await.unwrap();
            assert!(size.is_some_and(|n| n > 1000), "{p:?} stored: {size:?}");
        }
        assert_eq!(
            bot.telegram.calls_of("sendMessage").len(),
            sends_before,
            "round {round}: edits of the progress message, no new messages"
        );
        bot.screen_says(ANNA, progress, "10/20");
    }
}

/// Many users create avatars and train them at once in test mode, their updates spread over
/// four bot instances and their launch and completion jobs over four workers polling the
/// queue at the same time: every avatar completed, each user told once, no avatar twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_users_create_and_train_at_once_on_four_instances_of_each_function() {
    let n = fluxbot_tests::size("FLEET_USERS", 50);
    let w = PipelineWorld::fleet(true, &[("PHOTOS_MIN_STYLE", "2")], 4).await;
    let started = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("Ink {i}")).collect();
    let queued = join_all(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| w.bot.queued_avatar(user(i), "style", name, "fast", 2)),
    )
    .await;
    let conversation = started.elapsed();

    // Four launch workers at once until every avatar is done, or a bound that stops the run.
    let bound = Instant::now() + Duration::from_secs(60 + n as u64);
    loop {
        let received = w.run_queue_on_all(Duration::from_millis(500)).await;
        if received == 0 && completed(&w, &queued).await == n {
            break;
        }
        assert!(Instant::now() < bound, "not all trained in time");
    }
    println!(
        "{n} users: conversation to queued {:.1} s, all completed {:.1} s after start",
        conversation.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    for i in 0..n {
        let avatars = w.bot.avatars(user(i)).await;
        assert_eq!(avatars.len(), 1, "user {i}: one avatar");
        assert_eq!(avatars[0].status(), AvatarStatus::Completed);
        assert_eq!(avatars[0].photo_count, 2);
        assert_eq!(
            sent_containing(&w, Some(user(i)), "is trained and ready"),
            1,
            "user {i}: one notice"
        );
    }
    assert!(
        w.fal.submissions().is_empty(),
        "test mode never calls fal.ai"
    );
}

/// Notices and deliveries from every instance together stay within Telegram's flood limits,
/// which the fake Telegram now enforces (30 messages in any second, an album counting its
/// pictures; one a second in a chat; 429 past them): many users' generations, two each,
/// finish at once on four workers, and every album arrives once with no 429 on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_from_every_instance_stay_within_telegrams_flood_limits() {
    let n = fluxbot_tests::size("SEND_RATE_USERS", 30);
    let w = PipelineWorld::fleet(true, &[("PHOTOS_MIN_STYLE", "2")], 4).await;
    let avatars =
        join_all((0..n).map(|i| w.bot.queued_avatar(user(i), "style", "Ink", "fast", 2))).await;
    let bound = Instant::now() + Duration::from_secs(60 + n as u64);
    while completed(&w, &avatars).await < n {
        w.run_queue_on_all(Duration::from_millis(500)).await;
        assert!(Instant::now() < bound, "not all trained in time");
    }
    // Two generations each, asked while the limits are not yet enforced (the conversation
    // answers the user's own taps, which Telegram allows).
    let world = &w;
    join_all(avatars.iter().enumerate().map(|(i, avatar)| async move {
        let w = world;
        w.prompt_screen(user(i), avatar).await;
        w.bot.say(user(i), "a red kite").await;
        w.bot.say(user(i), "a blue kite").await;
    }))
    .await;
    w.bot.telegram.enforce_rates(30, Duration::from_secs(1));
    let started = Instant::now();
    let delivered = |w: &PipelineWorld| {
        w.bot
            .telegram
            .calls_of("sendMediaGroup")
            .iter()
            .filter(|c| c.ok)
            .count()
    };
    let bound = Instant::now() + Duration::from_secs(120 + n as u64);
    while delivered(&w) < 2 * n {
        w.run_queue_on_all(Duration::from_millis(500)).await;
        assert!(Instant::now() < bound, "not all delivered in time");
    }
    println!(
        "{n} users, {} albums of 2: all delivered {:.1} s after the limits were on",
        2 * n,
        started.elapsed().as_secs_f64()
    );
    let refused: Vec<_> = w
        .bot
        .telegram
        .calls()
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| (c.method, c.params["chat_id"].clone()))
        .collect();
    let (refusals, reasons) = w.bot.telegram.rate_refusals();
    assert_eq!(refusals, 0, "no 429 from Telegram: {refused:?} {reasons:?}");
    for i in 0..n {
        let albums = w
            .bot
            .telegram
            .calls_of("sendMediaGroup")
            .iter()
            .filter(|c| {
                c.ok && c.params["chat_id"]
                    .to_string()
                    .contains(&user(i).id.to_string())
            })
            .count();
        assert_eq!(albums, 2, "user {i}: each album once");
    }
}

async fn completed(w: &PipelineWorld, avatars: &[fluxbot::domain::Avatar]) -> usize {
    let mut done = 0;
    for a in avatars {
        if w.avatar_now(a).await.status() == AvatarStatus::Completed {
            done += 1;
        }
    }
    done
}

/// SQS hands one launch message to two workers at the same moment (a visibility timeout
/// lapsing on a slow worker, or at-least-once delivery): one submission to fal.ai.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_launch_message_on_two_workers_at_once_submits_once() {
    let w = PipelineWorld::fleet(false, &[], 2).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    let (messages, event) = w.receive_launches(Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 1);
    let (a, b) = tokio::join!(
        training_launch::handle_batch(&w.pipelines[0], event.clone()),
        training_launch::handle_batch(&w.pipelines[1], event),
    );
    assert_eq!(w.fal.submissions().len(), 1, "one paid submission");
    // One worker launched; the other found it launched (or being launched) and either
    // dropped the message or left it for a later look, which changes nothing.
    let failures = a.batch_item_failures.len() + b.batch_item_failures.len();
    assert!(failures <= 1, "{a:?} {b:?}");
    w.settle(&messages, &a).await;
    for _ in 0..3 {
        w.run_queue(&w.pipelines[1], Duration::from_millis(300))
            .await;
    }
    assert_eq!(w.fal.submissions().len(), 1);
    assert_eq!(w.avatar_now(&avatar).await.status(), AvatarStatus::Training);
}

/// fal.ai's retries of one result overlapping each other and the sweep: six deliveries at
/// once on six webhook instances while a sweep runs on another: one completion, one notice.
/// The sweep runs 90 s on: past its status-check interval (60 s here, so it asks fal and
/// completes the training too) and within the 120 s the completion's writer holds the notice,
/// as a real sweep meeting a real webhook is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_result_webhook_six_times_at_once_during_a_sweep_completes_once() {
    let w = PipelineWorld::fleet(false, &[("FAL_STATUS_CHECK_INTERVAL", "60")], 7).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions()[0].clone();
    let result = w.fal.portrait_result(&sub.request_id);
    w.fal.complete(&sub.request_id, &result);
    let body = ok_webhook(&sub.request_id, &result);
    let url = sub.webhook.clone().unwrap();
    let headers = w
        .fal
        .signed_headers(&sub.request_id, &body, Timestamp::now().as_secs());
    let later = Timestamp::now().plus(Duration::from_secs(90));
    let sweeper = &w.pipelines[6];
    let (answers, report) = tokio::join!(
        join_all((0..6).map(|_| w.post_webhook(&url, headers.clone(), &body))),
        sweeper.sweep(later, Instant::now() + Duration::from_secs(60)),
    );
    report.unwrap();
    for a in &answers {
        assert_eq!(a.status, 200, "{a:?}");
    }
    assert_eq!(
        w.avatar_now(&avatar).await.status(),
        AvatarStatus::Completed
    );
    assert_eq!(sent_containing(&w, Some(ANNA), "is trained and ready"), 1);
    assert_eq!(w.fal.submissions().len(), 1);
}

/// Confirm tapped twice, the two taps landing on two instances at once: one submission. (A
/// Confirm on a queued avatar sends its launch job again, which heals a lost send, so the
/// queue may carry the job twice; both workers at once still launch it once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_confirm_taps_on_two_instances_launch_once() {
    let w = PipelineWorld::fleet(false, &[], 2).await;
    let (message, avatar) = w.bot.summary_shown(ANNA, "Ink", 5, 7).await;
    let confirm = format!("tc:{}", avatar.id);
    tokio::join!(
        w.bot.press_data(ANNA, message, &confirm),
        w.bot.press_data(ANNA, message, &confirm),
    );
    let mut received = 0;
    loop {
        let now = w.run_queue_on_all(Duration::from_millis(500)).await;
        if now == 0 {
            break;
        }
        received += now;
    }
    assert!((1..=2).contains(&received), "{received} launch jobs");
    assert_eq!(w.fal.submissions().len(), 1, "one paid submission");
    assert_eq!(w.avatar_now(&avatar).await.status(), AvatarStatus::Training);
    assert_eq!(w.bot.avatars(ANNA).await.len(), 1);
}
