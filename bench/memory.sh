#!/usr/bin/env bash
# Peak memory (RSS) of `pgkeel up` and `pgkeel lint` on one large migration: BENCH_MEMORY_ROWS
# INSERT statements (default 441000, about 50 MB) after a CREATE TABLE, against baselines
# measured in the same run on the same file: `cat FILE` and `wc -c FILE` (reading it), and
# `psql -1 -f FILE` (PostgreSQL's own client applying it in one transaction, as pgkeel does, on
# a database of its own). Prints each
# peak and its ratio to the file size and to psql's; does not pass or fail on them (a missed
# goal is printed as MISSED). Exits non-zero only when something breaks.
#
#   bash bench/memory.sh
#
# Needs PostgreSQL (scripts/ensure-postgres starts it) and GNU time (`/usr/bin/time -v`, its
# "Maximum resident set size"). Builds the release binary unless PGKEEL_BIN names one.
# `[backup] enabled = false`: the table is created by the same migration, so there is nothing
# to back up either way. The goal: `up` and `lint` peak at most 100 MB for the 50 MB file.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${BENCH_MEMORY_ROWS:-441000}
GOAL_KB=$((100 * 1024))
if ! [[ $ROWS =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: BENCH_MEMORY_ROWS must be a positive integer (got '$ROWS')" >&2
    exit 2
fi
if ! [ -x /usr/bin/time ]; then
    echo "bench: /usr/bin/time (GNU time) is needed for peak RSS" >&2
    exit 2
fi
while read -r v; do
    case $v in PGKEEL_BIN | PGKEEL_BENCH_*) ;; *) unset "$v" ;; esac
done < <(compgen -e | grep '^PGKEEL_' || true)

"$ROOT/scripts/ensure-postgres" >/dev/null
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if [ -z "${PGKEEL_BIN:-}" ]; then
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    PGKEEL_BIN=$ROOT/target/release/pgkeel
fi

WORK=$(mktemp -d /tmp/pgkeel-bench-memory.XXXXXX)
DB_UP=pgkeel_bench_mem_up_$$
DB_PSQL=pgkeel_bench_mem_psql_$$
cleanup() {
    psql "$ADMIN_URL" -qX -c "DROP DATABASE IF EXISTS $DB_UP" -c "DROP DATABASE IF EXISTS $DB_PSQL" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_UP" -c "CREATE DATABASE $DB_PSQL" >/dev/null
db_url() { echo "${ADMIN_URL%/*}/$1"; }

mkdir -p "$WORK/migrations"
printf '[backup]\nenabled = false\n' >"$WORK/pgkeel.toml"
FILE=$WORK/migrations/001_big_load.sql
# ~114 bytes per row: 441000 rows are about 50 MB.
awk -v rows="$ROWS" 'BEGIN {
    print "CREATE TABLE big_load (id bigint PRIMARY KEY, name text NOT NULL, note text);"
    pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    for (i = 0; i < rows; i++)
        printf "INSERT INTO big_load (id, name, note) VALUES (%d, '"'"'name %07d'"'"', '"'"'row %07d %s'"'"');\n", i, i, i, pad
}' >"$FILE"
BYTES=$(wc -c <"$FILE")

# Peak RSS in kB of a command (its output discarded); fails the script when the command fails.
peak() {
    local out=$WORK/time.txt
    if ! /usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$WORK/stderr.txt"; then
        echo "bench: failed: $*" >&2
        tail -20 "$WORK/stderr.txt" >&2
        exit 1
    fi
    awk -F': ' '/Maximum resident set size/ {print $2}' "$out"
}

CAT_KB=$(peak cat "$FILE")
WC_KB=$(peak wc -c "$FILE")
PSQL_KB=$(peak psql "$(db_url "$DB_PSQL")" -qX -1 -v ON_ERROR_STOP=1 -f "$FILE")
cd "$WORK"
LINT_KB=$(peak "$PGKEEL_BIN" --log-file off lint)
UP_KB=$(peak "$PGKEEL_BIN" --log-file off --database-url "$(db_url "$DB_UP")" up)
ROWS_IN=$(psql "$(db_url "$DB_UP")" -qXtA -c "SELECT count(*) FROM big_load")
if [ "$ROWS_IN" != "$ROWS" ]; then
    echo "bench: up applied $ROWS_IN rows, expected $ROWS" >&2
    exit 1
fi

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
FILE_KB=$((BYTES / 1024))
echo "memory: one migration of $ROWS INSERTs, $(mb "$FILE_KB") ($BYTES bytes); peak RSS"
printf '  %-34s %10s\n' "cat FILE" "$(mb "$CAT_KB")"
printf '  %-34s %10s\n' "wc -c FILE" "$(mb "$WC_KB")"
printf '  %-34s %10s\n' "psql -1 -f FILE (baseline)" "$(mb "$PSQL_KB")"
for what in lint up; do
    kb=$([ "$what" = lint ] && echo "$LINT_KB" || echo "$UP_KB")
    verdict=$([ "$kb" -le "$GOAL_KB" ] && echo "goal met" || echo "MISSED")
    printf '  %-34s %10s   %sx the file, %sx psql   (goal <= 100 MB: %s)\n' \
        "pgkeel $what" "$(mb "$kb")" "$(ratio "$kb" "$FILE_KB")" "$(ratio "$kb" "$PSQL_KB")" "$verdict"
done
