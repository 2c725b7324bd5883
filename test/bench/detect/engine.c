/*-------------------------------------------------------------------------
 *
 * engine.c
 *		Runs a deployment of rules over the statements of the organisation,
 *		as the extension enforces them.
 *
 * A rule covers one kind of history series per role: its reads of all
 * tables, or of each table, per hour or per day, or of all tables per 7
 * days.  Hour and day windows are aligned to UTC hours and days (the
 * extension's windows roll; the rolling window ending at an aligned
 * window's end is that window, so a rolling window is at least as
 * strict).  The 7-day window is, as SPEC says, a rolling sum of daily
 * windows: today's count plus the previous 6 days' totals.  For each
 * statement, in time order:
 *
 *	- the limit of each rule is the one computed at the window's first
 *	  statement.  For insider_guard rules it comes from src/base/stats.c as
 *	  src/cache/baseline.c computes it: the own p99 and the peers' p99 (a
 *	  pool of the other members of its peer group of 14 days or more,
 *	  ig_pool_add, now = that statement's time; none if the role's own
 *	  membership is younger than 14 days) as far as they may have risen
 *	  (ig_rise_high), ig_limit_of, ig_limit_combine; what they came from is
 *	  then noted in force (ig_rise_take_as_of, ig_rise_floor).  A block rule with neither side usable applies its
 *	  cold-start limit, min_rows, as src/cache/baseline.c does.  History
 *	  changes only when windows close, and a pool's weights all decay by
 *	  the same factor as "now" moves, so the limit at any later statement
 *	  of the window is the same; a sample of later statements recomputes
 *	  it to check (inst->verified).
 *	- the novelty rule's limit, per (role, table, day): none if the role's
 *	  own series of that table hold windows on 3 days or more, or if a
 *	  member (of 14 days or more) of its peer group (joined 14 days ago or
 *	  more) has a usable series of it; else max(min_rows, the role's own
 *	  hourly p50 of all tables, once that history is usable).
 *	- block: the statement stops at the row that would exceed the limit
 *	  (it reads limit - rows already read), and every later statement of
 *	  the role on that series in the window stops on its first row.  A
 *	  7-day block stays in force, without a new record, while the rolling
 *	  sum at the start of a day is still above that day's limit.
 *	- log: one alert when the count goes from <= limit to > limit; per 7
 *	  days, once per incident: a crossing within 7 days of the one before
 *	  is a repeat (src/exec/enforce.c, record_crossing), and while the
 *	  rolling sum at the start of a day stays above the limit there is no
 *	  crossing.
 *	- a break whose window holds rows of the role's exfiltration (or that
 *	  the exfiltration's own statement hits) detects it -- unless the
 *	  clean run, without the exfiltration, broke the same rule in the same
 *	  window, when it is no credit -- and a block also stops it.  Any
 *	  other break is a false alert or block.
 *
 * When a window closes, each insider_guard series it touched is fed with
 * ig_hist_feed(rows, cap = ig_hist_cap(the series, the lowest limit of the
 * baseline rules covering it, the peers' p99 in force), broke = one of
 * them broke in it).  The 7-day series of every role is fed at each day's
 * close with the 7-day total ending that day, if it is above 0.
 * z-score and spike rules keep the exact totals of every past window
 * instead.
 *
 * IDENTIFICATION
 *		test/bench/detect/engine.c
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include <math.h>

/* a table the role's own series hold on this many days is not new
 * (IG_NOVELTY_KNOWN_DAYS, src/cache/rules.h) */
#define NOVELTY_KNOWN_DAYS	3

#define F_ALERTED		1
#define F_BLOCKED		2

/* recompute the limits at one later statement in this many */
#define VERIFY_EVERY	101

World		world;

static int64 verify_tick = 0;

/* ---- the (rule, window) breaks of the clean run ---- */

static uint64
key_hash(uint64 k)
{
	return mix64(k);
}

void
keyset_add(KeySet *ks, uint64 key)
{
	uint64		i;

	if (ks->n * 2 >= ks->cap)
	{
		KeySet		grown = {palloc0(Max(ks->cap * 2, 1024) * sizeof(uint64)),
		Max(ks->cap * 2, 1024), 0};

		for (int j = 0; j < ks->cap; j++)
			if (ks->keys[j])
				keyset_add(&grown, ks->keys[j]);
		if (ks->keys)
			pfree(ks->keys);
		*ks = grown;
	}
	for (i = key_hash(key) & (ks->cap - 1); ks->keys[i]; i = (i + 1) & (ks->cap - 1))
		if (ks->keys[i] == key)
			return;
	ks->keys[i] = key;
	ks->n++;
}

