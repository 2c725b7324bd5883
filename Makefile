# insider_guard: PGXS build.  PG_CONFIG picks the PostgreSQL to build for.

MODULE_big = insider_guard
# One folder a layer; a file calls and includes only its own layer and
# those above it in this list (test/check_layers.pl checks it, and that no
# files call each other in a cycle).  See docs/design.md, "Source layout".
OBJS = \
	src/base/guc.o \
	src/base/bgw.o \
	src/base/json.o \
	src/base/logroom.o \
	src/base/event.o \
	src/base/logtext.o \
	src/base/names.o \
	src/base/persist.o \
	src/base/stats.o \
	src/base/window.o \
	src/shmem/counters_shmem.o \
	src/shmem/counter_rings.o \
	src/shmem/counters_lookup.o \
	src/shmem/counters.o \
	src/shmem/counters_incidents.o \
	src/shmem/counters_read.o \
	src/shmem/counters_file.o \
	src/shmem/history.o \
	src/shmem/history_seeds.o \
	src/shmem/history_seeds_file.o \
	src/shmem/history_members.o \
	src/shmem/history_file.o \
	src/shmem/violations_file.o \
	src/shmem/violations_store.o \
	src/shmem/violations_log.o \
	src/shmem/violations.o \
	src/shmem/acting.o \
	src/shmem/rules_sync.o \
	src/cache/citus.o \
	src/cache/citus_share.o \
	src/cache/budget.o \
	src/cache/citus_session.o \
	src/cache/relinfo.o \
	src/cache/rules_read.o \
	src/cache/rules_load.o \
	src/cache/rules_all.o \
	src/cache/rules_roles.o \
	src/cache/rules_match.o \
	src/cache/baseline.o \
	src/exec/tramp_pool.o \
	src/exec/fastscan_seq.o \
	src/exec/fastscan_ios.o \
	src/exec/tramp.o \
	src/exec/epq.o \
	src/exec/reader.o \
	src/exec/lease.o \
	src/exec/enforce.o \
	src/exec/statement_keys.o \
	src/exec/grant.o \
	src/exec/statement.o \
	src/exec/executor.o \
	src/exec/copy.o \
	src/sql/args.o \
	src/sql/citus_rules.o \
	src/sql/citus_sync.o \
	src/sql/citus_sessions.o \
	src/sql/citus_leases.o \
	src/sql/triggers.o \
	src/sql/monitor.o \
	src/sql/info.o \
	src/sql/admin.o \
	src/sql/adminlog.o \
	src/sql/memberships.o \
	src/utility.o \
	src/worker.o \
	src/insider_guard.o

EXTENSION = insider_guard
DATA = insider_guard--0.1.0.sql insider_guard--0.1.0--0.2.0.sql \
	insider_guard--0.2.0--0.3.0.sql insider_guard--0.3.0--0.4.0.sql \
	insider_guard--0.4.0--0.5.0.sql insider_guard--0.5.0--0.6.0.sql
PGFILEDESC = "insider_guard - stop insiders reading a database out"

# pg_regress: one file per topic, against a temporary preloaded instance
REGRESS = setup counting_basic counting_indexonly fast_scans log_format counting_functions counting_cursors \
	counting_copy counting_dml counting_filters counting_partitions \
	counting_exclusions surface privileges thresholds enforcement \
	violations info baselines evasion citus_rules upgrade
REGRESS_OPTS = --temp-config=$(srcdir)/test/insider_guard.conf \
	--temp-instance=./tmp_regress --load-extension=plpgsql

# isolation specs (pg_isolation_regress): several sessions in lock step
ISOLATION = epq_update epq_delete epq_lock fast_scans_epq fast_scans_serializable
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation \
	--temp-config=$(srcdir)/test/insider_guard.conf \
	--temp-instance=./tmp_isolation --load-extension=insider_guard

TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl

# the sources include each other's headers by layer: "shmem/counters.h";
# libpq asks other Citus nodes whose session a connection serves
PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
SHLIB_LINK_INTERNAL = $(libpq)

# make IG_TESTING=1 builds the test build (test.sh does): it adds the
# superuser setting insider_guard.test_clock_offset, which moves the
# clock forward for tests of windows and history.  Servers run without it.
ifdef IG_TESTING
PG_CPPFLAGS += -DIG_TESTING
endif
# a switch between the two builds recompiles everything: .build_mode
# changes only when the build does
IG_BUILD_MODE := $(if $(IG_TESTING),testing,server)
$(shell test "$$(cat .build_mode 2>/dev/null)" = "$(IG_BUILD_MODE)" || \
	echo "$(IG_BUILD_MODE)" > .build_mode)

PG_CONFIG ?= $(shell test -x /usr/lib/postgresql/15/bin/pg_config && \
	echo /usr/lib/postgresql/15/bin/pg_config || echo pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CFLAGS += -Wall -Wmissing-prototypes -Wpointer-arith \
	-Wendif-labels -Wmissing-format-attribute -Wformat-security

# the per-row trampolines and the per-statement path: every instruction
# counts there
HOT_OBJS = src/exec/tramp.o src/exec/tramp_pool.o src/exec/fastscan_seq.o \
	src/exec/fastscan_ios.o src/exec/executor.o src/exec/reader.o \
	src/exec/statement.o src/exec/statement_keys.o src/exec/grant.o \
	src/exec/enforce.o src/shmem/counters.o \
	src/shmem/counter_rings.o src/shmem/counters_lookup.o \
	src/cache/relinfo.o src/cache/rules_match.o src/cache/rules_load.o
$(HOT_OBJS): CFLAGS += -fomit-frame-pointer

# unit tests of the pure modules (window arithmetic, baseline
# statistics, JSON strings): frontend programs linked with the very
# sources the extension runs
UNIT_CFLAGS = $(CFLAGS) -I$(srcdir)/src -I$(srcdir)/test/unit -I$(includedir_server) -I$(includedir)
UNIT_LIBS = -L$(pkglibdir) -L$(libdir) -lpgcommon -lpgport -lm

test/unit/test_window: test/unit/test_window.c test/unit/unit.h src/base/window.c src/base/window.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_window.c src/base/window.c $(UNIT_LIBS)

test/unit/test_stats: test/unit/test_stats.c test/unit/unit.h src/base/stats.c src/base/stats.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_stats.c src/base/stats.c $(UNIT_LIBS)

test/unit/test_json: test/unit/test_json.c test/unit/unit.h src/base/json.c src/base/json.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_json.c src/base/json.c $(UNIT_LIBS)

unittest: test/unit/test_window test/unit/test_stats test/unit/test_json
	test/unit/test_window
	test/unit/test_stats
	test/unit/test_json

# no upward include or call between the layers of src/, no cycle
check-layers: all
	perl $(srcdir)/test/check_layers.pl $(srcdir)/src

# the 55000 error, against an instance that does not preload the library
installcheck-nopreload:
	$(pg_regress_installcheck) --temp-instance=./tmp_nopreload \
		--temp-config=$(srcdir)/test/nopreload.conf not_preloaded

.PHONY: unittest check-layers installcheck-nopreload
EXTRA_CLEAN = .build_mode test/unit/test_window test/unit/test_stats test/unit/test_json \
	tmp_regress tmp_nopreload \
	tmp_isolation

# Every object depends on every header of the project: few and small, and
# a struct that changes size must never be compiled in two layouts.
$(OBJS): $(wildcard src/*.h src/*/*.h) .build_mode
