#!/usr/bin/env bash
# Heap allocations and SQLite statements per order of an `orders` server binary: counts, not
# timings, so two builds compare on a noisy machine where their CPU per order cannot.
#
#   scripts/allocs_per_order.sh SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]
#
# Puts uprobes on jemalloc's entry points (the server's allocator: every Rust allocation goes
# through _rjem_malloc or _rjem_calloc, or _rjem_mallocx for an alignment over 16 bytes, and
# every growth through _rjem_realloc or _rjem_rallocx) and on sqlite3_step, runs
# `pipeline-bench` against SERVER for 200 orders and for ORDERS (default 2000), and prints the
# difference divided by the difference in orders: the marginal cost of one order, the server's
# start-up and seeding left out. Needs perf with uprobe support (root) and a SERVER built with
# symbols (the `profiling` profile). The probes are removed on exit.
set -euo pipefail

server=$(realpath "${1:?usage: $0 SERVER [PIPELINE_BENCH] [ORDERS] [CLIENTS]}")
bench=${2:-target/profiling/pipeline-bench}
orders=${3:-2000}
clients=${4:-16}
base=200
group="allocs_$$"
probes=(_rjem_malloc _rjem_mallocx _rjem_calloc _rjem_realloc _rjem_rallocx sqlite3_step)

cleanup() { perf probe -q -d "${group}:*" >/dev/null 2>&1 || true; }
trap cleanup EXIT
for p in "${probes[@]}"; do
    perf probe -q -x "$server" -a "${group}:${p}=${p}" >/dev/null
done

# One run: "event count" lines for every probe, the whole life of the server.
count() {
    perf stat -x, -e "${group}:*" -- "$bench" --orders "$1" --clients "$clients" \
        --raw-rows 200 --server "$server" --json 2>&1 >/dev/null |
        awk -F, -v g="${group}:" 'index($3, g) == 1 { sub(g, "", $3); print $3, $1 }'
}

small=$(count "$base")
large=$(count "$orders")
echo "per order, the marginal of $base → $orders orders with $clients clients ($server):"
join <(sort <<<"$small") <(sort <<<"$large") |
    awk -v n=$((orders - base)) '{ d = ($3 - $2) / n; total += ($1 != "sqlite3_step") ? d : 0;
        printf "  %-20s %8.1f\n", $1, d } END { printf "  %-20s %8.1f\n", "allocations", total }'
