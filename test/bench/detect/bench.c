/*-------------------------------------------------------------------------
 *
 * bench.c
 *		The detection-quality benchmark: builds the organisation of a seed,
 *		seeds every detector's history from 90 days of warm-up, runs 90
 *		days of evaluation once without exfiltrations (false alerts) and
 *		once per batch of injected exfiltrations (detections), and prints
 *		the report in Markdown.
 *
 *		detect [--org] [seed]
 *
 *		--org: describe the organisation and its events, run no detector
 *
 * IDENTIFICATION
 *		test/bench/detect/bench.c
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include <math.h>
#include <time.h>

#define R(k, s, b, f, m)	{k, s, b, f, m}
#define H_ALL	K_HOUR_ALL
#define D_ALL	K_DAY_ALL
#define H_TAB	K_HOUR_TABLE
#define D_TAB	K_DAY_TABLE

/*
 * The detectors.  The first eight of the comparison and the sweeps were
 * chosen before any result was seen; the reset at a role change (which
 * insider_guard.reset_history, added after the first run, makes part of
 * the deployment), the oracle and the peers / both block rules were added
 * after the first run, to show what limits the others.
 */
#define LOG2(k1, k2, src, f, m) 2, {R(k1, src, false, f, m), R(k2, src, false, f, m)}
#define DEPLOY_RULES 4, { \
		R(H_ALL, SRC_SELF, false, 5, 1000), \
		R(D_ALL, SRC_SELF, false, 5, 1000), \
		R(H_ALL, SRC_SELF, true, 20, 10000), \
		R(D_ALL, SRC_SELF, true, 10, 10000)}

static const Deployment deployments[] = {
	{"fixed: group max (log), 2x (block)", 3, {
			R(H_ALL, SRC_FIXED, false, 1, 0),
			R(D_ALL, SRC_FIXED, false, 1, 0),
	R(D_ALL, SRC_FIXED, true, 2, 0)}},
	{"z > 3", LOG2(H_ALL, D_ALL, SRC_Z, 0, 0)},
	{"spike: z > 3 and (x-p90)/(p90-p25+1) > 2", LOG2(H_ALL, D_ALL, SRC_SPIKE, 0, 0)},
	{"ig self", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 1000)},
	{"ig peers", LOG2(H_ALL, D_ALL, SRC_PEERS, 5, 1000)},
	{"ig both", LOG2(H_ALL, D_ALL, SRC_BOTH, 5, 1000)},
	{"ig self, per table", LOG2(H_TAB, D_TAB, SRC_SELF, 5, 1000)},
	{"ig deploy, no history reset at role change", DEPLOY_RULES},
	{"ig deploy: self log x5, block x20 an hour and x10 a day, reset_history at role change", DEPLOY_RULES, true},
	{"oracle: role's own clean max (bound)", LOG2(H_ALL, D_ALL, SRC_ORACLE, 0, 0)},
	/* the frontier: log rules (self, hour and day, all tables) */
	{"ig self f=2", LOG2(H_ALL, D_ALL, SRC_SELF, 2, 1000)},
	{"ig self f=3", LOG2(H_ALL, D_ALL, SRC_SELF, 3, 1000)},
	{"ig self f=4", LOG2(H_ALL, D_ALL, SRC_SELF, 4, 1000)},
	{"ig self f=7", LOG2(H_ALL, D_ALL, SRC_SELF, 7, 1000)},
	{"ig self f=10", LOG2(H_ALL, D_ALL, SRC_SELF, 10, 1000)},
	{"ig self m=100", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 100)},
	{"ig self m=10000", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 10000)},
	/* the frontier: one daily block rule (all tables, min_rows 10,000) */
	{"block f=3", 1, {R(D_ALL, SRC_SELF, true, 3, 10000)}},
	{"block f=5", 1, {R(D_ALL, SRC_SELF, true, 5, 10000)}},
	{"block f=7", 1, {R(D_ALL, SRC_SELF, true, 7, 10000)}},
	{"block f=10", 1, {R(D_ALL, SRC_SELF, true, 10, 10000)}},
	{"block f=15", 1, {R(D_ALL, SRC_SELF, true, 15, 10000)}},
	{"block f=20", 1, {R(D_ALL, SRC_SELF, true, 20, 10000)}},
	{"block f=10 reset", 1, {R(D_ALL, SRC_SELF, true, 10, 10000)}, true},
	{"block f=10 both", 1, {R(D_ALL, SRC_BOTH, true, 10, 10000)}},
	{"block f=10 peers", 1, {R(D_ALL, SRC_PEERS, true, 10, 10000)}},
	/* the frontier: one hourly block rule, with the reset */
	{"block hour f=10", 1, {R(H_ALL, SRC_SELF, true, 10, 10000)}, true},
	{"block hour f=20", 1, {R(H_ALL, SRC_SELF, true, 20, 10000)}, true},
	{"block hour f=30", 1, {R(H_ALL, SRC_SELF, true, 30, 10000)}, true},
};

