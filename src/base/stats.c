/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Behavioural baselines: history histograms, their quantiles, the
 *		pooling of peers' histories, and the limits the rules derive.
 *
 * Bin b holds the window totals in [lower(b), lower(b + 1)) and answers
 * a quantile falling in it with value(b) = floor(1.2 * lower(b)); lower(b
 * + 1) is the smallest integer above value(b) / 0.8, so every total the
 * bin holds is within +-20% of its answer.  Bin 0 holds 1 row, bin 1 two,
 * bin 2 three, bin 3 four and five, bin 4 six to eight; the bounds grow
 * by about 1.5 a bin, and the last bin (from 1.5 * 10^12) holds all above.
 *
 * Decay.  A series keeps its units "as of" decayed_to, with one shared
 * scale: weight = units * scale.  Moving decayed_to forward by dt
 * multiplies the scale by 2^(-dt / half-life).  A window older than
 * decayed_to (seeded history) enters with its own decayed weight.  When a
 * bin would overflow its 16 bits, every bin is halved (losing at most one
 * unit each) and the scale doubled; a recent window is always worth at
 * least 65535 / (windows in its bin) units, so precision stays ample.
 *
 * Feeding.  A window that broke a rule adds nothing; none adds more than
 * the lowest limit in force while it was open, nor more than one bin
 * above the p99 that limit comes from -- its own once the history is
 * usable, its peers' before (ig_hist_cap): training the baseline up by
 * reading at the limit moves it one bin at a time.
 *
 * Rise.  However the history fills, a p99 in force -- the own, and the
 * peers' one the user's peer limit comes from -- is at most one bin above
 * the lowest one noted in force in the current 7-day period and the one
 * before (ig_rise_high; the series keeps those, IgRise): a limit grows at
 * most 2 times in 7 days.  Whoever computes limits notes the p99s in
 * force (ig_rise_take), and a cold start's (ig_rise_floor); a side that
 * noted nothing may be held by the other side's notes (the limit in force
 * before came from there).
 *
 * Removal.  A window seeded again is first taken out (ig_hist_remove):
 * its weight now is its weight when added brought forward by the same
 * decay as every other, so it is recomputed from its end and its rows, not
 * stored; rounding and halving leave it within one unit of what its bin
 * holds of it.
 *
 * Limits.  Own limit = max(min_rows, factor * own p99), usable with at
 * least IG_USABLE_WINDOWS active windows on IG_USABLE_DAYS distinct days.
 * Peer limit = max(min_rows, factor * p99 of the pooled windows of the
 * peers with usable history), usable with at least IG_PEERS_NEEDED of
 * them.  "self" uses the own limit, else the peers'; "peers" the peers';
 * "both" breaks only when both are exceeded: the higher of the two, or
 * the one usable alone.
 *
 * Pure functions on caller-owned memory: no locks, no allocation, no
 * PostgreSQL state (the table of bin bounds is a constant computed once).
 *
 * IDENTIFICATION
 *		src/base/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include <math.h>

#include "base/stats.h"

/* units a fresh window is worth in an empty series */
#define FRESH_UNITS		256.0
#define UNITS_MAX		65535.0
/* a scale this small means the old weights are nothing beside a new one */
#define MIN_SCALE		1e-200
/* limits never exceed this (well below int64 overflow) */
#define LIMIT_MAX		((double) INT64CONST(1000000000000000000))

static uint64 bin_lower[IG_HIST_BINS];
static uint64 bin_value[IG_HIST_BINS];
static bool bins_ready = false;

/*
 * Fills the tables of bin bounds, in integers: bin b answers with
 * value(b) = floor(1.2 * lower(b)), and holds every integer up to
 * value(b) / 0.8, so that each of them is within +-20% of the answer.
 * The bounds grow by about 1.5 a bin.
 */
static void
init_bins(void)
{
	uint64		lower = 1;

	for (int b = 0; b < IG_HIST_BINS; b++)
	{
		bin_lower[b] = lower;
		bin_value[b] = lower * 12 / 10;
		lower = bin_value[b] * 10 / 8 + 1;
	}
	bins_ready = true;
}

