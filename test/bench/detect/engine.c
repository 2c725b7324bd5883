/*-------------------------------------------------------------------------
 *
 * engine.c
 *		Runs a deployment of rules over the statements of the organisation,
 *		as the extension enforces them.
 *
 * A rule covers one kind of history series per role: its reads of all
 * tables, or of each table, per hour or per day.  Windows are aligned to
 * UTC hours and days (the extension's windows roll; the rolling window
 * ending at an aligned window's end is that window, so a rolling window is
 * at least as strict).  For each statement, in time order:
 *
 *	- the limit of each rule is the one computed at the window's first
 *	  statement.  For insider_guard rules it comes from src/base/stats.c:
 *	  ig_limit_own on the role's series, ig_limit_peers on a pool of the
 *	  other members of its peer group (ig_pool_add, now = that statement's
 *	  time), ig_limit_combine.  History changes only when windows close,
 *	  and a pool's weights all decay by the same factor as "now" moves, so
 *	  the limit at any later statement of the window is the same; a
 *	  sample of later statements recomputes it to check (inst->verified).
 *	- block: the statement stops at the row that would exceed the limit
 *	  (it reads limit - rows already read), and every later statement of
 *	  the role on that series in the window stops on its first row.
 *	- log: one alert when the count goes from <= limit to > limit.
 *	- a break whose window holds rows of the role's exfiltration (or that
 *	  the exfiltration's own statement hits) detects it; a block also stops
 *	  the exfiltration.  Any other break is a false alert or block.
 *
 * When a window closes, each insider_guard series it touched is fed with
 * ig_hist_feed(rows, cap = ig_hist_cap(the series, the lowest limit of the
 * rules covering it, the p99 of its peers' pool), broke = one of them
 * broke in it).  z-score and spike rules keep the exact totals of every
 * past window instead.
 *
 * IDENTIFICATION
 *		test/bench/detect/engine.c
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include <math.h>

#define F_ALERTED		1
#define F_BLOCKED		2

/* recompute the limits at one later statement in this many */
#define VERIFY_EVERY	101

World		world;

static int64 verify_tick = 0;

/* ---- exact histories ---- */

void
exact_add(Exact *e, int64 v, int day)
{
	int			lo = 0;
	int			hi = e->n;

	if (e->n == e->cap)
	{
		e->cap = e->cap ? 2 * e->cap : 64;
		e->v = e->v ? repalloc(e->v, e->cap * sizeof(int64)) :
			palloc(e->cap * sizeof(int64));
	}
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (e->v[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&e->v[lo + 1], &e->v[lo], (e->n - lo) * sizeof(int64));
	e->v[lo] = v;
	e->n++;
	e->sum += (double) v;
	e->sumsq += (double) v * (double) v;
	if (day != e->last_day)
	{
		e->days++;
		e->last_day = day;
	}
}

/* nearest-rank quantile */
static int64
exact_quantile(const Exact *e, double q)
{
	int			i = (int) ceil(q * e->n) - 1;

	return e->v[Min(Max(i, 0), e->n - 1)];
}

/* the limit of a z-score or spike rule: alert above it */
static int64
exact_limit(const Exact *e, Source src)
{
	double		mean;
	double		var;
	double		limit;

	/* the same cold start as insider_guard's own history */
	if (e->n < IG_USABLE_WINDOWS || e->days < IG_USABLE_DAYS)
		return IG_NO_LIMIT;
	mean = e->sum / e->n;
	var = Max(e->sumsq / e->n - mean * mean, 0.0);
	limit = mean + 3 * sqrt(var);
	if (src == SRC_SPIKE)
	{
		double		p90 = (double) exact_quantile(e, 0.90);
		double		p25 = (double) exact_quantile(e, 0.25);

		limit = Max(limit, p90 + 2 * (p90 - p25 + 1));
	}
	return (int64) floor(limit);
}

/* ---- instances ---- */

void
inst_init(Inst *in, const Deployment *dep, int nevents)
{
	const Base *base = world.base;

	memset(in, 0, sizeof(Inst));
	in->dep = dep;
	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];

		in->uses[r->kind] = true;
		if (r->src <= SRC_BOTH)
			in->ig[r->kind] = true;
		if (r->src == SRC_Z || r->src == SRC_SPIKE)
		{
			Assert(!KIND_TABLE(r->kind));
			in->exact = true;
		}
	}
	for (int k = 0; k < N_KINDS; k++)
	{
		if (!in->uses[k])
			continue;
		in->win[k] = palloc(N_SERIES(k) * sizeof(Win));
		for (int s = 0; s < N_SERIES(k); s++)
			in->win[k][s].win = -1;
		in->touched[k] = palloc(N_SERIES(k) * sizeof(int));
		if (in->ig[k])
		{
			in->hist[k] = palloc(N_SERIES(k) * sizeof(IgHistogram));
			memcpy(in->hist[k], base->hist[k], N_SERIES(k) * sizeof(IgHistogram));
		}
	}
	if (in->exact)
		for (int k = 0; k < 2; k++)
		{
			in->ex[k] = palloc(MAX_ROLES * sizeof(Exact));
			for (int r = 0; r < MAX_ROLES; r++)
			{
				const Exact *b = &base->exact[k][r];

				in->ex[k][r] = *b;
				in->ex[k][r].v = palloc(Max(b->cap, 1) * sizeof(int64));
				memcpy(in->ex[k][r].v, b->v, b->n * sizeof(int64));
				in->ex[k][r].cap = Max(b->cap, 1);
			}
		}
	in->ev = palloc0(Max(nevents, 1) * sizeof(EventResult));
}

