//! What one avatar's life and one generation cost in AWS calls, counted on the wire: the
//! functions' SDK clients talk to moto through a metering proxy (tests/src/aws_meter.rs) and
//! every phase is measured from what went through it. The table printed with `--nocapture`
//! is the one in docs/benchmarks.md ("Calls and cost"), with the cost at list prices.
//!
//! `cargo test -p fluxbot-tests --test call_counts -- --nocapture`

use std::time::{Duration, Instant};

use fluxbot::domain::{AvatarStatus, Timestamp};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::aws_meter::{Meter, Usage};
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::images;
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 7_300_001,
    language_code: "en",
};

/// us-east-1 list prices, December 2026 (aws.amazon.com/{dynamodb,sqs,s3}/pricing): DynamoDB
/// on-demand per million read and write request units, SQS standard per million requests, S3
/// Standard per thousand PUT/COPY/POST/LIST and per thousand GET/HEAD (DELETE is free).
const DYNAMODB_READ_PER_M: f64 = 0.125;
const DYNAMODB_WRITE_PER_M: f64 = 0.625;
const SQS_PER_M: f64 = 0.40;
const S3_PUT_PER_K: f64 = 0.005;
const S3_GET_PER_K: f64 = 0.0004;

fn dollars(u: &Usage) -> f64 {
    let s3_put: u64 = [
        "PutObject",
        "UploadPart",
        "CreateMultipartUpload",
        "CompleteMultipartUpload",
        "ListObjectsV2",
        "ListObjects",
        "CopyObject",
        "DeleteObjects",
    ]
    .iter()
    .map(|op| u.of(&format!("s3 {op}")))
    .sum();
    let s3_get = u.of("s3 GetObject") + u.of("s3 HeadObject");
    u.read_units * DYNAMODB_READ_PER_M / 1e6
        + u.write_units * DYNAMODB_WRITE_PER_M / 1e6
        + u.count("sqs") as f64 * SQS_PER_M / 1e6
        + s3_put as f64 * S3_PUT_PER_K / 1e3
        + s3_get as f64 * S3_GET_PER_K / 1e3
}

struct Phases {
    meter: Meter,
    last: Usage,
    rows: Vec<(&'static str, Usage)>,
}

impl Phases {
    fn new(meter: Meter) -> Self {
        let last = meter.usage();
        Self {
            meter,
            last,
            rows: Vec::new(),
        }
    }

    /// Closes the phase `name`: what went through the meter since the last one.
    fn mark(&mut self, name: &'static str) -> Usage {
        let now = self.meter.usage();
        let phase = now.since(&self.last);
        self.last = now;
        self.rows.push((name, phase.clone()));
        phase
    }

    /// [`Self::mark`] for a phase of the launch worker, with the batch Lambda's SQS poller
    /// received and deleted for it: two requests billed to the account, made in this world by
    /// a client outside the meter (so injected faults never hit it).
    fn mark_polled(&mut self, name: &'static str) -> Usage {
        self.mark(name);
        let (_, phase) = self.rows.last_mut().expect("the phase just closed");
        for call in ["sqs ReceiveMessage", "sqs DeleteMessage"] {
            *phase.calls.entry(call.to_owned()).or_default() += 1;
        }
        phase.clone()
    }

    /// Reads the tests make to check results, kept out of every phase.
    fn skip(&mut self) {
        self.last = self.meter.usage();
    }

