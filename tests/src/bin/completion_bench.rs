//! Completion benchmark: what keeping the trained LoRA adds to a training's completion. A
//! signed result webhook goes through the real fal-webhook handler, which streams the LoRA
//! from the (fake) fal CDN into S3 (moto) before the conditional write and the notice. Each
//! round completes one avatar with a LoRA of `mb` MB and one with a 1 KB LoRA; the difference
//! is the copy. One JSON line per round. Run through `infra/bench-completion.sh`.

use std::time::{Duration, Instant};

use fluxbot::domain::AvatarStatus;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use fluxbot_tests::rss::{reset_peak, status_kb};
use rand::RngCore;
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let mb: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(90);
    let w = PipelineWorld::with_env(false, &[("PHOTOS_MIN_STYLE", "2")]).await;
    for round in 0..rounds {
        let mut timings = Vec::new();
        for (n, bytes) in [(0, mb * 1024 * 1024), (1, 1024)] {
            let user = User {
                id: 7_200_000 + i64::from(round) * 2 + n,
                language_code: "en",
            };
            let avatar = w.bot.queued_avatar(user, "style", "Bench", "fast", 2).await;
            w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
            let sub = w.fal.submissions().pop().unwrap();
            let mut lora = vec![0u8; bytes];
            rand::rng().fill_bytes(&mut lora);
            let url = w
                .fal
                .host_file(&format!("{}/lora.safetensors", sub.request_id), lora);
            let payload = json!({
                "diffusers_lora_file": {"url": url, "file_size": bytes},
                "config_file": {"url": w.fal.host_file(&format!("{}/config.json", sub.request_id), b"{}".to_vec())}
            })
            .to_string();
            reset_peak();
            let started = Instant::now();
            let answer = w.deliver_ok(&sub, &payload).await;
            timings.push((started.elapsed(), status_kb("VmHWM:")));
            assert_eq!(answer.status, 200);
            assert_eq!(
                w.avatar_now(&avatar).await.status(),
                AvatarStatus::Completed
            );
        }
        let (big, big_peak) = timings[0];
        let (small, _) = timings[1];
        println!(
            "{}",
            json!({
                "round": round,
                "lora_mb": mb,
                "webhook_ms_with_lora": big.as_millis(),
                "webhook_ms_with_1kb_lora": small.as_millis(),
                "copy_adds_ms": big.saturating_sub(small).as_millis(),
                "peak_rss_mb": format!("{:.1}", big_peak as f64 / 1024.0),
            })
        );
    }
}
