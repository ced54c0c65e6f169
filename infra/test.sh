#!/usr/bin/env bash
# The project's test command (README, CI): installs moto and the template linters, lints the
# template, checks formatting and lints the code, checks
# that OpenSSL is nowhere in the dependency tree, starts one moto server (infra/moto_server.py)
# on a free loopback port and runs every test of the workspace against it.
set -euo pipefail
cd "$(dirname "$0")/.."

# moto 5.2 serialises CompleteMultipartUpload as <CompleteMultipartUploadResponse>, which no
# AWS SDK accepts (real S3 says <CompleteMultipartUploadResult>); 5.1.22 is the last good one.
moto_version=5.1.22
venv=target/moto-venv
# Only the services we use (CloudFormation for the ops CLI's --stack), plus what moto's server
# app imports: a fraction of moto[server]'s dependencies, so the install takes under a minute.
moto_pins="moto[dynamodb,s3,sqs,cloudformation]==$moto_version flask==3.1.3 flask-cors==6.0.5"
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$moto_pins" ]; then
    rm -rf "$venv"
    echo "==> installing $moto_pins into $venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the pins are separate words
    "$venv/bin/pip" install --quiet --disable-pip-version-check $moto_pins
    echo "$moto_pins" > "$venv/.pins"
fi

# The template's linters, pinned: SAM's own validation with its lint, and cfn-lint with the
# serverless rules (cfn-lint-serverless).
tools=target/tools-venv
tools_pins="aws-sam-cli==1.170.0 cfn-lint==1.58.0 cfn-lint-serverless==0.3.6"
if [ "$(cat "$tools/.pins" 2>/dev/null)" != "$tools_pins" ]; then
    rm -rf "$tools"
    echo "==> installing $tools_pins into $tools"
    python3 -m venv "$tools"
    # shellcheck disable=SC2086
    "$tools/bin/pip" install --quiet --disable-pip-version-check $tools_pins
    echo "$tools_pins" >"$tools/.pins"
fi

echo "==> template: sam validate --lint, cfn-lint with the serverless rules"
AWS_DEFAULT_REGION=eu-central-1 SAM_CLI_TELEMETRY=0 \
    "$tools/bin/sam" validate --lint --template template.yaml
"$tools/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- template.yaml

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> no OpenSSL in the tree"
if cargo tree --workspace --target all --locked -i openssl-sys >/dev/null 2>&1; then
    cargo tree --workspace --target all -i openssl-sys
    echo "openssl-sys is in the dependency tree" >&2
    exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "==> moto on 127.0.0.1:$port"
"$venv/bin/python" infra/moto_server.py --host 127.0.0.1 --port "$port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done

echo "==> cargo test"
log=target/test-output.log
MOTO_ENDPOINT="http://127.0.0.1:$port" MOTO_PYTHON="$PWD/$venv/bin/python" \
    cargo test --workspace --locked "$@" 2>&1 | tee "$log"

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ {
        for (i = 2; i <= NF; i++) {
            if ($i == "passed;") passed += $(i - 1)
            if ($i == "failed;") failed += $(i - 1)
            if ($i == "ignored;") skipped += $(i - 1)
        }
    }
    END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped }' "$log"
