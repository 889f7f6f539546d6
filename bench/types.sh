#!/usr/bin/env bash
# TypeScript type generation on a large schema: `pgkeel types generate --stdout` (introspection +
# rendering) against the Supabase CLI's `supabase gen types typescript --db-url`, on the same
# database, in the same run. Prints figures; does not pass or fail on them (a missed target is
# printed as MISSED). Exits non-zero only when something breaks.
#
#   bash bench/types.sh
#
# The schema: BENCH_TYPES_TABLES tables (default 1000; identity key, text, enum, numeric, text[],
# jsonb, timestamptz, a foreign key to the previous table), one view per 10 tables, 20 enums and
# one function per 10 tables (SETOF a table) plus as many scalar ones. Each command runs once
# to warm up, then BENCH_TYPES_RUNS times (default 5), alternately; reported: the medians and
# their ratio. Times are wall-clock around each process (start-up included).
#
# The Supabase CLI is the npm package supabase@3.1.0, installed once into
# ${PGKEEL_CI_CACHE:-~/.cache/pgkeel-ci}/supabase-cli-3.1.0 as scripts/supabase-interop does;
# when it cannot be installed or run, its half is SKIPPED with the reason.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_TYPES_RUNS:-5}
TABLES=${BENCH_TYPES_TABLES:-1000}
for v in RUNS TABLES; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "bench: BENCH_TYPES_$v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PSQL=${BENCH_PSQL:-$(pg_config --bindir 2>/dev/null)/psql}
[ -x "$PSQL" ] || PSQL=psql

if [ -z "${PGKEEL_BIN:-}" ]; then
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    PGKEEL_BIN=$ROOT/target/release/pgkeel
fi

supabase_version=3.1.0
cache=${PGKEEL_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgkeel-ci}/supabase-cli-$supabase_version
cli=$cache/node_modules/.bin/supabase
supabase_skip=""
if [ ! -x "$cli" ] || ! "$cli" --version >/dev/null 2>&1; then
    if ! command -v npm >/dev/null; then
        supabase_skip="npm is not installed, so the Supabase CLI cannot be installed"
    else
        mkdir -p "$cache"
        echo "bench: installing supabase@$supabase_version into $cache" >&2
        if ! npm install --prefix "$cache" --no-audit --no-fund --loglevel=error "supabase@$supabase_version" >"$cache/install.log" 2>&1; then
            supabase_skip="npm install supabase@$supabase_version failed (see $cache/install.log)"
        elif ! "$cli" --version >/dev/null 2>&1; then
            supabase_skip="the installed Supabase CLI does not run here"
        fi
    fi
fi

