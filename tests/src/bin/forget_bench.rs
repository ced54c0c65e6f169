//! What the operator's books and a user's privacy cost, against moto through the metering
//! proxy: "delete everything about me" for a heavy user (`AVATARS` avatars with 10 photos
//! each, `PICTURES` kept pictures with their records), and `reconcile-payments` over
//! `TRANSACTIONS` Stars payments (the fake Telegram's getStarTransactions, the table's
//! payment entries). Prints one JSON line each: calls by API, request units, seconds.
//!
//! `cargo run -p fluxbot-tests --bin forget-bench -- [AVATARS] [PICTURES] [TRANSACTIONS]`
//! with `MOTO_ENDPOINT` set (see docs/benchmarks.md).

use std::time::Instant;

use fluxbot::domain::*;
use fluxbot::ports::{BlobReader, CommitCost};
use fluxbot_tests::conformance::{draft, photo};
use fluxbot_tests::{backends, fake_telegram};
use serde_json::json;

fn arg(n: usize, default: u32) -> u32 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn body(bytes: &[u8]) -> BlobReader {
    Box::pin(std::io::Cursor::new(bytes.to_vec()))
}

#[tokio::main]
async fn main() {
    let (avatars, pictures, transactions) = (arg(1, 10), arg(2, 500), arg(3, 1000));
    let (backend, meter) = backends::aws_metered().await;
    let (store, blobs) = (backend.store.clone(), backend.blobs.clone());
    let owner = UserId(9_100_000 + i64::from(rand::random::<u16>()));
    let now = Timestamp::now();
    store
        .save_user(&UserProfile::new(owner, ChatId(owner.0), Some("en"), now))
        .await
        .unwrap();
    let image = fluxbot_tests::images::jpeg(64, 64, 1);
    let mut made = Vec::new();
    for a in 0..avatars {
        let avatar = store
            .create_avatar(&draft(owner, AvatarKind::Portrait))
            .await
            .unwrap();
        for p in 0..10 {
            let photo = photo(&avatar, &format!("f{a}-{p}"), format!("{a}-{p}").as_bytes());
            blobs
                .put(&photo.blob_key, body(&image), "image/jpeg")
                .await
                .unwrap();
            store.add_photo(&photo, 20).await.unwrap();
        }
        made.push(avatar);
    }
    let prompt = Prompt::parse("a portrait in the rain").unwrap();
    for i in 0..pictures {
        let avatar = &made[i as usize % made.len()];
        let queued = Generation::queued(
            avatar,
            prompt.clone(),
            None,
            GenerationDefaults::default(),
            now,
        );
        let seen = store.generation_count(owner).await.unwrap();
        let stored = store
            .start_generation(&queued, seen, &CommitCost::default())
            .await
            .unwrap()
            .unwrap();
        let key = blob_keys::generated_image(owner, avatar.id, stored.id, 0, ImageFormat::Jpeg);
        blobs.put(&key, body(&image), "image/jpeg").await.unwrap();
        let mut done = stored.clone();
        done.state = WorkState::Completed {
            request: FalRequest {
                request_id: format!("req-{i}"),
                endpoint: "fal-ai/flux-lora".into(),
            },
            submitted_at: now,
            output: vec![GeneratedImage::Stored {
                key: key.to_string(),
                width: Some(64),
                height: Some(64),
            }],
            completed_at: now,
        };
        store.update_generation(&done).await.unwrap();
    }

    let before = meter.usage();
    let started = Instant::now();
    fluxbot::pipeline::erasure::forget_user(
        store.as_ref(),
        blobs.as_ref(),
        backend.launches.as_ref(),
        owner,
        Timestamp::now(),
    )
    .await
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let usage = meter.usage().since(&before);
    println!(
        "{}",
        json!({"bench": "forget", "avatars": avatars, "photos": avatars * 10,
               "pictures": pictures, "seconds": (seconds * 100.0).round() / 100.0,
               "calls": usage.calls, "read_units": usage.read_units.round(),
               "write_units": usage.write_units.round()})
    );

    // The books: `transactions` payments at Telegram, each credited in the ledger.
    let telegram = fake_telegram::FakeTelegram::start().await;
    let invoice = fake_telegram::SentInvoice {
        chat_id: owner.0,
        title: "60 credits".into(),
        payload: "credits:60:300".into(),
        stars: 300,
    };
    let buyer = fake_telegram::updates::User {
        id: owner.0,
        language_code: "en",
    };
    for i in 0..transactions {
        let charge = format!("stxBench{i}");
        telegram.pay(&invoice, buyer, &charge, (0, 0));
        let entry = LedgerEntry::purchase(owner, &charge, 300, Credits(60), Timestamp::now());
        store.apply_entry(&entry).await.unwrap().unwrap();
    }
    let client = fluxbot::telegram::client::TelegramClient::new(
        &fluxbot::config::EnvReader::from_pairs([
            ("TELEGRAM_TOKEN", fake_telegram::TOKEN.to_owned()),
            ("TELEGRAM_API_URL", telegram.url()),
        ])
        .load()
        .unwrap(),
    );
    let before = meter.usage();
    let started = Instant::now();
    let (report, clean) = ops::reconcile_payments(store.as_ref(), &client, Timestamp(0))
        .await
        .unwrap();
    assert!(clean, "{report}");
    let usage = meter.usage().since(&before);
    println!(
        "{}",
        json!({"bench": "reconcile", "transactions": transactions,
               "telegram_calls": telegram.calls_of("getStarTransactions").len(),
               "seconds": (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
               "calls": usage.calls, "read_units": usage.read_units.round()})
    );
}
