/*-------------------------------------------------------------------------
 *
 * test_stats.c
 *		Unit tests of the baseline statistics in src/base/stats.c.
 *
 * Drives the functions the extension runs against exact references: the
 * quantile error bound (every answer within +-20% of the exact weighted
 * quantile), decay (a half-life of 28 days), capping and broken windows,
 * cold start (20 active windows on 7 distinct days), peer pooling (5 peers
 * with usable history), taking a window out again, and how self / peers
 * / both combine.  Exits non-zero on the first failures.
 *
 * IDENTIFICATION
 *		test/unit/test_stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#define UNIT_RNG_SEED UINT64CONST(0x2545F4914F6CDD1D)
#include "unit.h"

#include <math.h>

#include "base/stats.h"

#define USEC	INT64CONST(1000000)
#define HOUR	(3600 * USEC)
#define DAY		(24 * HOUR)
#define T0		(INT64CONST(9000) * DAY)	/* some day in 2024 */


/* uniform in (0, 1) */
static double
rng_unit(void)
{
	return ((double) (rng() >> 11) + 0.5) / 9007199254740992.0;
}

/* log-normal with median m and shape sigma */
static uint64
rng_lognormal(double m, double sigma)
{
	double		z = sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
	double		v = m * exp(sigma * z);

	return v < 1 ? 1 : (uint64) v;
}

/* ---- an exact reference: every window with its weight ---- */

typedef struct Window
{
	uint64		rows;
	double		weight;
} Window;

static int
compare_windows(const void *a, const void *b)
{
	uint64		ra = ((const Window *) a)->rows;
	uint64		rb = ((const Window *) b)->rows;

	return (ra > rb) - (ra < rb);
}

/* the smallest value whose cumulative weight reaches q of the total */
static uint64
exact_quantile(Window *w, int n, double q)
{
	double		total = 0;
	double		seen = 0;

	qsort(w, n, sizeof(Window), compare_windows);
	for (int i = 0; i < n; i++)
		total += w[i].weight;
	q = Min(Max(q, 0.0), 1.0);
	for (int i = 0; i < n; i++)
	{
		seen += w[i].weight;
		if (seen >= q * total * (1 - 1e-12))
			return w[i].rows;
	}
	return w[n - 1].rows;
}

static double
weight_at(int64 t, int64 now)
{
	return exp2(-(double) (now - t) / (double) IG_HALF_LIFE_US);
}

/* ---- tests ---- */

/* every value's bin answers within +-20% of it */
static void
test_bins(void)
{
	for (uint64 v = 1; v <= 200000; v++)
	{
		double		r = (double) ig_hist_bin_value(ig_hist_bin(v)) / (double) v;

		CHECK(r >= 0.8 - 1e-9 && r <= 1.2 + 1e-9,
			  "value %llu answered as %llu", (unsigned long long) v,
			  (unsigned long long) ig_hist_bin_value(ig_hist_bin(v)));
	}
	for (int i = 0; i < 100000; i++)
	{
		uint64		v = 1 + rng() % (UINT64CONST(1) << 40);
		double		r = (double) ig_hist_bin_value(ig_hist_bin(v)) / (double) v;

		CHECK(r >= 0.8 - 1e-9 && r <= 1.2 + 1e-9,
			  "value %llu answered as %llu", (unsigned long long) v,
			  (unsigned long long) ig_hist_bin_value(ig_hist_bin(v)));
	}
	/* bins are ordered and small counts are exact */
	for (uint64 v = 1; v < 1000000; v++)
		CHECK(ig_hist_bin(v) <= ig_hist_bin(v + 1), "bins out of order at %llu",
			  (unsigned long long) v);
	CHECK(ig_hist_bin_value(ig_hist_bin(1)) == 1, "1 row");
	CHECK(ig_hist_bin_value(ig_hist_bin(2)) == 2, "2 rows");
	CHECK(ig_hist_bin_value(ig_hist_bin(3)) == 3, "3 rows");
	CHECK(ig_hist_bin(PG_UINT64_MAX) == IG_HIST_BINS - 1, "the top bin");
}

/*
 * The quantile error bound: random histories (log-normal, with heavy
 * tails, hourly and daily, over up to a year so that decay and halving
 * both act), p50 and p99 against the exact weighted quantiles.  Weights
 * are 16-bit, so the crossing of a quantile may move by a hair of weight:
 * the answer must be within +-20% of an exact quantile within 0.2% of q.
 */
