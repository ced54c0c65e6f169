#!/usr/bin/env bash
# Launch benchmark: Confirm -> fal.ai submission time and the launch worker's peak RSS for an
# avatar of 20 photos of 5 MB, against moto (started by the harness) and the fakes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile measure -p fluxbot-tests --bin launch-bench
target/measure/launch-bench 3
