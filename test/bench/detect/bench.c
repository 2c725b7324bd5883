/*-------------------------------------------------------------------------
 *
 * bench.c
 *		The detection-quality benchmark: for each seed, builds the
 *		organisation, seeds every detector's history from 90 days of
 *		warm-up, runs 90 days of evaluation once without exfiltrations
 *		(false alerts, and the breaks a detection gets no credit for) and
 *		once per batch of injected exfiltrations (detections); then pools
 *		seeds 1-3 (on which the recommended deployment was chosen) and
 *		seeds 4-6 (reported once, used for nothing), and prints the report
 *		in Markdown, with the insider scenarios.
 *
 *		detect [--jobs N] [--seeds a-b] [--holdout c-d]
 *
 * Each seed runs in a child process (N at a time, 2 by default), which
 * hands its counts back through a file.
 *
 * IDENTIFICATION
 *		test/bench/detect/bench.c
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"

#include <math.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define R(k, s, b, f, m)	{k, s, b, f, m}
#define H_ALL	K_HOUR_ALL
#define D_ALL	K_DAY_ALL
#define H_TAB	K_HOUR_TABLE
#define D_TAB	K_DAY_TABLE
#define W_ALL	K_WEEK_ALL

/*
 * The detectors, fixed before any result of this version was seen, except
 * the recommended deployment (DEP_REC), chosen from the sweeps on seeds 1-3.
 */
#define LOG2(k1, k2, src, f, m) 2, {R(k1, src, false, f, m), R(k2, src, false, f, m)}
/* the log suite: self per hour and day x f, per 7 days x w, novelty */
#define SUITE(f, w, nm) 4, { \
		R(H_ALL, SRC_SELF, false, f, 1000), \
		R(D_ALL, SRC_SELF, false, f, 1000), \
		R(W_ALL, SRC_SELF, false, w, 1000), \
		R(D_TAB, SRC_NOVELTY, false, 0, nm)}
/* log rules: self per hour and day x f, per 7 days x w */
#define LOGW(f, w) 3, { \
		R(H_ALL, SRC_SELF, false, f, 1000), \
		R(D_ALL, SRC_SELF, false, f, 1000), \
		R(W_ALL, SRC_SELF, false, w, 1000)}
/*
 * block rules: per hour x h, day x d, 7 days x w; min_rows (the cold-start
 * limit) m an hour, 4m a day, 20m in 7 days
 */
#define BLOCKS(src, h, d, w, m) 3, { \
		R(H_ALL, src, true, h, m), \
		R(D_ALL, src, true, d, 4 * (m)), \
		R(W_ALL, src, true, w, 20 * (m))}
/*
 * The recommended deployment, chosen on seeds 1-3 from the sweeps (see
 * README): log self per hour and day x7 and per 7 days x4 (the best recall
 * at >= 10x near the false-alert budget; novelty added alerts and no
 * recall there); block per hour x50, day x20, 7 days x10 with a cold-start
 * min_rows of 10^6 an hour (the fewest false blocks that still block
 * 85% of >= 100x events), without reset_history at role changes (fewer
 * false blocks than with it).
 */
#define REC_RULES 6, { \
		R(H_ALL, SRC_SELF, false, 7, 1000), \
		R(D_ALL, SRC_SELF, false, 7, 1000), \
		R(W_ALL, SRC_SELF, false, 4, 1000), \
		R(H_ALL, SRC_SELF, true, 50, 1000000), \
		R(D_ALL, SRC_SELF, true, 20, 4000000), \
		R(W_ALL, SRC_SELF, true, 10, 20000000)}
#define REC_RESET	false

/* block rules without the 7-day one */
#define BLOCKS2(src, h, d, m) 2, { \
		R(H_ALL, src, true, h, m), \
		R(D_ALL, src, true, d, 4 * (m))}

static const Deployment deployments[] = {
	{"fixed: group max (log), 2x (block)", 3, {
			R(H_ALL, SRC_FIXED, false, 1, 0),
			R(D_ALL, SRC_FIXED, false, 1, 0),
	R(D_ALL, SRC_FIXED, true, 2, 0)}},
	{"z > 3 on log(1 + rows)", LOG2(H_ALL, D_ALL, SRC_Z, 0, 0)},
	{"spike (Sentinel): z > 3 and (x-p95)/(p95-p25+1) > 2", LOG2(H_ALL, D_ALL, SRC_SPIKE, 0, 0)},
	{"ig self: hour and day x5, log", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 1000)},
	{"ig peers: hour and day x5, log", LOG2(H_ALL, D_ALL, SRC_PEERS, 5, 1000)},
	{"ig both: hour and day x5, log", LOG2(H_ALL, D_ALL, SRC_BOTH, 5, 1000)},
	{"ig self per table: hour and day x5, log", LOG2(H_TAB, D_TAB, SRC_SELF, 5, 1000)},
	{"ig 7 days x2, log", 1, {R(W_ALL, SRC_SELF, false, 2, 1000)}},
	{"ig novelty (min_rows 1000), log", 1, {R(D_TAB, SRC_NOVELTY, false, 0, 1000)}},
	{"ig v1 deploy: self log x5; block x20 an hour, x10 a day (min_rows 10,000); reset_history", 4, {
			R(H_ALL, SRC_SELF, false, 5, 1000),
			R(D_ALL, SRC_SELF, false, 5, 1000),
			R(H_ALL, SRC_SELF, true, 20, 10000),
	R(D_ALL, SRC_SELF, true, 10, 10000)}, true},
	{"ig log suite: self hour and day x5, 7 days x2, novelty; log", SUITE(5, 2, 1000)},
	{"ig recommended", REC_RULES, REC_RESET},
	{"oracle: role's own clean max hour and day in evaluation (in-sample bound)", LOG2(H_ALL, D_ALL, SRC_ORACLE, 0, 0)},
	/* what-ifs (not the extension) */
	{"what-if: ig self hour and day x5, log, no rise cap (stats.c before 56e68cd)", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 1000), false, YF_NONE, RISE_NONE},
	{"what-if: ig self hour and day x5, log, young group while own unusable", LOG2(H_ALL, D_ALL, SRC_SELF, 5, 1000), false, YF_PEERS},
	{"what-if: ig recommended, young group while own unusable, block never above min_rows", REC_RULES, REC_RESET, YF_CAPPED},
	{"what-if: ig recommended, young group while own unusable, reset_history", REC_RULES, true, YF_PEERS},
	/* sweeps (seeds 1-3 only): log rules */
	{"log self h+d x5, 7d x3", LOGW(5, 3)},
	{"log self h+d x7, 7d x3", LOGW(7, 3)},
	{"log self h+d x7, 7d x4", LOGW(7, 4)},
	{"log self h+d x10, 7d x3", LOGW(10, 3)},
	{"log self h+d x10, 7d x4", LOGW(10, 4)},
	{"log suite f=7, 7d x4, novelty m=10000", SUITE(7, 4, 10000)},
	/* sweeps (seeds 1-3 only): block rules (min_rows m an hour, 4m a day, 20m in 7 days) */
	{"block x20/x10/x4 m=1e5, reset_history", BLOCKS(SRC_SELF, 20, 10, 4, 100000), true},
	{"block x50/x20/x10 m=1e6, reset_history", BLOCKS(SRC_SELF, 50, 20, 10, 1000000), true},
	{"block x50/x20/x10 m=1e6", BLOCKS(SRC_SELF, 50, 20, 10, 1000000)},
	{"block x50/x20/x10 m=1e7", BLOCKS(SRC_SELF, 50, 20, 10, 10000000)},
	{"block x50/x20, no 7 days, m=1e6", BLOCKS2(SRC_SELF, 50, 20, 1000000)},
	{"what-if: block x50/x20/x10 m=1e5, young group, reset_history", BLOCKS(SRC_SELF, 50, 20, 10, 100000), true, YF_PEERS},
};

