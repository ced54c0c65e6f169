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

/// A paying bot: every user has credits for their training and their pictures.
const PAID: &[(&str, &str)] = &[
    ("PHOTOS_MIN_STYLE", "2"),
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
    ("GENERATIONS_PER_HOUR", "100"),
    ("MAX_GENERATIONS_IN_FLIGHT", "100"),
];

/// The payment protocol with lost answers: avatars and then generations, every submit
/// answered at random cleanly or unclearly, every result delivered by webhook or lost, and one
/// in ten of the table's writes (puts and transactions) done by AWS with its answer lost, from
/// the launches on (the generations' commits included). Each
/// piece of work is submitted at most once and settles exactly once: an avatar told once; a
/// generation delivered once, or failed and refunded once (none both).
///
/// Size: `FAULT_RUN_AVATARS` x `FAULT_RUN_GENERATIONS` (default 8 x 24, what CI runs); the
/// numbers in docs/benchmarks.md come from `FAULT_RUN_AVATARS=200 FAULT_RUN_GENERATIONS=500
/// cargo test -p fluxbot-tests --test fault_run lost -- --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lost_answers_every_piece_of_work_is_paid_once_and_settles_once() {
    use fluxbot::domain::{Credits, EntryKind, LedgerEntry, UserId, WorkKind};
    use fluxbot::telegram::callback::Callback;
    let n = fluxbot_tests::size("FAULT_RUN_AVATARS", 8);
    let g = fluxbot_tests::size("FAULT_RUN_GENERATIONS", 24);
    let (backend, meter) = fluxbot_tests::backends::aws_metered().await;
    let w = PipelineWorld::on(backend, false, PAID, 1).await;
    let mut rng = rand::rng();
    let started = Instant::now();
    let unclear = |rng: &mut rand::rngs::ThreadRng| match rng.random_range(0..10) {
        0 => Some(AcceptedBut::Status(502)),
        1 => Some(AcceptedBut::GarbageBody),
        _ => None,
    };
    // Until every update gets its 200 (Telegram delivers again until it does).
    let deliver = |update: serde_json::Value| {
        let w = &w;
        async move {
            // An update held "in progress" by a claim whose answer was lost and whose take-back
            // failed too waits out its lease, as Telegram's retries do.
            let bound = Instant::now() + fluxbot::bot::UPDATE_LEASE + Duration::from_secs(20);
            while Instant::now() < bound {
                match w.bot.post(&update).await.status {
                    200 => return,
                    503 => tokio::time::sleep(Duration::from_secs(1)).await,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            panic!("update {update} never got a 200");
        }
    };
    let users: Vec<User> = (0..n).map(|i| user(1_000 + i)).collect();
    for u in &users {
        let grant = LedgerEntry::grant(UserId(u.id), "start", Credits(10_000), Timestamp::now());
        w.pipeline.store.apply_entry(&grant).await.unwrap().unwrap();
    }

    // Avatars: made (the conversation's own faults are the fault matrix's), then, with answers
    // lost from here on, launched under submit faults, trained, results delivered or lost.
    let mut avatars = Vec::new();
    for u in &users {
        avatars.push(w.bot.queued_avatar(*u, "style", "Ink", "fast", 2).await);
    }
    for call in ["dynamodb PutItem", "dynamodb TransactWriteItems"] {
        meter.lose_answers(call, 10);
    }
    w.fal
        .plan_submit_faults((0..n).map(|_| unclear(&mut rng)).collect());
    let finish = |rng: &mut rand::rngs::ThreadRng, from: usize, is_training: bool| {
        let subs = w.fal.submissions();
        let mut lost_webhooks = 0;
        let mut deliveries = Vec::new();
        for sub in subs.into_iter().skip(from) {
            let result = if is_training {
                w.fal.portrait_result(&sub.request_id)
            } else {
                w.fal.generation_result(&sub.request_id, &[false, false])
            };
            w.fal.complete(&sub.request_id, &result);
            if rng.random_range(0..10) < 3 {
                lost_webhooks += 1;
            } else {
                deliveries.push((sub, result));
            }
        }
        (deliveries, lost_webhooks)
    };
    let settle = |deliveries: Vec<(fluxbot_tests::fake_fal::Submission, String)>| {
        let w = &w;
        async move {
            for (sub, result) in deliveries {
                // fal retries a webhook that got no 2xx.
                for _ in 0..3 {
                    if w.deliver_ok(&sub, &result).await.status == 200 {
                        break;
                    }
                }
            }
            for m in [15, 30, 60, 6 * 60, 7 * 60] {
                while w.run_queue(&w.pipeline, Duration::from_millis(300)).await.0 > 0 {}
                let _ = w.pipeline.sweep(minutes(m), deadline()).await;
            }
        }
    };
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
    let _ = w.pipeline.sweep(minutes(11), deadline()).await;
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
    let (deliveries, lost_training_webhooks) = finish(&mut rng, 0, true);
    settle(deliveries).await;
    let trainings = w.fal.submissions().len();

    // Generations of the trained avatars, round robin.
    let mut trained = Vec::new();
    for (avatar, u) in avatars.iter().zip(&users) {
        let avatar = w.avatar_now(avatar).await;
        if avatar.status() == AvatarStatus::Completed {
            deliver(fluxbot_tests::fake_telegram::updates::text(
                w.bot.next_update_id(),
                *u,
                "/avatars",
            ))
            .await;
            let list = w.bot.telegram.last_message(u.id).message_id;
            let card = Callback::Card(avatar.id).encode();
            deliver(fluxbot_tests::fake_telegram::updates::callback(
                w.bot.next_update_id(),
                *u,
                list,
                &card,
            ))
            .await;
            let generate = Callback::Generate(avatar.id).encode();
            deliver(fluxbot_tests::fake_telegram::updates::callback(
                w.bot.next_update_id(),
                *u,
                list,
                &generate,
            ))
            .await;
            trained.push((avatar, *u));
        }
    }
    assert!(!trained.is_empty(), "some avatar trained");
    for i in 0..g {
        let (_, u) = &trained[i % trained.len()];
        let prompt = format!("a lighthouse, take {i}");
        deliver(fluxbot_tests::fake_telegram::updates::text(
            w.bot.next_update_id(),
            *u,
            &prompt,
        ))
        .await;
    }
    w.fal
        .plan_submit_faults((0..g).map(|_| unclear(&mut rng)).collect());
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
    // Within the generations' 10-minute timeout: fal has not finished them yet.
    let _ = w.pipeline.sweep(minutes(5), deadline()).await;
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
    let (deliveries, lost_generation_webhooks) = finish(&mut rng, trainings, false);
    settle(deliveries).await;

    // Each piece of work: at most one submission (fal's own record), one settlement.
    let subs = w.fal.submissions();
    let mut per_request_input: HashMap<String, usize> = HashMap::new();
    for sub in &subs[trainings..] {
        *per_request_input
            .entry(sub.input["prompt"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert!(
        per_request_input.values().all(|n| *n == 1),
        "a generation submitted twice: {per_request_input:?}"
    );
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut generations_seen = 0;
    for (avatar, u) in &trained {
        let owner = UserId(u.id);
        let ledger = w.pipeline.store.ledger(owner, 10_000).await.unwrap();
        let refunds = |id| {
            ledger
                .iter()
                .filter(|e| matches!(&e.kind, EntryKind::Refund { work } if work.kind == WorkKind::Generation && work.id == id))
                .count()
        };
        let pictures = w
            .bot
            .telegram
            .chat(u.id)
            .iter()
            .filter(|m| m.photo.is_some())
            .count();
        let mut delivered = 0;
        for generation in w
            .pipeline
            .store
            .list_generations(avatar.id, 10_000)
            .await
            .unwrap()
        {
            generations_seen += 1;
            let status = generation.state.status().as_str().to_owned();
            assert_eq!(
                generation.notice,
                fluxbot::domain::OutcomeNotice::Sent,
                "generation {} ({status}) told",
                generation.id
            );
            let refunded = refunds(generation.id.into());
            match status.as_str() {
                "completed" => {
                    assert_eq!(
                        refunded, 0,
                        "a delivered generation is not refunded: {generation:?}"
                    );
                    delivered += 1;
                }
                "failed" => assert_eq!(refunded, 1, "a failed generation is refunded once"),
                other => panic!("generation {} ended {other}", generation.id),
            }
            *outcomes.entry(status).or_default() += 1;
        }
        assert_eq!(pictures, 2 * delivered, "user {}: the pictures once", u.id);
    }
    assert_eq!(generations_seen, g, "one generation per prompt");
    println!(
        "fault run with lost answers: {n} avatars, {g} generations, {} answers lost, \
         {lost_training_webhooks} + {lost_generation_webhooks} webhooks lost; \
         {} submissions; generation outcomes {outcomes:?}; {:.1} s",
        meter.answers_lost(),
        subs.len(),
        started.elapsed().as_secs_f64()
    );
}
