#!/usr/bin/env bash
# pgkeel benchmark: prints figures, does not pass or fail on them.
#
#   bash bench/run.sh
#
# 1. apply: 1,000 migrations (CREATE TABLE + CREATE INDEX + a 20-row INSERT each) applied by
#    `pgkeel up`, against a "floor": the same files sent through one psql session, each wrapped
#    in BEGIN/COMMIT. Alternating pairs, fresh databases each time, medians and their ratio.
# 2. status: `pgkeel status` (text and --json) over 10,000 applied migrations, against one psql
#    connection running one query on the history table.
#
# Exits non-zero only when a command fails or a result is wrong (counts), never for a missed
# target: a missed target is printed as MISSED. See bench/README.md.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-3}
STATUS_RUNS=${BENCH_STATUS_RUNS:-5}
APPLY_FILES=${BENCH_APPLY_FILES:-1000}
STATUS_FILES=${BENCH_STATUS_FILES:-10000}
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
APPLY_TARGET_RATIO=1.05
STATUS_TARGET_MS=300

for n in ROUNDS STATUS_RUNS APPLY_FILES STATUS_FILES; do
    if ! [[ ${!n} =~ ^[1-9][0-9]*$ ]]; then
        echo "bench: $n must be a positive integer (got '${!n}')" >&2
        exit 2
    fi
done
if ((APPLY_FILES > 9999999 || STATUS_FILES > 9999999)); then
    echo "bench: at most 9999999 files (7-digit sequential versions)" >&2
    exit 2
fi

# pgkeel reads PGKEEL_* variables (config path, history schema, timeouts...): keep the
# benchmark independent of the caller's environment. Flags below set everything it needs.
while read -r v; do
    case $v in PGKEEL_BIN | PGKEEL_BENCH_*) ;; *) unset "$v" ;; esac
done < <(compgen -e | grep '^PGKEEL_' || true)

# ---------------------------------------------------------------------------------------------
# helpers

die() {
    echo "bench: error: $*" >&2
    exit 1
}