#define N_DEP		((int) lengthof(deployments))
#define N_COMPARED	17			/* run on every seed */
#define DEP_V1		9
#define DEP_SUITE	10
#define DEP_REC		11
#define DEP_ORACLE	12
#define DEP_WHATIF_REC	15		/* capped at min_rows */
#define DEP_WHATIF_REC_PEERS 16
#define FIRST_LOG_SWEEP	17
#define FIRST_BLOCK_SWEEP 23

/* the stress report (median sizing) runs these */
static const int stress_deps[] = {DEP_V1, DEP_REC, DEP_WHATIF_REC, DEP_ORACLE};

StaticAssertDecl(N_DEP <= MAX_DEP, "MAX_DEP too small");

static const char *const src_name[] = {
	"self", "peers", "both", "novelty", "fixed", "z", "spike", "oracle"
};
static const char *const kind_name[] = {
	"hour", "day", "hour, each table", "day, each table", "7 days"
};
static const char *const class_name[] = {
	"steady", "heavy-tailed", "30 days after a role change",
	"service account", "new hire, first 14 days"
};

/* ---- one seed (in a child process) ---- */

static Org *org;
static Base base;
static Event events[EVENTS_TOTAL];
static int	nevents;
static int	nset[2];			/* events of each set */
static bool watch[MAX_ROLES];
static KeySet clean_keys[MAX_DEP];
static SeedResult *res;
static uint8 active[MAX_ROLES][EVAL_DAYS];

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

	if (ro->hire_day > 0 && day - ro->hire_day < NEW_CLASS_DAYS)
		return CLS_NEW_HIRE;
	if (ro->service)
		return CLS_SERVICE;
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

/* nearest-rank p99 of v[0..n-1] (sorted here); 0 if empty */
static double
p99_of(double *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), compare_double);
	return v[Min(Max((int) ceil(0.99 * n) - 1, 0), n - 1)];
}

/*
 * Warm-up: every role's windows of the first 90 days go into every kind of
 * series, as insider_guard.record_history would put them (and then taken
 * as given: ig_rise_reset), and into the exact histories and the groups'
 * maxima.  Over all 180 days, each role's clean hourly, daily and 7-day
 * totals in each job give the volumes events are sized on.
 */
static void
prepass(void)
{
	static int64 day_all[MAX_ROLES];
	static int64 day_tab[MAX_ROLES][MAX_SLOTS];
	static double daily_all[MAX_ROLES][SIM_DAYS];
	static double *hourly[2][MAX_ROLES];
	static int	nhourly[2][MAX_ROLES];
	static int	caphourly[2][MAX_ROLES];
	static double v[SIM_DAYS];
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
				const Role *ro = &org->roles[r];
				int			n = gen_hour(org, r, h, buf);
				int64		all = 0;
				int64		tab[MAX_SLOTS] = {0};
				int			g = role_job(org, r, d)->group;
				int			j = ro->change_day >= 0 && d >= ro->change_day ? 1 : 0;

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
				if (nhourly[j][r] == caphourly[j][r])
				{
					caphourly[j][r] = Max(2 * caphourly[j][r], 256);
					hourly[j][r] = hourly[j][r] ?
						repalloc(hourly[j][r], caphourly[j][r] * sizeof(double)) :
						palloc(caphourly[j][r] * sizeof(double));
				}
				hourly[j][r][nhourly[j][r]++] = (double) all;
				if (!warm)
				{
					base.oracle[0][r][j] = Max(base.oracle[0][r][j], all);
					res->active_hours++;
					res->stmts += n;
					active[r][d - WARMUP_DAYS] = 1;
					continue;
				}
				ig_hist_feed(&base.hist[K_HOUR_ALL][r], end, all, IG_NO_LIMIT, false);
				for (int s = 0; s < ro->nslots; s++)
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
			int64		end = HOUR_START((d + 1) * 24);
			int			g = role_job(org, r, d)->group;
			int			j = ro->change_day >= 0 && d >= ro->change_day ? 1 : 0;

			daily_all[r][d] = (double) day_all[r];
			if (warm && role_employed(org, r, d))
			{
				int64		week = 0;

				base.week_ring[r][d % 7] = day_all[r];
				for (int i = 0; i < 7; i++)
					week += base.week_ring[r][i];
				/* a 7-day total is taken at the end of a day the role read */
				if (day_all[r] > 0)
					ig_hist_feed(&base.hist[K_WEEK_ALL][r], end, week, IG_NO_LIMIT, false);
			}
			if (day_all[r] == 0)
				continue;
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
	/* what was seeded is taken as given */
	for (int k = 0; k < N_KINDS; k++)
		for (int s = 0; s < N_SERIES(k); s++)
			ig_rise_reset(&base.hist[k][s]);

	/* the volumes of each job: median and p99 day, p99 hour, p99 7 days */
	for (int r = 0; r < org->nroles; r++)
	{
		Role	   *ro = &org->roles[r];

		for (int j = 0; j < 2; j++)
		{
			int			from = j == 0 ? ro->hire_day : ro->change_day;
			int			to = ro->leave_day >= 0 ? ro->leave_day : SIM_DAYS;
			int			n = 0;

			if (j == 0 && ro->change_day >= 0)
				to = Min(to, ro->change_day);
			if (from < 0)
				continue;
			for (int d = from; d < to; d++)
				if (daily_all[r][d] > 0)
					v[n++] = daily_all[r][d];
			if (n > 0)
			{
				qsort(v, n, sizeof(double), compare_double);
				ro->median_daily[j] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
			}
			ro->p99_day[j] = p99_of(v, n);
			n = 0;
			for (int d = from + 6; d < to; d++)
			{
				double		week = 0;

				for (int i = 0; i < 7; i++)
					week += daily_all[r][d - i];
				if (week > 0)
					v[n++] = week;
			}
			ro->p99_week[j] = p99_of(v, n);
			ro->p99_hour[j] = p99_of(hourly[j][r], nhourly[j][r]);
		}
		for (int j = 0; j < 2; j++)
			if (hourly[j][r])
				pfree(hourly[j][r]);
	}
}