/*
 * The bin a window total of "rows" (>= 1) falls in.
 */
int
ig_hist_bin(uint64 rows)
{
	int			lo = 0;
	int			hi = IG_HIST_BINS - 1;

	if (unlikely(!bins_ready))
		init_bins();
	if (rows >= bin_lower[IG_HIST_BINS - 1])
		return IG_HIST_BINS - 1;
	/* the last bin whose lower bound is <= rows */
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (bin_lower[mid] <= rows)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * The value a quantile falling in a bin is answered with.
 */
uint64
ig_hist_bin_value(int bin)
{
	if (unlikely(!bins_ready))
		init_bins();
	Assert(bin >= 0 && bin < IG_HIST_BINS);
	return bin_value[bin];
}

/*
 * Makes an empty series.
 */
void
ig_hist_init(IgHistogram *hist)
{
	memset(hist, 0, sizeof(IgHistogram));
}

/* floor(a / b) for b > 0 */
static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b < 0)
		q--;
	return q;
}

/* Notes the day a window ended on; returns nothing. */
static void
note_day(IgHistogram *hist, int64 window_end)
{
	int64		day64 = floor_div(window_end - 1, IG_STATS_USEC_PER_DAY);
	int32		day = (int32) Max(Min(day64, PG_INT32_MAX), PG_INT32_MIN);

	if (hist->days == 0)
	{
		hist->newest_day = day;
		hist->day_bits = 1;
		hist->days = 1;
	}
	else if (day > hist->newest_day)
	{
		int64		shift = (int64) day - hist->newest_day;

		hist->day_bits = shift >= 64 ? 0 : hist->day_bits << shift;
		hist->day_bits |= 1;
		hist->newest_day = day;
		if (hist->days < PG_UINT16_MAX)
			hist->days++;
	}
	else if ((int64) hist->newest_day - day < 64)
	{
		uint64		bit = UINT64CONST(1) << (hist->newest_day - day);

		if ((hist->day_bits & bit) == 0)
		{
			hist->day_bits |= bit;
			if (hist->days < PG_UINT16_MAX)
				hist->days++;
		}
	}
	/* older than the 64 days kept exactly: taken as a day already seen */
}

/* 2^(-dt / half-life) */
static double
decay_factor(int64 dt)
{
	return exp2(-(double) dt / (double) IG_HALF_LIFE_US);
}

/*
 * Adds one completed window, which ended at window_end (us) and read
 * "rows" rows, to a series.  A window that read nothing is not added (the
 * history is of active windows), nor one so much older than the series'
 * newest that its weight rounds to nothing.  Returns true if it was added.
 */
bool
ig_hist_add(IgHistogram *hist, int64 window_end, uint64 rows)
{
	double		units;
	double		needed;
	int			b;

	if (rows == 0)
		return false;

	if (hist->scale <= 0.0)
	{
		memset(hist->bins, 0, sizeof(hist->bins));
		hist->scale = 1.0 / FRESH_UNITS;
		hist->decayed_to = window_end;
	}
	else if (window_end > hist->decayed_to)
	{
		hist->scale *= decay_factor(window_end - hist->decayed_to);
		hist->decayed_to = window_end;
		if (hist->scale < MIN_SCALE)
		{
			/* centuries of decay: what was there weighs nothing now */
			memset(hist->bins, 0, sizeof(hist->bins));
			hist->scale = 1.0 / FRESH_UNITS;
		}
	}

	/* a window older than decayed_to enters with its decayed weight */
	units = decay_factor(hist->decayed_to - window_end) / hist->scale;
	if (rint(units) < 1.0)
		return false;			/* so old it weighs nothing: not history */
	note_day(hist, window_end);
	if (hist->windows < PG_UINT32_MAX)
		hist->windows++;
	b = ig_hist_bin(rows);
	needed = (double) hist->bins[b] + units;
	if (needed > UNITS_MAX)
	{
		/* halve every bin k times (and double the scale as often) */
		int			k = (int) ceil(log2(needed / UNITS_MAX));

		if (k >= 17)
			memset(hist->bins, 0, sizeof(hist->bins));
		else
			for (int i = 0; i < IG_HIST_BINS; i++)
				hist->bins[i] >>= k;
		hist->scale = ldexp(hist->scale, k);
		units = ldexp(units, -k);
		/* rounding down of the halved bins leaves room; stay exact */
		if ((double) hist->bins[b] + units > UNITS_MAX)
			units = UNITS_MAX - (double) hist->bins[b];
	}
	hist->bins[b] += (uint16) rint(units);
	return true;
}

