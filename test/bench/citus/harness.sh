#!/usr/bin/env bash
#
# test/bench/citus/harness.sh NAME [PG_CONFIG]: runs the Citus benchmark
# NAME.pl of this folder (budget.pl, router.pl) on a real 3-node Citus
# cluster; budget.sh and router.sh call it.  As root: builds and installs
# insider_guard and Citus (test/citus-build.sh, from the vendored source
# or its cache) into that PostgreSQL, then runs NAME.pl as postgres in a
# temporary directory; prints what it logged for each run ("# " lines of
# its log starting with a word the script names in BENCH_LINES) and the
# table it wrote, also copied to BENCH_TABLE if set.
set -euo pipefail

name=$1
shift
here=$(cd "$(dirname "$0")/../../.." && pwd)
PG_CONFIG=${1:-${IG_PG_CONFIG:-pg_config}}
bindir=$("$PG_CONFIG" --bindir)
pgxs_test=$(dirname "$("$PG_CONFIG" --pgxs)")/../test

make -C "$here" -s PG_CONFIG="$PG_CONFIG" with_llvm=no install >/dev/null
"$here/test/citus-build.sh" "$PG_CONFIG" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/test/bench"
cp -r "$here/test/perl" "$work/test/"
cp -r "$here/test/bench/citus" "$work/test/bench/"
chown -R postgres "$work"
cd "$work"
status=0
runuser -u postgres -- env PATH="$bindir:$PATH" PERL5LIB="$pgxs_test/perl" \
    PG_REGRESS="$pgxs_test/regress/pg_regress" \
    BUDGET_RUNS="${BUDGET_RUNS:-3}" ROUTER_ROUNDS="${ROUTER_ROUNDS:-3}" \
    ROUTER_SECONDS="${ROUTER_SECONDS:-30}" \
    ROUTER_LEASE_SECONDS="${ROUTER_LEASE_SECONDS:-10}" BENCH_TABLE="$work/table.md" \
    perl "test/bench/citus/$name.pl" || status=$?
# the run's log (each run's figures), then the table
log=$work/tmp_check/log/regress_log_$name
grep -E '^# (run|node|share|lease) ' "$log" | sed 's/^# //' || true
if [ "$status" != 0 ] || [ ! -s "$work/table.md" ]; then
    tail -40 "$log"
    echo "$name.pl failed ($status)" >&2
    exit 1
fi
echo
cat "$work/table.md"
[ -z "${BENCH_TABLE:-}" ] || cp "$work/table.md" "$BENCH_TABLE"
