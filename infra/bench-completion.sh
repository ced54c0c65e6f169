#!/usr/bin/env bash
# Completion benchmark: what copying a trained LoRA (90 MB by default) into the bucket adds to
# the fal result webhook, and the process's peak RSS, against moto (started by the harness)
# and the fakes. Arguments: rounds, LoRA size in MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile measure -p fluxbot-tests --bin completion-bench
target/measure/completion-bench "${1:-3}" "${2:-90}"
