/*-------------------------------------------------------------------------
 *
 * scenario.c
 *		Insiders who try to train the baseline up or sidestep it, each on a
 *		tiny organisation, as the issue describes them, driving the same
 *		engine (and so src/base/stats.c): rows each gets unblocked per week
 *		over 8 weeks, and how far its limit rose after 7 and 14 days.
 *
 * The organisation: group 0, terry's, of terry and 6 peers reading about 5
 * rows an office hour (log-normal, sigma 0.5, active 80% of office hours
 * of business days); group 1, "analysts", of 10 members reading about
 * 50,000.  30 days of history are seeded (days 0-29, then taken as given:
 * ig_rise_reset, as record_history does), everybody reads normally for 5
 * more days, and the insider acts from day 35 (a Monday) for 8 weeks.
 *
 * The insider reads, in each window it is active in, exactly what the
 * rules leave it (the least headroom of every rule with a limit, log
 * rules too: no break, so every window feeds its history -- the most
 * training); with no limit at all, 10 million rows an hour (unlimited).
 *
 * IDENTIFICATION
 *		test/bench/detect/scenario.c
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"

#include <math.h>

#define SC_WARM_DAYS	30
#define SC_START		35		/* a Monday */
#define SC_WEEKS		8
#define SC_DAYS			(SC_START + 7 * SC_WEEKS)
#define SC_PEERS		6		/* terry's peers: roles 1..6 */
#define SC_ANALYSTS		10		/* roles 7..16 */
#define SC_NEWHIRE		17
#define SC_ROLES		18
#define SC_UNLIMITED	INT64CONST(10000000)

typedef enum Plot
{
	PLOT_FROG,					/* terry reads at the limit */
	PLOT_NEW_HIRE,				/* a new hire in group 0 from day 35 */
	PLOT_MOVED,					/* terry moved into the analysts, day 35 */
} Plot;

typedef struct Scenario
{
	const char *name;
	Plot		plot;
	bool		around_the_clock;
	Deployment	dep;
} Scenario;

static Org *sorg;
static Base sbase;