    fn print(&self) {
        println!(
            "| phase | DynamoDB calls | read units | write units | SQS requests | S3 requests | $ per 1,000 |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (name, u) in &self.rows {
            println!(
                "| {name} | {} | {} | {} | {} | {} | {:.4} |",
                u.count("dynamodb"),
                u.read_units,
                u.write_units,
                u.count("sqs"),
                u.count("s3"),
                dollars(u) * 1000.0
            );
        }
        for (name, u) in &self.rows {
            println!("{name}: {:?}", u.calls);
        }
    }
}

fn sum<'a>(rows: impl Iterator<Item = &'a Usage>) -> Usage {
    let mut total = Usage::default();
    for u in rows {
        for (k, n) in &u.calls {
            *total.calls.entry(k.clone()).or_default() += n;
        }
        total.read_units += u.read_units;
        total.write_units += u.write_units;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_avatar_and_one_generation_counted_call_by_call() {
    let (backend, meter) = fluxbot_tests::backends::aws_metered().await;
    let w = PipelineWorld::on(backend, false, &[], 1).await;
    let bot = &w.bot;
    let mut phases = Phases::new(meter);

    // The conversation: /start, Create, kind, gender, name, preset, 10 photos, Start, Confirm.
    let progress = bot.create_avatar(ANNA, "portrait", "Anna", "fast").await;
    for seed in 0..10u8 {
        let file = bot.telegram.add_file(images::jpeg(640, 800, seed), "jpg");
        bot.send_photo(ANNA, &file, (640, 800), None).await;
    }
    let start = bot
        .telegram
        .message(ANNA.id, progress)
        .buttons
        .iter()
        .flatten()
        .map(|(_, data)| data.clone())
        .find(|d| d.starts_with("ts:"))
        .expect("Start training on the progress message");
    bot.press_data(ANNA, progress, &start).await;
    bot.press_data(ANNA, progress, &start.replacen("ts:", "tc:", 1))
        .await;
    let conversation = phases.mark("conversation: 7 updates + 10 photos + Start + Confirm");

    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    let launch =
        phases.mark_polled("launch worker: zip to S3, presign, submit (SQS receive + delete)");

    let sub = w.fal.submissions()[0].clone();
    let webhook = w
        .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
        .await;
    assert_eq!(webhook.status, 200);
    let completion = phases.mark("fal-webhook: completion, LoRA kept in S3, notice");
    let avatar = bot.avatars(ANNA).await.pop().unwrap();
    assert_eq!(avatar.status(), AvatarStatus::Completed);
    phases.skip();

    // A sweep pass with nothing in flight: what the schedule costs every minute.
    let report = w
        .pipeline
        .sweep(Timestamp::now(), Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.checked, 0);
    let idle_sweep = phases.mark("status sweep, nothing in flight (each minute)");

    // One generation of 2 images: the card's Generate, a typed prompt, launch, result.
    let id = avatar.id;
    bot.tap_last(ANNA, Callback::Card(id)).await;
    bot.tap_last(ANNA, Callback::Generate(id)).await;
    bot.say(ANNA, "on a sunny beach").await;
    let prompt = phases.mark("generation: card + Generate + prompt");
    let (received, _) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(received, 1);
    let submit = phases.mark_polled("generation: launch worker submits");
    let sub = w.fal.submissions()[1].clone();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let delivered = phases.mark("generation: fal-webhook keeps 2 images in S3, album");
    assert_eq!(bot.telegram.calls_of("sendMediaGroup").len(), 1);

    // One upscale of the first picture (a free bot: the tap commits), launch, result.
    let generation_id = w
        .pipeline
        .store
        .list_generations(id, 1)
        .await
        .unwrap()
        .remove(0)
        .id;
    phases.skip();
    bot.tap_newest(ANNA, Callback::Upscale(id, generation_id, 0))
        .await;
    let tap = phases.mark("upscale: 🔍 tap commits");
    let (received, _) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(received, 1);
    let upscale_submit = phases.mark_polled("upscale: launch worker presigns the picture, submits");
    let sub = w.fal.submissions()[2].clone();
    let result = w.fal.upscale_result(&sub.request_id, 1536, 2048);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let upscaled = phases.mark("upscale: fal-webhook keeps the file in S3, sends it");
    assert_eq!(bot.telegram.calls_of("sendDocument").len(), 1);

    phases.print();
    let lifecycle = sum([&conversation, &launch, &completion].into_iter());
    let generation = sum([&prompt, &submit, &delivered].into_iter());
    let upscale = sum([&tap, &upscale_submit, &upscaled].into_iter());
    println!(
        "avatar lifecycle: {:?}\n  ${:.4} per 1,000 avatars; generation: ${:.4} per 1,000; \
         upscale: ${:.4} per 1,000; idle sweep ${:.4} per month",
        lifecycle.calls,
        dollars(&lifecycle) * 1000.0,
        dollars(&generation) * 1000.0,
        dollars(&upscale) * 1000.0,
        dollars(&idle_sweep) * 60.0 * 24.0 * 30.0
    );

    // What the design promises about these paths, whatever the exact counts become.
    for (name, u) in &phases.rows {
        assert_eq!(u.of("dynamodb Scan"), 0, "{name}: never a table scan");
    }
    assert_eq!(
        conversation.of("s3 PutObject"),
        10,
        "one upload per photo, nothing more: {:?}",
        conversation.calls
    );
    assert_eq!(
        conversation.of("sqs SendMessage"),
        1,
        "Confirm sends one launch job"
    );
    assert_eq!(launch.of("sqs SendMessage"), 0, "live mode: no delayed job");
    assert_eq!(
        idle_sweep.of("dynamodb Query"),
        idle_sweep.count("dynamodb"),
        "an idle sweep only queries the in-flight index: {:?}",
        idle_sweep.calls
    );
    assert_eq!(
        idle_sweep.count("dynamodb"),
        fluxbot::adapters::aws::TableLayout::IN_FLIGHT_SHARDS as u64 + 1,
        "one query per index partition (and the unsharded one): {:?}",
        idle_sweep.calls
    );
    assert_eq!(idle_sweep.count("s3") + idle_sweep.count("sqs"), 0);
    assert_eq!(
        delivered.of("s3 PutObject") + delivered.of("s3 UploadPart"),
        2,
        "each delivered image kept once: {:?}",
        delivered.calls
    );
    assert_eq!(
        upscaled.of("s3 PutObject") + upscaled.of("s3 UploadPart"),
        1,
        "the upscaled file kept once: {:?}",
        upscaled.calls
    );
    // A loose ceiling, so a change that multiplies calls shows here first.
    assert!(
        dollars(&lifecycle) * 1000.0 < 1.0,
        "AWS data calls of 1,000 avatars under $1"
    );
}