#define N_DEP		((int) lengthof(deployments))
#define N_COMPARED	10
#define DEP_SELF	3			/* the f = 5 point of the log sweep */
#define DEP_NORESET	7
#define DEP_DEPLOY	8			/* shown in detail */
#define DEP_ORACLE	9
#define FIRST_LOG_SWEEP	10
#define FIRST_BLOCK_SWEEP 17

/* the log sweep by factor, then min_rows */
static const int log_sweep[] = {10, 11, 12, DEP_SELF, 13, 14, 15, 16};

static const char *const src_name[] = {
	"self", "peers", "both", "fixed", "z", "spike", "oracle"
};

typedef struct DepResult
{
	int64		alerts[N_CLASSES][MAX_RULES];
	int64		blocked_stmts[N_CLASSES];
	EventResult ev[N_EVENTS];
	int64		verified;
	int64		verify_diff;
	int64		pools;
} DepResult;

static Org *org;
static Base base;
static Event events[N_EVENTS];
static int	nevents;
static int	nbatches;
static DepResult results[N_DEP];
static int64 role_days[N_CLASSES];
static int64 stats_stmts;
static int64 stats_active_hours;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static RoleClass
role_class(int role, int day)
{
	const Role *ro = &org->roles[role];

	if (ro->hire_day > 0 && day - ro->hire_day < 30)
		return CLS_NEW_HIRE;
	if (ro->change_day >= 0 && day >= ro->change_day && day - ro->change_day < 30)
		return CLS_CHANGED;
	return ro->alpha > 0 ? CLS_HEAVY : CLS_STEADY;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static int
compare_int(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

/*
 * Warm-up: every role's windows of the first 90 days go into every kind of
 * series, as insider_guard.record_history would put them, and into the
 * exact histories and the groups' maxima.  Over all 180 days, each role's
 * daily totals give its median daily volume in each job.
 */
static void
prepass(void)
{
	static int64 day_all[MAX_ROLES];
	static int64 day_tab[MAX_ROLES][MAX_SLOTS];
	static double daily[2][MAX_ROLES][SIM_DAYS];
	static int ndaily[2][MAX_ROLES];
	Stmt		buf[MAX_STMTS_HOUR];

	for (int k = 0; k < N_KINDS; k++)
		base.hist[k] = palloc0(N_SERIES(k) * sizeof(IgHistogram));
	for (int k = 0; k < 2; k++)
	{
		base.exact[k] = palloc0(MAX_ROLES * sizeof(Exact));
		for (int r = 0; r < MAX_ROLES; r++)
			base.exact[k][r].last_day = -1;
	}
	for (int d = 0; d < SIM_DAYS; d++)
	{
		bool		warm = d < WARMUP_DAYS;

		memset(day_all, 0, sizeof(day_all));
		memset(day_tab, 0, sizeof(day_tab));
		for (int h = d * 24; h < (d + 1) * 24; h++)
		{
			int64		end = HOUR_START(h + 1);

			for (int r = 0; r < org->nroles; r++)
			{
				int			n = gen_hour(org, r, h, buf);
				int64		all = 0;
				int64		tab[MAX_SLOTS] = {0};
				int			g = role_job(org, r, d)->group;

				if (n == 0)
					continue;
				for (int i = 0; i < n; i++)
				{
					all += buf[i].rows;
					tab[buf[i].slot] += buf[i].rows;
				}
				day_all[r] += all;
				for (int s = 0; s < MAX_SLOTS; s++)
					day_tab[r][s] += tab[s];
				if (!warm)
				{
					const Role *ro = &org->roles[r];
					int			j = ro->change_day >= 0 && d >= ro->change_day ? 1 : 0;

					base.oracle[0][r][j] = Max(base.oracle[0][r][j], all);
					stats_active_hours++;
					stats_stmts += n;
					continue;
				}
				ig_hist_feed(&base.hist[K_HOUR_ALL][r], end, all, IG_NO_LIMIT, false);
				for (int s = 0; s < org->roles[r].nslots; s++)
					if (tab[s] > 0)
						ig_hist_feed(&base.hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, r, s)],
									 end, tab[s], IG_NO_LIMIT, false);
				exact_add(&base.exact[0][r], all, d);
				base.group_max[0][g] = Max(base.group_max[0][g], all);
			}
		}
		for (int r = 0; r < org->nroles; r++)
		{
			const Role *ro = &org->roles[r];
			int			j = ro->change_day >= 0 && d >= ro->change_day ? 1 : 0;
			int64		end = HOUR_START((d + 1) * 24);
			int			g = role_job(org, r, d)->group;

			if (day_all[r] == 0)
				continue;
			daily[j][r][ndaily[j][r]++] = (double) day_all[r];
			if (!warm)
			{
				base.oracle[1][r][j] = Max(base.oracle[1][r][j], day_all[r]);
				continue;
			}
			ig_hist_feed(&base.hist[K_DAY_ALL][r], end, day_all[r], IG_NO_LIMIT, false);
			for (int s = 0; s < ro->nslots; s++)
				if (day_tab[r][s] > 0)
					ig_hist_feed(&base.hist[K_DAY_TABLE][SERIES(K_DAY_TABLE, r, s)],
								 end, day_tab[r][s], IG_NO_LIMIT, false);
			exact_add(&base.exact[1][r], day_all[r], d);
			base.group_max[1][g] = Max(base.group_max[1][g], day_all[r]);
		}
	}
	for (int r = 0; r < org->nroles; r++)
		for (int j = 0; j < 2; j++)
		{
			int			n = ndaily[j][r];

			if (n == 0)
				continue;
			qsort(daily[j][r], n, sizeof(double), compare_double);
			org->roles[r].median_daily[j] = n % 2 ? daily[j][r][n / 2] :
				(daily[j][r][n / 2 - 1] + daily[j][r][n / 2]) / 2;
		}
}