static void
test_quantile_bound(void)
{
	static Window w[20000];

	for (int trial = 0; trial < 300; trial++)
	{
		IgHistogram h;
		int			n = 20 + (int) (rng() % 8000);
		int64		step = (trial % 2) ? HOUR : DAY;
		double		median = exp(rng_unit() * 12);
		double		sigma = 0.2 + rng_unit() * 1.8;
		int64		now = T0 + n * step;
		double		qs[] = {IG_TYPICAL_QUANTILE, IG_HIGH_QUANTILE, 0.9};

		ig_hist_init(&h);
		for (int i = 0; i < n; i++)
		{
			int64		end = T0 + (i + 1) * step;
			uint64		rows = rng_lognormal(median, sigma);

			if (trial % 5 == 0 && rng() % 20 == 0)
				rows *= 1000;	/* a heavy tail */
			ig_hist_add(&h, end, rows);
			w[i].rows = rows;
			w[i].weight = weight_at(end, now);
		}
		for (int k = 0; k < (int) lengthof(qs); k++)
		{
			uint64		est = ig_hist_quantile(&h, qs[k]);
			uint64		lo = exact_quantile(w, n, qs[k] - 0.002);
			uint64		hi = exact_quantile(w, n, qs[k] + 0.002);

			CHECK((double) est >= 0.8 * (double) lo - 1e-9 &&
				  (double) est <= 1.2 * (double) hi + 1e-9,
				  "trial %d q %.2f: estimate %llu, exact between %llu and %llu (n %d)",
				  trial, qs[k], (unsigned long long) est,
				  (unsigned long long) lo, (unsigned long long) hi, n);
		}
	}

	/* few windows, no rounding: exact to the bin */
	{
		IgHistogram h;
		Window		few[25];

		ig_hist_init(&h);
		for (int i = 0; i < 25; i++)
		{
			few[i].rows = 10 + 37 * i;
			few[i].weight = 1;
			ig_hist_add(&h, T0 + HOUR, few[i].rows);
		}
		for (double q = 0.04; q < 1.0; q += 0.04)
		{
			uint64		est = ig_hist_quantile(&h, q);
			uint64		exact = exact_quantile(few, 25, q);

			CHECK(fabs((double) est / (double) exact - 1) <= 0.2 + 1e-9,
				  "q %.2f: %llu for %llu", q, (unsigned long long) est,
				  (unsigned long long) exact);
		}
	}
}

/* a half-life of 28 days, also after many halvings */
static void
test_decay(void)
{
	IgHistogram h;
	double		expect = 0;
	int64		now;

	ig_hist_init(&h);
	CHECK(ig_hist_total(&h, T0) == 0, "empty weighs nothing");
	ig_hist_add(&h, T0, 100);
	CHECK(fabs(ig_hist_total(&h, T0) - 1) < 1e-9, "a fresh window weighs 1");
	CHECK(fabs(ig_hist_total(&h, T0 + 28 * DAY) - 0.5) < 1e-9,
		  "after 28 days it weighs half: %g", ig_hist_total(&h, T0 + 28 * DAY));
	CHECK(fabs(ig_hist_total(&h, T0 + 56 * DAY) - 0.25) < 1e-9, "a quarter after 56");

	/* a window 28 days older than the newest enters at half weight */
	ig_hist_init(&h);
	ig_hist_add(&h, T0 + 28 * DAY, 10);
	ig_hist_add(&h, T0, 1000);
	CHECK(fabs(ig_hist_total(&h, T0 + 28 * DAY) - 1.5) < 0.01,
		  "1 + 0.5, got %g", ig_hist_total(&h, T0 + 28 * DAY));
	/* so 10 rows hold 2/3 of the weight: the 60% quantile is 10 */
	CHECK(ig_hist_quantile(&h, 0.6) == ig_hist_bin_value(ig_hist_bin(10)),
		  "decay decides the quantile");
	CHECK(ig_hist_quantile(&h, 0.7) == ig_hist_bin_value(ig_hist_bin(1000)),
		  "the older window is still there");

	/* a year of hourly windows in one bin: the total follows the exact sum */
	ig_hist_init(&h);
	now = T0 + 365 * DAY;
	for (int64 t = T0 + HOUR; t <= now; t += HOUR)
	{
		ig_hist_add(&h, t, 42);
		expect += weight_at(t, now);
	}
	CHECK(fabs(ig_hist_total(&h, now) / expect - 1) < 0.02,
		  "a year of hours: %g for %g", ig_hist_total(&h, now), expect);
	CHECK(h.windows == 365 * 24, "windows counted: %u", h.windows);
	CHECK(h.days == 365, "days counted: %u", h.days);

	/* decades apart: the old history is forgotten, nothing overflows */
	ig_hist_add(&h, now + 40 * 365 * DAY, 7);
	CHECK(ig_hist_quantile(&h, 0.5) == ig_hist_bin_value(ig_hist_bin(7)),
		  "only the new window weighs");
	CHECK(ig_hist_quantile(&h, 0.99) == ig_hist_bin_value(ig_hist_bin(7)),
		  "only the new window weighs, also at p99");
}