/*
 * True if a window that ended at window_end would be added to a series
 * (ig_hist_add), rather than weigh nothing beside its newer windows.
 */
bool
ig_hist_weighs(const IgHistogram *hist, int64 window_end)
{
	if (hist->scale <= 0.0 || window_end >= hist->decayed_to)
		return true;
	return rint(decay_factor(hist->decayed_to - window_end) / hist->scale) >= 1.0;
}

/* Forgets the day a window ended on, if it is tracked and was noted. */
static void
forget_day(IgHistogram *hist, int64 window_end)
{
	int64		day = floor_div(window_end - 1, IG_STATS_USEC_PER_DAY);
	int64		age = (int64) hist->newest_day - day;
	uint64		bit;

	if (hist->days == 0 || age < 0 || age >= 64)
		return;					/* never noted, or no longer tracked */
	bit = UINT64CONST(1) << age;
	if ((hist->day_bits & bit) == 0)
		return;
	hist->day_bits &= ~bit;
	if (hist->days < PG_UINT16_MAX)
		hist->days--;
}

/*
 * Takes out of a series a window that ig_hist_add added: one that ended at
 * window_end and read "rows" rows (record_history replacing a window it
 * seeded).  Its weight is what the window is worth now, which is what it
 * added, brought forward by the decay since: within one unit of what its
 * bin holds of it after rounding and halving, and never more than the
 * bin holds.  day_active says whether another window of the series still
 * makes its day active; if not, the day is no longer counted (when it is
 * among the 64 days tracked exactly).  Returns true if a window was
 * taken out.
 */
bool
ig_hist_remove(IgHistogram *hist, int64 window_end, uint64 rows,
			   bool day_active)
{
	if (rows == 0 || hist->windows == 0)
		return false;
	if (hist->scale > 0.0)
	{
		double		units = rint(decay_factor(hist->decayed_to - window_end) /
								 hist->scale);
		int			b = ig_hist_bin(rows);

		if (units >= (double) hist->bins[b])
			hist->bins[b] = 0;
		else if (units > 0.0)
			hist->bins[b] -= (uint16) units;
	}
	if (hist->windows < PG_UINT32_MAX)
		hist->windows--;
	if (!day_active)
		forget_day(hist, window_end);
	return true;
}

/*
 * Adds a completed window as a baseline rule allows: a window that broke
 * a rule adds nothing, and none adds more than "cap" rows (the lowest
 * limit in force while it was open; IG_NO_LIMIT: none).  Returns true if
 * it was added.
 */
bool
ig_hist_feed(IgHistogram *hist, int64 window_end, uint64 rows, int64 cap,
			 bool broke)
{
	if (broke)
		return false;
	if (cap >= 0 && rows > (uint64) cap)
		rows = (uint64) cap;
	return ig_hist_add(hist, window_end, rows);
}

/* the 7-day period of a time, modulo 2^16 */
static uint16
rise_period(int64 now)
{
	return (uint16) floor_div(now, IG_RISE_PERIOD_US);
}

/*
 * Brings a rise to the period of "now": the bin last noted is in force
 * from the start of every period that noted nothing.  A clock set back
 * stays in the period noted last.
 */
