#!/usr/bin/env bash
# `pgkeel dev start` timings with a release build: prints figures, does not pass or fail on them.
#
#   bash bench/dev.sh            # BENCH_DEV_RUNS=5 by default
#
# cold: a fresh project folder: initdb + start + CREATE DATABASE pgkeel.
# warm: the same cluster, already initialized and stopped: start + CREATE DATABASE check.
# Each run is one `pgkeel dev start` process, timed wall-clock with EPOCHREALTIME (process
# start-up included); the cluster is stopped (and for cold runs removed) between runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_DEV_RUNS:-5}
if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: BENCH_DEV_RUNS must be a positive integer (got '$RUNS')" >&2
    exit 2
fi

cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
PGKEEL=$ROOT/target/release/pgkeel

WORK=$(mktemp -d /tmp/pgkeel-bench-dev.XXXXXX)
chmod 755 "$WORK" # as root the server runs as `postgres`, which must enter the folder
cleanup() {
    (cd "$WORK" && "$PGKEEL" --log-file off dev stop >/dev/null 2>&1) || true
    rm -rf "$WORK"
}
trap cleanup EXIT
unset DATABASE_URL PGKEEL_DATABASE_URL PGKEEL_CONFIG

now_us() { echo "${EPOCHREALTIME/./}"; }

# Time one `pgkeel dev start` in $WORK; prints milliseconds with one decimal.
time_start() {
    local t0 t1
    t0=$(now_us)
    (cd "$WORK" && "$PGKEEL" --log-file off dev start >/dev/null)
    t1=$(now_us)
    awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }'
}

stop() { (cd "$WORK" && "$PGKEEL" --log-file off dev stop >/dev/null); }

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cold=()
for _ in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/.pgkeel"
    cold+=("$(time_start)")
    stop
done
warm=()
for _ in $(seq 1 "$RUNS"); do
    warm+=("$(time_start)")
    stop
done

bin_dir=$(cd "$WORK" && "$PGKEEL" --log-file off --json dev status | sed -n 's/.*"bin_dir": "\(.*\)".*/\1/p')
version=$("$bin_dir/postgres" --version 2>/dev/null || true)
echo "pgkeel dev start, $RUNS runs each (${version:-PostgreSQL}, $(nproc) cores)"
printf '  cold (initdb + start): median %s ms   runs: %s\n' "$(median "${cold[@]}")" "${cold[*]}"
printf '  warm (start only):     median %s ms   runs: %s\n' "$(median "${warm[@]}")" "${warm[*]}"