/* broken windows add nothing; none adds more than the cap */
static void
test_capping(void)
{
	IgHistogram h;

	ig_hist_init(&h);
	CHECK(!ig_hist_feed(&h, T0, 5000, 100, true), "a broken window is not fed");
	CHECK(h.windows == 0 && h.days == 0, "and not counted");
	CHECK(ig_hist_feed(&h, T0, 5000, 100, false), "a capped window is fed");
	CHECK(ig_hist_quantile(&h, 1.0) == ig_hist_bin_value(ig_hist_bin(100)),
		  "as the cap: %llu", (unsigned long long) ig_hist_quantile(&h, 1.0));
	CHECK(ig_hist_feed(&h, T0 + HOUR, 50, 100, false), "under the cap");
	CHECK(ig_hist_quantile(&h, 0.0) == ig_hist_bin_value(ig_hist_bin(50)),
		  "as it was");
	CHECK(ig_hist_feed(&h, T0 + 2 * HOUR, 5000, IG_NO_LIMIT, false), "no cap");
	CHECK(ig_hist_quantile(&h, 1.0) == ig_hist_bin_value(ig_hist_bin(5000)),
		  "fed in full");
	CHECK(!ig_hist_feed(&h, T0 + 3 * HOUR, 0, IG_NO_LIMIT, false),
		  "an idle window is not history");
	CHECK(h.windows == 3, "three windows: %u", h.windows);

	/*
	 * Training the baseline up: 20 days of 5 rows an hour, then 5 hours
	 * (1% of the history) at 100 times the limit.  Capped at the limit,
	 * they move the limit one step at most; fed in full they would raise
	 * it a hundredfold.
	 */
	{
		IgHistogram capped;
		IgHistogram uncapped;
		int64		first;

		ig_hist_init(&capped);
		for (int d = 0; d < 20; d++)
			for (int hr = 0; hr < 24; hr++)
				ig_hist_add(&capped, T0 + d * DAY + (hr + 1) * HOUR, 5);
		uncapped = capped;
		first = ig_limit_own(&capped, 5, 0, T0 + 20 * DAY);
		CHECK(first == 20, "5 x p99 of 5 rows: %lld", (long long) first);
		for (int hr = 0; hr < 5; hr++)
		{
			int64		end = T0 + 20 * DAY + (hr + 1) * HOUR;

			ig_hist_feed(&capped, end, 100 * first, first, false);
			/* fed in full, as if nothing capped them */
			ig_hist_add(&uncapped, end, 100 * first);
		}
		CHECK(ig_hist_cap(&capped, IG_NO_LIMIT, -1, T0 + 21 * DAY) ==
			  (int64) ig_hist_bin_value(ig_hist_bin(ig_rise_high(&capped, IG_RISE_OWN,
																 ig_hist_quantile(&capped, IG_HIGH_QUANTILE),
																 T0 + 21 * DAY, true)) + 1),
			  "no limit in force: still a bin above its p99");
		CHECK(ig_hist_cap(&capped, 3, -1, T0 + 21 * DAY) == 3, "the limit, when lower");
		CHECK(ig_limit_own(&capped, 5, 0, T0 + 21 * DAY) <= 5 * (int64) ig_hist_bin_value(ig_hist_bin(first)),
			  "capped windows raise the limit one step at most: %lld from %lld",
			  (long long) ig_limit_own(&capped, 5, 0, T0 + 21 * DAY), (long long) first);
		CHECK(ig_limit_own(&uncapped, 5, 0, T0 + 21 * DAY) >= 80 * first,
			  "uncapped they would raise it 100-fold: %lld",
			  (long long) ig_limit_own(&uncapped, 5, 0, T0 + 21 * DAY));
	}
}

/*
 * Training the baseline up by reading at the limit every hour, capped as
 * the extension caps it (ig_hist_cap): the limit grows one bin (~1.5x) per
 * ~1% of the history's weight, not by the factor.
 */
static void
test_training(void)
{
	IgHistogram h;
	int64		limit;
	int64		start;
	int			hours = 0;

	ig_hist_init(&h);
	for (int d = 0; d < 20; d++)
		for (int hr = 0; hr < 24; hr++)
			ig_hist_add(&h, T0 + d * DAY + (hr + 1) * HOUR, 5);
	start = limit = ig_limit_own(&h, 5, 0, T0 + 20 * DAY);
	CHECK(ig_hist_cap(&h, limit, -1, T0 + 20 * DAY) ==
		  (int64) ig_hist_bin_value(ig_hist_bin(ig_hist_quantile(&h, IG_HIGH_QUANTILE)) + 1),
		  "cap: one bin above p99: %lld", (long long) ig_hist_cap(&h, limit, -1, T0 + 20 * DAY));
	/*
	 * Read exactly at the limit, every hour, for a day: the limit moves one
	 * bin per ~1% of the history's weight (about 5 windows here).
	 */
	for (int hr = 0; hr < 24; hr++, hours++)
	{
		ig_hist_feed(&h, T0 + 20 * DAY + (hr + 1) * HOUR, limit,
					 ig_hist_cap(&h, limit, -1, T0 + 20 * DAY + hr * HOUR), false);
		limit = ig_limit_own(&h, 5, 0, T0 + 20 * DAY + (hr + 1) * HOUR);
	}
	CHECK(limit <= 5 * (int64) ig_hist_bin_value(ig_hist_bin(start / 5) + 6),
		  "24 hours at the limit: %lld from %lld (six bins at most)",
		  (long long) limit, (long long) start);
	{
		IgHistogram fast;
		int64		flimit;

		ig_hist_init(&fast);
		for (int d = 0; d < 20; d++)
			for (int hr = 0; hr < 24; hr++)
				ig_hist_add(&fast, T0 + d * DAY + (hr + 1) * HOUR, 5);
		flimit = ig_limit_own(&fast, 5, 0, T0 + 20 * DAY);
		for (int hr = 0; hr < 24; hr++)
		{
			/* capped at the limit only: nothing else caps it */
			ig_hist_add(&fast, T0 + 20 * DAY + (hr + 1) * HOUR, flimit);
			flimit = ig_limit_own(&fast, 5, 0, T0 + 20 * DAY + (hr + 1) * HOUR);
		}
		ig_hist_init(&h);
		for (int d = 0; d < 20; d++)
			for (int hr = 0; hr < 24; hr++)
				ig_hist_add(&h, T0 + d * DAY + (hr + 1) * HOUR, 5);
		limit = ig_limit_own(&h, 5, 0, T0 + 20 * DAY);
		for (int hr = 0; hr < 24; hr++)
		{
			ig_hist_feed(&h, T0 + 20 * DAY + (hr + 1) * HOUR, limit,
						 ig_hist_cap(&h, limit, -1, T0 + 20 * DAY + hr * HOUR), false);
			limit = ig_limit_own(&h, 5, 0, T0 + 20 * DAY + (hr + 1) * HOUR);
		}
		CHECK(limit * 100 <= flimit,
			  "a day at the limit: %lld with the bin cap, %lld capped at the limit only",
			  (long long) limit, (long long) flimit);
	}
}

