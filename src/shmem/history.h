/*-------------------------------------------------------------------------
 *
 * history.h
 *		History series of behavioural baselines, kept in shared memory and
 *		bounded by insider_guard.max_history.
 *
 * src/shmem/history.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_HISTORY_H
#define IG_HISTORY_H

#include "datatype/timestamp.h"

#include "base/stats.h"

struct IgFileWriter;

/*
 * The windows baselines compare: hours, days, and 7-day totals.  A 7-day
 * total is taken once a day, when a day in which the role read ends: the
 * rows of that day and the 6 before it.
 */
#define IG_HIST_HOUR		0
#define IG_HIST_DAY			1
#define IG_HIST_WEEK		2
#define IG_HIST_KINDS		3

/* What a series is the history of; relid InvalidOid: all tables. */
typedef struct IgSeriesKey
{
	Oid			dbid;
	Oid			roleid;
	Oid			relid;
	int32		kind;			/* IG_HIST_HOUR, _DAY or _WEEK */
} IgSeriesKey;

/* One series, as the baselines view shows it. */
typedef struct IgSeriesCopy
{
	IgSeriesKey key;
	IgHistogram hist;
} IgSeriesCopy;

/*
 * How often a kind's windows are taken, microseconds: windows are
 * numbered by it (an hour; a day for days and 7-day totals).
 */
static inline int64
ig_hist_kind_length(int kind)
{
	return kind == IG_HIST_HOUR ? USECS_PER_HOUR : USECS_PER_DAY;
}

/* How long a kind's windows are, microseconds: what a rule's window is. */
static inline int64
ig_hist_kind_span(int kind)
{
	return kind == IG_HIST_WEEK ? 7 * USECS_PER_DAY : ig_hist_kind_length(kind);
}

extern Size ig_history_shmem_size(void);
extern void ig_history_shmem_init(bool created);

/* what seeding a window did (ig_history_seed) */
typedef enum IgSeedResult
{
	IG_SEED_DONE,				/* added, replaced or removed */
	IG_SEED_UNCHANGED,			/* it had those rows already */
	IG_SEED_OVERLAPS,			/* refused: the server counted the series
								 * itself from *live_from on */
	IG_SEED_UNKNOWN,			/* refused: which windows of the series were
								 * seeded is not known */
	IG_SEED_NO_ROOM				/* no shared memory for the series */
} IgSeedResult;

extern uint32 ig_history_gen(void);
extern void ig_history_feed(const IgSeriesKey *key, int64 window_end,
							uint64 rows, int64 cap, bool broke);
extern IgSeedResult ig_history_seed(const IgSeriesKey *key,
									TimestampTz window_end, int64 rows,
									TimestampTz *live_from);
/* a peer-group membership raises no limit until it is this old */
#define IG_MEMBERSHIP_YOUNG_US	(14 * USECS_PER_DAY)

extern void ig_history_note_membership(Oid groupid, Oid member,
									   TimestampTz now);
extern void ig_history_members_lost(void);
extern bool ig_history_members_load(const char *data, Size len,
									const char *path);
extern TimestampTz ig_history_membership_counts_from(Oid groupid, Oid member,
													 TimestampTz now);
extern void ig_history_note_rise(const IgSeriesKey *key, uint64 own_high,
								 int64 peer_high, bool peers_fallback,
								 uint64 floor_high, TimestampTz now);
extern void ig_history_seeds_start(void);
extern bool ig_history_get(const IgSeriesKey *key, IgHistogram *hist,
						   bool create);
extern int64 ig_history_reset(Oid dbid, Oid roleid);
extern IgSeriesCopy *ig_history_list(Oid dbid, int *count);
extern void ig_history_info(int64 *in_use, int64 *max_series);

extern bool ig_history_take_dirty(void);
extern void ig_history_save(struct IgFileWriter *writer);
extern bool ig_history_load(const char *data, Size len, const char *path);

#endif							/* IG_HISTORY_H */