static double
sc_normal(uint64 a, uint64 b, uint64 c)
{
	double		u1 = ((double) (hash4(a, b, c, 1) >> 11) + 0.5) / 9007199254740992.0;
	double		u2 = ((double) (hash4(a, b, c, 2) >> 11) + 0.5) / 9007199254740992.0;

	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static bool
sc_office(int hour)
{
	int			d = hour / 24;
	int			hod = hour % 24;

	return d % 7 < 5 && hod >= 8 && hod < 18;
}

/* a normal reader's rows in an hour (0: not active) */
static int64
sc_rows(int role, int hour)
{
	double		median = role >= 1 + SC_PEERS && role < SC_NEWHIRE ? 50000 : 5;

	if (!sc_office(hour) || (hash4(77, role, hour, 0) >> 11) > (uint64) (0.8 * 9007199254740992.0))
		return 0;
	return Max((int64) llround(median * exp(0.5 * sc_normal(78, role, hour))), 1);
}

static int
sc_group(const Plot plot, int role, int day)
{
	if (role == 0)
		return plot == PLOT_MOVED && day >= SC_START ? 1 : 0;
	return role >= 1 + SC_PEERS && role < SC_NEWHIRE ? 1 : 0;
}

/* a fresh tiny organisation and its seeded history */
static void
sc_setup(Plot plot)
{
	int64		week[SC_ROLES][7] = {{0}};

	if (sorg == NULL)
	{
		sorg = palloc0(sizeof(Org));
		for (int k = 0; k < N_KINDS; k++)
			sbase.hist[k] = palloc0(N_SERIES(k) * sizeof(IgHistogram));
		for (int k = 0; k < 2; k++)
			sbase.exact[k] = palloc0(MAX_ROLES * sizeof(Exact));
	}
	memset(sorg, 0, sizeof(Org));
	memset(sorg->slot_of, -1, sizeof(sorg->slot_of));
	for (int k = 0; k < N_KINDS; k++)
		memset(sbase.hist[k], 0, N_SERIES(k) * sizeof(IgHistogram));
	memset(sbase.week_ring, 0, sizeof(sbase.week_ring));
	sorg->nroles = SC_ROLES;
	for (int d = 0; d < SIM_DAYS; d++)
	{
		sorg->day_kind[d] = d % 7 < 5 ? DAY_BUSINESS : 0;
		sorg->spike[d] = 1;
	}
	for (int r = 0; r < SC_ROLES; r++)
	{
		Role	   *ro = &sorg->roles[r];

		ro->change_day = -1;
		ro->leave_day = -1;
		ro->nslots = 1;
		ro->slot_table[0] = 0;
		sorg->slot_of[r][0] = 0;
		ro->job[0].group = sc_group(plot, r, 0);
		ro->job[1] = ro->job[0];
	}
	sorg->roles[SC_NEWHIRE].hire_day = plot == PLOT_NEW_HIRE ? SC_START : SIM_DAYS;
	if (plot == PLOT_MOVED)
	{
		sorg->roles[0].change_day = SC_START;
		sorg->roles[0].job[1].group = 1;
	}
	/* 30 days of history, seeded */
	for (int d = 0; d < SC_WARM_DAYS; d++)
	{
		int64		day[SC_ROLES] = {0};

		for (int h = d * 24; h < d * 24 + 24; h++)
			for (int r = 0; r < SC_NEWHIRE; r++)
			{
				int64		rows = sc_rows(r, h);

				if (rows == 0)
					continue;
				day[r] += rows;
				ig_hist_feed(&sbase.hist[K_HOUR_ALL][r], HOUR_START(h + 1), rows, IG_NO_LIMIT, false);
				ig_hist_feed(&sbase.hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, r, 0)],
							 HOUR_START(h + 1), rows, IG_NO_LIMIT, false);
			}
		for (int r = 0; r < SC_NEWHIRE; r++)
		{
			int64		total = 0;

			week[r][d % 7] = day[r];
			for (int i = 0; i < 7; i++)
				total += week[r][i];
			if (day[r] > 0)
				ig_hist_feed(&sbase.hist[K_WEEK_ALL][r], HOUR_START(d * 24 + 24), total,
							 IG_NO_LIMIT, false);
			if (day[r] == 0)
				continue;
			ig_hist_feed(&sbase.hist[K_DAY_ALL][r], HOUR_START(d * 24 + 24), day[r],
						 IG_NO_LIMIT, false);
			ig_hist_feed(&sbase.hist[K_DAY_TABLE][SERIES(K_DAY_TABLE, r, 0)],
						 HOUR_START(d * 24 + 24), day[r], IG_NO_LIMIT, false);
		}
	}
	for (int r = 0; r < SC_NEWHIRE; r++)
		memcpy(sbase.week_ring[r], week[r], sizeof(week[r]));
	for (int k = 0; k < N_KINDS; k++)
		for (int s = 0; s < N_SERIES(k); s++)
			ig_rise_reset(&sbase.hist[k][s]);
	world.org = sorg;
	world.base = &sbase;
}

static void
sc_members(Plot plot, int day)
{
	for (int g = 0; g < N_PEER_GROUPS; g++)
		world.nmembers[g] = 0;
	for (int r = 0; r < SC_ROLES; r++)
		if (role_employed(sorg, r, day))
		{
			int			g = sc_group(plot, r, day);

			world.members[g][world.nmembers[g]++] = r;
		}
}

typedef struct ScResult
{
	int64		week[SC_WEEKS];
	int64		start;			/* readable in the first window, day 0 */
	int64		at7;			/* ... on day 7 */
	int64		at14;
	int64		most;			/* most read in one window */
	bool		limited_first;	/* a limit at its first statement */
} ScResult;

