#!/usr/bin/env bash
# Streaming-zip benchmark: peak RSS and throughput for 10, 20 and 40 photos of 5 MB, on S3
# (moto) and on the embedded blob directory. Prints one JSON line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile measure -p fluxbot-tests --bin zip-bench
for backend in s3 local; do
    for photos in 10 20 40; do
        # A fresh process per run: peak memory is per process.
        target/measure/zip-bench --backend "$backend" --photos "$photos" --photo-mb 5 --rounds 3
    done
done