/*
 * A new role judged by its peers' limit (peers' p99 50, factor 5: 250)
 * reads at that limit in each of its first windows.  Capped at the limit
 * only, its own p99 would start at 250 and its own limit at 1,250; capped
 * a bin above the peers' p99, they start a bin above 50.
 */
static void
test_new_role_training(void)
{
	IgHistogram h;
	int64		peers_high = 50;
	int64		peer_limit = 5 * peers_high;
	int64		next_bin = (int64) ig_hist_bin_value(ig_hist_bin(peers_high) + 1);
	int64		own;

	ig_hist_init(&h);
	CHECK(ig_hist_cap(&h, IG_NO_LIMIT, -1, T0) == IG_NO_LIMIT,
		  "no history, no peers, no limit: no cap");
	CHECK(ig_hist_cap(&h, IG_NO_LIMIT, peers_high, T0) == next_bin,
		  "no limit in force (a both rule waiting for the own history): a bin above the peers' p99");
	CHECK(ig_hist_cap(&h, peer_limit, -1, T0) == peer_limit,
		  "no peers' p99: the limit");
	CHECK(ig_hist_cap(&h, peer_limit, peers_high, T0) == next_bin,
		  "a new role's window: a bin above its peers' p99 (%lld), not %lld",
		  (long long) ig_hist_cap(&h, peer_limit, peers_high, T0),
		  (long long) peer_limit);
	CHECK(ig_hist_cap(&h, 10, peers_high, T0) == 10, "or the limit, when lower");
	for (int d = 0; d < 7; d++)
		for (int hr = 0; hr < 3; hr++)
			ig_hist_feed(&h, T0 + d * DAY + (2 * hr + 1) * HOUR, peer_limit,
						 ig_hist_cap(&h, peer_limit, peers_high,
									 T0 + d * DAY + 2 * hr * HOUR), false);
	CHECK(ig_hist_usable(&h), "21 windows on 7 days: usable");
	/* (the window that made it usable may already go a bin higher) */
	own = ig_limit_own(&h, 5, 0, T0 + 7 * DAY);
	CHECK(own <= 5 * (int64) ig_hist_bin_value(ig_hist_bin(next_bin) + 1) &&
		  own < 5 * peer_limit / 2,
		  "its first own limit: %lld, at most 5 x two bins above its peers' p99 (%lld), not %lld",
		  (long long) own,
		  (long long) (5 * (int64) ig_hist_bin_value(ig_hist_bin(next_bin) + 1)),
		  (long long) (5 * peer_limit));
}

/*
 * Boiling the frog (issue 16): 30 days of about 5 rows an hour, seeded;
 * then an insider reads exactly the limit in force every hour, around the
 * clock, for 8 weeks, every window fed as the extension feeds it (capped
 * at the limit and a bin above the p99).  Whatever the history does, the
 * limit in force is never more than 2 times what it was at any time in
 * the 7 days before: at most 2 times its start after 7 days, 4 after 14.
 * Without the rise noted (ig_rise_reset before every window) the same
 * insider reaches 10,000 rows an hour within days.
 */
/* the own limit at "now", its p99 noted in force, as the server does */
static int64
own_limit_taken(IgHistogram *h, double factor, int64 min_rows, int64 now)
{
	uint64		raw = ig_hist_usable(h) ? ig_hist_quantile(h, IG_HIGH_QUANTILE) : 0;
	uint64		high = ig_rise_take(h, IG_RISE_OWN, raw, now, true);

	return high > 0 ? ig_limit_of(high, factor, min_rows) : IG_NO_LIMIT;
}

static int64
frog_limit_after(bool rise, int days, int64 *limits)
{
	IgHistogram h;
	int64		now = T0 + 30 * DAY;
	int64		limit;

	ig_hist_init(&h);
	for (int d = 0; d < 30; d++)
		for (int hr = 0; hr < 24; hr++)
			ig_hist_add(&h, T0 + d * DAY + (hr + 1) * HOUR, 4 + (hr % 3));
	ig_rise_reset(&h);			/* seeded: taken as given */
	limit = own_limit_taken(&h, 5, 0, now);
	for (int hour = 0; hour < days * 24; hour++)
	{
		int64		end = now + HOUR;

		if (!rise)
			ig_rise_reset(&h);
		ig_hist_feed(&h, end, limit, ig_hist_cap(&h, limit, -1, now), false);
		now = end;
		limit = own_limit_taken(&h, 5, 0, now);
		if (limits != NULL)
			limits[hour] = limit;
	}
	return limit;
}