bool
keyset_has(const KeySet *ks, uint64 key)
{
	if (ks->cap == 0)
		return false;
	for (uint64 i = key_hash(key) & (ks->cap - 1); ks->keys[i]; i = (i + 1) & (ks->cap - 1))
		if (ks->keys[i] == key)
			return true;
	return false;
}

/* a rule's window of a role: hour, or day for daily and 7-day rules */
uint64
break_key(int role, int rule, int slot, int32 win)
{
	return ((((uint64) role * MAX_RULES + rule) * MAX_SLOTS + slot) << 13 | (uint64) win) + 1;
}

/* ---- memberships ---- */

/* a member whose membership is younger than 14 days is nobody's peer */
static bool
young_member(int role, int day)
{
	return day - membership_since(world.org, role, day) < YOUNG_MEMBERSHIP_DAYS;
}

/* ---- exact histories ---- */

void
exact_add(Exact *e, int64 v, int day)
{
	int			lo = 0;
	int			hi = e->n;
	double		l = log1p((double) v);

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
	e->sum += l;
	e->sumsq += l * l;
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

/*
 * The limit of a z-score or spike rule: alert above it.  z: log(1 + rows)
 * more than 3 sd above the mean of the role's past windows' log(1 +
 * rows).  Spike (Sentinel's): that, and (x - p95) / (p95 - p25 + 1) > 2.
 */
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
	limit = expm1(Min(mean + 3 * sqrt(var), 60.0));
	if (src == SRC_SPIKE)
	{
		double		p95 = (double) exact_quantile(e, 0.95);
		double		p25 = (double) exact_quantile(e, 0.25);

		limit = Max(limit, p95 + 2 * (p95 - p25 + 1));
	}
	return (int64) Min(floor(limit), 1e18);
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
		if (SRC_IG(r->src))
			in->ig[r->kind] = true;
		if (r->src == SRC_NOVELTY)
		{
			Assert(r->kind == K_DAY_TABLE);
			in->novelty = true;
			/*
			 * its own hourly p50, and whether a table was read: the role's
			 * hourly and daily series of each table
			 */
			in->uses[K_HOUR_ALL] = in->ig[K_HOUR_ALL] = true;
			in->uses[K_HOUR_TABLE] = in->ig[K_HOUR_TABLE] = true;
			in->ig[K_DAY_TABLE] = true;
		}
		if (r->src == SRC_Z || r->src == SRC_SPIKE)
		{
			Assert(r->kind == K_HOUR_ALL || r->kind == K_DAY_ALL);
			in->exact = true;
		}
	}
	for (int k = 0; k < N_KINDS; k++)
	{
		if (!in->uses[k])
			continue;
		in->win[k] = palloc0(N_SERIES(k) * sizeof(Win));
		for (int s = 0; s < N_SERIES(k); s++)
		{
			in->win[k][s].win = -1;
			in->win[k][s].peer_high = -1;
			for (int j = 0; j < MAX_RULES; j++)
				in->win[k][s].limit[j] = IG_NO_LIMIT;
		}
		in->touched[k] = palloc(N_SERIES(k) * sizeof(int));
		if (in->ig[k])
		{
			in->hist[k] = palloc(N_SERIES(k) * sizeof(IgHistogram));
			memcpy(in->hist[k], base->hist[k], N_SERIES(k) * sizeof(IgHistogram));
		}
	}
	if (in->uses[K_WEEK_ALL])
	{
		in->week_rows = palloc(MAX_ROLES * sizeof(*in->week_rows));
		memcpy(in->week_rows, base->week_ring, MAX_ROLES * sizeof(*in->week_rows));
		in->week_exfil = palloc0(MAX_ROLES * sizeof(*in->week_exfil));
		in->incident = palloc0(MAX_ROLES * sizeof(*in->incident));
		in->last_cross = palloc0(MAX_ROLES * sizeof(*in->last_cross));
	}
	if (in->novelty)
		in->known = palloc0(N_PEER_GROUPS * sizeof(*in->known));
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
	in->day_flags = palloc0(MAX_ROLES * EVAL_DAYS);
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
	if (in->week_rows)
	{
		pfree(in->week_rows);
		pfree(in->week_exfil);
		pfree(in->incident);
		pfree(in->last_cross);
	}
	if (in->known)
		pfree(in->known);
	for (int k = 0; k < N_KINDS; k++)
		if (in->group_pool[k])
			pfree(in->group_pool[k]);
	if (in->exact)
		for (int k = 0; k < 2; k++)
		{
			for (int r = 0; r < MAX_ROLES; r++)
				pfree(in->ex[k][r].v);
			pfree(in->ex[k]);
		}
	pfree(in->day_flags);
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

		if (m == c->role || young_member(m, c->day))
			continue;
		if (table >= 0 && (ms = org->slot_of[m][table]) < 0)
			continue;
		ig_pool_add(pool, &in->hist[k][SERIES(k, m, ms)], now);
	}
}

