#!/usr/bin/env bash
# Schema validation on a large schema: `pgkeel validate --json` (declared expectations + every
# health check) against `pgkeel describe --json` (the full introspection of the same schema), on
# the same database, in the same run. Prints figures; does not pass or fail on them (a missed
# target is printed as MISSED). Exits non-zero only when something breaks.
#
#   bash bench/validate.sh
#
# The schema: BENCH_VALIDATE_TABLES tables (default 1000) with an identity key, text, an enum,
# timestamptz and a foreign key to the previous table (indexed on every other table), 20 enums,
# RLS with a policy on every 10th table and without one on every 25th, no primary key on every
# 50th, a duplicate index on every 40th; 100 rows in every 10th table. Expectations: every table,
# the columns of every 10th table, the enums, two forbidden names. Each command runs once to warm
# up, then BENCH_VALIDATE_RUNS times (default 5), alternately; reported: the medians and their
# ratio. Times are wall-clock around each process (start-up included).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_VALIDATE_RUNS:-5}
TABLES=${BENCH_VALIDATE_TABLES:-1000}
for v in RUNS TABLES; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "bench: BENCH_VALIDATE_$v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PSQL=${BENCH_PSQL:-$(pg_config --bindir 2>/dev/null)/psql}
[ -x "$PSQL" ] || PSQL=psql
TARGET_MS=2000