void
inst_free(Inst *in)
{
	for (int k = 0; k < N_KINDS; k++)
	{
		if (in->win[k])
			pfree(in->win[k]);
		if (in->touched[k])
			pfree(in->touched[k]);
		if (in->hist[k])
			pfree(in->hist[k]);
	}
	if (in->exact)
		for (int k = 0; k < 2; k++)
		{
			for (int r = 0; r < MAX_ROLES; r++)
				pfree(in->ex[k][r].v);
			pfree(in->ex[k]);
		}
	pfree(in->ev);
}

/*
 * The pool of the role's peers for a series: the other members of its
 * peer group, their series of the same kind (and table), at "now".
 */
static void
build_pool(Inst *in, Kind k, const Ctx *c, int slot, int64 now, IgHistPool *pool)
{
	const Org  *org = world.org;
	int			table = KIND_TABLE(k) ? org->roles[c->role].slot_table[slot] : -1;

	ig_pool_init(pool);
	in->pools++;
	for (int i = 0; i < world.nmembers[c->group]; i++)
	{
		int			m = world.members[c->group][i];
		int			ms = 0;

		if (m == c->role)
			continue;
		if (table >= 0 && (ms = org->slot_of[m][table]) < 0)
			continue;
		ig_pool_add(pool, &in->hist[k][SERIES(k, m, ms)], now);
	}
}

/*
 * The limits of the rules of kind k for a series, at time t, and the p99
 * of the peers' pool if it was needed (-1 if not, or too few peers).
 */
static void
compute_limits(Inst *in, Kind k, const Ctx *c, int slot, int64 t, int64 *limit,
			   int64 *peer_high)
{
	const Deployment *dep = in->dep;
	int			sidx = SERIES(k, c->role, slot);
	IgHistPool	pool;
	bool		have_pool = false;

	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];
		int64		own = IG_NO_LIMIT;
		int64		peers = IG_NO_LIMIT;

		if (r->kind != k)
			continue;
		switch (r->src)
		{
			case SRC_SELF:
			case SRC_PEERS:
			case SRC_BOTH:
				if (r->src != SRC_PEERS)
					own = ig_limit_own(&in->hist[k][sidx], r->factor, r->min_rows);
				/* "self" needs the peers only without usable own history */
				if (r->src != SRC_SELF || own < 0)
				{
					if (!have_pool)
					{
						build_pool(in, k, c, slot, t, &pool);
						if (pool.members >= IG_PEERS_NEEDED)
							*peer_high = (int64) ig_pool_quantile(&pool, IG_HIGH_QUANTILE);
					}
					have_pool = true;
					peers = ig_limit_peers(&pool, r->factor, r->min_rows);
				}
				limit[j] = ig_limit_combine(r->src == SRC_SELF ? IG_COMPARE_SELF :
											r->src == SRC_PEERS ? IG_COMPARE_PEERS :
											IG_COMPARE_BOTH, own, peers);
				break;
			case SRC_FIXED:
				limit[j] = (int64) (r->factor *
									(double) world.base->group_max[k][c->group]);
				break;
			case SRC_Z:
			case SRC_SPIKE:
				limit[j] = exact_limit(&in->ex[k][sidx], r->src);
				break;
			case SRC_ORACLE:
				{
					const Role *ro = &world.org->roles[c->role];

					limit[j] = world.base->oracle[k][c->role]
						[ro->change_day >= 0 && c->day >= ro->change_day ? 1 : 0];
				}
				break;
		}
	}
}