static void
test_rise(void)
{
	int64		limits[56 * 24];
	IgHistogram h;
	int64		start;

	/* bins at most 2 times apart: one bin up is at most 2 times */
	for (int b = 0; b + 1 < IG_HIST_BINS; b++)
		CHECK(ig_hist_bin_value(b + 1) <= 2 * ig_hist_bin_value(b),
			  "bin %d: %llu to %llu is more than 2 times", b,
			  (unsigned long long) ig_hist_bin_value(b),
			  (unsigned long long) ig_hist_bin_value(b + 1));

	ig_hist_init(&h);
	CHECK(ig_rise_high(&h, IG_RISE_OWN, 1000, T0, true) == 1000,
		  "nothing noted: the p99 as it is");
	start = frog_limit_after(true, 0, NULL);
	CHECK(start == 5 * (int64) ig_hist_bin_value(ig_hist_bin(6)),
		  "start: 5 x p99 of 4..6 rows: %lld", (long long) start);
	frog_limit_after(true, 56, limits);
	for (int t = 0; t < 56 * 24; t++)
		for (int s = Max(t - 7 * 24, -1); s < t; s++)
		{
			int64		before = s < 0 ? start : limits[s];

			CHECK(limits[t] <= 2 * before,
				  "hour %d: limit %lld more than 2 x %lld (hour %d)", t,
				  (long long) limits[t], (long long) before, s);
		}
	CHECK(limits[7 * 24 - 1] <= 2 * start && limits[14 * 24 - 1] <= 4 * start,
		  "after 7 days %lld, after 14 %lld, from %lld",
		  (long long) limits[7 * 24 - 1], (long long) limits[14 * 24 - 1],
		  (long long) start);
	CHECK(limits[7 * 24 - 1] > start,
		  "it does rise (a legitimate role may grow): %lld",
		  (long long) limits[7 * 24 - 1]);
	CHECK(frog_limit_after(false, 6, NULL) >= 10000,
		  "without the rise noted: %lld after 6 days",
		  (long long) frog_limit_after(false, 6, NULL));

	/* the peers' side: a p99 that jumps is held a bin above, per period */
	ig_hist_init(&h);
	CHECK(ig_rise_take(&h, IG_RISE_PEERS, 100, T0, true) == 100, "first noted as it is");
	CHECK(ig_rise_take(&h, IG_RISE_PEERS, 100000, T0 + DAY, true) ==
		  ig_hist_bin_value(ig_hist_bin(100) + 1),
		  "a jump: one bin above (%llu)",
		  (unsigned long long) ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 + DAY, true));
	CHECK(ig_rise_high(&h, IG_RISE_OWN, 100000, T0 + DAY, true) ==
		  ig_hist_bin_value(ig_hist_bin(100) + 1),
		  "the own side noted nothing: held by the peers' notes");
	CHECK(ig_rise_high(&h, IG_RISE_OWN, 100000, T0 + DAY, false) == 100000,
		  "unless the limit did not come from there (a DBA's new rule)");
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 + 8 * DAY, true) <=
		  ig_hist_bin_value(ig_hist_bin(100) + 2),
		  "a period on, held by the lowest of both periods: %llu",
		  (unsigned long long) ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 + 8 * DAY, true));
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 50, T0 + 2 * DAY, true) == 50,
		  "going down is never held");
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 - 30 * DAY, true) <=
		  ig_hist_bin_value(ig_hist_bin(100) + 2),
		  "a clock set back stays in the period noted last");
	ig_rise_take(&h, IG_RISE_PEERS, 20, T0 + 2 * DAY, true);
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 + 3 * DAY, true) ==
		  ig_hist_bin_value(ig_hist_bin(20) + 1),
		  "a lower p99 noted lowers the bound");
	ig_rise_reset(&h);
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 100000, T0 + 3 * DAY, true) == 100000,
		  "reset (seeded history): as it is");

	/*
	 * A side that noted nothing is held by the other: a peer limit that
	 * becomes usable (a heavy peer joins a group of four) starts a bin
	 * above the own p99 in force, and an own one after a cold start a bin
	 * above what the cold-start limit stands for.
	 */
	ig_hist_init(&h);
	ig_rise_take(&h, IG_RISE_OWN, 112, T0, true);
	CHECK(ig_rise_take(&h, IG_RISE_PEERS, 111500, T0 + HOUR, true) ==
		  ig_hist_bin_value(ig_hist_bin(112) + 1),
		  "a peer p99 first in force: a bin above the own (%llu)",
		  (unsigned long long) ig_rise_high(&h, IG_RISE_PEERS, 111500, T0 + HOUR, true));
	/*
	 * A computation that found both sides unnoted used both as they
	 * were: its notes record that, and the next computation finds the same
	 * limits (the notes of one side do not hold the other at once).
	 */
	{
		IgRise		before;
		uint64		own1, peer1, own2, peer2;

		ig_hist_init(&h);
		before = h.rise;
		own1 = ig_rise_high(&h, IG_RISE_OWN, ig_hist_bin_value(20), T0, true);
		peer1 = ig_rise_high(&h, IG_RISE_PEERS, ig_hist_bin_value(30), T0, true);
		ig_rise_take_as_of(&h, &before, IG_RISE_OWN, ig_hist_bin_value(20), T0, true);
		ig_rise_take_as_of(&h, &before, IG_RISE_PEERS, ig_hist_bin_value(30), T0, true);
		own2 = ig_rise_high(&h, IG_RISE_OWN, ig_hist_bin_value(20), T0 + 60 * USEC, true);
		peer2 = ig_rise_high(&h, IG_RISE_PEERS, ig_hist_bin_value(30), T0 + 60 * USEC, true);
		CHECK(own1 == own2 && peer1 == peer2 && peer1 == ig_hist_bin_value(30),
			  "the same limits a minute later: own %llu then %llu, peers %llu then %llu",
			  (unsigned long long) own1, (unsigned long long) own2,
			  (unsigned long long) peer1, (unsigned long long) peer2);
	}

	/* and the hand-over takes the other side's notes: no second bin */
	ig_hist_init(&h);
	ig_rise_take(&h, IG_RISE_PEERS, ig_hist_bin_value(20), T0, true);
	CHECK(ig_rise_take(&h, IG_RISE_OWN, ig_hist_bin_value(26), T0 + HOUR, true) ==
		  ig_hist_bin_value(21), "a hand-over: a bin above the peers' notes");
	CHECK(ig_rise_take(&h, IG_RISE_OWN, ig_hist_bin_value(26), T0 + HOUR + 60 * USEC, true) ==
		  ig_hist_bin_value(21),
		  "and still a bin above them a minute later, not two (%llu)",
		  (unsigned long long) ig_rise_high(&h, IG_RISE_OWN, ig_hist_bin_value(26),
											T0 + HOUR + 60 * USEC, true));
	ig_hist_init(&h);
	ig_rise_floor(&h, 100 / 5, T0);
	CHECK(ig_rise_take(&h, IG_RISE_OWN, 1000, T0 + 7 * DAY, true) ==
		  ig_hist_bin_value(ig_hist_bin(20) + 1),
		  "after a cold start of 100 rows at factor 5: a bin above 20");
	CHECK(ig_rise_high(&h, IG_RISE_PEERS, 1000, T0 + 7 * DAY, true) <=
		  ig_hist_bin_value(ig_hist_bin(20) + 1),
		  "and the peers' likewise");
}

