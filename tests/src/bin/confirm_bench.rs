//! Confirm benchmark: what the daily spend cap and the credits ledger add to a training's
//! Confirm. `users` users, each with a ready style avatar, press Confirm at the same moment
//! through the real webhook handler against moto, in four modes: free with the cap off (the
//! avatar's conditional put and the launch count), the cap on (plus the day's spend in the
//! same transaction, every user charging the same day item), Stars billing (plus the user's
//! ledger entry and balance) and both. Prints one JSON line per mode with p50/p99/max of the
//! Confirm's latency. Run through `infra/bench-confirm.sh`.

use std::time::{Duration, Instant};

use fluxbot::domain::{AvatarStatus, Credits, LedgerEntry, Timestamp};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::backends;
use fluxbot_tests::bot_world::BotWorld;
use fluxbot_tests::fake_telegram::updates::User;
use futures::future::join_all;
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_millis()
}

async fn run(users: i64, cap: &str, billing: &str, first_id: i64) -> serde_json::Value {
    let w = BotWorld::new(
        backends::aws().await,
        &[
            ("PHOTOS_MIN_STYLE", "1"),
            ("SPEND_CAP_USD_PER_DAY", cap),
            ("COST_TRAINING_USD_FAST", "0.01"),
            ("BILLING", billing),
        ],
    )
    .await;
    let mut ready = Vec::new();
    for n in 0..users {
        let user = User {
            id: first_id + n,
            language_code: "en",
        };
        let message = w.create_avatar(user, "style", "Bench", "fast").await;
        let file = w
            .telegram
            .add_file(fluxbot_tests::images::jpeg(640, 800, n as u8), "jpg");
        w.send_photo(user, &file, (640, 800), None).await;
        let avatar = w.avatars(user).await.pop().unwrap();
        let gift = LedgerEntry::grant(avatar.owner, "bench", Credits(100), Timestamp::now());
        w.backend.store.apply_entry(&gift).await.unwrap().unwrap();
        w.tap(user, message, Callback::StartTraining(avatar.id))
            .await;
        ready.push((user, message, avatar));
    }
    let presses = ready.iter().map(|(user, message, avatar)| {
        let w = &w;
        async move {
            let started = Instant::now();
            w.tap(*user, *message, Callback::ConfirmTraining(avatar.id))
                .await;
            started.elapsed()
        }
    });
    let mut latencies = join_all(presses).await;
    latencies.sort();
    for (user, _, _) in &ready {
        let avatar = w.avatars(*user).await.pop().unwrap();
        assert_eq!(avatar.status(), AvatarStatus::Queued);
        let left = w.backend.store.balance(avatar.owner).await.unwrap();
        assert_eq!(left, Credits(if billing == "stars" { 50 } else { 100 }));
    }
    json!({
        "spend_cap": cap,
        "billing": billing,
        "users": users,
        "confirm_ms_p50": percentile(&latencies, 0.5),
        "confirm_ms_p99": percentile(&latencies, 0.99),
        "confirm_ms_max": latencies.last().map(|d| d.as_millis()),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let users: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    for round in 0..rounds {
        let base = 7_300_000 + i64::from(round) * 10_000;
        println!("{}", run(users, "off", "free", base).await);
        println!("{}", run(users, "1000", "free", base + 2_500).await);
        println!("{}", run(users, "off", "stars", base + 5_000).await);
        println!("{}", run(users, "1000", "stars", base + 7_500).await);
    }
}