static void
rise_roll(IgRise *rise, int64 now)
{
	uint16		period = rise_period(now);
	int			gone = (int16) (uint16) (period - rise->period);

	if (gone <= 0)
		return;
	for (int side = 0; side < IG_RISE_SIDES; side++)
	{
		if (rise->last[side] == 0)
			continue;
		rise->lowest[side][1] = gone == 1 ?
			rise->lowest[side][0] : rise->last[side];
		rise->lowest[side][0] = rise->last[side];
	}
	rise->period = period;
}

/*
 * The p99 in force on one side of a series: "high" (a p99, 0 for none),
 * but no more than one bin above the lowest p99 noted in force on that
 * side in this 7-day period and the one before -- or, with "fallback",
 * while that side noted nothing, on the other side: the limit in force
 * before came from there (a "both" rule's peer limit that becomes usable
 * starts from its own, a "self" rule's own limit from the peers' it used
 * meanwhile).  After a cold start ig_rise_floor noted both sides.  Bins
 * are at most 2 times apart (a unit test checks), so whatever the history
 * does, a limit in force is at most 2 times what it was at any time in
 * the 7 days before: reading at the limit every window buys no more than
 * that.  Nothing noted: "high" as it is.
 */
static uint64
rise_high(IgRise rise, int side, uint64 high, int64 now, bool fallback)
{
	int			lowest = 0;
	int			bound;

	if (high == 0)
		return high;
	if (rise.last[side] == 0 && fallback)
		side = 1 - side;		/* the limit in force before came from there */
	if (rise.last[side] == 0)
		return high;
	rise_roll(&rise, now);
	for (int i = 0; i < 2; i++)
		if (rise.lowest[side][i] != 0 &&
			(lowest == 0 || rise.lowest[side][i] < lowest))
			lowest = rise.lowest[side][i];
	/* stored plus one: the bin above the lowest is "lowest" */
	bound = Min(lowest, IG_HIST_BINS - 1);
	if (ig_hist_bin(high) <= bound)
		return high;
	return ig_hist_bin_value(bound);
}

uint64
ig_rise_high(const IgHistogram *hist, int side, uint64 high, int64 now,
			 bool fallback)
{
	return rise_high(hist->rise, side, high, now, fallback);
}

/*
 * ig_rise_high, and notes the p99 it returns as in force from now on.
 */
uint64
ig_rise_take(IgHistogram *hist, int side, uint64 high, int64 now,
			 bool fallback)
{
	return ig_rise_take_as_of(hist, &hist->rise, side, high, now, fallback);
}

/*
 * ig_rise_take, the p99 in force as the rise stood at "as_of" (a copy):
 * the notes of one computation of limits, made after them, record what
 * they used -- the notes of one side do not hold the other in the same
 * computation.
 */
uint64
ig_rise_take_as_of(IgHistogram *hist, const IgRise *as_of, int side,
				   uint64 high, int64 now, bool fallback)
{
	IgRise	   *rise = &hist->rise;
	IgRise		before = *as_of;
	uint64		in_force = rise_high(before, side, high, now, fallback);
	uint8		noted;

	if (in_force == 0)
		return 0;
	noted = (uint8) (ig_hist_bin(in_force) + 1);
	if (rise->last[0] == 0 && rise->last[1] == 0)
		rise->period = rise_period(now);
	else
		rise_roll(rise, now);
	if (rise->last[side] == 0 && fallback && before.last[1 - side] != 0)
	{
		/*
		 * A hand-over: the side was held by the other's notes, and starts
		 * from them -- noting the bin above them as its own lowest would
		 * let it rise a bin again at once.
		 */
		rise_roll(&before, now);
		rise->lowest[side][0] = Min(noted, before.lowest[1 - side][0]);
		rise->lowest[side][1] = before.lowest[1 - side][1];
	}
	else if (rise->last[side] == 0)
	{
		rise->lowest[side][0] = noted;
		rise->lowest[side][1] = 0;
	}
	else if (noted < rise->lowest[side][0])
		rise->lowest[side][0] = noted;
	rise->last[side] = noted;
	return in_force;
}