/* who is in which peer group on a day (the DBA keeps them current) */
static void
set_members(int day)
{
	for (int g = 0; g < N_GROUPS; g++)
		world.nmembers[g] = 0;
	for (int r = 0; r < org->nroles; r++)
		if (role_employed(org, r, day))
		{
			int			g = role_job(org, r, day)->group;

			world.members[g][world.nmembers[g]++] = r;
		}
}

/*
 * The evaluation: 90 days, every detector, without exfiltrations
 * (variant 0) or with the events of batch variant - 1.
 */
static void
run_pass(int variant)
{
	static Inst insts[N_DEP];
	static int	event_of[MAX_ROLES];
	static int	cursor[N_EVENTS];
	Stmt		buf[MAX_STMTS_HOUR + BURST_STMTS + 4];

	for (int i = 0; i < N_DEP; i++)
		inst_init(&insts[i], &deployments[i], nevents);
	for (int r = 0; r < MAX_ROLES; r++)
		event_of[r] = -1;
	for (int e = 0; e < nevents; e++)
	{
		cursor[e] = 0;
		if (variant > 0 && events[e].batch == variant - 1)
			event_of[events[e].role] = e;
	}

	for (int d = WARMUP_DAYS; d < SIM_DAYS; d++)
	{
		set_members(d);
		for (int i = 0; i < N_DEP; i++)
			inst_day_start(&insts[i], d);
		for (int h = d * 24; h < (d + 1) * 24; h++)
		{
			for (int r = 0; r < org->nroles; r++)
			{
				int			n;
				int			e = event_of[r];
				Ctx			c;

				if (!role_employed(org, r, d))
					continue;
				n = gen_hour(org, r, h, buf);
				if (e >= 0)
				{
					Event	   *ev = &events[e];

					while (cursor[e] < ev->nstmts &&
						   ev->stmts[cursor[e]].t < HOUR_START(h + 1))
					{
						Stmt		s = ev->stmts[cursor[e]++];
						int			j;

						for (j = n; j > 0 && buf[j - 1].t > s.t; j--)
							buf[j] = buf[j - 1];
						buf[j] = s;
						n++;
					}
				}
				if (n == 0)
					continue;
				c.role = r;
				c.hour = h;
				c.day = d;
				c.group = role_job(org, r, d)->group;
				c.cls = role_class(r, d);
				c.event = e;
				for (int i = 0; i < N_DEP; i++)
					inst_role_hour(&insts[i], &c, buf, n);
			}
			for (int i = 0; i < N_DEP; i++)
				inst_close(&insts[i], true, HOUR_START(h + 1), d);
		}
		for (int i = 0; i < N_DEP; i++)
			inst_close(&insts[i], false, HOUR_START((d + 1) * 24), d);
	}

	for (int i = 0; i < N_DEP; i++)
	{
		DepResult  *res = &results[i];
		Inst	   *in = &insts[i];

		if (variant == 0)
		{
			memcpy(res->alerts, in->alerts, sizeof(res->alerts));
			memcpy(res->blocked_stmts, in->blocked_stmts, sizeof(res->blocked_stmts));
		}
		else
			for (int e = 0; e < nevents; e++)
				if (events[e].batch == variant - 1)
					res->ev[e] = in->ev[e];
		res->verified += in->verified;
		res->verify_diff += in->verify_diff;
		res->pools += in->pools;
		inst_free(&insts[i]);
	}
}

