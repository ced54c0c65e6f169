#!/usr/bin/env bash
# Delivery benchmark: fal.ai result webhook -> album in the chat for 4 pictures of 2 MB, and
# the peak RSS of the process, against moto (started by the harness) and the fakes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile measure -p fluxbot-tests --bin deliver-bench
target/measure/deliver-bench 3
