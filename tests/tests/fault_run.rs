//! A fault-injection run of the payment protocol: many avatars, each submit answered at random
//! cleanly, too late (a timeout), with a gateway 5xx or with an unreadable 2xx (fal queued it
//! every time), and each result delivered by webhook or lost (then only the sweep can find it).
//! Afterwards every avatar is in exactly one terminal state, fal got at most one paid
//! submission per avatar, and each user got exactly one outcome message.
//!
//! Size: `FAULT_RUN_AVATARS` (default 24, what CI runs); the numbers in docs/benchmarks.md come
//! from `FAULT_RUN_AVATARS=200 cargo test -p fluxbot-tests --test fault_run -- --nocapture`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fluxbot::domain::{AvatarState, AvatarStatus, FailureReason, Timestamp, WorkState};
use fluxbot_tests::fake_fal::{AcceptedBut, ok_webhook};
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use rand::Rng;
use serde_json::json;

fn user(n: usize) -> User {
    User {
        id: 6_200_000 + n as i64,
        language_code: "en",
    }
}

fn minutes(m: u64) -> Timestamp {
    Timestamp::now().plus(Duration::from_secs(m * 60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_random_submit_faults_and_lost_webhooks_no_avatar_is_paid_twice() {
    let n = fluxbot_tests::size("FAULT_RUN_AVATARS", 24);
    let w = PipelineWorld::with_env(false, &[("PHOTOS_MIN_STYLE", "2")]).await;
    let mut rng = rand::rng();
    let started = Instant::now();

    let mut avatars = Vec::with_capacity(n);
    for i in 0..n {
        avatars.push(
            w.bot
                .queued_avatar(user(i), "style", "Ink", "fast", 2)
                .await,
        );
    }
    let faults: Vec<Option<AcceptedBut>> = (0..n)
        .map(|_| match rng.random_range(0..10) {
            0 => Some(AcceptedBut::AnswerAfter(
                PipelineWorld::FAL_TIMEOUT + Duration::from_millis(500),
            )),
            1 => Some(AcceptedBut::Status(502)),
            2 => Some(AcceptedBut::Status(504)),
            3 => Some(AcceptedBut::GarbageBody),
            _ => None,
        })
        .collect();
    let faulty = faults.iter().filter(|f| f.is_some()).count();
    w.fal.plan_submit_faults(faults);
    // Launch everything, with redeliveries and sweeps past the lease in between.
    while w.run_queue(&w.pipeline, Duration::from_secs(1)).await.0 > 0 {}
    let report = w.pipeline.sweep(minutes(11), deadline()).await.unwrap();
    assert_eq!(report.relaunched, 0, "{report:?}");
    while w.run_queue(&w.pipeline, Duration::from_secs(1)).await.0 > 0 {}

    // fal finishes every training; some webhooks are lost, the rest arrive (some twice).
    let subs = w.fal.submissions();
    let mut lost = 0;
    for sub in &subs {
        let result = w.fal.portrait_result(&sub.request_id);
        w.fal.complete(&sub.request_id, &result);
        if rng.random_range(0..10) < 3 {
            lost += 1;
            continue;
        }
        for _ in 0..rng.random_range(1..=2) {
            let body = ok_webhook(&sub.request_id, &result);
            let headers = w
                .fal
                .signed_headers(&sub.request_id, &body, Timestamp::now().as_secs());
            let answer = w
                .post_webhook(sub.webhook.as_deref().unwrap(), headers, &body)
                .await;
            assert_eq!(answer.status, 200, "{answer:?}");
        }
    }
    // The sweep collects what it can see, then, past the wait window, ends the rest.
    for m in [15, 30, 60, 6 * 60] {
        let report = w.pipeline.sweep(minutes(m), deadline()).await.unwrap();
        assert_eq!(report.relaunched, 0, "{report:?}");
    }

    // Submissions per avatar: fal's own record, by the archive each one was given.
    let mut per_avatar: HashMap<String, usize> = HashMap::new();
    for sub in &subs {
        let archive = sub.input["images_data_url"].as_str().unwrap();
        let avatar = archive
            .split("archives/")
            .nth(1)
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap();
        *per_avatar.entry(avatar.to_owned()).or_default() += 1;
    }
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    for (i, avatar) in avatars.iter().enumerate() {
        let paid = per_avatar.get(&avatar.id.to_string()).copied().unwrap_or(0);
        assert!(paid <= 1, "avatar {i} was submitted {paid} times");
        let done = w.avatar_now(avatar).await;
        let outcome = match &done.state {
            AvatarState::Work(WorkState::Completed { .. }) => "completed",
            AvatarState::Work(WorkState::Failed {
                reason: FailureReason::Unconfirmed,
                ..
            }) => "failed: unconfirmed (submit unclear, webhook lost)",
            AvatarState::Work(WorkState::Failed { .. }) => "failed: other",
            other => panic!("avatar {i} ended in {:?}", other.status()),
        };
        *outcomes.entry(outcome).or_default() += 1;
        let told = w
            .bot
            .telegram
            .calls_of("sendMessage")
            .iter()
            .filter(|c| c.ok && c.params["chat_id"] == json!(user(i).id))
            .filter(|c| {
                let text = c.params["text"].as_str().unwrap_or("");
                text.contains("is trained and ready") || text.contains("failed")
            })
            .count();
        assert_eq!(told, 1, "avatar {i} ({outcome}): one outcome message");
        assert!(done.status() == AvatarStatus::Completed || done.status() == AvatarStatus::Failed);
    }
    assert_eq!(subs.len(), n, "one submission per avatar, none repeated");
    println!(
        "fault run: {n} avatars, {faulty} submits answered unclearly, {lost} webhooks lost; \
         submissions per avatar: max {}, total {}; outcomes {outcomes:?}; {:.1} s",
        per_avatar.values().max().copied().unwrap_or(0),
        subs.len(),
        started.elapsed().as_secs_f64()
    );
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}
