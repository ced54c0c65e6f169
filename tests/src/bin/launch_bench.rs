//! Launch benchmark: the time from the user's Confirm to the fal.ai submission, by phase, and
//! the launch worker's peak memory, for an avatar of 20 photos of 5 MB (incompressible bytes,
//! like JPEGs), on the AWS adapters against moto with the fake Telegram and fake fal.ai.
//! Prints one JSON line per round. Run through `infra/bench-launch.sh`.

use std::time::{Duration, Instant};

use fluxbot::domain::{ContentHash, ImageFormat, Photo, Timestamp, WorkState, blob_keys};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::pipeline_world::PipelineWorld;
use fluxbot_tests::rss::{reset_peak, status_kb};
use rand::RngCore;

const PHOTOS: usize = 20;
const PHOTO_BYTES: usize = 5 * 1024 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let w = PipelineWorld::new(false).await;
    for round in 0..rounds {
        let user = User {
            id: 7_000_000 + i64::from(round),
            language_code: "en",
        };
        let message = w.bot.create_avatar(user, "portrait", "Bench", "fast").await;
        let avatar = w.bot.avatars(user).await.pop().unwrap();
        // Photos straight into the stores: the upload path is not what is measured.
        for i in 0..PHOTOS {
            let mut bytes = vec![0u8; PHOTO_BYTES];
            rand::rng().fill_bytes(&mut bytes);
            let unique = format!("bench-{round}-{i}");
            let key = blob_keys::photo(avatar.owner, avatar.id, &unique, ImageFormat::Jpeg);
            let size = w
                .pipeline
                .blobs
                .put(
                    &key,
                    Box::pin(std::io::Cursor::new(bytes.clone())),
                    "image/jpeg",
                )
                .await
                .unwrap();
            let photo = Photo {
                avatar_id: avatar.id,
                owner: avatar.owner,
                file_unique_id: unique.clone(),
                file_id: unique,
                blob_key: key,
                content_hash: ContentHash::of(&bytes),
                format: ImageFormat::Jpeg,
                width: 4000,
                height: 3000,
                size_bytes: size,
                added_at: Timestamp::now(),
            };
            w.pipeline.store.add_photo(&photo, 20).await.unwrap();
        }
        w.bot
            .tap(user, message, Callback::StartTraining(avatar.id))
            .await;

        reset_peak();
        let baseline_kb = status_kb("VmRSS:");
        let started = Instant::now();
        w.bot
            .tap(user, message, Callback::ConfirmTraining(avatar.id))
            .await;
        let confirmed = started.elapsed();
        let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
        let submitted = started.elapsed();
        let peak_kb = status_kb("VmHWM:");
        assert_eq!((received, response.batch_item_failures.len()), (1, 0));
        assert_eq!(w.fal.submissions().len(), round as usize + 1);
        println!(
            "{}",
            serde_json::json!({
                "round": round,
                "photos": PHOTOS,
                "photo_mb": PHOTO_BYTES / (1024 * 1024),
                "confirm_handler_ms": confirmed.as_millis(),
                "queue_and_launch_ms": (submitted - confirmed).as_millis(),
                "confirm_to_submission_ms": submitted.as_millis(),
                "rss_before_mb": format!("{:.1}", baseline_kb as f64 / 1024.0),
                "peak_rss_mb": format!("{:.1}", peak_kb as f64 / 1024.0),
            })
        );
        // The next round's avatar needs this one's training to be over.
        let mut done = w.avatar_now(&avatar).await;
        done.state = fluxbot::domain::AvatarState::Work(WorkState::Failed {
            reason: fluxbot::domain::FailureReason::TimedOut,
            failed_at: Timestamp::now(),
        });
        w.pipeline.store.update_avatar(&done).await.unwrap();
    }
}
