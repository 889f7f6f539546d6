#!/usr/bin/env bash
# Server-side cost of `pgkeel up` against the psql floor, statement by statement, from the
# server's own log (`log_min_duration_statement = 0`, set for the two benchmark databases only).
# Wall-clock ratios on a shared machine swing several-fold from one round to the next (they are
# dominated by 1,000 commit flushes); the durations PostgreSQL logs for each statement do not
# include waiting for the disk between statements, so this shows what pgkeel adds per migration
# (history marker, snapshot, applied row, session settings) more steadily. Prints figures, never
# fails on them.
#
#   bash bench/overhead.sh            # BENCH_FILES (default 1000) migrations of bench/run.sh's shape
#
# Needs superuser on the admin URL (ALTER DATABASE … SET log_min_duration_statement) and read
# access to the server's log: BENCH_SERVER_LOG, else pg_current_logfile() (logging_collector),
# else Debian's /var/log/postgresql/postgresql-<major>-main.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILES=${BENCH_FILES:-1000}
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
[[ $FILES =~ ^[1-9][0-9]{0,6}$ ]] || { echo "bench: BENCH_FILES must be a positive integer" >&2; exit 2; }
while read -r v; do
    case $v in PGKEEL_BIN | PGKEEL_BENCH_*) ;; *) unset "$v" ;; esac
done < <(compgen -e | grep '^PGKEEL_' || true)

PSQL=$(command -v pg_config >/dev/null && echo "$(pg_config --bindir)/psql" || command -v psql)
if [[ -z ${PGKEEL_BIN:-} ]]; then
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    PGKEEL_BIN=$ROOT/target/release/pgkeel
fi
q() { "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "$1"; }
LOG=${BENCH_SERVER_LOG:-}
if [[ -z $LOG ]]; then
    rel=$(q "select coalesce(pg_current_logfile(), '')")
    if [[ -n $rel ]]; then
        LOG=$(q "show data_directory")/$rel
    else
        LOG=/var/log/postgresql/postgresql-$(q "show server_version_num" | cut -c1-2)-main.log
    fi
fi
[[ -r $LOG ]] || { echo "bench: cannot read the server log $LOG (set BENCH_SERVER_LOG)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/pgkeel-bench-overhead.XXXXXX)
DBS=(pgkeel_bench_ovh_floor_$$ pgkeel_bench_ovh_up_$$)
cleanup() {
    for d in "${DBS[@]}"; do q "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/migrations"
printf '[migrations]\nfolders = ["migrations"]\n' >"$WORK/pgkeel.toml"
for ((i = 1; i <= FILES; i++)); do
    printf -v n "%07d" "$i"
    values=""
    for ((r = 1; r <= 20; r++)); do values+=${values:+, }"('row_${n}_$r')"; done
    sql="CREATE TABLE t_$n (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX t_${n}_name_idx ON t_$n (name);
INSERT INTO t_$n (name) VALUES $values;
"
    printf '%s' "$sql" >"$WORK/migrations/${n}_create_t_$n.sql"
    printf 'BEGIN;\n%sCOMMIT;\n' "$sql" >>"$WORK/all.sql"
done

run() {
    local who=$1 db=$2 start
    q "CREATE DATABASE $db" >/dev/null
    q "ALTER DATABASE $db SET log_min_duration_statement = 0" >/dev/null
    start=$(wc -l <"$LOG")
    if [[ $who == floor ]]; then
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "${ADMIN_URL%/*}/$db" -f "$WORK/all.sql" >/dev/null
    else
        "$PGKEEL_BIN" --config "$WORK/pgkeel.toml" --database-url "${ADMIN_URL%/*}/$db" \
            --migrations migrations --log-file off up >"$WORK/up.log" 2>&1 ||
            { tail "$WORK/up.log" >&2; exit 1; }
    fi
    tail -n +"$((start + 1))" "$LOG" | grep -F "$db LOG:  duration:" >"$WORK/$who.log" || true
}
run floor "${DBS[0]}"
run up "${DBS[1]}"

python3 - "$WORK" "$FILES" <<'PY'
import collections, re, sys
work, files = sys.argv[1], int(sys.argv[2])
def totals(who):
    t = collections.defaultdict(float); n = collections.Counter()
    for line in open(f"{work}/{who}.log"):
        m = re.search(r"duration: ([\d.]+) ms\s+statement: (.*)", line)
        if m:
            k = re.sub(r"\d+", "N", m.group(2)[:48])
            t[k] += float(m.group(1)); n[k] += 1
    return t, n
ft, _ = totals("floor")
ut, un = totals("up")
mig = ("CREATE TABLE t_N", "CREATE INDEX t_N", "INSERT INTO t_N", "COMMIT", "BEGIN")
own = {k: v for k, v in ut.items() if not k.startswith(mig)}
print(f"server time of {files} migrations (statement durations in the server log):")
print(f"  psql floor   {sum(ft.values()):9.1f} ms")
print(f"  pgkeel up    {sum(ut.values()):9.1f} ms")
print(f"  pgkeel's own statements (not the migrations' SQL, BEGIN or COMMIT): {sum(own.values()):.1f} ms,"
      f" {sum(own.values()) / files:.3f} ms a migration")
for k, v in sorted(own.items(), key=lambda x: -x[1])[:8]:
    print(f"    {v:9.1f} ms  {un[k]:6d}x  {k}")
PY