if [ -z "${PGKEEL_BIN:-}" ]; then
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    PGKEEL_BIN=$ROOT/target/release/pgkeel
fi
# The commands run in a temporary project folder: make a relative PGKEEL_BIN absolute.
[[ $PGKEEL_BIN == */* && $PGKEEL_BIN != /* ]] && PGKEEL_BIN=$PWD/$PGKEEL_BIN

db="pgkeel_bench_validate_$$"
WORK=$(mktemp -d /tmp/pgkeel-bench-validate.XXXXXX)
cleanup() {
    "$PSQL" -X "$ADMIN_URL" -qAtc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
while read -r v; do
    case $v in PGKEEL_BIN | PGKEEL_BENCH_*) ;; *) unset "$v" ;; esac
done < <(compgen -e | grep '^PGKEEL_' || true)
unset DATABASE_URL

"$PSQL" -X "$ADMIN_URL" -qAtc "create database \"$db\"" >/dev/null
base=${ADMIN_URL%%\?*}
query=""
[[ $ADMIN_URL == *\?* ]] && query="?${ADMIN_URL#*\?}"
URL="${base%/*}/$db$query"

echo "bench: creating $TABLES tables with foreign keys, indexes, RLS and 20 enums" >&2
"$PSQL" -X "$URL" -q -v ON_ERROR_STOP=1 -v tables="$TABLES" >/dev/null <<'SQL'
SELECT set_config('bench.tables', :'tables', false);
DO $$
DECLARE n int := current_setting('bench.tables')::int;
        t text;
        prev text;
BEGIN
  FOR e IN 0..19 LOOP
    EXECUTE format('CREATE TYPE e_%s AS ENUM (''draft'', ''active'', ''archived'')', lpad(e::text, 2, '0'));
  END LOOP;
  FOR i IN 0..n - 1 LOOP
    t := 't_' || lpad(i::text, 4, '0');
    prev := 't_' || lpad((i - 1)::text, 4, '0');
    EXECUTE format(
      'CREATE TABLE %1$s (id bigint GENERATED ALWAYS AS IDENTITY%2$s, name text NOT NULL, '
      'status e_%3$s NOT NULL DEFAULT ''draft'', created_at timestamptz NOT NULL DEFAULT now(), parent_id bigint%4$s)',
      t, CASE WHEN i % 50 = 49 THEN '' ELSE ' PRIMARY KEY' END, lpad((i % 20)::text, 2, '0'),
      CASE WHEN i > 0 AND (i - 1) % 50 <> 49 THEN format(' REFERENCES %s', prev) ELSE '' END);
    IF i % 2 = 0 THEN
      EXECUTE format('CREATE INDEX ON %s (parent_id)', t);
    END IF;
    IF i % 40 = 0 THEN
      EXECUTE format('CREATE INDEX ON %1$s (name); CREATE INDEX ON %1$s (name)', t);
    END IF;
    IF i % 10 = 0 THEN
      EXECUTE format('ALTER TABLE %1$s ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON %1$s USING (true)', t);
      EXECUTE format('INSERT INTO %s (name) SELECT ''n'' || g FROM generate_series(1, 100) g', t);
    ELSIF i % 25 = 0 THEN
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    END IF;
  END LOOP;
END $$;
ANALYZE;
SQL

# The expectations: every table, the columns of every 10th table, the enums.
{
    printf '[expect]\ntables = [\n'
    for i in $(seq 0 $((TABLES - 1))); do printf '  "public.t_%04d",\n' "$i"; done
    printf ']\nforbidden = ["public.customers_compat_view", "public.old_function(integer)"]\n'
    printf '[expect.enums]\n'
    for e in $(seq 0 19); do printf '"public.e_%02d" = ["draft", "active", "archived"]\n' "$e"; done
    for i in $(seq 0 10 $((TABLES - 1))); do
        printf '[expect.columns."public.t_%04d"]\n' "$i"
        printf 'id = { type = "int8", nullable = false }\nname = { type = "text", nullable = false }\n'
        printf 'status = "e_%02d"\ncreated_at = "timestamptz"\n' $((i % 20))
    done
} >"$WORK/pgkeel.toml"

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# time_ms OUT OKCODES CMD...: run CMD in $WORK, stdout to OUT; print the milliseconds it took.
# Exit codes other than those in OKCODES (e.g. "0 3") are failures.
time_ms() {
    local out=$1 ok=$2 t0 t1 rc=0
    shift 2
    t0=$(now_us)
    (cd "$WORK" && "$@" >"$out" 2>"$out.err") || rc=$?
    t1=$(now_us)
    if [[ " $ok " != *" $rc "* ]]; then
        echo "bench: failed (exit $rc): $*" >&2
        cat "$out.err" >&2
        exit 1
    fi
    awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }'
}

validate_cmd=("$PGKEEL_BIN" --database-url "$URL" --log-file off --json validate)
describe_cmd=("$PGKEEL_BIN" --database-url "$URL" --log-file off --json describe)

time_ms "$WORK/validate.json" "0 3" "${validate_cmd[@]}" >/dev/null
time_ms "$WORK/describe.json" "0" "${describe_cmd[@]}" >/dev/null
va=()
de=()
for _ in $(seq 1 "$RUNS"); do
    va+=("$(time_ms "$WORK/validate.json" "0 3" "${validate_cmd[@]}")")
    de+=("$(time_ms "$WORK/describe.json" "0" "${describe_cmd[@]}")")
done

# The result must be what the schema holds: every check ran, the planted problems were found.
summary=$(python3 - "$WORK/validate.json" "$TABLES" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["result"]
n = int(sys.argv[2])
by = {}
for f in r["findings"]:
    by[f["check"]] = by.get(f["check"], 0) + 1
problems = []
if len(r["checks_run"]) < 12:
    problems.append(f"only {len(r['checks_run'])} checks ran: {r['checks_run']}")
if any(c.startswith("expect.") for c in by):
    problems.append(f"unexpected expectation findings: {by}")
if by.get("missing_primary_key", 0) < n // 50:
    problems.append(f"missing_primary_key found {by.get('missing_primary_key', 0)}, expected >= {n // 50}")
if by.get("fk_without_index", 0) < 1 or by.get("duplicate_index", 0) < 1 or by.get("rls_without_policy", 0) < 1:
    problems.append(f"planted problems not found: {by}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(", ".join(f"{k} {v}" for k, v in sorted(by.items())) + f" (validate's own duration_ms {r['duration_ms']})")
PY
) || {
    echo "bench: validate's result is wrong: $summary" >&2
    exit 1
}

va_median=$(median "${va[@]}")
de_median=$(median "${de[@]}")
verdict=$(awk -v m="$va_median" -v t="$TARGET_MS" 'BEGIN { print (m <= t) ? "ok" : "MISSED" }')
echo "== pgkeel validate benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $("$PSQL" -X "$URL" -qAtc 'show server_version' | cut -d' ' -f1)) =="
echo "schema: $TABLES tables, 20 enums; expectations: $TABLES tables, $(((TABLES + 9) / 10)) tables' columns, 20 enums"
echo "findings: $summary"
printf 'pgkeel validate --json: median %s ms of %s (target <= %s ms) %s   runs: %s\n' \
    "$va_median" "$RUNS" "$TARGET_MS" "$verdict" "${va[*]}"
printf 'pgkeel describe --json (baseline): median %s ms of %s   runs: %s\n' "$de_median" "$RUNS" "${de[*]}"
awk -v v="$va_median" -v d="$de_median" 'BEGIN { printf "ratio validate/describe: %.2fx\n", v / d }'