static void
run_one(const Scenario *sc, ScResult *out)
{
	Inst		in;
	int			insider = sc->plot == PLOT_NEW_HIRE ? SC_NEWHIRE : 0;
	int			last_day = -1;

	memset(out, 0, sizeof(ScResult));
	out->start = out->at7 = out->at14 = -2;
	sc_setup(sc->plot);
	inst_init(&in, &sc->dep, 1);
	for (int d = SC_WARM_DAYS; d < SC_DAYS; d++)
	{
		sc_members(sc->plot, d);
		inst_day_start(&in, d);
		for (int h = d * 24; h < d * 24 + 24; h++)
		{
			for (int r = 0; r < SC_ROLES; r++)
			{
				Ctx			c;
				Stmt		s;

				if (!role_employed(sorg, r, d))
					continue;
				c.role = r;
				c.hour = h;
				c.day = d;
				c.group = sc_group(sc->plot, r, d);
				c.cls = CLS_STEADY;
				c.event = -1;
				c.young = d - membership_since(sorg, r, d) < YOUNG_MEMBERSHIP_DAYS;
				s.t = HOUR_START(h) + 30 * 60 * USEC;
				s.slot = 0;
				s.event = -1;
				if (r == insider && d >= SC_START &&
					(sc->around_the_clock || sc_office(h)))
				{
					int64		room = -1;

					for (int j = 0; j < sc->dep.nrules; j++)
					{
						int64		hr = inst_headroom(&in, sc->dep.rule[j].kind, &c, 0, s.t, j);

						if (hr >= 0)
							room = room < 0 ? hr : Min(room, hr);
					}
					if (d != last_day)
					{
						int			age = d - SC_START;
						int64		v = room < 0 ? SC_UNLIMITED : room;

						if (age == 0)
						{
							out->start = v;
							out->limited_first = room >= 0;
						}
						else if (age == 7)
							out->at7 = v;
						else if (age == 14)
							out->at14 = v;
						last_day = d;
					}
					s.rows = room < 0 ? SC_UNLIMITED : room;
					if (s.rows > 0)
					{
						out->week[(d - SC_START) / 7] += s.rows;
						out->most = Max(out->most, s.rows);
					}
				}
				else
					s.rows = r == insider && d >= SC_START ? 0 : sc_rows(r, h);
				if (s.rows > 0)
					inst_role_hour(&in, &c, &s, 1);
			}
			inst_close(&in, true, HOUR_START(h + 1), d);
		}
		inst_close(&in, false, HOUR_START(d * 24 + 24), d);
	}
	inst_free(&in);
}

#define ONE(k, src, f, m) 1, {{k, src, true, f, m}}

static void
print_x(int64 v, int64 start)
{
	if (v < 0)
		printf(" – |");
	else if (start > 0)
		printf(" %lld (%.1fx) |", (long long) v, (double) v / start);
	else
		printf(" %lld |", (long long) v);
}

