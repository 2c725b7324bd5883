# insider_guard: PGXS build.  PG_CONFIG picks the PostgreSQL to build for.

MODULE_big = insider_guard
OBJS = \
	src/insider_guard.o \
	src/guc.o \
	src/logtext.o \
	src/window.o \
	src/stats.o \
	src/counters.o \
	src/persist.o \
	src/relinfo.o \
	src/tramp.o \
	src/rules.o \
	src/rules_read.o \
	src/history.o \
	src/baseline.o \
	src/enforce.o \
	src/names.o \
	src/violations_file.o \
	src/violations_store.o \
	src/violations.o \
	src/statement.o \
	src/epq.o \
	src/reader.o \
	src/executor.o \
	src/copy.o \
	src/utility.o \
	src/args.o \
	src/triggers.o \
	src/monitor.o \
	src/admin.o \
	src/adminlog.o \
	src/worker.o

EXTENSION = insider_guard
DATA = insider_guard--0.1.0.sql insider_guard--0.1.0--0.2.0.sql
PGFILEDESC = "insider_guard - stop insiders reading a database out"

# pg_regress: one file per topic, against a temporary preloaded instance
REGRESS = setup counting_basic counting_indexonly counting_functions counting_cursors \
	counting_copy counting_dml counting_filters counting_partitions \
	counting_exclusions surface privileges thresholds enforcement \
	violations baselines evasion upgrade
REGRESS_OPTS = --temp-config=$(srcdir)/test/insider_guard.conf \
	--temp-instance=./tmp_regress --load-extension=plpgsql

# isolation specs (pg_isolation_regress): several sessions in lock step
ISOLATION = epq_update epq_delete epq_lock
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation \
	--temp-config=$(srcdir)/test/insider_guard.conf \
	--temp-instance=./tmp_isolation --load-extension=insider_guard

TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl

PG_CONFIG ?= $(shell test -x /usr/lib/postgresql/15/bin/pg_config && \
	echo /usr/lib/postgresql/15/bin/pg_config || echo pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CFLAGS += -Wall -Wmissing-prototypes -Wpointer-arith \
	-Wendif-labels -Wmissing-format-attribute -Wformat-security

# the per-row trampolines and the per-statement path: every instruction
# counts there
HOT_OBJS = src/tramp.o src/executor.o src/reader.o src/statement.o src/counters.o \
	src/relinfo.o src/rules.o src/enforce.o
$(HOT_OBJS): CFLAGS += -fomit-frame-pointer

# unit tests of the pure modules (window arithmetic, baseline
# statistics): frontend programs linked with the very sources the
# extension runs
UNIT_CFLAGS = $(CFLAGS) -I$(srcdir)/src -I$(srcdir)/test/unit -I$(includedir_server) -I$(includedir)
UNIT_LIBS = -L$(pkglibdir) -L$(libdir) -lpgcommon -lpgport -lm

test/unit/test_window: test/unit/test_window.c test/unit/unit.h src/window.c src/window.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_window.c src/window.c $(UNIT_LIBS)

test/unit/test_stats: test/unit/test_stats.c test/unit/unit.h src/stats.c src/stats.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_stats.c src/stats.c $(UNIT_LIBS)

unittest: test/unit/test_window test/unit/test_stats
	test/unit/test_window
	test/unit/test_stats

# the 55000 error, against an instance that does not preload the library
installcheck-nopreload:
	$(pg_regress_installcheck) --temp-instance=./tmp_nopreload \
		--temp-config=$(srcdir)/test/nopreload.conf not_preloaded

.PHONY: unittest installcheck-nopreload
EXTRA_CLEAN = test/unit/test_window test/unit/test_stats tmp_regress tmp_nopreload \
	tmp_isolation

# Every object depends on every header of the project: few and small, and
# a struct that changes size must never be compiled in two layouts.
$(OBJS): $(wildcard src/*.h)
