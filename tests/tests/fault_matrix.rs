//! Fault injection over one avatar's whole life: each AWS call the life makes (a DynamoDB
//! write mid-conversation, a photo's S3 upload, the launch job's SQS send, the zip upload,
//! the completion's writes...) is made to fail in turn on the wire (tests/src/aws_meter.rs),
//! three times in a row so the SDK's own retries give up, either before AWS does it or after
//! (the answer lost). Recovery goes only through the normal paths: Telegram re-delivering an
//! update it got no 200 for, SQS handing back a job that failed, fal.ai retrying its webhook,
//! and the sweep. Afterwards the avatar is in exactly one terminal state, fal.ai got at most
//! one submission, and the user got exactly one outcome message.
//!
//! Size: `FAULT_MATRIX` fault points (default 12, spread over the life; `all` for every call
//! of every operation at both sides, about 400 runs:
//! `FAULT_MATRIX=all cargo test -p fluxbot-tests --test fault_matrix -- --nocapture`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fluxbot::domain::{AvatarStatus, OutcomeNotice, Timestamp};
use fluxbot_tests::aws_meter::FaultAt;
use fluxbot_tests::bot_world::Answer;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::images;
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::Value;

const ANNA: User = User {
    id: 7_400_001,
    language_code: "en",
};

/// Telegram re-delivers an update until it gets a 200, backing off. An update whose claim
/// was written with its answer lost is taken back by the failing call; should that delete
/// fail too, the update stays "in progress" (503) until the claim's lease (`UPDATE_LEASE`)
/// ends. Telegram's retries outlast it, and so do these.
async fn until_ok(w: &PipelineWorld, update: &Value) -> Answer {
    let bound = Instant::now() + fluxbot::bot::UPDATE_LEASE + Duration::from_secs(20);
    loop {
        let answer = w.bot.post(update).await;
        if answer.status == 200 {
            return answer;
        }
        assert!(
            Instant::now() < bound,
            "update {update} never got a 200: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(if answer.status == 503 {
            1000
        } else {
            50
        }))
        .await;
    }
}

async fn say(w: &PipelineWorld, text: &str) {
    until_ok(w, &updates::text(w.bot.next_update_id(), ANNA, text)).await;
}

async fn press(w: &PipelineWorld, message_id: i32, data: &str) {
    let update = updates::callback(w.bot.next_update_id(), ANNA, message_id, data);
    until_ok(w, &update).await;
}

async fn press_last(w: &PipelineWorld, data: &str) {
    let last = w.bot.telegram.last_message(ANNA.id).message_id;
    press(w, last, data).await;
}

/// The button data starting with `prefix` on any message of the chat, newest first.
fn button(w: &PipelineWorld, prefix: &str) -> Option<(i32, String)> {
    w.bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .rev()
        .find_map(|m| {
            m.buttons
                .iter()
                .flatten()
                .find(|(_, d)| d.starts_with(prefix))
                .map(|(_, d)| (m.message_id, d.clone()))
        })
}

fn outcome_messages(w: &PipelineWorld) -> usize {
    w.bot
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| {
            let text = c.params["text"].as_str().unwrap_or("");
            c.ok && (text.contains("is trained and ready") || text.contains("Training of"))
        })
        .count()
}

/// What one life ended as.
#[derive(Debug)]
struct Ending {
    status: Option<AvatarStatus>,
    photos: u32,
    submissions: usize,
    outcome_messages: usize,
    fault_spent: bool,
    /// With a generation: how it ended, and the pictures the user got.
    generation: Option<(String, OutcomeNotice)>,
    pictures: usize,
}

/// A fault: the `skip`+1-th call of an operation answered with a 500 `times` times in a row,
/// before AWS did it or after (its answer lost).
type Fault<'a> = (&'a str, u64, u64, FaultAt);