/* ---- the report ---- */

static bool
rule_blocks(int dep, int j)
{
	return deployments[dep].rule[j].block;
}

static bool
has_block(int dep)
{
	for (int j = 0; j < deployments[dep].nrules; j++)
		if (rule_blocks(dep, j))
			return true;
	return false;
}

/* which role-days a rate is over */
typedef enum Days
{
	DAYS_OTHERS,				/* all but new hires' first 30 days */
	DAYS_NEW,					/* new hires' first 30 days */
	DAYS_ALL
} Days;

/* breaks (blocks only: "blocks") per 1,000 role-days */
static double
per_kday(int dep, Days which, bool blocks)
{
	int64		n = 0;
	int64		days = 0;

	for (int c = 0; c < N_CLASSES; c++)
	{
		if (which != DAYS_ALL && (c == CLS_NEW_HIRE) != (which == DAYS_NEW))
			continue;
		days += role_days[c];
		for (int j = 0; j < deployments[dep].nrules; j++)
			if (!blocks || rule_blocks(dep, j))
				n += results[dep].alerts[c][j];
	}
	return days ? 1000.0 * n / days : 0;
}

typedef bool (*EventFilter) (const Event *ev, int arg);

static bool
f_size(const Event *ev, int arg)
{
	return ev->size == arg;
}

static bool
f_size_at_least(const Event *ev, int arg)
{
	return ev->size >= arg;
}

static bool
f_shape_big(const Event *ev, int arg)
{
	return ev->shape == arg && ev->size >= 2;
}

static bool
f_shape(const Event *ev, int arg)
{
	return ev->shape == arg;
}

static void
count(int dep, EventFilter f, int arg, bool blocked, int *hit, int *n)
{
	*hit = *n = 0;
	for (int e = 0; e < nevents; e++)
		if (f(&events[e], arg))
		{
			(*n)++;
			if (blocked ? results[dep].ev[e].blocked : results[dep].ev[e].detected)
				(*hit)++;
		}
}

static double
recall(int dep, EventFilter f, int arg)
{
	int			hit;
	int			n;

	count(dep, f, arg, false, &hit, &n);
	return n ? 100.0 * hit / n : 0;
}

static double
blocked_share(int dep, EventFilter f, int arg)
{
	int			hit;
	int			n;

	count(dep, f, arg, true, &hit, &n);
	return n ? 100.0 * hit / n : 0;
}

/* hours to detection of the detected events passing f: quantile q */
static double
ttd(int dep, EventFilter f, int arg, double q)
{
	double		v[N_EVENTS];
	int			n = 0;

	for (int e = 0; e < nevents; e++)
		if (f(&events[e], arg) && results[dep].ev[e].detected)
			v[n++] = (double) (results[dep].ev[e].t_detect - events[e].start) / HOUR_US;
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), compare_double);
	return v[Min(Max((int) ceil(q * n) - 1, 0), n - 1)];
}

static bool
f_all(const Event *ev, int arg)
{
	return true;
}

static void
print_ttd(double h)
{
	if (isnan(h))
		printf(" – |");
	else if (h < 1)
		printf(" %.0f min |", h * 60);
	else if (h < 48)
		printf(" %.1f h |", h);
	else
		printf(" %.1f d |", h / 24);
}

/*
 * The >= 100x events: how many were blocked, how many of those leaked no
 * more than the limit, the worst leak / limit, and the median and largest
 * leak as a multiple of the role's median daily volume.
 */
static void
big_leaks(int dep, int *blocked, int *n, int *within, double *worst,
		  double *leak_p50, double *leak_max)
{
	double		v[N_EVENTS];
	int			nv = 0;

	*blocked = *n = *within = 0;
	*worst = 0;
	*leak_p50 = *leak_max = NAN;
	for (int e = 0; e < nevents; e++)
	{
		const EventResult *er = &results[dep].ev[e];

		if (events[e].size < 4)
			continue;
		(*n)++;
		if (!er->blocked)
			continue;
		(*blocked)++;
		if (er->leak <= er->limit)
			(*within)++;
		*worst = Max(*worst, (double) er->leak / (double) Max(er->limit, 1));
		v[nv++] = (double) er->leak / Max(events[e].median_daily, 1);
	}
	if (nv > 0)
	{
		qsort(v, nv, sizeof(double), compare_double);
		*leak_p50 = v[(nv - 1) / 2];
		*leak_max = v[nv - 1];
	}
}

