/*-------------------------------------------------------------------------
 *
 * history_internal.h
 *		What the files of the history module share: a series as shared
 *		memory holds it, the module's shared state, and the helpers that
 *		make and mark series.  Nothing outside src/shmem/history*.c uses it.
 *
 * history.c owns the series (feeding, eviction, reset); history_seeds.c
 * the record of seeded windows, which makes record_history replace a
 * window it seeded rather than add it again, and history_seeds_file.c
 * that record's file at start; history_file.c the history file.  Calls
 * go history_file.c -> history_seeds.c -> history.c, never back.
 *
 * src/shmem/history_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_HISTORY_INTERNAL_H
#define IG_HISTORY_INTERNAL_H

#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/lwlock.h"
#include "utils/hsearch.h"

#include "base/private.h"
#include "shmem/history.h"

/*
 * Where a series' own windows begin and its seeded ones end, as window
 * numbers (window start / window length).  The server's windows and the
 * seeded ones never overlap (history_seeds.c): a window is seeded only
 * before live_from, and one the server counted is added only after
 * seeded_to.
 */
#define IG_LIVE_NONE		PG_INT32_MAX	/* counted nothing itself yet */
#define IG_LIVE_UNKNOWN		PG_INT32_MIN	/* windows of unknown origin:
											 * seeding refused */
#define IG_SEEDED_NONE		PG_INT32_MIN	/* nothing seeded */

typedef struct IgSeriesEntry
{
	IgSeriesKey key;			/* hash key */
	pg_atomic_uint64 last_used; /* a TimestampTz */
	uint64		born_seq;		/* seeded-window records numbered below
								 * this belong to an earlier series of the
								 * key */
	int32		live_from;		/* oldest window the server counted */
	int32		seeded_to;		/* newest window seeded */
	IgHistogram hist;
} IgSeriesEntry;

/* how the history was loaded at start */
typedef enum IgHistoryLoaded
{
	IG_LOADED_NOTHING,			/* no file: an empty history */
	IG_LOADED_LEGACY,			/* a file of a build without seeded-window
								 * records */
	IG_LOADED_CURRENT			/* a file with them */
} IgHistoryLoaded;

/*
 * A peer-group membership younger than IG_MEMBERSHIP_YOUNG_US: it raises
 * no limit yet (history_members.c).  Any role membership granted while the
 * library was loaded is noted, in every database, as roles are the
 * cluster's; one older than that needs no entry.
 */
#define IG_YOUNG_MAX		8192

typedef struct IgYoungMembership
{
	Oid			groupid;
	Oid			member;
	TimestampTz since;
} IgYoungMembership;

typedef struct IgHistoryShared
{
	LWLock	   *lock;
	int			max_series;
	pg_atomic_uint32 gen;			/* changes whenever any series does */
	pg_atomic_uint32 windows_pending;	/* windows added, generation not
										 * bumped for them yet */
	pg_atomic_uint64 bumped_at; /* TimestampTz of the last bump */
	pg_atomic_uint32 dirty;		/* changed since last saved */
	pg_atomic_uint64 evicted;
	TimestampTz last_eviction_log;
	uint64		evicted_unlogged;

	/* the seeded-windows file (history_seeds.c); under the lock */
	bool		seeds_usable;	/* it could be written at start */
	uint64		seeds_seq;		/* number of its newest record */
	pg_atomic_uint64 seeds_len; /* bytes written (read without the lock
								 * too: records below are complete) */
	uint64		seeds_synced;	/* bytes flushed to disk (the saver's) */

	/* how the history was loaded at start (history_file.c) */
	IgHistoryLoaded loaded;
	uint64		loaded_seq;		/* the file's newest seeded-window record */

	/*
	 * Young memberships (history_members.c), under the lock; unordered, the
	 * first nyoung in use.  Until overflow_until, one that had to be
	 * dropped while young may be any: none not listed counts as old.
	 */
	int			nyoung;
	TimestampTz overflow_until;
	IgYoungMembership young[IG_YOUNG_MAX];
} IgHistoryShared;

extern IG_PRIVATE IgHistoryShared *ig_history;
extern IG_PRIVATE HTAB *ig_series_index;

extern IG_PRIVATE IgSeriesEntry *ig_history_enter(const IgSeriesKey *key,
												  TimestampTz now);
extern IG_PRIVATE void ig_history_changed(void);
extern IG_PRIVATE void ig_history_mark_dirty(void);
extern IG_PRIVATE bool ig_history_seeds_flush(void);

/*
 * The seeded-window file (history_seeds.c): a head, then one record for
 * each seeding that changed a window, in the order of their numbers.
 */
#define IG_SEEDS_FORMAT		1

typedef struct IgSeedsHead
{
	uint32		magic;
	uint32		format;
	uint32		pg_major;
	pg_crc32c	crc;			/* of the head, with this field 0 */
	uint64		base_seq;		/* records up to this one were compacted:
								 * those they replaced are gone */
} IgSeedsHead;

typedef struct IgSeedRecord
{
	uint64		seq;			/* increasing from 1 */
	IgSeriesKey key;
	int64		window_end;		/* aligned */
	int64		rows;			/* 0: the window was removed */
	pg_crc32c	crc;			/* of the fields above */
	uint32		zero;
} IgSeedRecord;

static inline pg_crc32c
ig_seed_record_crc(const IgSeedRecord *record)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, record, offsetof(IgSeedRecord, crc));
	FIN_CRC32C(crc);
	return crc;
}

static inline pg_crc32c
ig_seeds_head_crc(const IgSeedsHead *head)
{
	IgSeedsHead copy = *head;
	pg_crc32c	crc;

	copy.crc = 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &copy, sizeof(copy));
	FIN_CRC32C(crc);
	return crc;
}

/* the number of the window of a kind that ends at window_end */
static inline int32
ig_history_number(int kind, int64 window_end)
{
	int64		length = ig_hist_kind_length(kind);
	int64		q = (window_end - 1) / length;

	if ((window_end - 1) % length < 0)
		q--;
	return (int32) q;
}

#endif							/* IG_HISTORY_INTERNAL_H */