/// One avatar's life (and, `with_generation`, one generation of it) with `fault` armed (none
/// for the clean run), recovered by the normal paths; returns how it ended and what the clean
/// run called.
async fn life(fault: Option<Fault<'_>>, with_generation: bool) -> (Ending, BTreeMap<String, u64>) {
    let (backend, meter) = fluxbot_tests::backends::aws_metered().await;
    let probe = backend.another_instance().await;
    let w = PipelineWorld::on(backend, false, &[], 1).await;
    if let Some((call, skip, times, at)) = fault {
        meter.inject(call, skip, times, at);
    }

    say(&w, "/start").await;
    for data in ["c", "k:portrait", "g:female"] {
        press_last(&w, data).await;
    }
    say(&w, "Anna").await;
    press_last(&w, "p:fast").await;
    let (message, consent) = button(&w, "cs:").expect("the consent question");
    press(&w, message, &consent).await;
    for seed in 0..10u8 {
        let file = w.bot.telegram.add_file(images::jpeg(640, 800, seed), "jpg");
        let update = updates::photo(w.bot.next_update_id(), ANNA, &file, (640, 800), None);
        until_ok(&w, &update).await;
    }
    let (message, start) = button(&w, "ts:").expect("Start after ten photos");
    press(&w, message, &start).await;
    let (message, confirm) = button(&w, "tc:").expect("Confirm on the summary");
    press(&w, message, &confirm).await;

    // Workers, fal.ai's webhook retries and the sweep, until the avatar settles (bounded).
    let owner = fluxbot::domain::UserId(ANNA.id);
    let bound = Instant::now() + Duration::from_secs(60);
    let mut later = Timestamp::now();
    let mut answered = false;
    loop {
        let result = |id: &str| w.fal.portrait_result(id);
        round(&w, 0, &result, &mut answered, &mut later).await;
        let avatar = probe.store.list_avatars(owner).await.unwrap().pop();
        let settled = avatar
            .as_ref()
            .is_some_and(|a| matches!(a.status(), AvatarStatus::Completed | AvatarStatus::Failed))
            && outcome_messages(&w) > 0;
        if settled || Instant::now() > bound {
            break;
        }
    }
    // One more round of everything: a settled life must stay as it is.
    w.run_queue(&w.pipeline, Duration::from_millis(200)).await;
    let _ = w
        .pipeline
        .sweep(
            later.plus(Duration::from_secs(600)),
            Instant::now() + Duration::from_secs(20),
        )
        .await;

    let avatars = probe.store.list_avatars(owner).await.unwrap();
    assert!(avatars.len() <= 1, "one avatar, not {}", avatars.len());
    let generation = match avatars.first() {
        Some(avatar) if with_generation && avatar.status() == AvatarStatus::Completed => {
            generation_life(&w, &probe, avatar, later).await
        }
        _ => None,
    };
    let ending = Ending {
        status: avatars.first().map(|a| a.status()),
        photos: avatars.first().map(|a| a.photo_count).unwrap_or(0),
        submissions: w.fal.submissions().len(),
        outcome_messages: outcome_messages(&w),
        fault_spent: meter.faults_left() == 0,
        generation,
        pictures: w
            .bot
            .telegram
            .chat(ANNA.id)
            .iter()
            .filter(|m| m.photo.is_some())
            .count(),
    };
    (ending, meter.usage().calls)
}

/// One round of what recovers work: the launch worker; fal.ai finishing submission `n` (once
/// it exists) with `result` and delivering its webhook, tried three times as fal retries one
/// that got no 2xx (after its last try only the sweep is left), once over all rounds; and a
/// sweep ten minutes on.
async fn round(
    w: &PipelineWorld,
    n: usize,
    result: &dyn Fn(&str) -> String,
    answered: &mut bool,
    later: &mut Timestamp,
) {
    w.run_queue(&w.pipeline, Duration::from_millis(200)).await;
    if !*answered && let Some(sub) = w.fal.submissions().get(n).cloned() {
        let result = result(&sub.request_id);
        w.fal.complete(&sub.request_id, &result);
        for _ in 0..3 {
            if w.deliver_ok(&sub, &result).await.status == 200 {
                break;
            }
        }
        *answered = true;
    }
    *later = later.plus(Duration::from_secs(600));
    let _ = w
        .pipeline
        .sweep(*later, Instant::now() + Duration::from_secs(20))
        .await;
}

