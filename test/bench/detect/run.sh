#!/usr/bin/env bash
#
# test/bench/detect/run.sh: the detection-quality benchmark of behavioural
# baselines.  One command, from a fresh clone on Debian 12, as root or as a
# user with sudo:
#
#     test/bench/detect/run.sh [--jobs N] [--seeds a-b] [--holdout c-d]
#
# Installs what it needs (postgresql-server-dev-15, gcc) if missing, builds
# the benchmark with the very src/base/stats.c the extension runs (a frontend
# program, as the unit tests are), checks the engine's enforcement on a tiny
# organisation, runs seeds 1-3 (on which the recommended deployment was
# chosen) and 4-6 (held out), two seeds at a time in child processes, and
# the insider scenarios, and prints the report in Markdown on stdout
# (progress on stderr).  No server is started.  Takes about 6 minutes on 2
# idle cores, about 10 when another job holds one of them.
#
# --selftest: the engine checks only; --scenarios: the scenarios only.
#
set -euo pipefail

here=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$here"
# shellcheck source=../../prepare.sh
. "$here/test/prepare.sh"

PACKAGES="postgresql-server-dev-$PG_MAJOR gcc"
prepare_packages >&2

build=$(mktemp -d /tmp/insider_guard_detect.XXXXXX)
trap 'rm -rf "$build"' EXIT

"${CC:-gcc}" -O2 -Wall -Wmissing-prototypes -Werror \
	-I src -I "$("$PG_CONFIG" --includedir-server)" -I "$("$PG_CONFIG" --includedir)" \
	-o "$build/detect" test/bench/detect/*.c src/base/stats.c \
	-L "$("$PG_CONFIG" --pkglibdir)" -L "$("$PG_CONFIG" --libdir)" \
	-lpgcommon -lpgport -lm

"$build/detect" "$@"