/*
 * The same, as src/cache/baseline.c gets it for all-tables series: the
 * pool of the whole group (the role included), made once while no series
 * of the kind was fed and no membership changed, less the role's own
 * series (ig_pool_remove at the instant the pool was brought to).
 */
static void
peer_pool(Inst *in, Kind k, const Ctx *c, int slot, int64 now, IgHistPool *pool)
{
	GroupPool  *gp;

	if (KIND_TABLE(k))
	{
		build_pool(in, k, c, slot, now, pool);
		return;
	}
	if (in->group_pool[k] == NULL)
		in->group_pool[k] = palloc0(N_PEER_GROUPS * sizeof(GroupPool));
	gp = &in->group_pool[k][c->group];
	if (!gp->valid || gp->gen != in->gen[k])
	{
		ig_pool_init(&gp->pool);
		in->pools++;
		for (int i = 0; i < world.nmembers[c->group]; i++)
		{
			int			m = world.members[c->group][i];

			if (!young_member(m, c->day))
				ig_pool_add(&gp->pool, &in->hist[k][m], now);
		}
		gp->valid = true;
		gp->gen = in->gen[k];
		gp->at = now;
	}
	*pool = gp->pool;
	/* the role itself is in it unless it is young */
	if (!c->young)
		ig_pool_remove(pool, &in->hist[k][c->role], gp->at);
}

/*
 * The limits of the rules of kind k for a series, at time t, and the
 * peers' p99 in force if it was needed (-1 if not, or unusable), as
 * ig_baseline_compute (src/cache/baseline.c) computes them: each side as
 * far as it may have risen (ig_rise_high; a "both" rule's peer side and
 * any own side held by the other side's notes while theirs noted
 * nothing), and then what the limits came from noted in force in the
 * role's series (ig_rise_take), with a cold start's p99 (min_rows /
 * factor, ig_rise_floor).  "verify": recomputing at a later statement,
 * noting nothing.
 */