void
run_scenarios(const Deployment *recommended, const Deployment *whatif)
{
	Deployment	rec = *recommended;
	Deployment	rec_reset = *recommended;
	Deployment	wif = *whatif;
	Deployment	wif_noreset = *whatif;
	Scenario	sc[40];
	int			n = 0;

	rec_reset.reset_on_change = true;
	wif_noreset.reset_on_change = false;
	sc[n++] = (Scenario) {"frog, office hours: hour, self, block x5 (min_rows 100)", PLOT_FROG, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"frog, around the clock: hour, self, block x5", PLOT_FROG, true, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"frog, office hours: hour, both, block x5", PLOT_FROG, false, {"", ONE(K_HOUR_ALL, SRC_BOTH, 5, 100)}};
	sc[n++] = (Scenario) {"frog, office hours: hour, peers, block x5", PLOT_FROG, false, {"", ONE(K_HOUR_ALL, SRC_PEERS, 5, 100)}};
	sc[n++] = (Scenario) {"frog: day, self, block x5 (min_rows 100)", PLOT_FROG, false, {"", ONE(K_DAY_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"frog: day, both, block x5", PLOT_FROG, false, {"", ONE(K_DAY_ALL, SRC_BOTH, 5, 100)}};
	sc[n++] = (Scenario) {"frog: 7 days, self, block x5", PLOT_FROG, false, {"", ONE(K_WEEK_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"frog, around the clock: recommended deployment", PLOT_FROG, true, rec};
	sc[n++] = (Scenario) {"frog, around the clock, what-if: no rise cap: hour, self, block x5", PLOT_FROG, true, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100), false, YF_NONE, RISE_NONE}};
	sc[n++] = (Scenario) {"new hire from day 1: hour, self, block x5 (min_rows 100)", PLOT_NEW_HIRE, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"new hire from day 1: hour, both, block x5 (min_rows 100)", PLOT_NEW_HIRE, false, {"", ONE(K_HOUR_ALL, SRC_BOTH, 5, 100)}};
	sc[n++] = (Scenario) {"new hire from day 1: day, self, block x5 (min_rows 100)", PLOT_NEW_HIRE, false, {"", ONE(K_DAY_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"new hire from day 1: recommended deployment", PLOT_NEW_HIRE, false, rec};
	sc[n++] = (Scenario) {"new hire, what-if: young group: hour, self, block x5", PLOT_NEW_HIRE, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100), false, YF_PEERS}};
	sc[n++] = (Scenario) {"new hire, what-if: young group capped at min_rows: hour, self, block x5", PLOT_NEW_HIRE, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100), false, YF_CAPPED}};
	sc[n++] = (Scenario) {"new hire, what-if: recommended, young group", PLOT_NEW_HIRE, false, wif};
	sc[n++] = (Scenario) {"moved into analysts, no reset: hour, peers, block x5 (min_rows 100)", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_PEERS, 5, 100)}};
	sc[n++] = (Scenario) {"moved into analysts, no reset: hour, both, block x5", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_BOTH, 5, 100)}};
	sc[n++] = (Scenario) {"moved into analysts, no reset: hour, self, block x5", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100)}};
	sc[n++] = (Scenario) {"moved into analysts, no reset: recommended deployment", PLOT_MOVED, false, rec};
	sc[n++] = (Scenario) {"moved, no reset, what-if: young group: hour, peers, block x5", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_PEERS, 5, 100), false, YF_PEERS}};
	sc[n++] = (Scenario) {"moved, no reset, what-if: recommended, young group", PLOT_MOVED, false, wif_noreset};
	sc[n++] = (Scenario) {"moved, with reset_history: hour, self, block x5", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_SELF, 5, 100), true}};
	sc[n++] = (Scenario) {"moved, with reset_history: hour, both, block x5", PLOT_MOVED, false, {"", ONE(K_HOUR_ALL, SRC_BOTH, 5, 100), true}};
	sc[n++] = (Scenario) {"moved, with reset_history: recommended deployment", PLOT_MOVED, false, rec_reset};
	sc[n++] = (Scenario) {"moved, with reset_history, what-if: recommended, young group", PLOT_MOVED, false, wif};

	printf("Each insider reads, in every window it is active in, exactly what the rules "
		   "leave it (no break, so every window feeds its history); with no limit, "
		   "10,000,000 rows an hour.  Terry and 6 peers read about 5 rows an office "
		   "hour, the 10 analysts about 50,000; 30 days of seeded history.  "
		   "\"Readable\": what the rules left the insider in its first active window "
		   "of day 0, 7 and 14 (x day 0's).  Target: <= 2x after 7 days, <= 4x after 14.\n\n");
	printf("| insider, rules | limit at first statement | readable day 0 | day 7 | day 14 |");
	for (int w = 0; w < SC_WEEKS; w++)
		printf(" rows week %d |", w + 1);
	printf("\n|---|---|---|---|---|");
	for (int w = 0; w < SC_WEEKS; w++)
		printf("---|");
	printf("\n");
	for (int i = 0; i < n; i++)
	{
		ScResult	r;

		if (sc[i].dep.name[0] == '\0')
			sc[i].dep.name = sc[i].name;
		run_one(&sc[i], &r);
		printf("| %s | %s |", sc[i].name, r.limited_first ? "yes" : "**no**");
		print_x(r.start, 0);
		print_x(r.at7, r.start);
		print_x(r.at14, r.start);
		for (int w = 0; w < SC_WEEKS; w++)
			printf(" %lld |", (long long) r.week[w]);
		printf("\n");
	}
}