db="pgkeel_bench_types_$$"
WORK=$(mktemp -d /tmp/pgkeel-bench-types.XXXXXX)
cleanup() {
    "$PSQL" -X "$ADMIN_URL" -qAtc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset DATABASE_URL PGKEEL_DATABASE_URL PGKEEL_CONFIG PGKEEL_MIGRATIONS

"$PSQL" -X "$ADMIN_URL" -qAtc "create database \"$db\"" >/dev/null
base=${ADMIN_URL%%\?*}
query=""
[[ $ADMIN_URL == *\?* ]] && query="?${ADMIN_URL#*\?}"
URL="${base%/*}/$db$query"

echo "bench: creating $TABLES tables, $((TABLES / 10)) views, 20 enums, $((TABLES / 5)) functions" >&2
"$PSQL" -X "$URL" -q -v ON_ERROR_STOP=1 -v tables="$TABLES" >/dev/null <<'SQL'
SELECT set_config('bench.tables', :'tables', false);
DO $$
DECLARE n int := current_setting('bench.tables')::int;
BEGIN
  FOR e IN 0..19 LOOP
    EXECUTE format('CREATE TYPE e_%s AS ENUM (''draft'', ''active'', ''archived'', ''value_%s'')', lpad(e::text, 2, '0'), e);
  END LOOP;
  FOR i IN 0..n - 1 LOOP
    EXECUTE format(
      'CREATE TABLE t_%1$s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, '
      'status e_%2$s NOT NULL DEFAULT ''draft'', amount numeric(12,2), tags text[], data jsonb, '
      'created_at timestamptz NOT NULL DEFAULT now(), note varchar(200), parent_id bigint%3$s)',
      lpad(i::text, 4, '0'), lpad((i % 20)::text, 2, '0'),
      CASE WHEN i > 0 THEN format(' REFERENCES t_%s', lpad((i - 1)::text, 4, '0')) ELSE '' END);
    IF i % 10 = 0 THEN
      EXECUTE format('CREATE VIEW v_%1$s AS SELECT id, name, status, amount FROM t_%1$s', lpad(i::text, 4, '0'));
      EXECUTE format('CREATE FUNCTION f_%1$s(p_id bigint) RETURNS SETOF t_%1$s LANGUAGE sql STABLE AS ''SELECT * FROM t_%1$s WHERE id = p_id''', lpad(i::text, 4, '0'));
      EXECUTE format('CREATE FUNCTION g_%1$s(a integer, b text DEFAULT NULL) RETURNS integer LANGUAGE sql IMMUTABLE AS ''SELECT a + 1''', lpad(i::text, 4, '0'));
    END IF;
  END LOOP;
END $$;
ANALYZE;
SQL

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Run "$@" with stdout to $1's file; print the milliseconds it took.
time_ms() {
    local out=$1 t0 t1
    shift
    t0=$(now_us)
    (cd "$WORK" && "$@" >"$out" 2>"$out.err") || {
        echo "bench: failed: $*" >&2
        cat "$out.err" >&2
        exit 1
    }
    t1=$(now_us)
    awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }'
}

pgkeel_cmd=("$PGKEEL_BIN" --database-url "$URL" --log-file off types generate --stdout)
supabase_cmd=("$cli" gen types typescript --db-url "$URL")

time_ms "$WORK/pgkeel.ts" "${pgkeel_cmd[@]}" >/dev/null
[ -z "$supabase_skip" ] && time_ms "$WORK/supabase.ts" "${supabase_cmd[@]}" >/dev/null
pg=()
sb=()
for _ in $(seq 1 "$RUNS"); do
    pg+=("$(time_ms "$WORK/pgkeel.ts" "${pgkeel_cmd[@]}")")
    [ -z "$supabase_skip" ] && sb+=("$(time_ms "$WORK/supabase.ts" "${supabase_cmd[@]}")")
done

grep -q "t_$(printf %04d $((TABLES - 1)))" "$WORK/pgkeel.ts" || {
    echo "bench: pgkeel's output lacks the last table" >&2
    exit 1
}
pg_median=$(median "${pg[@]}")
verdict=$(awk -v m="$pg_median" 'BEGIN { print (m <= 1000) ? "ok" : "MISSED" }')
echo "== pgkeel types benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $("$PSQL" -X "$URL" -qAtc 'show server_version' | cut -d' ' -f1)) =="
echo "schema: $TABLES tables, $((TABLES / 10)) views, 20 enums, $((TABLES / 5)) functions"
printf 'pgkeel types generate --stdout:        median %s ms of %s (target <= 1000 ms) %s   runs: %s   output %s bytes\n' \
    "$pg_median" "$RUNS" "$verdict" "${pg[*]}" "$(wc -c <"$WORK/pgkeel.ts")"
if [ -n "$supabase_skip" ]; then
    echo "supabase gen types typescript: SKIPPED: $supabase_skip"
else
    sb_median=$(median "${sb[@]}")
    printf 'supabase gen types typescript (%s): median %s ms of %s   runs: %s   output %s bytes\n' \
        "$supabase_version" "$sb_median" "$RUNS" "${sb[*]}" "$(wc -c <"$WORK/supabase.ts")"
    awk -v p="$pg_median" -v s="$sb_median" 'BEGIN { printf "ratio supabase/pgkeel: %.1fx (pgkeel/supabase %.3f)\n", s / p, p / s }'
fi