static bool
uses_peers(const Inst *in, Kind k)
{
	for (int j = 0; j < in->dep->nrules; j++)
		if (in->dep->rule[j].kind == k && in->dep->rule[j].src <= SRC_BOTH)
			return true;
	return false;
}

/* the role's window of a series at statement time t, opened if need be */
static Win *
open_win(Inst *in, Kind k, const Ctx *c, int slot, int64 t)
{
	int			sidx = SERIES(k, c->role, slot);
	int32		id = KIND_HOURLY(k) ? c->hour : c->day;
	Win		   *w = &in->win[k][sidx];

	if (w->win == id)
	{
		/* check that the limits have not moved since the window opened */
		if (uses_peers(in, k) && ++verify_tick % VERIFY_EVERY == 0)
		{
			int64		again[MAX_RULES];
			int64		again_high = -1;

			compute_limits(in, k, c, slot, t, again, &again_high);
			in->verified++;
			for (int j = 0; j < in->dep->nrules; j++)
				if (in->dep->rule[j].kind == k && again[j] != w->limit[j])
					in->verify_diff++;
		}
		return w;
	}
	w->win = id;
	w->rows = 0;
	w->exfil = 0;
	memset(w->flags, 0, sizeof(w->flags));
	for (int j = 0; j < MAX_RULES; j++)
		w->limit[j] = IG_NO_LIMIT;
	w->peer_high = -1;
	compute_limits(in, k, c, slot, t, w->limit, &w->peer_high);
	in->touched[k][in->ntouched[k]++] = sidx;
	return w;
}

/*
 * A rule broke (fresh: a new record, not a statement stopped on its first
 * row after a block): a detection if the window holds exfiltrated rows or
 * the statement is the exfiltration's, else a false alert or block.
 */
static void
record_break(Inst *in, const Ctx *c, int rule, const Stmt *s, const Win *w,
			 bool block, int64 limit, bool fresh)
{
	if (c->event >= 0 && (w->exfil > 0 || s->event >= 0))
	{
		EventResult *er = &in->ev[c->event];

		if (!er->detected)
		{
			er->detected = true;
			er->t_detect = s->t;
			er->limit = limit;
		}
		if (block && !er->blocked)
		{
			er->blocked = true;
			er->limit = limit;
			er->leak = er->read;
		}
		return;
	}
	if (fresh)
		in->alerts[c->cls][rule]++;
}

