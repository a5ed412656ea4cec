#!/usr/bin/env bash
# Instructions the server executes per order, counted by valgrind: a count, not a timing, so two
# builds compare on a machine whose CPU time per order moves by a sixth between rounds (this
# one's virtual CPUs have no hardware counters for `perf stat -e instructions`).
#
#   scripts/instructions_per_order.sh SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]
#
# Runs `pipeline-bench` against SERVER under `valgrind --tool=callgrind` (no cache or branch
# simulation: instructions only) for 200 orders and for ORDERS (default 2000), and prints the
# difference divided by the difference in orders: the marginal count of one order, the start-up
# and seeding left out. Valgrind runs the server's threads one at a time, about fifty times
# slower, so the pipeline batches differently than at full speed (fewer commits share a batch):
# compare builds with each other under it, not with a timing. Needs valgrind.
set -euo pipefail

server=$(realpath "${1:?usage: $0 SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]}")
bench=${2:-target/release/pipeline-bench}
orders=${3:-2000}
clients=${4:-16}
base=200
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pipeline-bench starts its server itself: it starts this wrapper, which runs SERVER under
# callgrind with the same arguments and pid (exec); callgrind writes its count when the server
# exits on the bench's SIGTERM.
cat >"$work/server" <<WRAP
#!/usr/bin/env bash
exec valgrind --tool=callgrind --cache-sim=no --branch-sim=no \
    --callgrind-out-file="$work/out.%p" "$server" "\$@" 2>>"$work/valgrind.log"
WRAP
chmod +x "$work/server"

# One run: the instructions the server executed over its whole life.
count() {
    rm -f "$work"/out.*
    "$bench" --orders "$1" --clients "$clients" --raw-rows 200 --server "$work/server" \
        --json >/dev/null
    awk '/^summary:/ { print $2 }' "$work"/out.*
}

small=$(count "$base")
large=$(count "$orders")
awk -v s="$small" -v l="$large" -v n=$((orders - base)) -v c="$clients" -v b="$base" \
    -v o="$orders" -v srv="$server" 'BEGIN {
    printf "per order, the marginal of %d → %d orders with %d clients (%s):\n", b, o, c, srv
    printf "  instructions %12.0f\n", (l - s) / n }'