static void
big_blocks(int dep, int *blocked, int *n, int *within, double *worst)
{
	double		p50;
	double		max;

	big_leaks(dep, blocked, n, within, worst, &p50, &max);
}

static const char *
mark(bool ok)
{
	return ok ? "**met**" : "not met";
}

static void
print_org(void)
{
	int			sizes[N_GROUPS];
	int			ops = 0;
	int			month_end = 0;
	int			heavy = 0;
	int			hires = 0;
	int			changes = 0;
	int			ev_per_shape[N_SHAPES] = {0};
	double		md[MAX_ROLES];
	int			nmd = 0;

	for (int g = 0; g < N_GROUPS; g++)
	{
		sizes[g] = org->groups[g].size0;
		ops += org->groups[g].ops;
		month_end += org->groups[g].month_end > 1;
	}
	qsort(sizes, N_GROUPS, sizeof(int), compare_int);
	for (int r = 0; r < org->nroles; r++)
	{
		heavy += org->roles[r].alpha > 0;
		hires += org->roles[r].hire_day > 0;
		changes += org->roles[r].change_day >= 0;
		if (org->roles[r].median_daily[0] > 0)
			md[nmd++] = org->roles[r].median_daily[0];
	}
	qsort(md, nmd, sizeof(double), compare_double);
	for (int e = 0; e < nevents; e++)
		ev_per_shape[events[e].shape]++;

	printf("# insider_guard detection benchmark (seed %llu)\n\n",
		   (unsigned long long) org->seed);
	printf("Organisation: %d roles at the start, %d at the end; %d peer groups "
		   "(sizes %d..%d, median %d; %d around the clock, %d with a month-end peak); "
		   "%d tables; %d heavy-tailed roles; %d hires (%d in evaluation), "
		   "%d role changes (%d in evaluation).  Median daily volume of a role: "
		   "p10 %.0f, p50 %.0f, p90 %.0f rows.\n\n",
		   N_ROLES, org->nroles, N_GROUPS, sizes[0], sizes[N_GROUPS - 1],
		   sizes[N_GROUPS / 2], ops, month_end, N_TABLES, heavy, hires,
		   org->hires_eval, changes, org->changes_eval,
		   md[nmd / 10], md[nmd / 2], md[nmd * 9 / 10]);
	printf("Evaluation: %d days, %lld role-days (%lld of new hires in their first 30 days, "
		   "%lld in the 30 days after a role change), %lld active role-hours, "
		   "%lld statements.  %d exfiltrations, in %d runs of distinct roles (",
		   EVAL_DAYS,
		   (long long) (role_days[0] + role_days[1] + role_days[2] + role_days[3]),
		   (long long) role_days[CLS_NEW_HIRE], (long long) role_days[CLS_CHANGED],
		   (long long) stats_active_hours, (long long) stats_stmts, nevents, nbatches);
	for (int s = 0; s < N_SHAPES; s++)
		printf("%s%d %s", s ? ", " : "", ev_per_shape[s], shape_name[s]);
	printf("), sized 2x..1000x the role's median daily volume.\n\n");

}