/* who is in which peer group on a day (the DBA keeps them current) */
static void
set_members(int day)
{
	for (int g = 0; g < N_PEER_GROUPS; g++)
		world.nmembers[g] = 0;
	for (int r = 0; r < org->nroles; r++)
		if (role_employed(org, r, day))
		{
			int			g = role_job(org, r, day)->group;

			world.members[g][world.nmembers[g]++] = r;
		}
}

/*
 * The evaluation: 90 days, the deployments deps[0..ndeps-1], without
 * exfiltrations (set < 0; the breaks of watched roles are noted) or with
 * the events of one batch of one set.
 */
static void
run_pass(const int *deps, int ndeps, int set, int batch)
{
	static Inst insts[MAX_DEP];
	static int	event_of[MAX_ROLES];
	static int	cursor[EVENTS_TOTAL];
	static Stmt hour_stmts[MAX_ROLES * (MAX_STMTS_HOUR + BURST_STMTS + 4)];
	static Ctx	hour_ctx[MAX_ROLES];
	static int	hour_first[MAX_ROLES];
	static int	hour_n[MAX_ROLES];

	for (int i = 0; i < ndeps; i++)
	{
		inst_init(&insts[i], &deployments[deps[i]], nevents);
		if (set < 0)
		{
			insts[i].record = &clean_keys[deps[i]];
			insts[i].watch = watch;
		}
		else
			insts[i].clean = &clean_keys[deps[i]];
	}
	for (int r = 0; r < MAX_ROLES; r++)
		event_of[r] = -1;
	for (int e = 0; e < nevents; e++)
	{
		cursor[e] = 0;
		if (set >= 0 && (int) events[e].sizing == set && events[e].batch == batch)
			event_of[events[e].role] = e;
	}

	/*
	 * Hour by hour: every role's statements of the hour first, then each
	 * deployment runs them all (the deployments are independent; one at a
	 * time keeps its windows in the cache).
	 */
	for (int d = WARMUP_DAYS; d < SIM_DAYS; d++)
	{
		set_members(d);
		for (int i = 0; i < ndeps; i++)
			inst_day_start(&insts[i], d);
		for (int h = d * 24; h < (d + 1) * 24; h++)
		{
			int			nctx = 0;
			int			used = 0;

			for (int r = 0; r < org->nroles; r++)
			{
				Stmt	   *buf = &hour_stmts[used];
				int			n;
				int			e = event_of[r];
				Ctx		   *c = &hour_ctx[nctx];

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
				c->role = r;
				c->hour = h;
				c->day = d;
				c->group = role_job(org, r, d)->group;
				c->cls = role_class(r, d);
				c->event = e;
				c->young = d - membership_since(org, r, d) < YOUNG_MEMBERSHIP_DAYS;
				hour_first[nctx] = used;
				hour_n[nctx++] = n;
				used += n;
			}
			for (int i = 0; i < ndeps; i++)
			{
				for (int k = 0; k < nctx; k++)
					inst_role_hour(&insts[i], &hour_ctx[k], &hour_stmts[hour_first[k]], hour_n[k]);
				inst_close(&insts[i], true, HOUR_START(h + 1), d);
			}
		}
		for (int i = 0; i < ndeps; i++)
			inst_close(&insts[i], false, HOUR_START((d + 1) * 24), d);
	}

	for (int i = 0; i < ndeps; i++)
	{
		int			dep = deps[i];
		DepSeed    *ds = &res->dep[dep];
		Inst	   *in = &insts[i];

		ds->ran = true;
		if (set < 0)
		{
			memcpy(ds->alerts, in->alerts, sizeof(ds->alerts));
			for (int r = 0; r < org->nroles; r++)
				for (int d = 0; d < EVAL_DAYS; d++)
				{
					uint8		f = in->day_flags[r * EVAL_DAYS + d];
					RoleClass	cls;

					if (!f)
						continue;
					cls = role_class(r, d + WARMUP_DAYS);
					ds->alert_days[cls] += (f & DF_ALERT) != 0;
					ds->block_days[cls] += (f & DF_BLOCK) != 0;
					ds->stop_days[cls] += (f & DF_STOPPED) != 0;
				}
		}
		else
			for (int e = 0; e < nevents; e++)
				if ((int) events[e].sizing == set && events[e].batch == batch)
					res->res[dep][e] = in->ev[e];
		ds->verified += in->verified;
		ds->verify_diff += in->verify_diff;
		inst_free(in);
	}
}