/* usable with 20 active windows on 7 distinct days */
static void
test_cold_start(void)
{
	IgHistogram h;

	ig_hist_init(&h);
	CHECK(!ig_hist_usable(&h), "empty");
	CHECK(ig_limit_own(&h, 5, 100, T0) == IG_NO_LIMIT, "no limit when empty");
	/* 19 windows over 10 days */
	for (int i = 0; i < 19; i++)
		ig_hist_add(&h, T0 + (i % 10) * DAY + (i / 10 + 1) * HOUR, 5);
	CHECK(h.days == 10 && h.windows == 19, "19 on 10 days: %u on %u", h.windows, h.days);
	CHECK(!ig_hist_usable(&h), "19 windows are too few");
	ig_hist_add(&h, T0 + 3 * HOUR, 5);
	CHECK(ig_hist_usable(&h), "20 windows on 10 days");
	CHECK(ig_limit_own(&h, 5, 100, T0) == 100, "min_rows rules: %lld",
		  (long long) ig_limit_own(&h, 5, 100, T0));
	CHECK(ig_limit_own(&h, 50, 100, T0) == 50 * 4, "factor x p99 (5 rows -> 4): %lld",
		  (long long) ig_limit_own(&h, 50, 100, T0));

	/* 30 windows on 6 days: too few days */
	ig_hist_init(&h);
	for (int i = 0; i < 30; i++)
		ig_hist_add(&h, T0 + (i % 6) * DAY + (i / 6 + 1) * HOUR, 5);
	CHECK(h.days == 6 && !ig_hist_usable(&h), "6 days are too few: %u", h.days);
	/* the seventh day, seeded out of order, between the others */
	ig_hist_add(&h, T0 - 3 * DAY + HOUR, 5);
	CHECK(h.days == 7 && ig_hist_usable(&h), "a seventh day: %u", h.days);
	/* the same day again adds a window, not a day */
	ig_hist_add(&h, T0 - 3 * DAY + 2 * HOUR, 5);
	CHECK(h.days == 7 && h.windows == 32, "same day: %u days, %u windows",
		  h.days, h.windows);
	/* a window so old beside the newest that it weighs nothing is not history */
	CHECK(!ig_hist_add(&h, T0 - 400 * DAY, 5), "400 days older: weighs nothing");
	CHECK(h.windows == 32 && h.days == 7, "and is not counted: %u windows", h.windows);
	/* a window ending at midnight belongs to the day before */
	ig_hist_add(&h, T0 - 2 * DAY, 5);
	CHECK(h.days == 7, "midnight ends the day before: %u", h.days);
}

/* a peer with 24 hourly windows a day for "days" days of "rows" each */
static void
make_peer(IgHistogram *h, int days, uint64 rows)
{
	ig_hist_init(h);
	for (int d = 0; d < days; d++)
		for (int hr = 0; hr < 24; hr++)
			ig_hist_add(h, T0 + d * DAY + (hr + 1) * HOUR, rows);
}