/* a deployment in detail: size by shape, false alerts by class and rule */
static void
print_detail(int i)
{
	const Deployment *dep = &deployments[i];

	printf("\n## \"%s\" in detail\n\n", dep->name);
	printf("Rules%s:", dep->reset_on_change ? " (own history reset when a role changes job)" : "");
	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];

		printf("%s per %s, %s, compare_to %s, factor %g, min_rows %lld, %s",
			   j ? ";" : "", KIND_HOURLY(r->kind) ? "hour" : "day",
			   KIND_TABLE(r->kind) ? "each table" : "all tables",
			   src_name[r->src], r->factor, (long long) r->min_rows, r->block ? "block" : "log");
	}
	printf(".\n\nDetected / injected, by size and shape, and the median time to detection:\n\n");
	printf("| shape |");
	for (int s = 0; s < N_SIZES; s++)
		printf(" %gx |", size_factor[s]);
	printf(" all | detection p50 | blocked |\n|---|");
	for (int s = 0; s <= N_SIZES + 2; s++)
		printf("---|");
	printf("\n");
	for (int sh = 0; sh < N_SHAPES; sh++)
	{
		int			hit;
		int			n;

		printf("| %s |", shape_name[sh]);
		for (int s = 0; s < N_SIZES; s++)
		{
			int			h2 = 0;
			int			n2 = 0;

			for (int e = 0; e < nevents; e++)
				if (events[e].shape == sh && events[e].size == s)
				{
					n2++;
					h2 += results[i].ev[e].detected;
				}
			printf(" %d/%d |", h2, n2);
		}
		count(i, f_shape, sh, false, &hit, &n);
		printf(" %d/%d |", hit, n);
		print_ttd(ttd(i, f_shape, sh, 0.5));
		count(i, f_shape, sh, true, &hit, &n);
		printf(" %d/%d |\n", hit, n);
	}
	{
		int			missed = 0;
		int			oracle = 0;
		int			by_shape[N_SHAPES] = {0};

		for (int e = 0; e < nevents; e++)
			if (events[e].size >= 2 && !results[i].ev[e].detected)
			{
				missed++;
				by_shape[events[e].shape]++;
				oracle += !results[DEP_ORACLE].ev[e].detected;
			}
		printf("\nOf the %d exfiltrations of 10x or more it missed, %d stay below the "
			   "role's own clean maximum (the oracle misses them too); by shape:",
			   missed, oracle);
		for (int sh = 0; sh < N_SHAPES; sh++)
			printf("%s %s %d", sh ? "," : "", shape_name[sh], by_shape[sh]);
		printf(".\n");
	}
	/* how far above the role's own clean maximum the limits were */
	for (int j = 0; j < dep->nrules && !KIND_TABLE(dep->rule[0].kind); j++)
	{
		double		v[N_EVENTS];
		int			n = 0;
		int			none = 0;

		for (int e = 0; e < nevents; e++)
		{
			const Event *ev = &events[e];
			const EventResult *er = &results[i].ev[e];
			int64		top = base.oracle[dep->rule[j].kind][ev->role][ev->job];

			if (ev->size < 2 || er->detected || !er->started)
				continue;
			if (er->limit0[j] < 0)
				none++;
			else
				v[n++] = (double) er->limit0[j] / (double) Max(top, 1);
		}
		qsort(v, n, sizeof(double), compare_double);
		if (n > 0)
			printf("%s rule %d's limit when they began: p10 %.1f, p50 %.1f, p90 %.1f "
				   "times the role's clean maximum %s in evaluation%s",
				   j ? ";" : "On those missed events,", j + 1, v[n / 10], v[n / 2],
				   v[n * 9 / 10], KIND_HOURLY(dep->rule[j].kind) ? "hour" : "day",
				   none ? "" : "");
		if (none)
			printf(" (no limit on %d)", none);
	}
	printf(".\n");
	printf("\nFalse alerts per 1,000 role-days by role class and rule:\n\n");
	printf("| class | role-days |");
	for (int j = 0; j < dep->nrules; j++)
		printf(" rule %d |", j + 1);
	printf("\n|---|---|");
	for (int j = 0; j < dep->nrules; j++)
		printf("---|");
	printf("\n");
	for (int c = 0; c < N_CLASSES; c++)
	{
		static const char *const cls[] = {
			"steady", "heavy-tailed", "30 days after a role change",
			"new hire, first 30 days"
		};

		printf("| %s | %lld |", cls[c], (long long) role_days[c]);
		for (int j = 0; j < dep->nrules; j++)
			printf(" %.2f |", role_days[c] ?
				   1000.0 * results[i].alerts[c][j] / role_days[c] : 0);
		printf("\n");
	}
}

