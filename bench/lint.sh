#!/usr/bin/env bash
# Migration lint on a large project: `pgkeel lint --json` over BENCH_LINT_FILES migration files
# (default 1000), against a baseline measured in the same run: the example binary
# `lint_baseline` (crates/pgkeel-engine/examples/lint_baseline.rs), which does everything
# `pgkeel lint` does except the rules — configuration, discovery (read, normalise, checksum,
# directives) and one squawk parse per up part and down SQL. Their ratio is the price of the
# rules and pgkeel's adapter. No database is needed. Prints figures; does not pass or fail on
# them (a missed target is printed as MISSED). Exits non-zero only when something breaks.
#
#   bash bench/lint.sh
#
# The files: realistic mixed DDL, a few statements each, cycling through ten shapes (create
# table + index, add column, index concurrently, foreign key and check NOT VALID, backfill
# UPDATE, view, enum + column, function + trigger, rename, drop column with a squawk-ignore),
# a quarter of them with a `-- pgkeel:down` section. Each command runs once to warm the page
# cache, then BENCH_LINT_RUNS times (default 7), alternately; reported: the medians and their
# ratio. Times are wall-clock around each process (start-up included).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_LINT_RUNS:-7}
FILES=${BENCH_LINT_FILES:-1000}
TARGET_MS=100
for v in RUNS FILES; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "bench: BENCH_LINT_$v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done
if ((FILES > 999999)); then
    echo "bench: at most 999999 files (6-digit sequential versions)" >&2
    exit 2
fi
while read -r v; do
    case $v in PGKEEL_BIN | PGKEEL_BENCH_*) ;; *) unset "$v" ;; esac
done < <(compgen -e | grep '^PGKEEL_' || true)

cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p pgkeel-engine --example lint_baseline
BASELINE=$ROOT/target/release/examples/lint_baseline
if [ -z "${PGKEEL_BIN:-}" ]; then
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    PGKEEL_BIN=$ROOT/target/release/pgkeel
fi

WORK=$(mktemp -d /tmp/pgkeel-bench-lint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/migrations"
printf '[apply]\nlock_timeout = "5s"\nstatement_timeout = "1min"\n' >"$WORK/pgkeel.toml"

# One migration file of shape (n % 10).
gen() {
    local n=$1 t="t$(($1 % 50))"
    case $((n % 10)) in
    0) printf -- '-- create the table of batch %d\nCREATE TABLE tbl_%d (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX tbl_%d_name ON tbl_%d (name);\n' "$n" "$n" "$n" "$n" ;;
    1) printf 'ALTER TABLE %s ADD COLUMN note_%d text;\nALTER TABLE %s ADD COLUMN score_%d integer;\nCOMMENT ON COLUMN %s.note_%d IS '"'"'free text'"'"';\n' "$t" "$n" "$t" "$n" "$t" "$n" ;;
    2) printf 'CREATE INDEX CONCURRENTLY IF NOT EXISTS %s_idx_%d ON %s (created_at);\n' "$t" "$n" "$t" ;;
    3) printf 'ALTER TABLE %s ADD CONSTRAINT %s_fk_%d FOREIGN KEY (parent_id) REFERENCES parents (id) NOT VALID;\nALTER TABLE %s ADD CONSTRAINT %s_ck_%d CHECK (qty >= 0) NOT VALID;\n' "$t" "$t" "$n" "$t" "$t" "$n" ;;
    4) printf 'UPDATE %s SET status = '"'"'active'"'"' WHERE status IS NULL AND id < %d;\nINSERT INTO audit (what) VALUES ('"'"'backfill %d'"'"');\n' "$t" "$n" "$n" ;;
    5) printf 'CREATE OR REPLACE VIEW v_%d AS\n    SELECT a.id, a.name, count(b.id) AS n\n    FROM %s a LEFT JOIN items b ON b.owner_id = a.id\n    GROUP BY a.id, a.name;\n' "$n" "$t" ;;
    6) printf "CREATE TYPE mood_%d AS ENUM ('sad', 'ok', 'happy');\nALTER TABLE %s ADD COLUMN mood_%d mood_%d;\n" "$n" "$t" "$n" "$n" ;;
    7) printf 'CREATE FUNCTION touch_%d() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND\n$$;\nCREATE TRIGGER touch_%d BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION touch_%d();\n' "$n" "$n" "$t" "$n" ;;
    8) printf 'ALTER TABLE %s RENAME COLUMN old_%d TO new_%d;\nALTER TABLE %s ALTER COLUMN new_%d SET DEFAULT 0;\n' "$t" "$n" "$n" "$t" "$n" ;;
    9) printf -- '-- squawk-ignore ban-drop-column\nALTER TABLE %s DROP COLUMN IF EXISTS legacy_%d;\n' "$t" "$n" ;;
    esac
    if ((n % 4 == 0)); then
        printf -- '-- pgkeel:down\nDROP INDEX IF EXISTS x_%d;\n' "$n"
    fi
}
for ((i = 1; i <= FILES; i++)); do
    gen "$i" >"$WORK/migrations/$(printf '%06d' "$i")_m$i.sql"
done

stamp() {
    local t=${EPOCHREALTIME/[.,]/}
    _now=$((10#$t))
}
median() {
    printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%d\n", a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
millis() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1e3 }'; }
# timed OUT CMD...: run CMD in $WORK with stdout to OUT, set ELAPSED_US. Exit codes 0 and 3
# (findings) are fine for lint; anything else fails the benchmark.
timed() {
    local out=$1 t0 rc=0
    shift
    stamp
    t0=$_now
    (cd "$WORK" && "$@") >"$out" 2>"$out.err" || rc=$?
    stamp
    ELAPSED_US=$((_now - t0))
    if ((rc != 0 && rc != 3)); then
        echo "bench: error: command failed (exit $rc): $*" >&2
        tail -n 20 "$out.err" >&2
        exit 1
    fi
}

# Warm up, and check the results are what they should be.
timed "$WORK/lint.json" "$PGKEEL_BIN" --log-file off --json lint
python3 - "$WORK/lint.json" "$FILES" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert doc["command"] == "lint" and len(doc["files"]) == n, (doc["command"], len(doc["files"]))
# Shapes 1 (int column) and 8 (rename) warn; none of the shapes is an error.
assert doc["errors"] == 0, [f for f in doc["findings"] if f["severity"] == "error"][:3]
assert doc["warnings"] > 0
PY
timed "$WORK/base.txt" "$BASELINE"
statements=$(cat "$WORK/base.txt")
findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$WORK/lint.json")

lint_us=()
base_us=()
for ((r = 1; r <= RUNS; r++)); do
    timed "$WORK/lint.json" "$PGKEEL_BIN" --log-file off --json lint
    lint_us+=("$ELAPSED_US")
    timed "$WORK/base.txt" "$BASELINE"
    base_us+=("$ELAPSED_US")
    echo "run $r: pgkeel lint --json $(millis "${lint_us[-1]}") ms, baseline $(millis "${base_us[-1]}") ms"
done
lint_med=$(median "${lint_us[@]}")
base_med=$(median "${base_us[@]}")
verdict=ok
((lint_med <= TARGET_MS * 1000)) || verdict=MISSED
echo
echo "== pgkeel lint benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores) =="
echo "lint $FILES files ($statements statements, $findings findings): pgkeel lint --json $(millis "$lint_med") ms (median of $RUNS), baseline (discovery + parse, no rules) $(millis "$base_med") ms, ratio $(awk -v a="$lint_med" -v b="$base_med" 'BEGIN { printf "%.2f", a / b }')x (target <= $TARGET_MS ms) $verdict"