/*
 * Notes, on both sides of a series, the p99 a cold-start limit stands
 * for ("high": min_rows / factor of the block rule; 0: none) while
 * neither side has a usable limit: the first limit from history then
 * starts a bin above it, not at factor times the history.
 */
void
ig_rise_floor(IgHistogram *hist, uint64 high, int64 now)
{
	if (high == 0)
		return;
	for (int side = 0; side < IG_RISE_SIDES; side++)
		ig_rise_take(hist, side, high, now, false);
}

/*
 * Forgets how the limits of a series rose: what was seeded into it by a
 * DBA is taken as given, the p99 it gives noted when next in force.
 */
void
ig_rise_reset(IgHistogram *hist)
{
	memset(&hist->rise, 0, sizeof(IgRise));
}

/*
 * The most a completed window may add to a series, given the lowest limit
 * in force while it was open (IG_NO_LIMIT: none): the limit, and no more
 * than the value of the bin above the p99 its limits come from -- the
 * series' own once it is usable, before that its peers' (peer_high, the
 * highest p99 of the user's peer groups with enough peers; -1 if none),
 * even while no limit is in force (a "both" rule waiting for the own
 * history).  IG_NO_LIMIT only with neither.
 * So windows read at the limit raise the p99 by one bin (about 1.5 times)
 * at a time, not by the rule's factor: once a usable history's windows
 * above its p99 weigh 1% of it (with a short history, one window), and a
 * new role's first windows feed it no more than its peers' p99, a bin up.
 */
int64
ig_hist_cap(const IgHistogram *own, int64 limit, int64 peer_high, int64 now)
{
	int64		next;
	int64		high;
	int			b;

	if (ig_hist_usable(own))
		high = (int64) ig_rise_high(own, IG_RISE_OWN,
									ig_hist_quantile(own, IG_HIGH_QUANTILE),
									now, true);
	else if (peer_high >= 0)
		high = peer_high;
	else
		return limit;
	b = ig_hist_bin(Max(high, 1));
	if (b + 1 >= IG_HIST_BINS)
		return limit;
	next = (int64) ig_hist_bin_value(b + 1);
	return limit < 0 ? next : Min(limit, next);
}

/*
 * True if a series has enough history for its own limit.
 */
bool
ig_hist_usable(const IgHistogram *hist)
{
	return hist->windows >= IG_USABLE_WINDOWS && hist->days >= IG_USABLE_DAYS;
}

/*
 * The total weight of a series at "now": how many windows it amounts to,
 * old ones counting for less.
 */
double
ig_hist_total(const IgHistogram *hist, int64 now)
{
	double		units = 0;

	if (hist->scale <= 0.0)
		return 0.0;
	for (int i = 0; i < IG_HIST_BINS; i++)
		units += hist->bins[i];
	return units * hist->scale * decay_factor(now - hist->decayed_to);
}

/* The quantile q of weights per bin; 0 if there is no weight. */
static uint64
weights_quantile(const double *weight, double q)
{
	double		total = 0;
	double		target;
	double		seen = 0;

	for (int i = 0; i < IG_HIST_BINS; i++)
		total += weight[i];
	if (total <= 0)
		return 0;
	/* a hair below, so that q * total rounding up does not skip a bin */
	target = Min(Max(q, 0.0), 1.0) * total * (1 - 1e-9);
	for (int i = 0; i < IG_HIST_BINS; i++)
	{
		seen += weight[i];
		if (weight[i] > 0 && seen >= target)
			return ig_hist_bin_value(i);
	}
	/* rounding: the highest bin with weight */
	for (int i = IG_HIST_BINS - 1; i >= 0; i--)
		if (weight[i] > 0)
			return ig_hist_bin_value(i);
	return 0;
}

/*
 * The quantile q (0..1) of a series' window totals, weighted by age; 0 if
 * it is empty.  Within +-20% of the exact weighted quantile.
 */
