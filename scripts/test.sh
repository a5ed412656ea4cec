#!/usr/bin/env bash
# Every check and test of the project, from a fresh clone: formatting, lints, the Python tools
# (emulator and template linters, pinned, in ./.venv), an AWS emulator (moto) on a free
# loopback port for the adapter tests, and the whole test suite. The emulator is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$(date +%s)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== python tools (.venv)"
bash scripts/venv.sh

echo "== scripts/wal_pages.py --self-test (BENCHMARKS.md's WAL diagnostic)"
.venv/bin/python scripts/wal_pages.py --self-test

echo "== AWS emulator (moto) on loopback"
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto with DynamoDB requests serialised: stock moto checks conditional writes without a lock,
# so two racing appends could both "win" (shared/aws/emulator/moto_serialized.py says why).
.venv/bin/python shared/aws/emulator/moto_serialized.py -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null; then break; fi
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null || { echo "moto did not start"; cat target/moto.log; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
echo "moto listening on $AWS_ENDPOINT_URL"

echo "== cargo test"
# order-stack runs the release binaries: it has its own step below, once they are built.
cargo test --workspace --locked --exclude order-stack 2>&1 | tee target/cargo-test.log

echo "== the stack on one machine (template.yaml on the emulator, the release Lambda binaries)"
# Every function's binary, named by its code's S3 key in template.yaml
# (`${CodeVersion}/<binary>.zip`; each binary is its own package), so a function added to the
# template is built and run here without this script changing. Timing of this release build
# (lto = "thin", codegen-units = 1, one link per binary): the eleven binaries took over 25
# minutes on 2 cores shared with four other builds (load average 7), most of it the SDK
# crates in the release profile and eleven LTO links; with the dependencies already built
# for `orders` (the same release profile) only the links remain.
mapfile -t lambda_binaries < <(grep -oE '\$\{CodeVersion\}/[a-z0-9-]+\.zip' template.yaml \
    | sed -E 's#.*/(.*)\.zip#\1#' | sort -u)
lambda_packages=()
for binary in "${lambda_binaries[@]}"; do lambda_packages+=(-p "$binary"); done
cargo build --release --locked "${lambda_packages[@]}"
# CI=true: a missing binary or emulator fails the harness instead of skipping it.
CI=true cargo test -p order-stack --locked 2>&1 | tee -a target/cargo-test.log

echo "== template checks (cfn-lint, serverless rules, statelint, checkov, contract, emulator stack)"
bash scripts/check-template.sh

echo "== deploy.sh on the emulator (first deploy, a converging re-run, REVIEW_IN_PROGRESS, a foreign bucket)"
bash scripts/test_deploy.sh

echo "== API contract (schemathesis against the local server, docs/openapi.yaml)"
api_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api_data=$(mktemp -d)
# The order operations need a bearer token: one from the data directory's own issuer (the key
# `orders serve` then verifies with), carrying the email positive cases may leave out. An
# operator's, so that every operation's valid cases are accepted: GET /orders with any
# `customerId`, DELETE /customers/{id} (forgetting random customer ids harms nothing; the
# owner-only rules have their own HTTP tests), and the shipments and refunds. The rate limit is off (operators are exempt
# anyway), so no valid case is turned into a 429 by the run's own pace.
api_token=$(target/debug/orders token --data-dir "$api_data" --customer schemathesis-customer \
    --email contract@example.com --admin --ttl 1h)
# The seed catalogue with plenty of stock: the hooks place an order for every valid shipment
# and refund case (an order of the refund's own lines), and those orders must complete.
.venv/bin/python -c 'import json, sys; print(json.dumps([{**p, "stock": 10**9} for p in json.load(sys.stdin)]))' \
    < migrations/seed/inventory.json > "$api_data/seed.json"
target/debug/orders serve --addr "127.0.0.1:$api_port" --data-dir "$api_data" --rate-limit off \
    --seed "$api_data/seed.json" > target/api-contract-server.log 2>&1 &
api_pid=$!
trap 'kill $moto_pid $api_pid 2>/dev/null || true; rm -rf "$api_data"' EXIT
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$api_port/health" > /dev/null; then break; fi
    sleep 0.1
done
# Every check, positive_data_acceptance included: the spec draws products from the seed
# catalogue, and the hooks keep valid cases within the rules a schema cannot state (one line
# per product, one body per Idempotency-Key, a GET /orders cursor only as the server handed it
# out), so a valid case the server refuses is a finding. About 1,800 cases (100 per operation
# and phase, plus the stateful scenarios; 1,798 with seed 1), under a minute here. Every
# warning is shown, the opt-in low_valid_rate too, and any warning fails the step: one says
# the spec and the server disagree (valid data mostly refused, ids never found).
warnings=missing_auth,missing_test_data,base_url_mismatch,validation_mismatch,missing_deserializer
warnings+=,unused_openapi_auth,unsupported_regex,method_not_allowed,constants_extraction
warnings+=,unmatched_filter,unresolvable_reference,low_valid_rate,rate_limited,dictionary_mismatch
warnings+=,timeout_units
ORDERS_API_URL="http://127.0.0.1:$api_port" ORDERS_API_TOKEN="$api_token" \
SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py .venv-api/bin/schemathesis run docs/openapi.yaml \
    --url "http://127.0.0.1:$api_port" --checks all --max-examples 100 --seed 1 \
    --header "Authorization: Bearer $api_token" \
    --warnings "$warnings" 2>&1 | tee target/api-contract.log
if grep -q '=== WARNINGS ===' target/api-contract.log; then
    echo "schemathesis warned: docs/openapi.yaml and the server disagree (target/api-contract.log)"
    exit 1
fi
cases=$(grep -oE '[0-9]+ generated' target/api-contract.log | tail -1 | grep -oE '^[0-9]+' || echo 0)
if [ "$cases" -lt 1000 ]; then
    echo "schemathesis ran $cases cases, fewer than 1,000"
    exit 1
fi
kill $api_pid

echo "== the console in headless Chromium (counts, a chart, a timeline, a redrive button)"
# Debian's chromium and chromium-driver, installed here when missing (the test command runs as
# root, as CI does); a tool still missing after that fails the step, it is never skipped. The
# test starts its own `orders serve` on a loopback port with completed, failed and
# dead-lettered orders and stops it at the end; the browser runs with everything that would
# reach the network turned off (scripts/test_console.py). Its screenshot goes to
# target/console.png (`CONSOLE_SCREENSHOT=docs/console.png` refreshes the README's).
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null
fi
for tool in chromium chromedriver; do
    command -v "$tool" > /dev/null || { echo "$tool is missing and could not be installed"; exit 1; }
done
CONSOLE_SCREENSHOT="${CONSOLE_SCREENSHOT:-$PWD/target/console.png}" \
    cargo test -p orders --test console --locked -- --ignored 2>&1 | tee -a target/cargo-test.log

echo "== all checks passed in $(( $(date +%s) - started )) s"
# One closing line for the whole suite: the sum of every cargo test binary's results.
passed=$(grep -E '^test result:' target/cargo-test.log | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' target/cargo-test.log | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
echo "tests: $passed passed, $failed failed"