/// A generation of the trained `avatar`: asked on its card, launched, its result delivered by
/// fal's webhook (retried as fal does) and the sweep, until the user has it (bounded). How it
/// ended: its status and its notice.
async fn generation_life(
    w: &PipelineWorld,
    probe: &fluxbot::backend::Backend,
    avatar: &fluxbot::domain::Avatar,
    mut later: Timestamp,
) -> Option<(String, OutcomeNotice)> {
    use fluxbot::telegram::callback::Callback;
    say(w, "/avatars").await;
    press_last(w, &Callback::Card(avatar.id).encode()).await;
    press_last(w, &Callback::Generate(avatar.id).encode()).await;
    say(w, "a lighthouse at dawn").await;
    let bound = Instant::now() + Duration::from_secs(60);
    let mut answered = false;
    loop {
        let result = |id: &str| w.fal.generation_result(id, &[false, false]);
        round(w, 1, &result, &mut answered, &mut later).await;
        let generation = probe
            .store
            .list_generations(avatar.id, 10)
            .await
            .unwrap()
            .pop();
        let settled = generation
            .as_ref()
            .is_some_and(|g| g.state.is_finished() && g.notice == OutcomeNotice::Sent);
        if settled || Instant::now() > bound {
            let all = probe.store.list_generations(avatar.id, 10).await.unwrap();
            assert!(all.len() <= 1, "one generation, not {}", all.len());
            return generation.map(|g| (g.state.status().as_str().to_owned(), g.notice));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_call_of_an_avatar_life_failing_in_turn_ends_in_one_outcome() {
    let (clean, calls) = life(None, false).await;
    assert_eq!(clean.status, Some(AvatarStatus::Completed), "{clean:?}");
    assert_eq!((clean.submissions, clean.outcome_messages), (1, 1));

    // Every (operation, n-th call, side) of the clean life, or a spread of them.
    let mut points: Vec<(String, u64, FaultAt)> = Vec::new();
    for (call, n) in &calls {
        for k in 0..*n {
            for at in [FaultAt::Before, FaultAt::After] {
                points.push((call.clone(), k, at));
            }
        }
    }
    let size = std::env::var("FAULT_MATRIX").unwrap_or_default();
    if size != "all" {
        let n: usize = size.parse().unwrap_or(12);
        let step = (points.len() / n.max(1)).max(1);
        points = points.into_iter().step_by(step).take(n).collect();
    }

    let mut failures = Vec::new();
    for (call, skip, at) in &points {
        let started = Instant::now();
        let (end, _) = life(Some((call, *skip, 3, *at)), false).await;
        let ok = matches!(
            end.status,
            Some(AvatarStatus::Completed | AvatarStatus::Failed)
        ) && end.submissions <= 1
            && end.outcome_messages == 1
            && (end.status != Some(AvatarStatus::Completed) || end.photos == 10);
        println!(
            "{call} #{skip} {at:?}: {:?} photos {} submissions {} outcome messages {} \
             (fault reached: {}) {:.1} s",
            end.status,
            end.photos,
            end.submissions,
            end.outcome_messages,
            end.fault_spent,
            started.elapsed().as_secs_f64()
        );
        if !ok {
            failures.push(format!("{call} #{skip} {at:?}: {end:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every conditional write and transaction of an avatar's life and of a generation's, in
/// turn, applied by AWS with its answer lost, and the SDK's retry then refused by its own
/// condition: each is recognised as the writer's own (its write token), so the life goes on
/// as if nothing happened. Both end completed (no false "unconfirmed" failure), each
/// submitted once, told once, the pictures delivered once.
///
/// Size: `FAULT_MATRIX_LOST` points (default 12; `all` for every such call, about 80 runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_conditional_write_applied_with_its_answer_lost_is_taken_as_done() {
    let (clean, calls) = life(None, true).await;
    assert_eq!(clean.status, Some(AvatarStatus::Completed), "{clean:?}");
    assert_eq!(
        (clean.submissions, clean.outcome_messages, clean.pictures),
        (2, 1, 2)
    );
    assert_eq!(
        clean.generation,
        Some(("completed".to_owned(), OutcomeNotice::Sent))
    );

    let mut points: Vec<(String, u64)> = Vec::new();
    for (call, n) in &calls {
        if call == "dynamodb PutItem" || call == "dynamodb TransactWriteItems" {
            points.extend((0..*n).map(|k| (call.clone(), k)));
        }
    }
    let size = std::env::var("FAULT_MATRIX_LOST").unwrap_or_default();
    if size != "all" {
        let n: usize = size.parse().unwrap_or(12);
        let step = (points.len() / n.max(1)).max(1);
        points = points.into_iter().step_by(step).take(n).collect();
    }
    let mut failures = Vec::new();
    for (call, skip) in &points {
        let started = Instant::now();
        let (end, _) = life(Some((call, *skip, 1, FaultAt::After)), true).await;
        let ok = end.status == Some(AvatarStatus::Completed)
            && end.photos == 10
            && end.submissions == 2
            && end.outcome_messages == 1
            && end.pictures == 2
            && end.generation == Some(("completed".to_owned(), OutcomeNotice::Sent));
        println!(
            "{call} #{skip} applied, answer lost: {:?} submissions {} outcome messages {} \
             pictures {} generation {:?} (fault reached: {}) {:.1} s",
            end.status,
            end.submissions,
            end.outcome_messages,
            end.pictures,
            end.generation,
            end.fault_spent,
            started.elapsed().as_secs_f64()
        );
        if !ok {
            failures.push(format!("{call} #{skip}: {end:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
