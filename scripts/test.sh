#!/usr/bin/env bash
# Every check and test of the project, from a fresh clone: formatting, lints, and the whole
# test suite (domain, adapters, workflow interpreter, HTTP pipeline, crash/restart).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$(date +%s)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== all checks passed in $(( $(date +%s) - started )) s"
