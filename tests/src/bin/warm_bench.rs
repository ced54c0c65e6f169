//! Warm CPU per request: the real handlers, warm (clients built, connections open), on a
//! single-threaded runtime, so the CPU time of this thread is the handler's own work (parsing,
//! signing requests, JSON, TLS-free HTTP to moto and the fakes, the log lines) and nothing
//! else: moto is another process and the fakes (wiremock) serve on their own threads.
//!
//! moto's server (werkzeug) closes the connection after every response, DynamoDB, S3 and SQS
//! keep it open; so the AWS calls go through a keep-alive proxy on another thread, or each
//! would pay a TCP connect (and the kernel's loopback work) on the measured thread.
//!
//! `cargo build --profile measure -p fluxbot-tests --bin warm-bench &&
//! MOTO_ENDPOINT=http://127.0.0.1:<port> target/measure/warm-bench [users]` (default 20).

use std::time::Duration;

use fluxbot_tests::aws_meter::Meter;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::images;
use fluxbot_tests::pipeline_world::PipelineWorld;
use fluxbot_tests::{backends, moto};
use serde_json::Value;

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A proxy in front of moto, on its own thread and runtime, whose connections stay open: the
/// metering proxy, whose counting (unread here) runs on that thread, not the measured one.
fn keep_alive_proxy() -> String {
    let (sender, url) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let proxy = Meter::start(moto::endpoint()).await;
            sender.send(proxy.url().to_owned()).unwrap();
            std::future::pending::<()>().await
        })
    });
    url.recv().unwrap()
}

fn median_ms(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 9) / 10]))
}

async fn timed(w: &PipelineWorld, update: &Value, into: &mut Vec<Duration>) {
    let before = thread_cpu();
    let answer = w.bot.post(update).await;
    into.push(thread_cpu() - before);
    assert_eq!(answer.status, 200, "{update} -> {answer:?}");
}

fn main() {
    // The functions' own log subscriber (lambda_http's, JSON as the template configures it),
    // writing to nowhere: formatting each log line is part of a request's CPU.
    // SAFETY: no other thread exists yet to read the environment concurrently.
    unsafe { std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "json") };
    lambda_http::tracing::init_default_subscriber_with_writer(std::io::sink);
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(users));
}

async fn run(users: usize) {
    let proxy = keep_alive_proxy();
    let w = PipelineWorld::on(backends::aws_at(&proxy).await, false, &[], 1).await;
    let mut text = Vec::new();
    let mut press = Vec::new();
    let mut photo = Vec::new();
    let mut webhook = Vec::new();
    for i in 0..users + 2 {
        let user = User {
            id: 7_500_000 + i as i64,
            language_code: "en",
        };
        let warm = i >= 2;
        let mut t = Vec::new();
        let mut p = Vec::new();
        let mut f = Vec::new();
        timed(
            &w,
            &updates::text(w.bot.next_update_id(), user, "/start"),
            &mut t,
        )
        .await;
        for data in ["c", "k:portrait", "g:female"] {
            let last = w.bot.telegram.last_message(user.id).message_id;
            let update = updates::callback(w.bot.next_update_id(), user, last, data);
            timed(&w, &update, &mut p).await;
        }
        timed(
            &w,
            &updates::text(w.bot.next_update_id(), user, "Anna"),
            &mut t,
        )
        .await;
        let last = w.bot.telegram.last_message(user.id).message_id;
        let update = updates::callback(w.bot.next_update_id(), user, last, "p:fast");
        timed(&w, &update, &mut p).await;
        for seed in 0..10u8 {
            let file = w
                .bot
                .telegram
                .add_file(images::jpeg(640, 800, seed.wrapping_add(i as u8)), "jpg");
            let update = updates::photo(w.bot.next_update_id(), user, &file, (640, 800), None);
            timed(&w, &update, &mut f).await;
        }
        let avatar = w.bot.avatars(user).await.pop().unwrap();
        for data in [format!("ts:{}", avatar.id), format!("tc:{}", avatar.id)] {
            let update = updates::callback(w.bot.next_update_id(), user, last, &data);
            timed(&w, &update, &mut p).await;
        }
        w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
        let sub = w.fal.submissions().last().unwrap().clone();
        let result = w.fal.portrait_result(&sub.request_id);
        let before = thread_cpu();
        let answer = w.deliver_ok(&sub, &result).await;
        let spent = thread_cpu() - before;
        assert_eq!(answer.status, 200);
        if warm {
            text.extend(t);
            press.extend(p);
            photo.extend(f);
            webhook.push(spent);
        }
    }
    println!("{users} users, CPU time of the handler's thread per request (ms):");
    println!("| request | samples | median | p90 |");
    println!("|---|---:|---:|---:|");
    for (name, v) in [
        ("Telegram text update (/start, a name)", text),
        ("Telegram button press", press),
        ("Telegram photo (download, checks, S3 put)", photo),
        (
            "fal.ai completion webhook (verify, record, LoRA to S3, notice)",
            webhook,
        ),
    ] {
        let n = v.len();
        let (median, p90) = median_ms(v);
        println!("| {name} | {n} | {median:.2} | {p90:.2} |");
    }
}
