//! Money and trust in the fal.ai protocol, through the real handlers against moto, the fake
//! fal.ai and the fake Telegram: a submit whose answer is unclear is never paid twice, a
//! webhook counts only for what we asked for, and launches that cannot succeed end.

use std::time::{Duration, Instant};

use fluxbot::domain::{
    Avatar, AvatarState, AvatarStatus, FailureReason, GenerationState, OutcomeNotice, Timestamp,
    WorkState,
};
use fluxbot::jobs::Job;
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_fal::{AcceptedBut, ok_webhook};
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 6_100_001,
    language_code: "en",
};

fn user(n: i64) -> User {
    User {
        id: 6_100_100 + n,
        language_code: "en",
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn minutes(m: u64) -> Timestamp {
    Timestamp::now().plus(Duration::from_secs(m * 60))
}

/// Messages the bot sent (not edits) whose text contains `needle`.
fn sent_containing(w: &PipelineWorld, needle: &str) -> usize {
    w.bot
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.ok && c.params["text"].as_str().unwrap_or("").contains(needle))
        .count()
}

/// Sweeps at each of `at` (minutes from now) and checks none of them launched anything.
async fn sweeps_relaunch_nothing(w: &PipelineWorld, at: &[u64]) {
    for m in at {
        let report = w.pipeline.sweep(minutes(*m), deadline()).await.unwrap();
        assert_eq!(report.relaunched, 0, "at +{m} min: {report:?}");
    }
}

/// Takes what is on the launch queue off it unprocessed: jobs that were lost.
async fn lose_queued_jobs(w: &PipelineWorld) {
    let queue = &w.bot.backend.launches;
    for m in queue.receive(10, Duration::from_secs(2)).await.unwrap() {
        queue.ack(&m.receipt).await.unwrap();
    }
}

/// A trained portrait avatar (its LoRA kept), made the way users make one.
async fn trained(w: &PipelineWorld, who: User) -> Avatar {
    let avatar = w
        .bot
        .queued_avatar(who, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let result = w.fal.portrait_result(&sub.request_id);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let avatar = w.avatar_now(&avatar).await;
    assert_eq!(avatar.status(), AvatarStatus::Completed);
    avatar
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_that_timed_out_is_paid_once_and_its_late_result_adopted() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    // fal queues it (and will charge for it) but its answer never reaches us in time.
    w.fal.accept_next_submit_but(AcceptedBut::AnswerAfter(
        PipelineWorld::FAL_TIMEOUT + Duration::from_secs(2),
    ));
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(w.fal.submissions().len(), 1);
    assert_eq!(w.avatar_now(&avatar).await.status(), AvatarStatus::Sending);

    // The launch lease (10 min) lapses, the sweep runs again and again, a duplicate launch
    // message comes: nothing is submitted again.
    sweeps_relaunch_nothing(&w, &[11, 20, 30]).await;
    let job = Job::Launch(fluxbot::domain::WorkRef::training(avatar.owner, avatar.id));
    w.enqueue(&job).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(w.fal.submissions().len(), 1, "one paid submission");

    // 40 minutes later fal's webhook brings the result (the request id never recorded).
    let sub = w.fal.submissions()[0].clone();
    let result = w.fal.portrait_result(&sub.request_id);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let done = w.avatar_now(&avatar).await;
    assert!(
        matches!(&done.state, AvatarState::Work(WorkState::Completed { request, .. }) if request.request_id == sub.request_id),
        "{:?}",
        done.state
    );
    assert_eq!(done.notice, OutcomeNotice::Sent);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
    sweeps_relaunch_nothing(&w, &[45, 60]).await;
    assert_eq!(w.fal.submissions().len(), 1);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1, "one notice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_2xx_502_and_504_at_submit_are_never_submitted_again() {
    let w = PipelineWorld::new(false).await;
    let faults = [
        AcceptedBut::GarbageBody,
        AcceptedBut::Status(502),
        AcceptedBut::Status(504),
    ];
    let mut avatars = Vec::new();
    for (n, fault) in faults.into_iter().enumerate() {
        let who = user(n as i64);
        let avatar = w.bot.queued_avatar(who, "style", "Ink", "fast", 5).await;
        w.fal.accept_next_submit_but(fault);
        let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
        assert!(response.batch_item_failures.is_empty(), "{fault:?}");
        assert_eq!(w.fal.submissions().len(), n + 1, "{fault:?}: one submit");
        assert_eq!(
            w.avatar_now(&avatar).await.status(),
            AvatarStatus::Sending,
            "{fault:?}"
        );
        avatars.push((who, avatar));
    }
    sweeps_relaunch_nothing(&w, &[11, 60, 150]).await;
    assert_eq!(w.fal.submissions().len(), 3, "never a second submission");

    // No result ever comes: past the training timeout (3 h) plus fal's webhook retries
    // (2 h), each fails, once, with words for the user and a metric for the operator.
    let report = w
        .pipeline
        .sweep(minutes(5 * 60 + 5), deadline())
        .await
        .unwrap();
    assert_eq!((report.failed, report.relaunched), (3, 0), "{report:?}");
    for (who, avatar) in &avatars {
        let failed = w.avatar_now(avatar).await;
        assert!(
            matches!(
                failed.state,
                AvatarState::Work(WorkState::Failed {
                    reason: FailureReason::Unconfirmed,
                    ..
                })
            ),
            "{:?}",
            failed.state
        );
        let told = w.bot.telegram.last_message(who.id);
        told.says("never confirmed");
    }
    assert_eq!(sent_containing(&w, "never confirmed"), 3);
    let report = w.pipeline.sweep(minutes(6 * 60), deadline()).await.unwrap();
    assert_eq!(report.checked, 0, "nothing left in flight: {report:?}");
    assert_eq!(w.fal.submissions().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_result_we_did_not_ask_for_is_refused_and_nothing_is_fetched() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let real = w.fal.submissions()[0].clone();
    let real_url = real.webhook.clone().unwrap();

    // Someone with their own fal account has fal deliver a signed result (their LoRA) to
    // our URL, with the query copied from the real submission: with the token, and without.
    let theirs = "0192a3b4-evil-4000-8000-000000000001";
    let evil_lora = w
        .fal
        .host_file("evil/lora.safetensors", b"not yours".to_vec());
    let evil_payload = format!(
        r#"{{"diffusers_lora_file":{{"url":"{evil_lora}"}},"config_file":{{"url":"{evil_lora}"}}}}"#
    );
    let body = ok_webhook(theirs, &evil_payload);
    let served = w.fal.files_served();
    let now = Timestamp::now().as_secs();
    let with_token = w
        .post_webhook(&real_url, w.fal.signed_headers(theirs, &body, now), &body)
        .await;
    assert_eq!(
        with_token.status, 200,
        "acknowledged, ignored: {with_token:?}"
    );
    let without_token = real_url.split("&token=").next().unwrap().to_owned();
    let refused = w
        .post_webhook(
            &without_token,
            w.fal.signed_headers(theirs, &body, now),
            &body,
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        w.fal.files_served(),
        served,
        "nothing fetched from their hosts"
    );
    assert!(
        w.fal.status_queries().contains(&theirs.to_owned()),
        "the unknown id was checked with fal under our key"
    );
    let still = w.avatar_now(&avatar).await;
    assert_eq!(still.status(), AvatarStatus::Training);
    assert_eq!(sent_containing(&w, "is trained and ready"), 0);

    // The real result still completes the avatar, with our LoRA.
    let result = w.fal.portrait_result(&real.request_id);
    assert_eq!(w.deliver_ok(&real, &result).await.status, 200);
    let done = w.avatar_now(&avatar).await;
    assert!(
        matches!(&done.state, AvatarState::Work(WorkState::Completed { request, .. }) if request.request_id == real.request_id)
    );
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_whose_photo_is_gone_fails_once_and_says_why() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    let photos = w.pipeline.store.list_photos(avatar.id).await.unwrap();
    w.pipeline.blobs.delete(&photos[3].blob_key).await.unwrap();

    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(response.batch_item_failures.is_empty(), "not retried");
    assert!(w.fal.submissions().is_empty(), "nothing paid");
    let failed = w.avatar_now(&avatar).await;
    assert!(
        matches!(&failed.state, AvatarState::Work(WorkState::Failed { reason: FailureReason::NotStarted { detail }, .. })
            if detail.contains("photo is missing")),
        "{:?}",
        failed.state
    );
    assert_eq!(sent_containing(&w, "could not be started"), 1);
    // No relaunch loop: the sweep has nothing to start, and says nothing more.
    sweeps_relaunch_nothing(&w, &[5, 10, 60]).await;
    assert_eq!(sent_containing(&w, "could not be started"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_submit_that_timed_out_is_paid_once_and_its_result_delivered() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA).await;
    let id = avatar.id;
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;
    w.bot.say(ANNA, "a lantern in the fog").await;
    w.fal.accept_next_submit_but(AcceptedBut::AnswerAfter(
        PipelineWorld::FAL_TIMEOUT + Duration::from_secs(2),
    ));
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(
        w.fal.submissions().len(),
        2,
        "the training, then this generation"
    );
    let generation = w
        .pipeline
        .store
        .list_generations(id, 5)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(generation.state.status().as_str(), "sending");

    sweeps_relaunch_nothing(&w, &[11, 20, 40]).await;
    let job = Job::Launch(fluxbot::domain::WorkRef::generation(
        avatar.owner,
        id,
        generation.id,
    ));
    w.enqueue(&job).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(w.fal.submissions().len(), 2, "one paid generation");

    let sub = w.fal.submissions()[1].clone();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let done = w
        .pipeline
        .store
        .get_generation(id, generation.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&done.state, GenerationState::Completed { request, .. } if request.request_id == sub.request_id),
        "{:?}",
        done.state
    );
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
    // A second, different request for the same generation (fal's own or forged) is ignored.
    let other = w.fal.generation_result("0192a3b4-other", &[false, false]);
    let body = ok_webhook("0192a3b4-other", &other);
    let now = Timestamp::now().as_secs();
    let answer = w
        .post_webhook(
            sub.webhook.as_deref().unwrap(),
            w.fal.signed_headers("0192a3b4-other", &body, now),
            &body,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(w.bot.telegram.calls_of("sendMediaGroup").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_that_cannot_start_ends_and_frees_the_slot() {
    let w = PipelineWorld::new(false).await;
    let avatar = trained(&w, ANNA).await;
    let id = avatar.id;
    w.bot.tap_last(ANNA, Callback::Card(id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(id)).await;
    w.bot.say(ANNA, "a lantern in the fog").await;
    // The launch job is lost: the sweep sends it again while it may start...
    lose_queued_jobs(&w).await;
    let report = w.pipeline.sweep(minutes(5), deadline()).await.unwrap();
    assert_eq!(report.relaunched, 1, "{report:?}");
    lose_queued_jobs(&w).await;
    // ...and fails it once it is past the launch timeout: the user is told, the slot freed.
    let report = w.pipeline.sweep(minutes(70), deadline()).await.unwrap();
    assert_eq!((report.failed, report.relaunched), (1, 0), "{report:?}");
    let generation = w
        .pipeline
        .store
        .list_generations(id, 5)
        .await
        .unwrap()
        .remove(0);
    assert!(
        matches!(
            generation.state,
            GenerationState::Failed {
                reason: FailureReason::NotStarted { .. },
                ..
            }
        ),
        "{:?}",
        generation.state
    );
    assert!(
        generation.sweep_due_at().is_none(),
        "told, out of the index"
    );
    assert_eq!(
        w.fal.submissions().len(),
        1,
        "only the training was ever submitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_never_sent_to_training_is_removed_with_its_photos_after_a_week() {
    let w = PipelineWorld::new(false).await;
    w.bot.create_avatar(ANNA, "portrait", "Draft", "fast").await;
    for seed in 0..3u8 {
        let file = w
            .bot
            .telegram
            .add_file(fluxbot_tests::images::jpeg(640, 800, seed * 31), "jpg");
        w.bot.send_photo(ANNA, &file, (640, 800), None).await;
    }
    let avatar = w.bot.avatars(ANNA).await.pop().unwrap();
    let photos = w.pipeline.store.list_photos(avatar.id).await.unwrap();
    assert_eq!(photos.len(), 3);

    // Not before a week has passed.
    let report = w
        .pipeline
        .sweep(minutes(6 * 24 * 60), deadline())
        .await
        .unwrap();
    assert_eq!(report.checked, 0, "{report:?}");
    assert_eq!(w.bot.avatars(ANNA).await.len(), 1);

    let report = w
        .pipeline
        .sweep(minutes(7 * 24 * 60 + 10), deadline())
        .await
        .unwrap();
    assert_eq!(report.abandoned_removed, 1, "{report:?}");
    assert!(w.bot.avatars(ANNA).await.is_empty());
    assert!(
        w.pipeline
            .store
            .list_photos(avatar.id)
            .await
            .unwrap()
            .is_empty()
    );
    for photo in &photos {
        assert_eq!(w.pipeline.blobs.size(&photo.blob_key).await.unwrap(), None);
    }
    assert!(
        w.bot
            .telegram
            .last_message(ANNA.id)
            .text
            .contains("was never sent to training")
    );
    assert!(w.fal.submissions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_signed_for_another_fal_user_are_refused_when_ours_is_pinned() {
    for (pinned, expected) in [
        ("someone-else", 401),
        (fluxbot_tests::fake_fal::FAL_USER, 200),
    ] {
        let w = PipelineWorld::with_env(false, &[("FAL_WEBHOOK_USER_ID", pinned)]).await;
        let avatar = w
            .bot
            .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
            .await;
        w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
        let sub = w.fal.submissions()[0].clone();
        let result = w.fal.portrait_result(&sub.request_id);
        let answer = w.deliver_ok(&sub, &result).await;
        assert_eq!(answer.status, expected, "pinned to {pinned}: {answer:?}");
        let status = w.avatar_now(&avatar).await.status();
        let want = if expected == 200 {
            AvatarStatus::Completed
        } else {
            AvatarStatus::Training
        };
        assert_eq!(status, want, "pinned to {pinned}");
    }
}
