/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Behavioural baselines: the statistics of a role's past windows and
 *		the limits derived from them, as pure functions.
 *
 * A history series is a compact histogram of the totals of a role's
 * completed windows (hours, days or 7-day totals) in which it read anything.  Bins are
 * log-scale, about 1.5 wide, from 1 row; a quantile is answered with one
 * value per bin that is within +-20% of every total the bin holds.  Weights decay with a half-life of 28 days of wall-clock
 * time: a window that closed 28 days ago weighs half as much as one that
 * closed now.
 *
 * The weights are 16-bit integers sharing one scale: bin weight = units *
 * scale.  Decay multiplies the scale, not the units, so it loses nothing;
 * a bin that would overflow halves every bin and doubles the scale.
 *
 * Nothing here locks, allocates or touches PostgreSQL state, so that a
 * test program and the detection benchmark drive the very code the
 * extension runs.
 *
 * src/base/stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_STATS_H
#define IG_STATS_H

#include "c.h"

/* bins of ratio about 1.5 from 1 row; the last starts at 1.5 * 10^12 */
#define IG_HIST_BINS		70

#define IG_STATS_USEC_PER_DAY	INT64CONST(86400000000)
#define IG_HALF_LIFE_US		(28 * IG_STATS_USEC_PER_DAY)

/* own history is usable with this many active windows on this many days */
#define IG_USABLE_WINDOWS	20
#define IG_USABLE_DAYS		7
/* a peer limit needs this many peers with usable history */
#define IG_PEERS_NEEDED		5

/* a limit that is not usable */
#define IG_NO_LIMIT			(-1)

/* the quantiles the baselines use */
#define IG_TYPICAL_QUANTILE	0.50
#define IG_HIGH_QUANTILE	0.99

typedef enum IgCompareTo
{
	IG_COMPARE_SELF,			/* own limit, else the peers' */
	IG_COMPARE_PEERS,			/* the peers' limit */
	IG_COMPARE_BOTH				/* both limits must be exceeded */
} IgCompareTo;

/*
 * How fast a series' limits may rise (ig_rise_high): per side (the own
 * p99, and the peers' p99 the user's peer limit came from), the lowest
 * bin in force noted in this 7-day period and in the one before, and the
 * bin noted last, which is in force until another is.  A p99 in force is
 * at most one bin above the lowest of those two periods, and bins are at
 * most 2 times apart: a limit grows at most 2 times in any 7 days.  Bins
 * are stored plus one: 0 is "nothing noted".  All zeros: nothing noted.
 */
#define IG_RISE_OWN			0
#define IG_RISE_PEERS		1
#define IG_RISE_SIDES		2
#define IG_RISE_PERIOD_US	(7 * IG_STATS_USEC_PER_DAY)

typedef struct IgRise
{
	uint16		period;			/* the 7-day period of lowest[][0], modulo
								 * 2^16 */
	uint8		lowest[IG_RISE_SIDES][2];	/* [side][this period, the one
											 * before] */
	uint8		last[IG_RISE_SIDES];
} IgRise;

/*
 * One history series.  All zeros is a valid empty series.
 */
typedef struct IgHistogram
{
	double		scale;			/* weight of one unit at decayed_to; 0 if
								 * nothing was ever added */
	int64		decayed_to;		/* time the weights are decayed to (us) */
	uint64		day_bits;		/* bit i: day newest_day - i was active */
	int32		newest_day;		/* newest active day (days since epoch) */
	uint32		windows;		/* active windows added, saturating */
	uint16		days;			/* distinct active days, saturating */
	uint16		bins[IG_HIST_BINS];
	IgRise		rise;			/* how fast its limits may rise */
} IgHistogram;

/* Weights of several series brought to one instant and added up. */
typedef struct IgHistPool
{
	double		weight[IG_HIST_BINS];
	int			members;		/* series with usable history added */
} IgHistPool;

extern int	ig_hist_bin(uint64 rows);
extern uint64 ig_hist_bin_value(int bin);
extern void ig_hist_init(IgHistogram *hist);
extern bool ig_hist_add(IgHistogram *hist, int64 window_end, uint64 rows);
extern bool ig_hist_weighs(const IgHistogram *hist, int64 window_end);
extern bool ig_hist_remove(IgHistogram *hist, int64 window_end, uint64 rows,
						   bool day_active);
extern bool ig_hist_feed(IgHistogram *hist, int64 window_end, uint64 rows,
						 int64 cap, bool broke);
extern int64 ig_hist_cap(const IgHistogram *own, int64 limit,
						 int64 peer_high, int64 now);
extern bool ig_hist_usable(const IgHistogram *hist);
extern double ig_hist_total(const IgHistogram *hist, int64 now);
extern uint64 ig_hist_quantile(const IgHistogram *hist, double q);

extern uint64 ig_rise_high(const IgHistogram *hist, int side, uint64 high,
						   int64 now, bool fallback);
extern uint64 ig_rise_take(IgHistogram *hist, int side, uint64 high,
						   int64 now, bool fallback);
extern uint64 ig_rise_take_as_of(IgHistogram *hist, const IgRise *as_of,
								 int side, uint64 high, int64 now,
								 bool fallback);
extern void ig_rise_floor(IgHistogram *hist, uint64 high, int64 now);
extern void ig_rise_reset(IgHistogram *hist);

extern void ig_pool_init(IgHistPool *pool);
extern bool ig_pool_add(IgHistPool *pool, const IgHistogram *hist, int64 now);
extern bool ig_pool_remove(IgHistPool *pool, const IgHistogram *hist, int64 now);
extern uint64 ig_pool_quantile(const IgHistPool *pool, double q);

extern int64 ig_limit_of(uint64 high, double factor, int64 min_rows);
extern int64 ig_limit_own(const IgHistogram *own, double factor,
						  int64 min_rows, int64 now);
extern int64 ig_limit_peers(const IgHistPool *pool, double factor,
							int64 min_rows);
extern int64 ig_limit_combine(IgCompareTo compare_to, int64 own_limit,
							  int64 peer_limit);

#endif							/* IG_STATS_H */
