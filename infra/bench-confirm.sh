#!/usr/bin/env bash
# Confirm benchmark: p50/p99 latency of 50 simultaneous training Confirms through the real
# webhook handler against moto (started by the harness): free or Stars billing, the daily spend
# cap off or on.
# Arguments: users, rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile measure -p fluxbot-tests --bin confirm-bench
target/measure/confirm-bench "${1:-50}" "${2:-2}"