static void
run_seed(uint64 seed, bool full, SeedResult *out)
{
	double		t0 = now_seconds();
	int			deps[MAX_DEP];
	int			ndeps = 0;

	res = out;
	memset(res, 0, sizeof(SeedResult));
	memset(active, 0, sizeof(active));
	memset(watch, 0, sizeof(watch));
	res->seed = seed;
	org = palloc0(sizeof(Org));
	org_build(org, seed);
	world.org = org;
	world.base = &base;
	prepass();
	nset[0] = make_events(org, events, 0, SIZE_P99, &res->nbatches[0]);
	nset[1] = make_events(org, events + nset[0], nset[0], SIZE_MEDIAN, &res->nbatches[1]);
	nevents = nset[0] + nset[1];
	res->nevents = nevents;
	for (int e = 0; e < nevents; e++)
	{
		EvMeta	   *m = &res->ev[e];

		watch[events[e].role] = true;
		m->size = events[e].size;
		m->shape = events[e].shape;
		m->sizing = events[e].sizing;
		m->role = events[e].role;
		m->rows = events[e].rows;
		m->start = events[e].start;
		m->basis = events[e].basis;
		m->median_daily = events[e].median_daily;
	}
	res->nroles = org->nroles;
	res->hires_eval = org->hires_eval;
	res->changes_eval = org->changes_eval;
	res->leaves_eval = org->leaves_eval;
	res->adopts_eval = org->adopts_eval;
	for (int d = WARMUP_DAYS; d < SIM_DAYS; d++)
		for (int r = 0; r < org->nroles; r++)
			if (role_employed(org, r, d))
			{
				res->role_days[role_class(r, d)]++;
				if (active[r][d - WARMUP_DAYS])
					res->active_days[role_class(r, d)]++;
			}
	fprintf(stderr, "[seed %llu %4.0fs] organisation and warm-up: %d roles, %d + %d events\n",
			(unsigned long long) seed, now_seconds() - t0, org->nroles, nset[0], nset[1]);

	for (int i = 0; i < N_DEP; i++)
		if (full || i < N_COMPARED)
			deps[ndeps++] = i;
	run_pass(deps, ndeps, -1, 0);
	fprintf(stderr, "[seed %llu %4.0fs] evaluation without exfiltrations\n",
			(unsigned long long) seed, now_seconds() - t0);
	for (int b = 0; b < res->nbatches[0]; b++)
	{
		run_pass(deps, ndeps, SIZE_P99, b);
		fprintf(stderr, "[seed %llu %4.0fs] p99-sized batch %d\n",
				(unsigned long long) seed, now_seconds() - t0, b + 1);
	}
	for (int b = 0; b < res->nbatches[1]; b++)
		run_pass(stress_deps, lengthof(stress_deps), SIZE_MEDIAN, b);
	fprintf(stderr, "[seed %llu %4.0fs] done\n", (unsigned long long) seed,
			now_seconds() - t0);
	res->seconds = now_seconds() - t0;
}

/* ---- pooling and statistics ---- */

typedef struct Pool
{
	const char *name;
	SeedResult *s[8];
	int			n;
	bool		full;			/* the sweeps ran */
} Pool;

#define Z95		1.959964

/* Wilson score interval of k / n, in percent */
static void
wilson(int k, int n, double *lo, double *hi)
{
	double		p;
	double		den;
	double		mid;
	double		half;

	if (n == 0)
	{
		*lo = 0;
		*hi = 100;
		return;
	}
	p = (double) k / n;
	den = 1 + Z95 * Z95 / n;
	mid = (p + Z95 * Z95 / (2.0 * n)) / den;
	half = Z95 * sqrt(p * (1 - p) / n + Z95 * Z95 / (4.0 * n * n)) / den;
	*lo = 100 * Max(mid - half, 0);
	*hi = 100 * Min(mid + half, 1);
}

/*
 * 95% interval of a Poisson count k (Garwood's, by the Wilson-Hilferty
 * approximation of the chi-square quantiles).
 */
static void
poisson_ci(int64 k, double *lo, double *hi)
{
	double		a;

	if (k == 0)
		*lo = 0;
	else
	{
		a = 1 - 1.0 / (9 * k) - Z95 / (3 * sqrt((double) k));
		*lo = k * a * a * a;
	}
	a = 1 - 1.0 / (9 * (k + 1)) + Z95 / (3 * sqrt((double) (k + 1)));
	*hi = (k + 1) * a * a * a;
}

typedef bool (*EvFilter) (const EvMeta *m, int arg);

static bool
f_size(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_P99 && m->size == arg;
}

static bool
f_big(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_P99 && m->size >= 2;
}

static bool
f_huge(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_P99 && m->size >= 4;
}

static bool
f_shape_big(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_P99 && m->shape == arg && m->size >= 2;
}

static bool
f_stress_size(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_MEDIAN && m->size == arg;
}

static bool
f_stress_big(const EvMeta *m, int arg)
{
	return m->sizing == SIZE_MEDIAN && m->size >= 2;
}

/* detected (or, blocked: blocked with credit) / events passing f */
static void
count(const Pool *p, int dep, EvFilter f, int arg, bool blocked, int *hit, int *n)
{
	*hit = *n = 0;
	for (int i = 0; i < p->n; i++)
	{
		const SeedResult *s = p->s[i];

		for (int e = 0; e < s->nevents; e++)
			if (f(&s->ev[e], arg))
			{
				(*n)++;
				if (blocked ? s->res[dep][e].blocked : s->res[dep][e].detected)
					(*hit)++;
			}
	}
}

static double
recall(const Pool *p, int dep, EvFilter f, int arg)
{
	int			hit;
	int			n;

	count(p, dep, f, arg, false, &hit, &n);
	return n ? 100.0 * hit / n : 0;
}

