#!/usr/bin/env bash
# pgkeel MCP benchmark: prints figures, does not pass or fail on them.
#
#   bash bench/mcp.sh
#
# Runs crates/pgkeel-mcp/examples/mcp_latency.rs against a release build of pgkeel and a
# throwaway database (created here, dropped on exit):
# 1. execute_sql `select 1` over stdio from an rmcp client (`pgkeel serve`): median and p95,
# 2. the same query through tokio-postgres directly, and the MCP/direct ratios (plus pgkeel's
#    engine path without MCP, for the breakdown),
# 3. cold start: spawn -> initialize result, median of 20 processes,
# 4. idle RSS of the server after initialize and a few calls.
#
# Exits non-zero only when something breaks; a missed target is printed as MISSED.
# See bench/README.md.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ADMIN_URL=${PGKEEL_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

die() {
    echo "bench: error: $*" >&2
    exit 1
}

# URL of database $1 on the admin URL's server (same scheme, user, host, port, query string).
db_url() {
    local base=${ADMIN_URL%%\?*}
    local query=${ADMIN_URL#"$base"}
    local scheme=${base%%://*}
    local rest=${base#*://}
    local authority=${rest%%/*}
    printf '%s://%s/%s%s' "$scheme" "$authority" "$1" "$query"
}

# psql: the real binary, not Debian's pg_wrapper.
if [[ -n ${BENCH_PSQL:-} ]]; then
    PSQL=$BENCH_PSQL
elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/psql" ]]; then
    PSQL=$(pg_config --bindir)/psql
else
    PSQL=$(command -v psql) || die "psql not found on PATH (or set BENCH_PSQL)"
fi
admin_sql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "$1" >/dev/null; }
admin_sql "select 1" || die "cannot connect to $ADMIN_URL (set PGKEEL_BENCH_ADMIN_URL)"

if [[ -n ${PGKEEL_BIN:-} ]]; then
    BIN=$PGKEEL_BIN
else
    echo "building the release binary (cargo build --release -p pgkeel)..."
    (cd "$ROOT" && cargo build --release -p pgkeel --quiet)
    BIN=$ROOT/target/release/pgkeel
fi
[[ -x $BIN ]] || die "pgkeel binary not found or not executable: $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

DB="pgkeel_bench_mcp_$$_$(date +%s)"
cleanup() {
    local rc=$?
    set +e
    "$PSQL" -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
        echo "bench: warning: could not drop database $DB" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
admin_sql "CREATE DATABASE \"$DB\""

echo "server:   $("$PSQL" -X -qAt -d "$ADMIN_URL" -c "show server_version"), $(db_url '<db>')"
echo "machine:  $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "building the benchmark (cargo build --release -p pgkeel-mcp --example mcp_latency)..."
(cd "$ROOT" && cargo build --release -p pgkeel-mcp --example mcp_latency --quiet)
cd "$ROOT"
PGKEEL_BIN=$BIN cargo run --release --quiet -p pgkeel-mcp --example mcp_latency -- "$(db_url "$DB")"
