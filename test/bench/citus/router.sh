#!/usr/bin/env bash
#
# test/bench/citus/router.sh [PG_CONFIG]: what insider_guard costs a
# router query on a real 3-node Citus cluster, against Citus alone
# (issue 14; what it measures: router.pl).  As root; about 10 minutes
# with the defaults, ROUTER_ROUNDS (3) rounds of ROUTER_SECONDS (30) per
# configuration, then ROUTER_LEASE_SECONDS (10) twice for the cost of one
# lease round trip.  The table is printed at the end, and copied to
# BENCH_TABLE if set.
exec "$(dirname "$0")/harness.sh" router "$@"