/* "r% [lo, hi]" */
static void
print_recall_ci(const Pool *p, int dep, EvFilter f, int arg)
{
	int			hit;
	int			n;
	double		lo;
	double		hi;

	count(p, dep, f, arg, false, &hit, &n);
	wilson(hit, n, &lo, &hi);
	printf(" %.1f%% [%.1f, %.1f] |", n ? 100.0 * hit / n : 0, lo, hi);
}

typedef enum Days
{
	DAYS_OTHERS,				/* all but new hires' first 14 days */
	DAYS_NEW,					/* new hires' first 14 days */
	DAYS_ALL
} Days;

typedef enum Measure
{
	M_ALERT_DAYS,				/* role-days with a false break */
	M_STOP_DAYS,				/* role-days with a statement stopped */
	M_BREAKS					/* false breaks (records) */
} Measure;

static bool
in_days(int c, Days which)
{
	return which == DAYS_ALL || (c == CLS_NEW_HIRE) == (which == DAYS_NEW);
}

/* a measure and the active role-days it is over */
static void
measure(const Pool *p, int dep, Days which, Measure m, int64 *k, int64 *days)
{
	*k = *days = 0;
	for (int i = 0; i < p->n; i++)
	{
		const DepSeed *ds = &p->s[i]->dep[dep];

		for (int c = 0; c < N_CLASSES; c++)
		{
			if (!in_days(c, which))
				continue;
			*days += p->s[i]->active_days[c];
			if (m == M_ALERT_DAYS)
				*k += ds->alert_days[c];
			else if (m == M_STOP_DAYS)
				*k += ds->stop_days[c];
			else
				for (int j = 0; j < deployments[dep].nrules; j++)
					*k += ds->alerts[c][j];
		}
	}
}

static double
rate(const Pool *p, int dep, Days which, Measure m)
{
	int64		k;
	int64		days;

	measure(p, dep, which, m, &k, &days);
	return days ? 1000.0 * k / days : 0;
}

static void
print_rate_ci(const Pool *p, int dep, Days which, Measure m, const char *fmt)
{
	int64		k;
	int64		days;
	double		lo;
	double		hi;

	measure(p, dep, which, m, &k, &days);
	poisson_ci(k, &lo, &hi);
	printf(" ");
	printf(fmt, days ? 1000.0 * k / days : 0);
	printf(" [");
	printf(fmt, days ? 1000.0 * lo / days : 0);
	printf(", ");
	printf(fmt, days ? 1000.0 * hi / days : 0);
	printf("] |");
}

static bool
has_block(int dep)
{
	for (int j = 0; j < deployments[dep].nrules; j++)
		if (deployments[dep].rule[j].block)
			return true;
	return false;
}

/*
 * The >= 100x (p99) events: blocked with credit, of those how many leaked
 * no more than the blocking limit over the whole event, the worst leak /
 * limit, and the leaks of those not blocked (x the event's basis).
 */
static void
big_leaks(const Pool *p, int dep, int *blocked, int *n, int *within, double *worst)
{
	*blocked = *n = *within = 0;
	*worst = 0;
	for (int i = 0; i < p->n; i++)
	{
		const SeedResult *s = p->s[i];

		for (int e = 0; e < s->nevents; e++)
		{
			const EventResult *er = &s->res[dep][e];

			if (!f_huge(&s->ev[e], 0))
				continue;
			(*n)++;
			if (!er->blocked)
				continue;
			(*blocked)++;
			if (er->leak <= er->limit)
				(*within)++;
			*worst = Max(*worst, (double) er->leak / (double) Max(er->limit, 1));
		}
	}
}

/* hours to detection of detected events passing f: quantile q */
static double
ttd(const Pool *p, int dep, EvFilter f, int arg, double q)
{
	static double v[8 * EVENTS_TOTAL];
	int			n = 0;

	for (int i = 0; i < p->n; i++)
	{
		const SeedResult *s = p->s[i];

		for (int e = 0; e < s->nevents; e++)
			if (f(&s->ev[e], arg) && s->res[dep][e].detected)
				v[n++] = (double) (s->res[dep][e].t_detect - s->ev[e].start) / HOUR_US;
	}
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), compare_double);
	return v[Min(Max((int) ceil(q * n) - 1, 0), n - 1)];
}