uint64
ig_hist_quantile(const IgHistogram *hist, double q)
{
	double		weight[IG_HIST_BINS];

	for (int i = 0; i < IG_HIST_BINS; i++)
		weight[i] = hist->bins[i];
	return weights_quantile(weight, q);
}

/*
 * Starts an empty pool.
 */
void
ig_pool_init(IgHistPool *pool)
{
	memset(pool, 0, sizeof(IgHistPool));
}

/*
 * Adds a peer's series to a pool, its weights brought to "now", if its
 * history is usable.  Returns true if it was added.
 */
bool
ig_pool_add(IgHistPool *pool, const IgHistogram *hist, int64 now)
{
	double		factor;

	if (!ig_hist_usable(hist) || hist->scale <= 0.0)
		return false;
	factor = hist->scale * decay_factor(now - hist->decayed_to);
	for (int i = 0; i < IG_HIST_BINS; i++)
		pool->weight[i] += (double) hist->bins[i] * factor;
	pool->members++;
	return true;
}

/*
 * Takes out of a pool a series that ig_pool_add put in at the same "now"
 * (and that has not changed since).  What rounding leaves of a bin that
 * only this series filled is cleared, so that no empty bin looks filled.
 * Returns true if it was taken out.
 */
bool
ig_pool_remove(IgHistPool *pool, const IgHistogram *hist, int64 now)
{
	double		factor;

	if (!ig_hist_usable(hist) || hist->scale <= 0.0 || pool->members <= 0)
		return false;
	factor = hist->scale * decay_factor(now - hist->decayed_to);
	for (int i = 0; i < IG_HIST_BINS; i++)
	{
		double		mine = (double) hist->bins[i] * factor;
		double		left = pool->weight[i] - mine;

		pool->weight[i] = left > pool->weight[i] * 1e-9 ? left : 0.0;
	}
	pool->members--;
	return true;
}

/*
 * The quantile q of every window in a pool.
 */
uint64
ig_pool_quantile(const IgHistPool *pool, double q)
{
	return weights_quantile(pool->weight, q);
}

/* max(min_rows, factor * high), bounded */
int64
ig_limit_of(uint64 high, double factor, int64 min_rows)
{
	double		limit = floor(factor * (double) high);

	if (!(limit < LIMIT_MAX))
		limit = LIMIT_MAX;
	return Max(min_rows, (int64) limit);
}

/*
 * A role's own limit at "now", or IG_NO_LIMIT if its history is too short:
 * from its p99 as far as it may have risen (ig_rise_high).
 */
int64
ig_limit_own(const IgHistogram *own, double factor, int64 min_rows,
			 int64 now)
{
	if (!ig_hist_usable(own))
		return IG_NO_LIMIT;
	return ig_limit_of(ig_rise_high(own, IG_RISE_OWN,
									ig_hist_quantile(own, IG_HIGH_QUANTILE),
									now, true),
					   factor, min_rows);
}

/*
 * The limit from a pool of peers, or IG_NO_LIMIT if too few peers have
 * usable history.
 */
int64
ig_limit_peers(const IgHistPool *pool, double factor, int64 min_rows)
{
	if (pool->members < IG_PEERS_NEEDED)
		return IG_NO_LIMIT;
	return ig_limit_of(ig_pool_quantile(pool, IG_HIGH_QUANTILE), factor, min_rows);
}

/*
 * The limit a rule applies, from the own and the peer limit (either may
 * be IG_NO_LIMIT); IG_NO_LIMIT if the rule has none.
 */
int64
ig_limit_combine(IgCompareTo compare_to, int64 own_limit, int64 peer_limit)
{
	switch (compare_to)
	{
		case IG_COMPARE_SELF:
			return own_limit >= 0 ? own_limit : peer_limit;
		case IG_COMPARE_PEERS:
			return peer_limit;
		case IG_COMPARE_BOTH:
			/* broken above both; with one usable, that one alone */
			if (own_limit < 0)
				return peer_limit;
			if (peer_limit < 0)
				return own_limit;
			return Max(own_limit, peer_limit);
	}
	return IG_NO_LIMIT;
}
