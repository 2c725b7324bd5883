#!/usr/bin/env bash
#
# test/bench/citus/budget.sh [PG_CONFIG]: the cluster-wide budget of a
# block rule on a real 3-node Citus cluster, for insider_guard.citus_budget
# = node, share and lease, each set explicitly on every node (the default
# is lease since 9d602fc; issue 14; what it measures: budget.pl).  As
# root; about 30 s.  BUDGET_RUNS (default 3) runs of each statement; the table
# is printed at the end, and copied to BENCH_TABLE if set.
exec "$(dirname "$0")/harness.sh" budget "$@"