# Microseconds since the epoch, without forking (bash 5 EPOCHREALTIME), into $_now.
stamp() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        local t=${EPOCHREALTIME/[.,]/}
        _now=$((10#$t))
    else
        _now=$(($(date +%s%N) / 1000))
    fi
}

# timed LOG CMD...: run CMD (stdout+stderr to LOG), set ELAPSED_US; on failure show LOG and exit.
timed() {
    local log=$1 t0 rc=0
    shift
    stamp
    t0=$_now
    "$@" >"$log" 2>&1 || rc=$?
    stamp
    ELAPSED_US=$((_now - t0))
    if ((rc != 0)); then
        echo "bench: error: command failed (exit $rc): $*" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# median of the arguments (integers), printed as an integer
median() {
    printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%d\n", a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

secs() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1e6 }'; }
millis() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1e3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# URL of database $1 on the admin URL's server (same scheme, user, host, port, query string).
db_url() {
    local base=${ADMIN_URL%%\?*}
    local query=${ADMIN_URL#"$base"}
    local scheme=${base%%://*}
    local rest=${base#*://}
    local authority=${rest%%/*}
    printf '%s://%s/%s%s' "$scheme" "$authority" "$1" "$query"
}

admin_sql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "$1" >/dev/null; }
query() { "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

DBS=()
DB_SEQ=0
# fresh_db: create a new empty database, name in $DB, URL in $DB_URL.
fresh_db() {
    DB_SEQ=$((DB_SEQ + 1))
    DB="pgkeel_bench_$$_$DB_SEQ"
    DBS+=("$DB")
    admin_sql "CREATE DATABASE \"$DB\""
    DB_URL=$(db_url "$DB")
    # Start each timed run from a clean checkpoint so that a checkpoint caused by the previous
    # run does not land in this one. Needs superuser or pg_checkpoint; harmless to skip.
    if ! admin_sql "CHECKPOINT" 2>/dev/null && [[ -z ${CHECKPOINT_WARNED:-} ]]; then
        echo "  (note: CHECKPOINT not permitted for this user; timings may be noisier)"
        CHECKPOINT_WARNED=1
    fi
}

drop_db() {
    admin_sql "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
}

TMP=""
cleanup() {
    local rc=$?
    set +e
    for d in "${DBS[@]}"; do
        "$PSQL" -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "bench: warning: could not drop database $d" >&2
    done
    [[ -n $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# setup

stamp
SCRIPT_T0=$_now

# psql: the real binary, not Debian's pg_wrapper (a Perl script that adds ~50 ms per start).
if [[ -n ${BENCH_PSQL:-} ]]; then
    PSQL=$BENCH_PSQL
elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/psql" ]]; then
    PSQL=$(pg_config --bindir)/psql
else
    PSQL=$(command -v psql) || die "psql not found on PATH (or set BENCH_PSQL)"
fi
"$PSQL" -X -qAt -d "$ADMIN_URL" -c "select 1" >/dev/null ||
    die "cannot connect to $ADMIN_URL (set PGKEEL_BENCH_ADMIN_URL)"

if [[ -n ${PGKEEL_BIN:-} ]]; then
    BIN=$PGKEEL_BIN
else
    echo "building the release binary (cargo build --release)..."
    (cd "$ROOT" && cargo build --release --quiet)
    BIN=$ROOT/target/release/pgkeel
fi
[[ -x $BIN ]] || die "pgkeel binary not found or not executable: $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pgkeel-bench.XXXXXX")

# A project folder of its own, so that no pgkeel.toml above it is picked up.
new_project() {
    local dir=$1
    mkdir -p "$dir/migrations"
    printf '[migrations]\nfolders = ["migrations"]\n' >"$dir/pgkeel.toml"
    # BENCH_PGKEEL_TOML: more settings (printf %b escapes), e.g. to measure `up` without its
    # pre-/post-flight: '[lint]\nenabled = false\n[validate]\non_up = "off"\n'.
    printf '%b' "${BENCH_PGKEEL_TOML:-}" >>"$dir/pgkeel.toml"
}

# pgkeel with the project's config, an explicit database, no log file.
pgkeel() {
    local proj=$1 url=$2
    shift 2
    "$BIN" --config "$proj/pgkeel.toml" --database-url "$url" --migrations migrations \
        --log-file off "$@"
}

echo "pgkeel:   $BIN ($("$BIN" --version))"
echo "server:   $("$PSQL" -X -qAt -d "$ADMIN_URL" -c "show server_version"), $(db_url '<db>')"
echo "psql:     $PSQL"
echo "machine:  $(nproc) cores, $(uname -sr)"
echo

# ---------------------------------------------------------------------------------------------
# 1. apply benchmark

APPLY=$TMP/apply
new_project "$APPLY"
width=$(( ${#APPLY_FILES} < 4 ? 4 : ${#APPLY_FILES} ))
echo "apply: generating $APPLY_FILES migration files..."
ALL_SQL=$TMP/all.sql
{
    for ((i = 1; i <= APPLY_FILES; i++)); do
        printf -v n "%0${width}d" "$i"
        values=""
        for ((r = 1; r <= 20; r++)); do
            printf -v v "('row_%s_%02d')" "$n" "$r"
            values+=${values:+, }$v
        done
        printf -v sql '%s\n%s\n%s\n' \
            "CREATE TABLE t_$n (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());" \
            "CREATE INDEX t_${n}_name_idx ON t_$n (name);" \
            "INSERT INTO t_$n (name) VALUES $values;"
        printf '%s' "$sql" >"$APPLY/migrations/${n}_create_t_$n.sql"
        printf 'BEGIN;\n%sCOMMIT;\n' "$sql"
    done
} >"$ALL_SQL"

# Check that a database holds what the apply should have produced.
verify_apply() {
    local url=$1 what=$2 tables rows
    tables=$(query "$url" "select count(*) from pg_tables where schemaname = 'public' and tablename like 't\_%'")
    rows=$(query "$url" "select coalesce(sum((xpath('/row/c/text()', query_to_xml(format('select count(*) as c from public.%I', tablename), false, true, '')))[1]::text::bigint), 0) from pg_tables where schemaname = 'public' and tablename like 't\_%'")
    if [[ $tables != "$APPLY_FILES" || $rows != "$((APPLY_FILES * 20))" ]]; then
        die "$what: expected $APPLY_FILES tables and $((APPLY_FILES * 20)) rows, found $tables tables and $rows rows"
    fi
}

FLOOR=()
UP=()
PAIR=() # per-round ratio x 10000 (integers for median)
SNAP_US=()
SNAP_TEXT=()
SNAP_DISK=()
for ((round = 1; round <= ROUNDS; round++)); do
    fresh_db
    timed "$TMP/floor.log" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" -f "$ALL_SQL"
    FLOOR+=("$ELAPSED_US")
    floor_us=$ELAPSED_US
    verify_apply "$DB_URL" "psql floor"
    drop_db "$DB"

    fresh_db
    timed "$TMP/up.log" pgkeel "$APPLY" "$DB_URL" up
    UP+=("$ELAPSED_US")
    up_us=$ELAPSED_US
    verify_apply "$DB_URL" "pgkeel up"
    recorded=$(query "$DB_URL" "select count(*) from pgkeel.migrations where status = 'applied'")
    [[ $recorded == "$APPLY_FILES" ]] ||
        die "pgkeel up: $recorded migrations recorded as applied, expected $APPLY_FILES (log: $(tail -n 5 "$TMP/up.log"))"
    # Rollback snapshots (taken inside each migration's transaction, so already part of the
    # pgkeel time above): how many, median time (µs, as recorded by the server) and size.
    IFS='|' read -r snaps snap_us snap_text snap_disk < <(query "$DB_URL" "select count(*), coalesce(round(percentile_cont(0.5) within group (order by duration_ms) * 1000), 0)::bigint, coalesce(percentile_disc(0.5) within group (order by octet_length(snapshot::text)), 0), coalesce(percentile_disc(0.5) within group (order by pg_column_size(snapshot)), 0) from pgkeel.snapshots")
    [[ $snaps == "$APPLY_FILES" ]] ||
        die "pgkeel up: $snaps rollback snapshots recorded, expected $APPLY_FILES"
    SNAP_US+=("$snap_us")
    SNAP_TEXT+=("$snap_text")
    SNAP_DISK+=("$snap_disk")
    drop_db "$DB"
    PAIR+=($((up_us * 10000 / (floor_us > 0 ? floor_us : 1))))

    echo "  round $round/$ROUNDS: psql floor $(secs "$floor_us") s, pgkeel up $(secs "$up_us") s, ratio $(ratio "$up_us" "$floor_us")x; snapshot median $(millis "$snap_us") ms, $snap_text bytes ($snap_disk stored)"
done
floor_med=$(median "${FLOOR[@]}")
up_med=$(median "${UP[@]}")
apply_ratio=$(ratio "$up_med" "$floor_med")
pair_ratio=$(ratio "$(median "${PAIR[@]}")" 10000)
apply_mark=$(le "$apply_ratio" "$APPLY_TARGET_RATIO" && echo ok || echo MISSED)
echo

# ---------------------------------------------------------------------------------------------
# 2. status benchmark

STATUS=$TMP/status
new_project "$STATUS"
swidth=$(( ${#STATUS_FILES} < 4 ? 4 : ${#STATUS_FILES} ))
echo "status: generating $STATUS_FILES migration files..."
for ((i = 1; i <= STATUS_FILES; i++)); do
    printf -v n "%0${swidth}d" "$i"
    printf 'SELECT %d AS migration;\n' "$i" >"$STATUS/migrations/${n}_step_$n.sql"
done

fresh_db
STATUS_DB=$DB
STATUS_URL=$DB_URL
timed "$TMP/status-up.log" pgkeel "$STATUS" "$STATUS_URL" up
status_up_us=$ELAPSED_US
recorded=$(query "$STATUS_URL" "select count(*) from pgkeel.migrations where status = 'applied'")
[[ $recorded == "$STATUS_FILES" ]] ||
    die "pgkeel up: $recorded migrations recorded as applied, expected $STATUS_FILES"
echo "  pgkeel up of $STATUS_FILES tiny migrations: $(secs "$status_up_us") s (not a target)"

# Warm-up run that also checks what status reports.
timed "$TMP/status.json" pgkeel "$STATUS" "$STATUS_URL" status --json
python3 - "$TMP/status.json" "$STATUS_FILES" <<'EOF' || die "pgkeel status --json does not report $STATUS_FILES applied and nothing else (see above)"
import json, sys
doc = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
body = doc.get("result", doc)
counts = body["counts"]
entries = body["migrations"]
others = {k: v for k, v in counts.items() if k != "applied" and v}
states = {}
for e in entries:
    states[e["state"]] = states.get(e["state"], 0) + 1
if counts.get("applied") != want or others or states.get("applied", 0) != want:
    print(f"counts: {counts}; states of {len(entries)} entries: {states}", file=sys.stderr)
    sys.exit(1)
EOF
timed "$TMP/status.txt" pgkeel "$STATUS" "$STATUS_URL" status
grep -q "$STATUS_FILES applied" "$TMP/status.txt" ||
    die "pgkeel status does not print '$STATUS_FILES applied': $(head -n 5 "$TMP/status.txt")"

ST=()
SJ=()
PQ=()
for ((run = 1; run <= STATUS_RUNS; run++)); do
    timed "$TMP/status.txt" pgkeel "$STATUS" "$STATUS_URL" status
    ST+=("$ELAPSED_US")
    timed "$TMP/status.json" pgkeel "$STATUS" "$STATUS_URL" status --json
    SJ+=("$ELAPSED_US")
    timed "$TMP/psql.txt" "$PSQL" -X -qAt -d "$STATUS_URL" -c "select count(*) from pgkeel.migrations"
    PQ+=("$ELAPSED_US")
    echo "  run $run/$STATUS_RUNS: pgkeel status $(millis "${ST[-1]}") ms, status --json $(millis "${SJ[-1]}") ms, psql one query $(millis "${PQ[-1]}") ms"
done
st_med=$(median "${ST[@]}")
sj_med=$(median "${SJ[@]}")
pq_med=$(median "${PQ[@]}")
st_mark=$(le "$st_med" $((STATUS_TARGET_MS * 1000)) && echo ok || echo MISSED)
sj_mark=$(le "$sj_med" $((STATUS_TARGET_MS * 1000)) && echo ok || echo MISSED)
drop_db "$STATUS_DB"

stamp
total_us=$((_now - SCRIPT_T0))

# ---------------------------------------------------------------------------------------------
# summary

echo
echo "== pgkeel benchmark summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores) =="
echo "apply $APPLY_FILES migrations: psql floor $(secs "$floor_med") s, pgkeel up $(secs "$up_med") s, ratio ${apply_ratio}x (target <= ${APPLY_TARGET_RATIO}x) $apply_mark  [median of $ROUNDS]"
echo "  (median of the $ROUNDS per-round ratios: ${pair_ratio}x; floor rounds $(for u in "${FLOOR[@]}"; do printf '%s ' "$(secs "$u")"; done)s, pgkeel rounds $(for u in "${UP[@]}"; do printf '%s ' "$(secs "$u")"; done)s)"
snap_us_med=$(median "${SNAP_US[@]}")
echo "rollback snapshot per migration: median $(millis "$snap_us_med") ms, $(median "${SNAP_TEXT[@]}") bytes as JSON text ($(median "${SNAP_DISK[@]}") bytes stored), = $(awk -v s="$snap_us_med" -v f="$floor_med" -v n="$APPLY_FILES" 'BEGIN { if (f > 0) printf "%.1f", 100 * s * n / f; else print "?" }')% of the floor's time per migration  [median of the per-round medians]"
echo "status over $STATUS_FILES applied files: pgkeel status $(millis "$st_med") ms (median of $STATUS_RUNS), psql one query $(millis "$pq_med") ms, ratio $(ratio "$st_med" "$pq_med")x (target <= $STATUS_TARGET_MS ms) $st_mark"
echo "status --json over $STATUS_FILES applied files: $(millis "$sj_med") ms (median of $STATUS_RUNS), ratio $(ratio "$sj_med" "$pq_med")x to psql (target <= $STATUS_TARGET_MS ms) $sj_mark"
echo "(pgkeel up of $STATUS_FILES tiny migrations: $(secs "$status_up_us") s; whole benchmark: $(secs "$total_us") s)"