/* pooling needs 5 usable peers and takes every window of them */
static void
test_pooling(void)
{
	IgHistogram peers[8];
	IgHistPool	pool;
	int64		now = T0 + 10 * DAY;

	ig_pool_init(&pool);
	for (int i = 0; i < 4; i++)
	{
		make_peer(&peers[i], 10, 100);
		CHECK(ig_pool_add(&pool, &peers[i], now), "usable peer %d", i);
	}
	CHECK(ig_limit_peers(&pool, 5, 10) == IG_NO_LIMIT, "4 peers are too few");
	make_peer(&peers[4], 3, 100000);	/* too little history: not a peer */
	CHECK(!ig_pool_add(&pool, &peers[4], now), "an unusable peer is left out");
	CHECK(pool.members == 4, "still 4");
	CHECK(ig_limit_peers(&pool, 5, 10) == IG_NO_LIMIT, "still too few");
	/* a fifth, heavier peer: 1/5 of the windows at 1000 rows */
	make_peer(&peers[5], 10, 1000);
	CHECK(ig_pool_add(&pool, &peers[5], now), "fifth peer");
	CHECK(ig_limit_peers(&pool, 5, 10) ==
		  5 * (int64) ig_hist_bin_value(ig_hist_bin(1000)),
		  "p99 of the pooled windows is the heavy peer's: %lld",
		  (long long) ig_limit_peers(&pool, 5, 10));
	CHECK(ig_pool_quantile(&pool, 0.5) == ig_hist_bin_value(ig_hist_bin(100)),
		  "p50 is the others'");
	CHECK(ig_limit_peers(&pool, 5, 1000000) == 1000000, "min_rows rules");

	/*
	 * Taking a peer out of a pool (the pool of a whole group, less the user)
	 * gives the pool of the others: the heavy peer out, p99 is the others'
	 * again and its bins are empty, not a rounding's worth full.
	 */
	{
		IgHistPool	others = pool;
		IgHistPool	direct;

		CHECK(!ig_pool_remove(&others, &peers[4], now), "an unusable peer was never in");
		CHECK(ig_pool_remove(&others, &peers[5], now), "the heavy peer is taken out");
		CHECK(others.members == 4, "4 left");
		ig_pool_init(&direct);
		for (int i = 0; i < 4; i++)
			ig_pool_add(&direct, &peers[i], now);
		for (int i = 0; i < IG_HIST_BINS; i++)
			CHECK(fabs(others.weight[i] - direct.weight[i]) <= 1e-9 * direct.weight[i],
				  "bin %d: %g taken out, %g pooled directly", i,
				  others.weight[i], direct.weight[i]);
		CHECK(others.weight[ig_hist_bin(1000)] == 0.0, "the heavy bin is empty");
		CHECK(ig_pool_quantile(&others, 0.99) == ig_hist_bin_value(ig_hist_bin(100)),
			  "p99 without the heavy peer: %llu",
			  (unsigned long long) ig_pool_quantile(&others, 0.99));
	}

	/* older peers weigh less: two peers' windows, 28 days apart */
	{
		IgHistPool	p2;
		IgHistogram a;
		IgHistogram b;

		make_peer(&a, 10, 10);
		ig_hist_init(&b);
		for (int d = 0; d < 10; d++)
			for (int hr = 0; hr < 24; hr++)
				ig_hist_add(&b, T0 + 28 * DAY + d * DAY + (hr + 1) * HOUR, 1000);
		ig_pool_init(&p2);
		ig_pool_add(&p2, &a, T0 + 38 * DAY);
		ig_pool_add(&p2, &b, T0 + 38 * DAY);
		/* a's 240 windows weigh half of b's: the 60% quantile is b's */
		CHECK(ig_pool_quantile(&p2, 0.4) == ig_hist_bin_value(ig_hist_bin(1000)),
			  "decayed peer weighs less: %llu",
			  (unsigned long long) ig_pool_quantile(&p2, 0.4));
		CHECK(ig_pool_quantile(&p2, 0.3) == ig_hist_bin_value(ig_hist_bin(10)),
			  "but still counts");
	}
}

/* how self, peers and both combine the two limits */
static void
test_combine(void)
{
	CHECK(ig_limit_combine(IG_COMPARE_SELF, 100, 500) == 100, "self: own");
	CHECK(ig_limit_combine(IG_COMPARE_SELF, IG_NO_LIMIT, 500) == 500,
		  "self falls back to the peers");
	CHECK(ig_limit_combine(IG_COMPARE_SELF, IG_NO_LIMIT, IG_NO_LIMIT) == IG_NO_LIMIT,
		  "self: nothing usable");
	CHECK(ig_limit_combine(IG_COMPARE_PEERS, 100, 500) == 500, "peers: peers");
	CHECK(ig_limit_combine(IG_COMPARE_PEERS, 100, IG_NO_LIMIT) == IG_NO_LIMIT,
		  "peers never use own history");
	CHECK(ig_limit_combine(IG_COMPARE_BOTH, 100, 500) == 500,
		  "both: broken only above both");
	CHECK(ig_limit_combine(IG_COMPARE_BOTH, 700, 500) == 700, "both: the higher");
	CHECK(ig_limit_combine(IG_COMPARE_BOTH, 100, IG_NO_LIMIT) == 100,
		  "both: the own limit alone while no peer limit is usable");
	CHECK(ig_limit_combine(IG_COMPARE_BOTH, IG_NO_LIMIT, 100) == 100,
		  "both: the peer limit alone while no own limit is usable (a new hire)");
	CHECK(ig_limit_combine(IG_COMPARE_BOTH, IG_NO_LIMIT, IG_NO_LIMIT) == IG_NO_LIMIT,
		  "both: none while neither is usable");
}

/* every bin of two series within "slack" units of each other */
static bool
bins_close(const IgHistogram *a, const IgHistogram *b, int slack)
{
	for (int i = 0; i < IG_HIST_BINS; i++)
		if (abs((int) a->bins[i] - (int) b->bins[i]) > slack)
			return false;
	return true;
}

/* true if a series counts day "day" among the 64 it tracks exactly */
static bool
day_noted(const IgHistogram *h, int64 day)
{
	int64		age = (int64) h->newest_day - day;

	return h->days > 0 && age >= 0 && age < 64 &&
		(h->day_bits & (UINT64CONST(1) << age)) != 0;
}

/*
 * The same days, though one may have moved its newest day on (to a day
 * that no longer holds a window): compared over the 64 days both track.
 */
static bool
same_days(const IgHistogram *a, const IgHistogram *b)
{
	int64		newest = Max(a->newest_day, b->newest_day);

	if (a->days != b->days)
		return false;
	for (int64 day = newest - 63; day <= newest; day++)
		if (day_noted(a, day) != day_noted(b, day))
			return false;
	return true;
}

/*
 * Taking a window out (record_history seeding it again): what is left is
 * the series without it -- exactly when nothing was rounded since, to a
 * unit a bin after halving -- and its day stops counting when no other
 * window makes it active.
 */
