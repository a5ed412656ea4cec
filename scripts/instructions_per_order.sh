#!/usr/bin/env bash
# Instructions the server executes per order, counted by valgrind: a count, not a timing, so two
# builds compare on a machine whose CPU time per order moves by a sixth between rounds (this
# one's virtual CPUs have no hardware counters for `perf stat -e instructions`).
#
#   scripts/instructions_per_order.sh SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]
#
# Runs `pipeline-bench` against SERVER under `valgrind --tool=callgrind` (no cache or branch
# simulation: instructions only) for 200, 1,000 and ORDERS (default 3000) orders, and prints two
# marginal counts, the start-up and seeding left out. pipeline-bench spreads its orders over
# 1,000 customers (order i is customer i % 1000's), so orders 200 to 999 are each a customer's
# first: the server checks that customer's token's signature once (an ES256 verification, about
# 0.74 M instructions), makes their data key and their listing's first entry. Orders from 1,000
# on are customers ordering again, which is what most of a long closed loop is (20,000 orders:
# 95 % of them). Before this split the script counted 200 → 2,000 orders, whose marginal mixed
# the two (800 first orders in 1,800) and so carried about 0.33 M instructions of signature
# checks per order. Valgrind runs the server's threads one at a time, about fifty times slower,
# so the pipeline batches differently than at full speed (fewer commits share a batch): compare
# builds with each other under it, not with a timing. Valgrind's virtual CPU lacks the SHA
# extensions, so SHA-256 runs its software path under it (about a sixth of a repeat order's count:
# BENCHMARKS.md, fortieth part) where the hardware uses the extensions: a count is not a measure
# of the hardware's work. Needs valgrind.
set -euo pipefail

server=$(realpath "${1:?usage: $0 SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]}")
bench=${2:-target/release/pipeline-bench}
orders=${3:-3000}
clients=${4:-16}
base=200
customers=1000
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

if ((orders <= customers)); then
    echo "ORDERS must be more than the bench's $customers customers" >&2
    exit 2
fi
small=$(count "$base")
middle=$(count "$customers")
large=$(count "$orders")
awk -v s="$small" -v m="$middle" -v l="$large" -v b="$base" -v k="$customers" -v o="$orders" \
    -v c="$clients" -v srv="$server" 'BEGIN {
    printf "per order, marginal counts with %d clients (%s):\n", c, srv
    printf "  a customer ordering again (%d → %d orders) %12.0f instructions\n", k, o, (l - m) / (o - k)
    printf "  a customer'"'"'s first order  (%d → %d orders) %12.0f instructions\n", b, k, (m - s) / (k - b) }'
