/*-------------------------------------------------------------------------
 *
 * counters.h
 *		Rows read per (database, role, table) in rolling windows, kept in
 *		shared memory: the interface.  How the counters' files divide the
 *		work is in counters_internal.h; the locking protocol in locks.h.
 *
 * IDENTIFICATION
 *		src/shmem/counters.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_COUNTERS_H
#define IG_COUNTERS_H

#include "datatype/timestamp.h"

#include "base/guc.h"
#include "shmem/history.h"

struct IgFileWriter;

/* The windows every counter keeps; more can be defined at run time. */
#define IG_WINDOW_MINUTE	0
#define IG_WINDOW_HOUR		1
#define IG_WINDOW_DAY		2
#define IG_WINDOW_MONTH		3	/* 30 days, the longest window */
#define IG_BUILTIN_WINDOWS	4
#define IG_MAX_WINDOWS		(IG_BUILTIN_WINDOWS + IG_MAX_CUSTOM_WINDOWS)

/*
 * What a counter counts.  relid InvalidOid is the role's total over all
 * tables, in which every row counts once.
 */
typedef struct IgCounterKey
{
	Oid			dbid;
	Oid			roleid;
	Oid			relid;
} IgCounterKey;

/*
 * A backend's memo of where a key's counter lives, so that most updates
 * take no lock but the counter's own spinlock: its position in the
 * counters' array and its incarnation there.  pos < 0: not known.
 */
typedef struct IgCounterRef
{
	int32		pos;
	uint64		incarnation;
} IgCounterRef;

#define IG_COUNTER_REF_INIT {-1, 0}

/*
 * A backend's memo of how far the window sums it last read from a counter
 * were from their maxes, and of the counter's rows_gen then.  While
 * rows_gen is unchanged but for this backend's own additions, no rows were
 * added by anyone else, and windows only lose rows as they move on: the
 * memo, less what this backend adds, bounds every window's room from
 * below.  So a threshold check needs no per-window work until the room
 * could run out.
 */
typedef struct IgQueryMemo
{
	bool		valid;
	int32		pos;			/* the counter: position, incarnation, rows_gen */
	uint64		incarnation;
	uint64		rows_gen;
	uint32		windows_gen;	/* window definitions then */
	int64		headroom;		/* min over the windows of max - sum, at
								 * least; < 0 if some sum exceeded its max */
	int64		block_headroom; /* the same over block rules' windows */
} IgQueryMemo;

/*
 * A statement key's reservation on a counter, for block rules: rows its
 * scan nodes have been granted, or may be granted, that no other process
 * may be granted.  It is exchanged under the counter's spinlock whenever
 * the key's counts are read (ig_counters_query, ig_counters_settle): all
 * that is held is given back, the rows just read are added, and "keep"
 * rows (still granted to nodes) plus up to "want" fresh ones are taken
 * again -- of fresh ones at most half of what the block rules leave
 * beyond every process's reservations, so that a process arriving late
 * still finds some.  So the rows granted to all processes together never
 * exceed what is left of the tightest block rule.
 */
typedef struct IgReservation
{
	int64		held;			/* in/out: rows held in the counter */
	uint64		incarnation;	/* out: the counter they are held in */
	int64		keep;			/* in: rows still granted to nodes */
	int64		want;			/* in: most fresh rows to take */
	int64		fresh;			/* out: fresh rows taken */
	int64		others;			/* out: rows other holders hold */
} IgReservation;

/*
 * A block rule of a key as a statement knows it (its id and version),
 * which may keep an incident open.  A rule list keeps its block rules so,
 * ordered by stamp, then id (ig_live_rule_cmp), for ig_live_rule_known.
 */
typedef struct IgLiveRule
{
	int64		rule_id;
	uint32		stamp;
} IgLiveRule;

static inline int
ig_live_rule_cmp(int64 rule_id, uint32 stamp, const IgLiveRule *rule)
{
	if (stamp != rule->stamp)
		return stamp < rule->stamp ? -1 : 1;
	return (rule_id > rule->rule_id) - (rule_id < rule->rule_id);
}