static void
report(double seconds)
{
	int64		verified = 0;
	int64		diff = 0;

	print_org();
	/* recall by size, false alerts */
	printf("## Recall by size, false alerts and blocks\n\n");
	printf("Recall: share of the exfiltrations of each size (multiple of the role's "
		   "median daily volume; %d events each) that a rule broke on.  False alerts: "
		   "breaks (log crossings and blocks) without an exfiltration, per 1,000 "
		   "role-days; \"new\": new hires' first 30 days, \"others\": every other role-day.\n\n",
		   nevents / N_SIZES);
	printf("| detector | 2x | 5x | 10x | 30x | 100x | 1000x | >=10x | false alerts others | false alerts new | false blocks others | false blocks new |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < N_COMPARED; i++)
	{
		printf("| %s |", deployments[i].name);
		for (int s = 0; s < N_SIZES; s++)
			printf(" %.0f%% |", recall(i, f_size, s));
		printf(" %.1f%% | %.2f | %.2f |", recall(i, f_size_at_least, 2),
			   per_kday(i, DAYS_OTHERS, false), per_kday(i, DAYS_NEW, false));
		if (has_block(i))
			printf(" %.3f | %.3f |\n", per_kday(i, DAYS_OTHERS, true), per_kday(i, DAYS_NEW, true));
		else
			printf(" – | – |\n");
	}

	/* recall by shape */
	printf("\n## Recall by shape (exfiltrations of 10x and more), time to detection\n\n");
	printf("| detector |");
	for (int s = 0; s < N_SHAPES; s++)
		printf(" %s |", shape_name[s]);
	printf(" time to detection p50 | p90 | >=100x blocked | leak <= limit | worst leak / limit | leak p50, max (x median day) |\n|---|");
	for (int s = 0; s < N_SHAPES; s++)
		printf("---|");
	printf("---|---|---|---|---|---|\n");
	for (int i = 0; i < N_COMPARED; i++)
	{
		int			blocked;
		int			n;
		int			within;
		double		worst;
		double		p50;
		double		max;

		printf("| %s |", deployments[i].name);
		for (int s = 0; s < N_SHAPES; s++)
			printf(" %.0f%% |", recall(i, f_shape_big, s));
		print_ttd(ttd(i, f_all, 0, 0.5));
		print_ttd(ttd(i, f_all, 0, 0.9));
		if (has_block(i))
		{
			big_leaks(i, &blocked, &n, &within, &worst, &p50, &max);
			printf(" %d/%d | %d/%d | %.2f | %.1f, %.1f |\n", blocked, n, within,
				   blocked, worst, p50, max);
		}
		else
			printf(" – | – | – | – |\n");
	}

	print_detail(DEP_DEPLOY);
	print_detail(DEP_NORESET);

	/* the frontier */
	printf("\n## Frontier: log rules (self, hour and day, all tables)\n\n");
	printf("| factor | min_rows | 2x | 5x | >=10x | false alerts others | false alerts new |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int k = 0; k < (int) lengthof(log_sweep); k++)
	{
		int			i = log_sweep[k];
		const Rule *r = &deployments[i].rule[0];

		printf("| %g | %lld | %.0f%% | %.0f%% | %.1f%% | %.2f | %.2f |\n",
			   r->factor, (long long) r->min_rows, recall(i, f_size, 0),
			   recall(i, f_size, 1), recall(i, f_size_at_least, 2),
			   per_kday(i, DAYS_OTHERS, false), per_kday(i, DAYS_NEW, false));
	}
	printf("\n## Frontier: one block rule (all tables, min_rows 10,000)\n\n");
	printf("| per | compare_to | factor | blocked 10x | 30x | >=100x | leak <= limit | false blocks others | new | all |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = FIRST_BLOCK_SWEEP; i < N_DEP; i++)
	{
		const Rule *r = &deployments[i].rule[0];
		int			blocked;
		int			n;
		int			within;
		double		worst;

		big_blocks(i, &blocked, &n, &within, &worst);
		printf("| %s | %s%s | %g | %.0f%% | %.0f%% | %d/%d | %d/%d | %.3f | %.3f | %.3f |\n",
			   KIND_HOURLY(r->kind) ? "hour" : "day",
			   src_name[r->src], deployments[i].reset_on_change ? " + reset at role change" : "",
			   r->factor, blocked_share(i, f_size, 2),
			   blocked_share(i, f_size, 3), blocked, n, within, blocked,
			   per_kday(i, DAYS_OTHERS, true), per_kday(i, DAYS_NEW, true), per_kday(i, DAYS_ALL, true));
	}

	/* the targets */
	printf("\n## Targets\n\n");
	printf("| detector | >=10x: recall >= 99%%, <= 1 false alert | >=100x: all blocked, leak <= limit | 5x: recall >= 80%%, <= 2 false alerts | new hires <= 5 false alerts | false blocks <= 0.1 |\n");
	printf("|---|---|---|---|---|---|\n");
	for (int i = 0; i < N_DEP; i++)
	{
		int			blocked;
		int			n;
		int			within;
		double		worst;
		double		fa = per_kday(i, DAYS_OTHERS, false);

		if (i >= N_COMPARED && i != DEP_DEPLOY)
			continue;
		big_blocks(i, &blocked, &n, &within, &worst);
		printf("| %s | %s (%.1f%%, %.2f) |", deployments[i].name,
			   mark(recall(i, f_size_at_least, 2) >= 99 && fa <= 1),
			   recall(i, f_size_at_least, 2), fa);
		if (has_block(i))
			printf(" %s (%d/%d) |", mark(blocked == n && within == blocked), blocked, n);
		else
			printf(" not met (no block rule) |");
		printf(" %s (%.0f%%, %.2f) | %s (%.2f) |",
			   mark(recall(i, f_size, 1) >= 80 && fa <= 2), recall(i, f_size, 1), fa,
			   mark(per_kday(i, DAYS_NEW, false) <= 5), per_kday(i, DAYS_NEW, false));
		if (has_block(i))
			printf(" %s (%.3f) |\n", mark(per_kday(i, DAYS_ALL, true) <= 0.1), per_kday(i, DAYS_ALL, true));
		else
			printf(" met (no block rule) |\n");
	}

	for (int i = 0; i < N_DEP; i++)
	{
		verified += results[i].verified;
		diff += results[i].verify_diff;
	}
	printf("\nChecks: limits of insider_guard rules recomputed at a later statement "
		   "of their window (own history, and peer pools with now = that statement's "
		   "time): %lld, of which %lld differed.  Windows are "
		   "UTC-aligned hours and days.  Run time %.0f s.\n",
		   (long long) verified, (long long) diff, seconds);
}

/* one line per event: what the deployment did, and why */
static void
print_events(int dep)
{
	printf("\n## Events under \"%s\"\n\n", deployments[dep].name);
	printf("| event | shape | size | role | sigma | alpha | month end | median daily | rows | warm-up p99 hour | p99 day | clean max hour | day | limits at start | detected | blocked | after | limit | leak |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int e = 0; e < nevents; e++)
	{
		const Event *ev = &events[e];
		const Role *ro = &org->roles[ev->role];
		const EventResult *er = &results[dep].ev[e];

		printf("| %d | %s | %gx | %d | %.2f | %.2f | %.1f | %.0f | %lld | %llu | %llu | %lld | %lld |",
			   e, shape_name[ev->shape], size_factor[ev->size], ev->role,
			   ro->sigma, ro->alpha, org->groups[ro->job[ev->job].group].month_end,
			   ev->median_daily, (long long) ev->rows,
			   (unsigned long long) ig_hist_quantile(&base.hist[K_HOUR_ALL][ev->role], 0.99),
			   (unsigned long long) ig_hist_quantile(&base.hist[K_DAY_ALL][ev->role], 0.99),
			   (long long) base.oracle[0][ev->role][ev->job],
			   (long long) base.oracle[1][ev->role][ev->job]);
		for (int j = 0; j < deployments[dep].nrules; j++)
			printf("%s%lld", j ? ", " : " ", (long long) er->limit0[j]);
		printf(" | %s | %s |", er->detected ? "yes" : "no", er->blocked ? "yes" : "no");
		if (er->detected)
			print_ttd((double) (er->t_detect - ev->start) / HOUR_US);
		else
			printf(" – |");
		printf(" %lld | %lld |\n", (long long) er->limit, (long long) er->leak);
	}
}

int
main(int argc, char **argv)
{
	double		t0 = now_seconds();
	bool		org_only = argc > 1 && strcmp(argv[1], "--org") == 0;
	uint64		seed = argc > 1 + org_only ? strtoull(argv[1 + org_only], NULL, 10) : 1;

	for (int g = 0; g < N_GROUPS; g++)
		world.members[g] = palloc(MAX_ROLES * sizeof(int));
	if (engine_selftest() != 0)
		return 1;
	org = palloc0(sizeof(Org));
	org_build(org, seed);
	world.org = org;
	world.base = &base;
	fprintf(stderr, "[%3.0fs] organisation built: %d roles\n", now_seconds() - t0,
			org->nroles);
	prepass();
	fprintf(stderr, "[%3.0fs] warm-up seeded\n", now_seconds() - t0);
	nevents = make_events(org, events, &nbatches);
	for (int d = WARMUP_DAYS; d < SIM_DAYS; d++)
		for (int r = 0; r < org->nroles; r++)
			if (role_employed(org, r, d))
				role_days[role_class(r, d)]++;
	if (org_only)
	{
		print_org();
		return 0;
	}
	for (int v = 0; v <= nbatches; v++)
	{
		run_pass(v);
		fprintf(stderr, "[%3.0fs] %s done\n", now_seconds() - t0,
				v == 0 ? "evaluation without exfiltrations" : "a batch of exfiltrations");
	}
	report(now_seconds() - t0);
	if (getenv("DETECT_EVENTS"))
		print_events(atoi(getenv("DETECT_EVENTS")));
	return 0;
}