static void
compute_limits(Inst *in, Kind k, const Ctx *c, int slot, int64 t, int64 *limit,
			   int64 *peer_high, bool verify)
{
	const Deployment *dep = in->dep;
	int			sidx = SERIES(k, c->role, slot);
	IgHistogram *own_hist = in->ig[k] ? &in->hist[k][sidx] : NULL;
	bool		rise = dep->rise != RISE_NONE;
	IgHistPool	pool;
	bool		have_pool = false;
	uint64		own_raw = 0;
	bool		own_used = false;
	int64		peer_raw = -1;
	bool		peers_used = false;
	bool		peers_fallback = false;
	uint64		floor_high = 0;

	if (own_hist && ig_hist_usable(own_hist))
		own_raw = ig_hist_quantile(own_hist, IG_HIGH_QUANTILE);
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
				if (r->src != SRC_PEERS && own_raw > 0)
				{
					own = ig_limit_of(rise ? ig_rise_high(own_hist, IG_RISE_OWN, own_raw, t, true) :
									  own_raw, r->factor, r->min_rows);
					own_used = true;
				}

				/*
				 * "self" needs the peers only without usable own history; a
				 * membership younger than 14 days gives no peer limit (the
				 * what-if: unless the own side is unusable)
				 */
				if ((r->src != SRC_SELF || own < 0) &&
					(!c->young || (dep->young_fallback != YF_NONE && own < 0)))
				{
					bool		fallback = r->src == SRC_BOTH;

					if (!have_pool)
					{
						/* a check builds the pool afresh, at its own "now" */
						if (verify)
							build_pool(in, k, c, slot, t, &pool);
						else
							peer_pool(in, k, c, slot, t, &pool);
						if (pool.members >= IG_PEERS_NEEDED)
							peer_raw = (int64) ig_pool_quantile(&pool, IG_HIGH_QUANTILE);
						have_pool = true;
					}
					if (peer_raw >= 0)
					{
						uint64		high = rise ?
							ig_rise_high(own_hist, IG_RISE_PEERS, (uint64) peer_raw, t, fallback) :
							(uint64) peer_raw;

						peers = ig_limit_of(high, r->factor, r->min_rows);
						peers_used = true;
						peers_fallback |= fallback;
						*peer_high = Max(*peer_high, (int64) high);
					}
				}
				limit[j] = ig_limit_combine(r->src == SRC_SELF ? IG_COMPARE_SELF :
											r->src == SRC_PEERS ? IG_COMPARE_PEERS :
											IG_COMPARE_BOTH, own, peers);
				/* a block rule's cold-start limit, and the p99 it stands for */
				if (limit[j] < 0 && r->block)
				{
					uint64		stands_for = (uint64) Max(floor(r->min_rows / r->factor), 1);

					limit[j] = r->min_rows;
					if (floor_high == 0 || stands_for < floor_high)
						floor_high = stands_for;
				}
				/* the what-if: a young group's limit never above it */
				else if (c->young && r->block && dep->young_fallback == YF_CAPPED &&
						 own < 0)
					limit[j] = Min(limit[j], r->min_rows);
				break;
			case SRC_NOVELTY:
				{
					/*
					 * new to the role (its series of the table, hourly or
					 * daily, hold windows on fewer than 3 days) and to every
					 * peer of a membership of 14 days or more (members of 14
					 * days or more, whose series of it is not usable); the
					 * own hourly p50 counts once that history is usable
					 */
					int			table = world.org->roles[c->role].slot_table[slot];
					const IgHistogram *hour_all = &in->hist[K_HOUR_ALL][c->role];
					bool		known = in->hist[K_DAY_TABLE][sidx].days >= NOVELTY_KNOWN_DAYS ||
						in->hist[K_HOUR_TABLE][sidx].days >= NOVELTY_KNOWN_DAYS ||
						(!c->young && in->known[c->group][table]);

					limit[j] = known ? IG_NO_LIMIT :
						Max(r->min_rows,
							ig_hist_usable(hour_all) ?
							(int64) ig_hist_quantile(hour_all, IG_TYPICAL_QUANTILE) : 0);
				}
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
	/* what the limits came from, noted in force in the role's series */
	if (own_hist && rise && !verify)
	{
		/* as the rise stood when they were computed (as baseline.c does) */
		IgRise		before = own_hist->rise;

		ig_rise_take_as_of(own_hist, &before, IG_RISE_OWN,
						   own_used ? own_raw : 0, t, true);
		if (peers_used)
			ig_rise_take_as_of(own_hist, &before, IG_RISE_PEERS,
							   (uint64) peer_raw, t, peers_fallback);
		ig_rise_floor(own_hist, floor_high, t);
	}
}

static bool
uses_peers(const Inst *in, Kind k)
{
	for (int j = 0; j < in->dep->nrules; j++)
		if (in->dep->rule[j].kind == k && SRC_IG(in->dep->rule[j].src))
			return true;
	return false;
}

static void
flag_day(Inst *in, const Ctx *c, uint8 flag)
{
	if (c->day >= WARMUP_DAYS && c->day < SIM_DAYS)
		in->day_flags[c->role * EVAL_DAYS + c->day - WARMUP_DAYS] |= flag;
}

/* the role's window of a series at statement time t, opened if need be */
static Win *
open_win(Inst *in, Kind k, const Ctx *c, int slot, int64 t)
{
	const Deployment *dep = in->dep;
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

			compute_limits(in, k, c, slot, t, again, &again_high, true);
			in->verified++;
			for (int j = 0; j < dep->nrules; j++)
				if (dep->rule[j].kind == k && again[j] != w->limit[j])
					in->verify_diff++;
		}
		return w;
	}
	w->win = id;
	w->rows = 0;
	w->exfil = 0;
	w->today = 0;
	w->exfil_today = 0;
	memset(w->flags, 0, sizeof(w->flags));
	for (int j = 0; j < MAX_RULES; j++)
		w->limit[j] = IG_NO_LIMIT;
	w->peer_high = -1;
	if (k == K_WEEK_ALL)
	{
		/* the previous 6 days' totals (slot day % 7 holds day - 7's) */
		for (int i = 0; i < 7; i++)
			if (i != c->day % 7)
			{
				w->rows += in->week_rows[c->role][i];
				w->exfil += in->week_exfil[c->role][i];
			}
	}
	compute_limits(in, k, c, slot, t, w->limit, &w->peer_high, false);
	if (k == K_WEEK_ALL)
		for (int j = 0; j < dep->nrules; j++)
		{
			if (dep->rule[j].kind != k || !in->incident[c->role][j])
				continue;
			if (w->limit[j] >= 0 && w->rows > w->limit[j])
			{
				/* the incident goes on: no new record, a block holds */
				w->flags[j] |= dep->rule[j].block ? F_BLOCKED : F_ALERTED;
				if (in->record && in->watch[c->role])
					keyset_add(in->record, break_key(c->role, j, 0, id));
			}
			else
				in->incident[c->role][j] = 0;
		}
	in->touched[k][in->ntouched[k]++] = sidx;
	return w;
}