/* Is a rule's version among "live" (nlive, ordered)?  A binary search. */
static inline bool
ig_live_rule_known(const IgLiveRule *live, int nlive, int64 rule_id,
				   uint32 stamp)
{
	int			lo = 0;
	int			hi = nlive - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = ig_live_rule_cmp(rule_id, stamp, &live[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return false;
}

/*
 * Window sums that a threshold check needs from a counter: the rows read
 * within each window, filled under the counter's spinlock (after the
 * tally's rows were added, when settling).  When no sum may exceed its
 * window's max ("over" false), the answer may come from the memo: then
 * only "headroom" is known, a lower bound of min(max - sum) -- all a check
 * needs: nothing broken, nothing crossed, that many rows left.  When
 * "over", the sums are exact.
 */
typedef struct IgWindowQuery
{
	int64		pin_span;		/* keep the counter at least that long
								 * after the time of the answer */
	int			nwindows;
	const int  *ring;			/* ring answering each window */
	const int64 *length;		/* window length, microseconds */
	const int64 *max;			/* sums above this must be exact */
	const bool *block;			/* window i is a block rule's */
	const IgLiveRule *live;		/* the block rules, ordered: a reservation
								 * that finds room under them closes their
								 * incidents ... */
	int			nlive;
	TimestampTz rules_at;		/* ... and those last seen before its rules
								 * were taken (its statement's start): of
								 * rules gone since, if it knows them not */
	IgQueryMemo *memo;			/* or NULL */
	IgReservation *res;			/* or NULL: nothing reserved */
	uint64	   *sum;			/* out: rows read within it (when over) */
	int64		headroom;		/* out: min over windows of max - sum, at
								 * least (when not over) */
	int64		block_headroom; /* out: the same over block rules' windows
								 * (even when over) */
	bool		valid;			/* out: false if the counter could not be
								 * created (every counter is pinned) */
	bool		over;			/* out: some sum exceeds its max */
} IgWindowQuery;

/*
 * Rows a statement read for one counter, not yet settled.  The executor
 * keeps one per table (and one for all tables) and hands them all to
 * ig_counters_settle.
 */
typedef struct IgTally
{
	Oid			relid;			/* InvalidOid: all tables */
	bool		counted;		/* this statement already counted in it */
	bool		ref_moved;		/* ref changed while settling */
	IgCounterRef ref;			/* memo of the counter */
	uint64		pending;		/* rows read, not yet in shared memory */
	uint64		added;			/* rows the last settle added */
	uint64		statement_rows; /* rows settled by this statement */
	IgWindowQuery *query;		/* window sums to report, or NULL */
	uint8		hist_wanted;	/* bit k: a baseline keeps history kind k */
	int64		hist_cap[IG_HIST_KINDS];	/* lowest baseline limit in
											 * force, IG_NO_LIMIT if none */
} IgTally;

/*
 * An incident: a block rule of a counter's key that stopped the role, and
 * stays broken (no free row left under it) until a settle finds room
 * again.  Its first stop is a violation record; later stops while it is
 * open are repeats of it, written to the violations log lazily.  A 7-day
 * log rule's crossings are one incident likewise while each comes within
 * 7 days of the one before (ig_counters_incident's repeat_since).
 */
typedef enum IgIncidentKind
{
	IG_INCIDENT_NEW,			/* no open incident: record one, then
								 * ig_counters_incident_recorded */
	IG_INCIDENT_REPEAT,			/* a repeat of the open (or recent) one */
	IG_INCIDENT_UNTRACKED,		/* no room to track it: record it */
	IG_INCIDENT_LATER			/* IG_OF_OVER: the key recorded one a
								 * minute ago: not now */
} IgIncidentKind;

/* What an incident is asked for (ig_counters_incident). */
typedef enum IgIncidentOf
{
	IG_OF_BLOCK,				/* a block rule stopped the role: a repeat
								 * while its incident is open */
	IG_OF_CROSSING,				/* a log rule crossed: a repeat if its
								 * incident was seen since "since" */
	IG_OF_OVER					/* a log rule read over without crossing:
								 * seen again if its incident was seen
								 * since "since"; new at most once a
								 * minute for a counter */
} IgIncidentOf;

/* What an incident is asked for, of which rule (ig_counters_incident). */
typedef struct IgIncidentAsk
{
	int64		rule_id;
	uint32		stamp;			/* its version (IgRule.stamp) */
	IgIncidentOf of;
	TimestampTz since;			/* a log rule's: see IgIncidentOf */
	const IgLiveRule *live;		/* the key's block rules now, ordered: an
								 * open incident of any other rule ends ... */
	int			nlive;
	TimestampTz rules_at;		/* ... if last seen before the asker's rules
								 * were taken: one seen since may be of a
								 * rule newer than they are */
} IgIncidentAsk;

/* A repeat count to write to the violations log. */
typedef struct IgIncidentChange
{
	Oid			dbid;
	int64		violation_id;
	int64		repeats;
	TimestampTz last_seen;
	int32		pos;			/* its counter's position, to mark it written */
	uint64		incarnation;
	int32		incident;
} IgIncidentChange;

/* Log lines a flood repeats, written at most once a second each. */
typedef enum IgLogKind
{
	IG_LOG_LOST,				/* rows read that no counter could take */
	IG_LOG_NO_ROOM,				/* thresholds not checked for lack of room */
	IG_LOG_KINDS
} IgLogKind;

/* One counter as the role_activity view shows it. */
typedef struct IgActivity
{
	IgCounterKey key;
	uint64		rows_minute;
	uint64		rows_hour;
	uint64		rows_day;
	int64		statements;
	TimestampTz last_read;
} IgActivity;

/* What the info view shows of the counters (ig_counters_info). */
typedef struct IgCountersInfo
{
	int64		in_use;			/* counters holding a key */
	int64		max_tracked;	/* insider_guard.max_tracked at start */
	uint64		evictions;		/* counters evicted to make room */
	uint64		fail_closed;	/* statements failed with 53200 */
	uint64		checks_skipped; /* rule checks skipped for lack of room */
	TimestampTz last_save;		/* the saver's last save, 0: none yet */
	TimestampTz stats_reset;	/* when the totals started from 0 */
} IgCountersInfo;

extern Size ig_counters_shmem_size(void);
extern bool ig_counters_shmem_init(void);
extern bool ig_counters_ready(void);

extern void ig_counters_settle(Oid dbid, Oid roleid, IgTally *tallies,
							   int ntallies, bool count_statements,
							   bool statement_end, TimestampTz now);
extern void ig_counters_settle_pair(Oid dbid, Oid roleid, IgTally *tallies,
									TimestampTz now);
extern bool ig_counters_query(Oid dbid, Oid roleid, IgTally *tally,
							  TimestampTz now);
extern bool ig_counters_query_memo(IgWindowQuery *query);
extern int	ig_counters_window_ring(int64 length, TimestampTz now);
extern uint64 ig_counters_rows_read(const IgCounterKey *key, int64 length,
									TimestampTz now);
extern void ig_counters_note_break(Oid dbid, Oid roleid, IgTally *tally,
								   int kind, TimestampTz now);
extern void ig_counters_sweep(TimestampTz now);
extern bool ig_counters_log_allowed(IgLogKind kind, uint64 *suppressed);
extern void ig_counters_note_no_room(bool failed_closed);
extern void ig_counters_note_saved(TimestampTz at);
extern void ig_counters_info(IgCountersInfo *info);
extern void ig_counters_floor(Oid dbid, Oid roleid, Oid relid, int64 per,
							  uint64 min_rows, TimestampTz at, TimestampTz now);
extern IgIncidentKind ig_counters_incident(Oid dbid, Oid roleid, IgTally *tally,
										   const IgIncidentAsk *ask,
										   TimestampTz now,
										   int64 *violation_id);
extern void ig_counters_incident_recorded(Oid dbid, Oid roleid, IgTally *tally,
										  int64 rule_id, uint32 stamp,
										  int64 violation_id);
extern IgIncidentChange *ig_counters_incident_changes(int *count);
extern void ig_counters_incidents_written(const IgIncidentChange *changes,
										  int count);
extern void ig_counters_forget_incidents(const int64 *ids, int nids,
										 bool keep_listed);
extern void ig_counters_reset(Oid dbid, Oid roleid);
extern IgActivity *ig_counters_activity(Oid dbid, TimestampTz now, int *count);

extern bool ig_counters_take_dirty(void);
extern void ig_counters_save(struct IgFileWriter *writer);
extern bool ig_counters_load(const char *data, Size len, const char *path);

#endif							/* IG_COUNTERS_H */
