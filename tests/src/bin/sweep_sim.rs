//! The status sweep over a large in-flight index: `items` trainings in flight (test mode, each
//! with a status message, so each is due a progress edit), then two passes of the real sweep,
//! timed: the first edits every status message (Telegram is the fake, on loopback), the second
//! finds nothing due (the index, one read per item). Backend `embedded` (SQLite, the default)
//! or `aws` (moto; seeding is slow there, keep `items` in the thousands).
//!
//! `cargo run --profile measure -p fluxbot-tests --bin sweep-sim -- 100000 embedded`

use std::time::{Duration, Instant};

use fluxbot::domain::{
    AttemptId, Avatar, AvatarEvent, AvatarKind, ChatId, FalRequest, MessageRef, Timestamp, UserId,
    WorkEvent,
};
use fluxbot::pipeline::SWEEP_CONCURRENCY as CONCURRENCY;
use fluxbot_tests::backends;
use fluxbot_tests::pipeline_world::PipelineWorld;
use futures::StreamExt;

const USERS: i64 = 5_000;

/// A training submitted `ago` before now, with a status message in its owner's chat.
fn training(n: usize, now: Timestamp, ago: Duration) -> Avatar {
    let owner = UserId(8_000_000 + (n as i64 % USERS));
    let at = now.minus(ago);
    let mut a = fluxbot_tests::conformance::draft(owner, AvatarKind::Style);
    let attempt = AttemptId::new();
    let request = FalRequest {
        request_id: format!("test_{n}"),
        endpoint: "fal-ai/flux-lora-fast-training".into(),
    };
    for event in [
        AvatarEvent::BeginPhotos,
        AvatarEvent::MinimumReached,
        AvatarEvent::Enqueue,
        AvatarEvent::Work(WorkEvent::Claim {
            attempt,
            lease: Duration::from_secs(300),
        }),
        AvatarEvent::Work(WorkEvent::BeginSubmit {
            attempt,
            endpoint: request.endpoint.clone(),
        }),
        AvatarEvent::Work(WorkEvent::Submitted { attempt, request }),
    ] {
        a = a.apply(event, at).expect("a legal step");
    }
    a.status_message = Some(MessageRef {
        chat_id: ChatId(owner.0),
        message_id: 10,
    });
    a
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let backend = match args.next().as_deref() {
        Some("aws") => backends::aws().await,
        _ => backends::embedded().await,
    };
    let name = backend.name;
    let w = PipelineWorld::on(backend, true, &[], 1).await;
    let store = w.pipeline.store.clone();
    let now = Timestamp::now();

    let seeding = Instant::now();
    futures::stream::iter(0..items)
        .map(|n| {
            let store = store.clone();
            let avatar = training(n, now, Duration::from_secs(600 + (n % 600) as u64));
            async move { store.create_avatar(&avatar).await.expect("seed an avatar") }
        })
        .buffer_unordered(16)
        .for_each(|_| async {})
        .await;
    println!(
        "{name}: {items} trainings in flight, seeded in {:.1} s; sweep {} items at a time",
        seeding.elapsed().as_secs_f64(),
        CONCURRENCY
    );

    let deadline = || Instant::now() + Duration::from_secs(3600);
    for (pass, label) in [(1, "every item due a progress edit"), (2, "nothing due")] {
        let edits_before = w.bot.telegram.calls_of("editMessageText").len();
        let started = Instant::now();
        let report = w.pipeline.sweep(now, deadline()).await.expect("a sweep");
        let took = started.elapsed();
        let edits = w.bot.telegram.calls_of("editMessageText").len() - edits_before;
        println!(
            "pass {pass} ({label}): {:.1} s, {:.2} ms per item; checked {}, progress shown {}, \
             Telegram edits {edits}, errors {}",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / items.max(1) as f64,
            report.checked,
            report.progress_shown,
            report.errors
        );
    }
}