/*
 * The room a rule leaves a role's window of kind k at time t (opening the
 * window): its limit less what the window holds; -1 if it has no limit.
 */
int64
inst_headroom(Inst *in, Kind k, const Ctx *c, int slot, int64 t, int rule)
{
	Win		   *w = open_win(in, k, c, slot, t);

	if (w->limit[rule] < 0)
		return -1;
	if (w->flags[rule] & F_BLOCKED)
		return 0;
	return Max(w->limit[rule] - w->rows, 0);
}

/*
 * A rule broke (fresh: a new record, not a statement stopped on its first
 * row after a block): a detection if the window holds exfiltrated rows or
 * the statement is the exfiltration's -- credited unless the clean run
 * broke the same rule in the same window -- else a false alert or block.
 */
static void
record_break(Inst *in, const Ctx *c, int rule, const Stmt *s, const Win *w,
			 bool block, int64 limit, bool fresh)
{
	Kind		k = in->dep->rule[rule].kind;
	uint64		key = break_key(c->role, rule, KIND_TABLE(k) ? s->slot : 0, w->win);

	if (in->record && in->watch[c->role])
		keyset_add(in->record, key);
	if (c->event >= 0 && (w->exfil > 0 || s->event >= 0))
	{
		EventResult *er = &in->ev[c->event];
		bool		credited = !(in->clean && keyset_has(in->clean, key));

		if (block && !er->stopped)
		{
			er->stopped = true;
			er->leak = er->read;
			er->limit = limit;
		}
		if (!credited)
		{
			if (fresh)
				er->uncredited++;
			return;
		}
		if (!er->detected)
		{
			er->detected = true;
			er->t_detect = s->t;
			er->rule = (int8) rule;
			if (!er->stopped)
				er->limit = limit;
		}
		if (block)
			er->blocked = true;
		return;
	}
	if (fresh)
	{
		in->alerts[c->cls][rule]++;
		flag_day(in, c, DF_ALERT | (block ? DF_BLOCK : 0));
	}
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
	if (s->event >= 0 && in->ev[s->event].stopped)
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
		if (s->event < 0)
			flag_day(in, c, DF_STOPPED);
	}
	for (int k = 0; k < N_KINDS; k++)
		if (w[k])
		{
			before[k] = w[k]->rows;
			w[k]->rows += allow;
			w[k]->today += allow;
			if (s->event >= 0)
			{
				w[k]->exfil += allow;
				w[k]->exfil_today += allow;
			}
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
				{
					in->blocked_stmts[c->cls]++;
					if (s->event < 0)
						flag_day(in, c, DF_STOPPED);
				}
				stopped = true;
				if (r->kind == K_WEEK_ALL)
					in->incident[c->role][j] = 1;
				record_break(in, c, j, s, rw, true, limit, true);
			}
		}
		else if (!(rw->flags[j] & F_ALERTED) &&
				 before[r->kind] <= limit && rw->rows > limit)
		{
			rw->flags[j] |= F_ALERTED;
			if (r->kind == K_WEEK_ALL)
			{
				int64		last = in->last_cross[c->role][j];

				/*
				 * as the server: a crossing within 7 days of the one
				 * before is a repeat of its incident, no new record
				 */
				in->incident[c->role][j] = 1;
				in->last_cross[c->role][j] = s->t;
				if (last != 0 && s->t - last <= 7 * 24 * HOUR_US)
					continue;
			}
			record_break(in, c, j, s, rw, false, limit, true);
		}
	}
}

