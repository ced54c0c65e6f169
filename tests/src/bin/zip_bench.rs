//! Measures the streaming zip: peak resident memory while zipping N photos, and throughput
//! against a plain copy of the same bytes through the same blob store.
//!
//! ```text
//! cargo run --release -p fluxbot-tests --bin zip-bench -- --backend s3 --photos 20
//! ```
//! `--backend s3` uses S3 in moto (started like the tests start it); `--backend local` the
//! embedded blob directory. Output: one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxbot::domain::{AttemptId, AvatarId, ImageFormat, UserId, blob_keys};
use fluxbot::ports::{BlobKey, BlobStore, ZipSource};
use fluxbot::zip_stream::zip_blobs;
use fluxbot_tests::{backends, conformance};

struct Args {
    backend: String,
    photos: usize,
    photo_bytes: usize,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        backend: "s3".into(),
        photos: 20,
        photo_bytes: 5_000_000,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => args.backend = value,
            "--photos" => args.photos = value.parse().expect("--photos N"),
            "--photo-mb" => {
                args.photo_bytes = (value.parse::<f64>().expect("--photo-mb X") * 1e6) as usize
            }
            "--rounds" => args.rounds = value.parse().expect("--rounds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

async fn plain_copy(blobs: &dyn BlobStore, sources: &[ZipSource]) -> Duration {
    let started = Instant::now();
    for (i, s) in sources.iter().enumerate() {
        let body = blobs.get(&s.key).await.unwrap();
        let copy = BlobKey::new(format!("copies/{i}.jpg")).unwrap();
        blobs.put(&copy, body, "image/jpeg").await.unwrap();
    }
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let backend = match args.backend.as_str() {
        "s3" => backends::aws().await,
        "local" => backends::embedded().await,
        other => panic!("--backend s3|local, not {other}"),
    };
    let blobs: Arc<dyn BlobStore> = backend.blobs.clone();
    let (owner, avatar) = (UserId(1), AvatarId::new());
    let mut sources = Vec::new();
    for i in 0..args.photos {
        let key = blob_keys::photo(owner, avatar, &format!("photo-{i}"), ImageFormat::Jpeg);
        blobs
            .put(
                &key,
                conformance::body(conformance::random_bytes(i as u64, args.photo_bytes)),
                "image/jpeg",
            )
            .await
            .unwrap();
        sources.push(ZipSource {
            key,
            name: format!("{i:02}.jpg"),
        });
    }
    let total = (args.photos * args.photo_bytes) as f64;

    let (mut zip_times, mut copy_times, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    let baseline_kb = fluxbot_tests::rss::status_kb("VmRSS:");
    for _ in 0..args.rounds {
        copy_times.push(plain_copy(&*blobs, &sources).await);
        fluxbot_tests::rss::reset_peak();
        let dest = blob_keys::archive(owner, avatar, AttemptId::new());
        let started = Instant::now();
        let summary = zip_blobs(&*blobs, &sources, &dest).await.unwrap();
        zip_times.push(started.elapsed());
        peaks.push(fluxbot_tests::rss::status_kb("VmHWM:"));
        assert_eq!(summary.content_bytes as f64, total);
    }
    let (zip, copy) = (median(zip_times), median(copy_times));
    let mb_s = |d: Duration| total / 1e6 / d.as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "backend": args.backend,
            "photos": args.photos,
            "photo_bytes": args.photo_bytes,
            "rounds": args.rounds,
            "rss_before_zip_mb": baseline_kb as f64 / 1024.0,
            "zip_peak_rss_mb": *peaks.iter().max().unwrap() as f64 / 1024.0,
            "zip_mb_per_s": mb_s(zip),
            "copy_mb_per_s": mb_s(copy),
            "zip_vs_copy": copy.as_secs_f64() / zip.as_secs_f64(),
        })
    );
}
