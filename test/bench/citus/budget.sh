#!/usr/bin/env bash
#
# test/bench/citus/budget.sh: the cluster-wide budget of a block rule on a
# real 3-node Citus cluster, for insider_guard.citus_budget = node and
# share (issue 14; what it measures: budget.pl).  As root:
#
#     test/bench/citus/budget.sh [PG_CONFIG]     # about 2 minutes
#
# Builds and installs insider_guard and Citus (test/citus-build.sh, from
# the vendored source or its cache) into that PostgreSQL, then runs
# budget.pl as postgres in a temporary directory.  BUDGET_RUNS (default 3)
# runs of each statement; each run's counts and the table are printed at
# the end, the table also copied to BUDGET_TABLE if set.
set -euo pipefail

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
    BUDGET_RUNS="${BUDGET_RUNS:-3}" BUDGET_TABLE="$work/table.md" \
    perl test/bench/citus/budget.pl || status=$?
# the run's log (each statement's counts), then the table
log=$work/tmp_check/log/regress_log_budget
grep -E '^# (node|share) ' "$log" | sed 's/^# //' || true
if [ "$status" != 0 ] || [ ! -s "$work/table.md" ]; then
    tail -40 "$log"
    echo "budget.pl failed ($status)" >&2
    exit 1
fi
echo
cat "$work/table.md"
[ -z "${BUDGET_TABLE:-}" ] || cp "$work/table.md" "$BUDGET_TABLE"