/*
 * A new day: with reset_on_change, roles that change job today start
 * their own history afresh (as insider_guard.reset_history(role), called
 * by the DBA who moves the role to its new peer group, does), so that
 * "self" falls back to the new peers until it is usable again.  With a
 * novelty rule: the tables each group's members of 14 days or more have
 * read, as usable history (taken once a day).
 */
void
inst_day_start(Inst *in, int day)
{
	const Org  *org = world.org;

	/* memberships may have changed */
	for (int k = 0; k < N_KINDS; k++)
		in->gen[k]++;
	if (in->dep->reset_on_change)
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
	if (in->novelty)
	{
		memset(in->known, 0, N_PEER_GROUPS * sizeof(*in->known));
		for (int g = 0; g < N_PEER_GROUPS; g++)
			for (int i = 0; i < world.nmembers[g]; i++)
			{
				int			m = world.members[g][i];
				const Role *ro = &org->roles[m];

				if (young_member(m, day))
					continue;
				for (int s = 0; s < ro->nslots; s++)
					if (ig_hist_usable(&in->hist[K_DAY_TABLE][SERIES(K_DAY_TABLE, m, s)]) ||
						ig_hist_usable(&in->hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, m, s)]))
						in->known[g][ro->slot_table[s]] = true;
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
 * Feeds a window's total to a series, as the extension does: a window that
 * broke a baseline or novelty rule adds nothing, and none adds more than
 * the lowest limit in force, nor a bin above the p99 it came from.  (A
 * novelty rule is a daily one: it leaves the role's hourly series of the
 * table to be fed, src/shmem/counter_rings.c feeding each kind with its
 * own "broke".)
 */
static void
feed(Inst *in, Kind k, int sidx, const Win *w, int64 rows, int64 window_end)
{
	const Deployment *dep = in->dep;
	int64		cap = IG_NO_LIMIT;
	bool		broke = false;

	for (int j = 0; j < dep->nrules; j++)
	{
		const Rule *r = &dep->rule[j];

		if (r->kind != k || !(SRC_IG(r->src) || r->src == SRC_NOVELTY))
			continue;
		if (w->limit[j] >= 0)
			cap = cap < 0 ? w->limit[j] : Min(cap, w->limit[j]);
		broke |= w->flags[j] != 0;
	}

	/*
	 * as the extension caps it: a bin above the p99 the limit comes from at
	 * most (the own, or before it is usable the peers')
	 */
	cap = ig_hist_cap(&in->hist[k][sidx], cap, w->peer_high, window_end);
	ig_hist_feed(&in->hist[k][sidx], window_end, (uint64) rows, cap, broke);
}

/*
 * Closes the hourly (or daily and 7-day) windows that ended at
 * window_end, feeding the history of the series they touched.
 */
void
inst_close(Inst *in, bool hourly, int64 window_end, int day)
{
	const Deployment *dep = in->dep;

	for (int k = 0; k < N_KINDS; k++)
	{
		if (!in->uses[k] || KIND_HOURLY(k) != hourly)
			continue;
		in->gen[k]++;
		for (int i = 0; i < in->ntouched[k]; i++)
		{
			int			sidx = in->touched[k][i];
			Win		   *w = &in->win[k][sidx];

			if (k == K_WEEK_ALL)
			{
				in->week_rows[sidx][day % 7] = w->today;
				in->week_exfil[sidx][day % 7] = w->exfil_today;
			}
			if (w->rows <= 0)
				continue;
			if (in->ig[k])
				feed(in, k, sidx, w, w->rows, window_end);
			if (in->exact && k < 2)
				exact_add(&in->ex[k][sidx], w->rows, day);
		}
		in->ntouched[k] = 0;

		/*
		 * 7 days: a role that read nothing today closes no 7-day window
		 * (as the server: a total is taken at the end of a day the role
		 * read); a rolling sum at or below the limit of an open incident
		 * ends it
		 */
		if (k == K_WEEK_ALL)
			for (int r = 0; r < world.org->nroles; r++)
			{
				Win		   *w = &in->win[k][r];
				int64		total = 0;

				if (w->win == day || !role_employed(world.org, r, day))
					continue;
				in->week_rows[r][day % 7] = 0;
				in->week_exfil[r][day % 7] = 0;
				for (int d = 0; d < 7; d++)
					total += in->week_rows[r][d];
				for (int j = 0; j < dep->nrules; j++)
					if (in->incident[r][j] && w->limit[j] >= 0 && total <= w->limit[j])
						in->incident[r][j] = 0;
			}
	}
}
