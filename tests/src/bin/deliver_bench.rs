//! Delivery benchmark: from fal.ai's signed result webhook to the pictures in the chat, for a
//! generation of 4 images of 2 MB each, through the real fal-webhook handler: fetch from the
//! (fake) CDN, keep in S3 (moto), conditional write, read back, multipart upload to the (fake)
//! Telegram. Reports the handler's time (what API Gateway's 30 s limit applies to) and the
//! process's peak RSS. One JSON line per round. Run through `infra/bench-deliver.sh`.

use std::time::{Duration, Instant};

use fluxbot::domain::Timestamp;
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use fluxbot_tests::rss::{reset_peak, status_kb};
use rand::RngCore;
use serde_json::json;

const IMAGES: usize = 4;
const IMAGE_BYTES: usize = 2 * 1024 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let w = PipelineWorld::with_env(false, &[("GENERATIONS_PER_HOUR", "1000")]).await;
    let user = User {
        id: 7_100_000,
        language_code: "en",
    };
    // One trained avatar, through the real conversation and pipeline.
    let avatar = w
        .bot
        .queued_avatar(user, "portrait", "Bench", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let training = w.fal.submissions().pop().unwrap();
    let trained = w
        .deliver_ok(&training, &w.fal.portrait_result(&training.request_id))
        .await;
    assert_eq!(trained.status, 200);
    let id = avatar.id;
    w.bot.tap_last(user, Callback::Card(id)).await;
    w.bot.tap_last(user, Callback::Generate(id)).await;
    w.bot.tap_last(user, Callback::GenerationSettings(id)).await;
    w.bot
        .tap_last(
            user,
            Callback::SetCount(id, fluxbot::domain::ImageCount::try_from(4).unwrap()),
        )
        .await;
    w.bot.tap_last(user, Callback::Generate(id)).await;
    for round in 0..rounds {
        w.bot
            .say(user, &format!("a lighthouse, take {round}"))
            .await;
        w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
        let sub = w.fal.submissions().pop().unwrap();
        // Real JPEG headers padded with incompressible bytes to the size of a 2K picture.
        let images: Vec<serde_json::Value> = (0..IMAGES)
            .map(|i| {
                let mut bytes = fluxbot_tests::images::jpeg(64, 64, i as u8);
                let mut noise = vec![0u8; IMAGE_BYTES - bytes.len()];
                rand::rng().fill_bytes(&mut noise);
                bytes.extend(noise);
                let url = w
                    .fal
                    .host_file(&format!("{}/{i}.jpeg", sub.request_id), bytes);
                json!({"url": url, "width": 1536, "height": 2048, "content_type": "image/jpeg"})
            })
            .collect();
        let payload = json!({"images": images, "has_nsfw_concepts": vec![false; IMAGES],
                             "seed": 1, "timings": {}, "prompt": "p"})
        .to_string();
        let albums_before = w.bot.telegram.calls_of("sendMediaGroup").len();

        reset_peak();
        let baseline_kb = status_kb("VmRSS:");
        let started = Instant::now();
        let answer = w.deliver_ok(&sub, &payload).await;
        let handled = started.elapsed();
        let peak_kb = status_kb("VmHWM:");
        assert_eq!(answer.status, 200);
        assert_eq!(
            w.bot.telegram.calls_of("sendMediaGroup").len(),
            albums_before + 1
        );
        println!(
            "{}",
            json!({
                "round": round,
                "images": IMAGES,
                "image_mb": IMAGE_BYTES / (1024 * 1024),
                "webhook_to_album_ms": handled.as_millis(),
                "rss_before_mb": format!("{:.1}", baseline_kb as f64 / 1024.0),
                "peak_rss_mb": format!("{:.1}", peak_kb as f64 / 1024.0),
                "at": Timestamp::now().0,
            })
        );
    }
}