static void
inst_stmt(Inst *in, const Ctx *c, const Stmt *s)
{
	const Deployment *dep = in->dep;
	Win		   *w[N_KINDS] = {0};
	int64		before[N_KINDS] = {0};
	int64		allow = s->rows;
	bool		already = false;
	bool		stopped = false;

	/* a blocked insider stops */
	if (s->event >= 0 && in->ev[s->event].blocked)
		return;
	for (int k = 0; k < N_KINDS; k++)
		if (in->uses[k])
			w[k] = open_win(in, k, c, s->slot, s->t);
	if (s->event >= 0 && !in->ev[s->event].started)
	{
		in->ev[s->event].started = true;
		for (int j = 0; j < dep->nrules; j++)
			in->ev[s->event].limit0[j] = w[dep->rule[j].kind]->limit[j];
	}

	/* block rules: read up to the smallest headroom */
	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];
		const Win  *rw = w[r->kind];

		if (!r->block)
			continue;
		if (rw->flags[j] & F_BLOCKED)
		{
			already = true;
			/* an exfiltration stopped on its first row is blocked too */
			if (s->event >= 0)
				record_break(in, c, j, s, rw, true, rw->limit[j], false);
		}
		else if (rw->limit[j] >= 0)
			allow = Min(allow, Max(rw->limit[j] - rw->rows, 0));
	}
	if (already)
	{
		allow = 0;
		in->blocked_stmts[c->cls]++;
	}
	for (int k = 0; k < N_KINDS; k++)
		if (w[k])
		{
			before[k] = w[k]->rows;
			w[k]->rows += allow;
			if (s->event >= 0)
				w[k]->exfil += allow;
		}
	if (s->event >= 0)
		in->ev[s->event].read += allow;

	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];
		Win		   *rw = w[r->kind];
		int64		limit = rw->limit[j];

		if (limit < 0)
			continue;
		if (r->block)
		{
			/* stopped by this rule: its headroom was the smallest */
			if (!already && allow < s->rows && limit - before[r->kind] == allow)
			{
				rw->flags[j] |= F_BLOCKED;
				if (!stopped)
					in->blocked_stmts[c->cls]++;
				stopped = true;
				record_break(in, c, j, s, rw, true, limit, true);
			}
		}
		else if (!(rw->flags[j] & F_ALERTED) &&
				 before[r->kind] <= limit && rw->rows > limit)
		{
			rw->flags[j] |= F_ALERTED;
			record_break(in, c, j, s, rw, false, limit, true);
		}
	}
}

/*
 * A new day: with reset_on_change, roles that change job today start
 * their own history afresh (as insider_guard.reset_history(role), called
 * by the DBA who moves the role to its new peer group, does), so that
 * "self" falls back to the new peers until it is usable again.
 */
void
inst_day_start(Inst *in, int day)
{
	const Org  *org = world.org;

	if (!in->dep->reset_on_change)
		return;
	for (int r = 0; r < org->nroles; r++)
	{
		if (org->roles[r].change_day != day)
			continue;
		for (int k = 0; k < N_KINDS; k++)
		{
			if (!in->ig[k])
				continue;
			for (int s = 0; s < (KIND_TABLE(k) ? MAX_SLOTS : 1); s++)
				ig_hist_init(&in->hist[k][SERIES(k, r, s)]);
		}
	}
}

/* the statements of one role in one hour, in time order */
void
inst_role_hour(Inst *in, const Ctx *c, const Stmt *stmts, int n)
{
	for (int i = 0; i < n; i++)
		inst_stmt(in, c, &stmts[i]);
}

/*
 * Closes the hourly (or daily) windows that ended at window_end, feeding
 * the history of the series they touched.
 */
void
inst_close(Inst *in, bool hourly, int64 window_end, int day)
{
	const Deployment *dep = in->dep;

	for (int k = 0; k < N_KINDS; k++)
	{
		if (!in->uses[k] || KIND_HOURLY(k) != hourly)
			continue;
		for (int i = 0; i < in->ntouched[k]; i++)
		{
			int			sidx = in->touched[k][i];
			Win		   *w = &in->win[k][sidx];

			if (w->rows <= 0)
				continue;
			if (in->ig[k])
			{
				int64		cap = IG_NO_LIMIT;
				bool		broke = false;

				for (int j = 0; j < dep->nrules; j++)
				{
					if (dep->rule[j].kind != k || dep->rule[j].src > SRC_BOTH)
						continue;
					if (w->limit[j] >= 0)
						cap = cap < 0 ? w->limit[j] : Min(cap, w->limit[j]);
					broke |= w->flags[j] != 0;
				}
				/*
				 * as the extension caps it: a bin above the p99 the limit
				 * comes from at most (the own, or before it is usable the
				 * peers')
				 */
				cap = ig_hist_cap(&in->hist[k][sidx], cap, w->peer_high);
				ig_hist_feed(&in->hist[k][sidx], window_end, (uint64) w->rows,
							 cap, broke);
			}
			if (in->exact && k < 2)
				exact_add(&in->ex[k][sidx], w->rows, day);
		}
		in->ntouched[k] = 0;
	}
}