static void
test_remove(void)
{
	IgHistogram h;
	IgHistogram without;

	/* one window in, one out: empty again */
	ig_hist_init(&h);
	ig_hist_add(&h, T0, 50);
	CHECK(ig_hist_remove(&h, T0, 50, false), "taken out");
	CHECK(h.windows == 0 && h.days == 0 && h.day_bits == 0,
		  "no window, no day: %u windows, %u days", h.windows, h.days);
	CHECK(ig_hist_quantile(&h, 0.5) == 0, "no weight left");
	CHECK(!ig_hist_remove(&h, T0, 50, false), "nothing to take from an empty series");
	CHECK(!ig_hist_remove(&h, T0, 0, false), "a window of no rows was never in");

	/* a month of random hours; one more, newest or older, in and out */
	for (int trial = 0; trial < 200; trial++)
	{
		int			n = 30 + (int) (rng() % 700);
		int64		extra_end;
		uint64		extra_rows = rng_lognormal(200, 2);
		bool		halved;

		ig_hist_init(&without);
		for (int i = 0; i < n; i++)
			ig_hist_add(&without, T0 + (i + 1) * HOUR, rng_lognormal(100, 1));
		h = without;
		/* the newest, or older than the others: on a day of its own */
		extra_end = (trial % 2) ? T0 + (n / 24 + 3) * DAY + HOUR :
			T0 - (int64) (rng() % 150) * DAY;
		CHECK(ig_hist_add(&h, extra_end, extra_rows), "trial %d: added", trial);
		halved = h.scale != without.scale * exp2(-(double) Max(extra_end - without.decayed_to, 0) /
												 (double) IG_HALF_LIFE_US);
		ig_hist_remove(&h, extra_end, extra_rows, false);
		CHECK(h.windows == without.windows && same_days(&h, &without),
			  "trial %d: %u windows on %u days, not %u on %u", trial,
			  h.windows, h.days, without.windows, without.days);
		CHECK(bins_close(&h, &without, halved ? 1 : 0),
			  "trial %d: the bins are those of the series without it", trial);
		CHECK(ig_hist_quantile(&h, IG_TYPICAL_QUANTILE) == ig_hist_quantile(&without, IG_TYPICAL_QUANTILE) &&
			  ig_hist_quantile(&h, IG_HIGH_QUANTILE) == ig_hist_quantile(&without, IG_HIGH_QUANTILE),
			  "trial %d: the same quantiles", trial);
	}

	/* a bin full enough to halve: within a unit of the series without it */
	ig_hist_init(&without);
	for (int i = 0; i < 400; i++)
		ig_hist_add(&without, T0 + (i + 1) * HOUR, 7);
	h = without;
	ig_hist_add(&h, T0 + 100 * HOUR + HOUR / 2, 7);
	ig_hist_remove(&h, T0 + 100 * HOUR + HOUR / 2, 7, true);
	CHECK(bins_close(&h, &without, 1) && h.windows == without.windows,
		  "after halving: %u windows, bin %u for %u", h.windows,
		  h.bins[ig_hist_bin(7)], without.bins[ig_hist_bin(7)]);

	/* replaced: the other value in its place, the same windows and days */
	ig_hist_init(&h);
	ig_hist_init(&without);
	for (int i = 0; i < 48; i++)
	{
		ig_hist_add(&h, T0 + (i + 1) * HOUR, i == 10 ? 30 : 5);
		ig_hist_add(&without, T0 + (i + 1) * HOUR, i == 10 ? 3000 : 5);
	}
	ig_hist_remove(&h, T0 + 11 * HOUR, 30, true);
	ig_hist_add(&h, T0 + 11 * HOUR, 3000);
	CHECK(h.windows == 48 && h.days == without.days && bins_close(&h, &without, 0),
		  "replaced: %u windows on %u days", h.windows, h.days);

	/* a day counts while another window of it is there */
	ig_hist_init(&h);
	ig_hist_add(&h, T0 + HOUR, 5);
	ig_hist_add(&h, T0 + 2 * HOUR, 5);
	ig_hist_add(&h, T0 + DAY + HOUR, 5);
	ig_hist_remove(&h, T0 + HOUR, 5, true);
	CHECK(h.days == 2 && h.windows == 2, "the day stays: %u days", h.days);
	ig_hist_remove(&h, T0 + 2 * HOUR, 5, false);
	CHECK(h.days == 1 && h.windows == 1, "its last window gone, the day goes: %u days", h.days);
	ig_hist_add(&h, T0 + 2 * HOUR, 5);
	CHECK(h.days == 2, "and comes back with a window: %u days", h.days);
	/* a day older than the 64 tracked was taken as seen: it stays so */
	ig_hist_add(&h, T0 - 100 * DAY, 5);
	ig_hist_remove(&h, T0 - 100 * DAY, 5, false);
	CHECK(h.days == 2 && h.windows == 2, "an untracked day: %u days", h.days);
	/* a window that weighs nothing beside the newest is not added */
	CHECK(ig_hist_weighs(&h, T0) && ig_hist_weighs(&h, T0 + 100 * DAY) &&
		  !ig_hist_weighs(&h, T0 - 400 * DAY), "what weighs");
}

/* limits never overflow */
static void
test_bounds(void)
{
	IgHistogram h;

	make_peer(&h, 10, UINT64CONST(1) << 40);
	CHECK(ig_limit_own(&h, 1e300, 0, T0) > 0, "an absurd factor still gives a limit");
	CHECK(ig_limit_own(&h, 1e300, 0, T0) <= INT64CONST(1000000000000000000),
		  "bounded: %lld", (long long) ig_limit_own(&h, 1e300, 0, T0));
}

int
main(void)
{
	test_bins();
	test_quantile_bound();
	test_decay();
	test_capping();
	test_training();
	test_new_role_training();
	test_rise();
	test_cold_start();
	test_pooling();
	test_remove();
	test_combine();
	test_bounds();

	return unit_finish("test_stats");
}