static int
uncredited(const Pool *p, int dep, EvFilter f)
{
	int			n = 0;

	for (int i = 0; i < p->n; i++)
		for (int e = 0; e < p->s[i]->nevents; e++)
			if (f(&p->s[i]->ev[e], 0) && !p->s[i]->res[dep][e].detected &&
				p->s[i]->res[dep][e].uncredited > 0)
				n++;
	return n;
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

static void
print_rules(int dep)
{
	const Deployment *d = &deployments[dep];

	printf("Rules (all `role_name => NULL`%s):", d->reset_on_change ?
		   "; `reset_history` at every role change" : "");
	for (int j = 0; j < d->nrules; j++)
	{
		const Rule *r = &d->rule[j];

		if (r->src == SRC_NOVELTY)
			printf("%s %d. novelty, min_rows %lld, %s", j ? ";" : "", j + 1,
				   (long long) r->min_rows, r->block ? "block" : "log");
		else
			printf("%s %d. per %s, %s, factor %g, min_rows %lld, %s", j ? ";" : "",
				   j + 1, kind_name[r->kind], src_name[r->src], r->factor,
				   (long long) r->min_rows, r->block ? "block" : "log");
	}
	printf(".\n");
}

static void
print_pool_head(const Pool *p)
{
	int64		rd = 0;
	int64		ad = 0;
	int64		newad = 0;
	int			roles = 0;
	int			hires = 0;
	int			changes = 0;
	int			leaves = 0;
	int			adopts = 0;
	int64		stmts = 0;
	int			events = 0;
	int			stress = 0;

	for (int i = 0; i < p->n; i++)
	{
		const SeedResult *s = p->s[i];

		for (int c = 0; c < N_CLASSES; c++)
		{
			rd += s->role_days[c];
			ad += s->active_days[c];
		}
		newad += s->active_days[CLS_NEW_HIRE];
		roles += s->nroles;
		hires += s->hires_eval;
		changes += s->changes_eval;
		leaves += s->leaves_eval;
		adopts += s->adopts_eval;
		stmts += s->stmts;
		for (int e = 0; e < s->nevents; e++)
			if (s->ev[e].sizing == SIZE_P99)
				events++;
			else
				stress++;
	}
	printf("Seeds");
	for (int i = 0; i < p->n; i++)
		printf("%s %llu", i ? "," : "", (unsigned long long) p->s[i]->seed);
	printf(" pooled: %d roles at the end (%d hires, %d role changes, %d leavers, "
		   "%d legitimate first reads of a table at the base rate, in evaluation), "
		   "%lld employed role-days in evaluation of which %lld active "
		   "(%lld active role-days of new hires in their first 14 days), "
		   "%lld statements; %d exfiltrations sized on the role's p99 "
		   "(%d of each size), %d on its median day (stress).\n\n",
		   roles, hires, changes, leaves, adopts, (long long) rd, (long long) ad,
		   (long long) newad, (long long) stmts, events, events / N_SIZES, stress);
}

/* the main comparison of a pool */
static void
print_comparison(const Pool *p, const int *deps, int ndeps)
{
	printf("#### Recall by size (x the role's own p99 of the window concerned), false alerts and blocks\n\n");
	printf("Recall: share of events a rule broke on with credit, 95%% Wilson interval "
		   "in brackets.  False alerts: active role-days with at least one false break "
		   "of any rule (\"alerting role-days\") per 1,000 active role-days, 95%% "
		   "Poisson (Garwood) interval; \"others\" excludes new hires' first 14 days.  "
		   "Breaks: every false record per 1,000 active role-days.  False blocks: "
		   "active role-days on which a block rule stopped a statement, per 1,000 "
		   "(all roles).  No credit: events missed although a rule broke in their "
		   "window, because the clean run broke it there too.\n\n");
	printf("| detector | 2x | 5x | 10x | 30x | 100x | 1000x | >=10x | alerting role-days, others | new hires (first 14 days) | breaks, others | false blocks | no credit |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < ndeps; i++)
	{
		int			d = deps[i];

		printf("| %s |", deployments[d].name);
		printf(" %.0f%% |", recall(p, d, f_size, 0));
		print_recall_ci(p, d, f_size, 1);
		for (int s = 2; s < N_SIZES; s++)
			printf(" %.0f%% |", recall(p, d, f_size, s));
		print_recall_ci(p, d, f_big, 0);
		print_rate_ci(p, d, DAYS_OTHERS, M_ALERT_DAYS, "%.2f");
		print_rate_ci(p, d, DAYS_NEW, M_ALERT_DAYS, "%.1f");
		printf(" %.2f |", rate(p, d, DAYS_OTHERS, M_BREAKS));
		if (has_block(d))
			print_rate_ci(p, d, DAYS_ALL, M_STOP_DAYS, "%.3f");
		else
			printf(" – |");
		printf(" %d |\n", uncredited(p, d, f_big));
	}

	printf("\n#### Recall by shape (>= 10x p99), time to detection, blocking of >= 100x\n\n");
	printf("| detector |");
	for (int s = 0; s < N_SHAPES; s++)
		printf(" %s |", shape_name[s]);
	printf(" detection p50 | p90 | >=100x blocked | leak <= limit | worst leak / limit |\n|---|");
	for (int s = 0; s < N_SHAPES; s++)
		printf("---|");
	printf("---|---|---|---|---|\n");
	for (int i = 0; i < ndeps; i++)
	{
		int			d = deps[i];

		printf("| %s |", deployments[d].name);
		for (int s = 0; s < N_SHAPES; s++)
			printf(" %.0f%% |", recall(p, d, f_shape_big, s));
		print_ttd(ttd(p, d, f_big, 0, 0.5));
		print_ttd(ttd(p, d, f_big, 0, 0.9));
		if (has_block(d))
		{
			int			blocked;
			int			n;
			int			within;
			double		worst;

			big_leaks(p, d, &blocked, &n, &within, &worst);
			printf(" %d/%d | %d/%d | %.2f |\n", blocked, n, within, blocked, worst);
		}
		else
			printf(" – | – | – |\n");
	}
}

/* a deployment in detail: size by shape, false alerts by class and rule */
static void
print_detail(const Pool *p, int dep)
{
	const Deployment *d = &deployments[dep];
	int64		days[N_CLASSES] = {0};
	int64		ad[N_CLASSES] = {0};
	int64		br[N_CLASSES][MAX_RULES] = {{0}};
	int64		sd[N_CLASSES] = {0};

	printf("\n#### \"%s\" in detail\n\n", d->name);
	print_rules(dep);
	printf("\nDetected / injected (p99 sizing), by shape and size; blocked with credit:\n\n| shape |");
	for (int s = 0; s < N_SIZES; s++)
		printf(" %gx |", size_factor[s]);
	printf(" blocked >= 100x |\n|---|");
	for (int s = 0; s <= N_SIZES; s++)
		printf("---|");
	printf("\n");
	for (int sh = 0; sh < N_SHAPES; sh++)
	{
		int			bh = 0;
		int			bn = 0;

		printf("| %s |", shape_name[sh]);
		for (int sz = 0; sz < N_SIZES; sz++)
		{
			int			h = 0;
			int			n = 0;

			for (int i = 0; i < p->n; i++)
				for (int e = 0; e < p->s[i]->nevents; e++)
				{
					const EvMeta *m = &p->s[i]->ev[e];

					if (m->sizing != SIZE_P99 || m->shape != sh || m->size != sz)
						continue;
					n++;
					h += p->s[i]->res[dep][e].detected;
					if (sz >= 4)
					{
						bn++;
						bh += p->s[i]->res[dep][e].blocked;
					}
				}
			printf(" %d/%d |", h, n);
		}
		printf(" %d/%d |\n", bh, bn);
	}
	for (int i = 0; i < p->n; i++)
		for (int c = 0; c < N_CLASSES; c++)
		{
			days[c] += p->s[i]->active_days[c];
			ad[c] += p->s[i]->dep[dep].alert_days[c];
			sd[c] += p->s[i]->dep[dep].stop_days[c];
			for (int j = 0; j < d->nrules; j++)
				br[c][j] += p->s[i]->dep[dep].alerts[c][j];
		}
	printf("\nFalse alerts per 1,000 active role-days by role class: alerting role-days, "
		   "role-days with a statement stopped, and breaks of each rule:\n\n");
	printf("| class | active role-days | alerting | stopped |");
	for (int j = 0; j < d->nrules; j++)
		printf(" rule %d |", j + 1);
	printf("\n|---|---|---|---|");
	for (int j = 0; j < d->nrules; j++)
		printf("---|");
	printf("\n");
	for (int c = 0; c < N_CLASSES; c++)
	{
		printf("| %s | %lld | %.2f | %.3f |", class_name[c], (long long) days[c],
			   days[c] ? 1000.0 * ad[c] / days[c] : 0,
			   days[c] ? 1000.0 * sd[c] / days[c] : 0);
		for (int j = 0; j < d->nrules; j++)
			printf(" %.2f |", days[c] ? 1000.0 * br[c][j] / days[c] : 0);
		printf("\n");
	}
}

static void
print_sweeps(const Pool *p)
{
	printf("\n#### Sweep: log rules (self per hour and day x f, per 7 days x w; suite: and novelty)\n\n");
	printf("| deployment | 2x | 5x | >=10x | alerting role-days, others | new hires | breaks, others |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int d = DEP_SUITE; d < FIRST_BLOCK_SWEEP; d = d == DEP_SUITE ? FIRST_LOG_SWEEP : d + 1)
	{
		printf("| %s |", d == DEP_SUITE ? "log suite f=5 (novelty m=1000)" : deployments[d].name);
		printf(" %.0f%% |", recall(p, d, f_size, 0));
		print_recall_ci(p, d, f_size, 1);
		print_recall_ci(p, d, f_big, 0);
		print_rate_ci(p, d, DAYS_OTHERS, M_ALERT_DAYS, "%.2f");
		print_rate_ci(p, d, DAYS_NEW, M_ALERT_DAYS, "%.1f");
		printf(" %.2f |\n", rate(p, d, DAYS_OTHERS, M_BREAKS));
	}
	printf("\n#### Sweep: block rules alone (per hour / day / 7 days factors; min_rows, the cold-start limit, m an hour, 4m a day, 20m in 7 days)\n\n");
	printf("| deployment | blocked 10x | 30x | >=100x | leak <= limit | false blocks: all | new hires | others | alerting role-days, new hires |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (int d = FIRST_BLOCK_SWEEP; d < N_DEP; d++)
	{
		int			blocked;
		int			n;
		int			within;
		double		worst;
		int			h10;
		int			n10;
		int			h30;
		int			n30;

		big_leaks(p, d, &blocked, &n, &within, &worst);
		count(p, d, f_size, 2, true, &h10, &n10);
		count(p, d, f_size, 3, true, &h30, &n30);
		printf("| %s | %.0f%% | %.0f%% | %d/%d | %d/%d |", deployments[d].name,
			   n10 ? 100.0 * h10 / n10 : 0, n30 ? 100.0 * h30 / n30 : 0,
			   blocked, n, within, blocked);
		print_rate_ci(p, d, DAYS_ALL, M_STOP_DAYS, "%.3f");
		printf(" %.2f | %.3f | %.1f |\n", rate(p, d, DAYS_NEW, M_STOP_DAYS),
			   rate(p, d, DAYS_OTHERS, M_STOP_DAYS), rate(p, d, DAYS_NEW, M_ALERT_DAYS));
	}
}

static void
print_stress(const Pool *p)
{
	printf("\n#### Stress report: events sized on the role's median day (no pass/fail)\n\n");
	printf("The previous benchmark's sizing: many \"10x median\" events sit within a role's "
		   "own ordinary peaks.  Reported for the record, not against any target.\n\n");
	printf("| detector | 2x | 5x | 10x | 30x | 100x | 1000x | >=10x |\n|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < (int) lengthof(stress_deps); i++)
	{
		int			d = stress_deps[i];

		printf("| %s |", deployments[d].name);
		for (int s = 0; s < N_SIZES; s++)
			printf(" %.0f%% |", recall(p, d, f_stress_size, s));
		print_recall_ci(p, d, f_stress_big, 0);
		printf("\n");
	}
}

static const char *
mark(bool ok)
{
	return ok ? "**met**" : "not met";
}

static void
print_targets(const Pool *p, const int *deps, int ndeps)
{
	printf("\n#### Targets (p99 sizing; alerting role-days per 1,000 active role-days)\n\n");
	printf("| detector | >=10x: recall >= 99%% at <= 1 | 5x: recall >= 90%% at <= 2 | >=100x: all blocked, leak <= limit | new hires (14 days) <= 3 | false blocks <= 0.05 |\n");
	printf("|---|---|---|---|---|---|\n");
	for (int i = 0; i < ndeps; i++)
	{
		int			d = deps[i];
		double		fa = rate(p, d, DAYS_OTHERS, M_ALERT_DAYS);
		double		r10 = recall(p, d, f_big, 0);
		double		r5 = recall(p, d, f_size, 1);
		double		nh = rate(p, d, DAYS_NEW, M_ALERT_DAYS);

		printf("| %s | %s (%.1f%%, %.2f) | %s (%.1f%%, %.2f) |", deployments[d].name,
			   mark(r10 >= 99 && fa <= 1), r10, fa, mark(r5 >= 90 && fa <= 2), r5, fa);
		if (has_block(d))
		{
			int			blocked;
			int			n;
			int			within;
			double		worst;
			double		fb = rate(p, d, DAYS_ALL, M_STOP_DAYS);

			big_leaks(p, d, &blocked, &n, &within, &worst);
			printf(" %s (%d/%d, %d within) | %s (%.1f) | %s (%.3f) |\n",
				   mark(blocked == n && within == blocked), blocked, n, within,
				   mark(nh <= 3), nh, mark(fb <= 0.05), fb);
		}
		else
			printf(" not met (no block rule) | %s (%.1f) | – |\n", mark(nh <= 3), nh);
	}
}

static void
print_pool(const Pool *p)
{
	int			deps[MAX_DEP];
	int			ndeps = 0;
	int64		verified = 0;
	int64		diff = 0;

	for (int d = 0; d < N_COMPARED; d++)
		deps[ndeps++] = d;
	printf("\n### %s\n\n", p->name);
	print_pool_head(p);
	print_comparison(p, deps, ndeps);
	print_detail(p, DEP_REC);
	print_detail(p, DEP_WHATIF_REC);
	if (p->full)
		print_sweeps(p);
	print_stress(p);
	{
		int			t[] = {DEP_V1, DEP_SUITE, DEP_REC, DEP_WHATIF_REC, DEP_WHATIF_REC_PEERS};

		print_targets(p, t, lengthof(t));
	}
	for (int i = 0; i < p->n; i++)
		for (int d = 0; d < N_DEP; d++)
		{
			verified += p->s[i]->dep[d].verified;
			diff += p->s[i]->dep[d].verify_diff;
		}
	printf("\nChecks: limits of insider_guard rules recomputed at a later statement of "
		   "their window: %lld, of which %lld differed.  Seconds per seed:",
		   (long long) verified, (long long) diff);
	for (int i = 0; i < p->n; i++)
		printf(" %.0f", p->s[i]->seconds);
	printf(".\n");
}

/* ---- the command ---- */

static void
parse_range(const char *s, int *lo, int *hi)
{
	if (sscanf(s, "%d-%d", lo, hi) != 2)
		*lo = *hi = atoi(s);
}

int
main(int argc, char **argv)
{
	double		t0 = now_seconds();
	int			jobs = 2;
	bool		selftest_only = false;
	int			lo1 = 1,
				hi1 = 3,
				lo2 = 4,
				hi2 = 6;
	int			nseeds;
	uint64		seeds[16];
	bool		full[16];
	SeedResult *results[16];
	char		path[16][64];
	int			running = 0;
	int			next = 0;
	Pool		tune = {"Seeds 1-3 (the recommended deployment was chosen on these)", {0}, 0, true};
	Pool		hold = {"Seeds 4-6 (held out: reported once, used to choose nothing)", {0}, 0, false};

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
		{
			jobs = atoi(argv[++i]);
			jobs = Max(jobs, 1);
		}
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			parse_range(argv[++i], &lo1, &hi1);
		else if (strcmp(argv[i], "--holdout") == 0 && i + 1 < argc)
			parse_range(argv[++i], &lo2, &hi2);
		else if (strcmp(argv[i], "--selftest") == 0)
			lo1 = 1, hi1 = 0, lo2 = 0, selftest_only = true;
		else if (strcmp(argv[i], "--scenarios") == 0)
			lo1 = 1, hi1 = 0, lo2 = 0;
		else
		{
			fprintf(stderr, "usage: detect [--selftest | --scenarios] [--jobs N] [--seeds a-b] [--holdout c-d (0: none)]\n");
			return 2;
		}
	}
	for (int g = 0; g < N_PEER_GROUPS; g++)
		world.members[g] = palloc(MAX_ROLES * sizeof(int));
	if (engine_selftest() != 0)
		return 1;
	if (selftest_only)
		return 0;

	nseeds = 0;
	for (int s = lo1; s <= hi1 && nseeds < 8; s++)
	{
		seeds[nseeds] = s;
		full[nseeds++] = true;
	}
	for (int s = lo2; s <= hi2 && s > 0 && nseeds < 16; s++)
	{
		seeds[nseeds] = s;
		full[nseeds++] = false;
	}
	/* the long seeds first */
	for (int i = 0; i < nseeds; i++)
	{
		snprintf(path[i], sizeof(path[i]), "/tmp/ig_detect_%d_%llu.bin", (int) getpid(),
				 (unsigned long long) seeds[i]);
		results[i] = palloc(sizeof(SeedResult));
	}
	fflush(stdout);
	fflush(stderr);
	while (next < nseeds || running > 0)
	{
		if (next < nseeds && running < jobs)
		{
			pid_t		pid = fork();

			if (pid < 0)
			{
				perror("fork");
				return 1;
			}
			if (pid == 0)
			{
				FILE	   *f;

				run_seed(seeds[next], full[next], results[next]);
				f = fopen(path[next], "wb");
				if (!f || fwrite(results[next], sizeof(SeedResult), 1, f) != 1 || fclose(f) != 0)
				{
					perror(path[next]);
					_exit(1);
				}
				_exit(0);
			}
			running++;
			next++;
			continue;
		}
		{
			int			status;

			if (wait(&status) < 0)
				break;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			{
				fprintf(stderr, "a seed failed\n");
				return 1;
			}
			running--;
		}
	}
	for (int i = 0; i < nseeds; i++)
	{
		FILE	   *f = fopen(path[i], "rb");

		if (!f || fread(results[i], sizeof(SeedResult), 1, f) != 1)
		{
			perror(path[i]);
			return 1;
		}
		fclose(f);
		unlink(path[i]);
		if (full[i])
			tune.s[tune.n++] = results[i];
		else
			hold.s[hold.n++] = results[i];
	}

	if (nseeds == 0)
	{
		run_scenarios(&deployments[DEP_REC], &deployments[DEP_WHATIF_REC_PEERS]);
		return 0;
	}
	printf("## insider_guard detection benchmark\n");
	if (tune.n > 0)
		print_pool(&tune);
	if (hold.n > 0)
		print_pool(&hold);
	printf("\n### Insiders who train the baseline (scenarios)\n\n");
	run_scenarios(&deployments[DEP_REC], &deployments[DEP_WHATIF_REC_PEERS]);
	fflush(stdout);
	printf("\nWall time %.0f s (%d seeds, %d at a time).\n", now_seconds() - t0, nseeds, jobs);
	return 0;
}
