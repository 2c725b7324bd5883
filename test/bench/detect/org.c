/*-------------------------------------------------------------------------
 *
 * org.c
 *		The synthetic organisation and its workload, from one seed.
 *
 * Everything is drawn from counter-based random streams (a hash of the
 * seed and of what is drawn: a role, an hour, a day), so that the
 * statements of any (role, hour) come out the same in every pass and for
 * every detector, in any order, without being stored.
 *
 * What it models (parameters in detect.h):
 *	- 2,000 roles in 40 peer groups whose sizes follow a Zipf law
 *	  (P(n) ~ 1/n on 5..200, its 40 quantiles scaled to 2,000 members).
 *	- 200 tables of Zipf popularity; each group reads 4..15 of them with
 *	  weights 1/rank (its affinity), each role 2..8 of its group's, its own
 *	  mix around the group's, and 10% of roles one further table.
 *	- Volume per active hour: log-normal with sigma 0.5..1.5 per role (a
 *	  quarter of the variance shared by the hours of one day, busy days),
 *	  around a median from its group's (log-uniform 100..100,000 rows an
 *	  hour); 5% of roles multiply every window by a Pareto variable (alpha
 *	  1.1..1.8, capped at 10^4).  Split over 1 + Poisson(1..20) statements
 *	  at uniform times in the hour, each from one table of the role's mix.
 *	- Hour of week: office roles work 08-18 on business days (3% of them
 *	  22-06 instead), 20% of groups are 24/7 with fixed 8-hour shifts on 5
 *	  days in 7; in-shift hours are active with a per-role probability
 *	  0.4..0.9 (0.6 of it at lunch), other hours rarely (0.2-2%).
 *	- Holidays (8 in the first half of 2024), when office roles are off.
 *	- Month end (the last two business days and the first of the next
 *	  month): 30% of groups read 2..5 times as much.
 *	- 1% new hires a month (of the 2,000, Poisson by day), into a group by
 *	  its size, and 0.5% role changes a month: the role moves to another
 *	  group, with that group's tables, volume and hours; its own history
 *	  stays.  Nobody leaves.
 *
 * IDENTIFICATION
 *		test/bench/detect/org.c
 *
 *-------------------------------------------------------------------------
 */
#include "detect.h"

#include <math.h>

const double size_factor[N_SIZES] = {2, 5, 10, 30, 100, 1000};
const char *const shape_name[N_SHAPES] = {
	"statement", "hour", "day", "slow", "off-hours", "new table", "new hire",
	"role change"
};

/* 2024: New Year, MLK, Presidents, Good Friday, Easter Monday, May Day,
 * Memorial Day, Juneteenth (day of the year, from 0) */
static const int holidays[] = {0, 14, 49, 88, 91, 121, 147, 170};
/* first day of each month of 2024, January to July */
static const int month_start[] = {0, 31, 60, 91, 121, 152, 182};

/* stream tags */
enum
{
	TAG_ORG = 1, TAG_HOUR, TAG_DAY, TAG_ROTA, TAG_EVENTS, TAG_ADOPT,
	TAG_STRESS
};

/* ---- random numbers ---- */

/* splitmix64's finaliser */
uint64
mix64(uint64 x)
{
	x += UINT64CONST(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

uint64
hash4(uint64 a, uint64 b, uint64 c, uint64 d)
{
	return mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d);
}

typedef struct Rng
{
	uint64		s;
} Rng;

static uint64
rng_next(Rng *r)
{
	r->s += UINT64CONST(0x9E3779B97F4A7C15);
	return mix64(r->s);
}

/* uniform on (0, 1) */
static double
unit(Rng *r)
{
	return ((double) (rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double
uniform(Rng *r, double lo, double hi)
{
	return lo + (hi - lo) * unit(r);
}

static double
log_uniform(Rng *r, double lo, double hi)
{
	return exp(uniform(r, log(lo), log(hi)));
}

/* an integer on lo..hi */
static int
uniform_int(Rng *r, int lo, int hi)
{
	return lo + (int) (unit(r) * (hi - lo + 1));
}

static double
normal(Rng *r)
{
	return sqrt(-2 * log(unit(r))) * cos(2 * M_PI * unit(r));
}

static int
poisson(Rng *r, double lambda)
{
	double		l = exp(-lambda);
	double		p = 1;
	int			k = 0;

	do
	{
		k++;
		p *= unit(r);
	} while (p > l);
	return k - 1;
}

/* an index drawn by cumulative weights cum[0..n-1] (cum[n-1] == 1) */
static int
draw_cum(Rng *r, const double *cum, int n)
{
	double		u = unit(r);

	for (int i = 0; i < n - 1; i++)
		if (u < cum[i])
			return i;
	return n - 1;
}

/* ---- the calendar ---- */

static void
build_calendar(Org *org)
{
	for (int d = 0; d < SIM_DAYS; d++)
	{
		bool		holiday = false;

		for (int i = 0; i < (int) lengthof(holidays); i++)
			holiday |= holidays[i] == d;
		org->day_kind[d] = (holiday ? DAY_HOLIDAY : 0) |
			(d % 7 < 5 && !holiday ? DAY_BUSINESS : 0);
	}
	for (int m = 0; m + 1 < (int) lengthof(month_start); m++)
	{
		int			last = 0;

		/* the last two business days of month m */
		for (int d = month_start[m + 1] - 1; d >= month_start[m] && last < 2; d--)
			if (d < SIM_DAYS && (org->day_kind[d] & DAY_BUSINESS))
			{
				org->day_kind[d] |= DAY_MONTH_END;
				last++;
			}
		/* and the first of month m (closing the month before) */
		for (int d = month_start[m]; d < month_start[m + 1] && d < SIM_DAYS; d++)
			if (org->day_kind[d] & DAY_BUSINESS)
			{
				org->day_kind[d] |= DAY_MONTH_END;
				break;
			}
	}
}

/* organisation-wide spikes: business days of each half, drawn */
static void
build_spikes(Org *org, Rng *r)
{
	for (int d = 0; d < SIM_DAYS; d++)
		org->spike[d] = 1.0;
	for (int half = 0; half < 2; half++)
		for (int i = 0; i < ORG_SPIKES_HALF; i++)
		{
			int			d;

			do
				d = uniform_int(r, half * WARMUP_DAYS, half * WARMUP_DAYS + WARMUP_DAYS - 1);
			while (!(org->day_kind[d] & DAY_BUSINESS) || org->spike[d] > 1.0);
			org->spike[d] = log_uniform(r, ORG_SPIKE_MIN, ORG_SPIKE_MAX);
		}
}

/* ---- the organisation ---- */

/* 40 group sizes: quantiles of P(n) ~ 1/n on 5..200, scaled to N_ROLES */
static void
group_sizes(Org *org)
{
	double		cdf[GROUP_MAX + 1];
	double		total = 0;
	double		raw[N_GROUPS];
	double		rawsum = 0;
	int			sum = 0;

	for (int n = GROUP_MIN; n <= GROUP_MAX; n++)
		total += 1.0 / n;
	for (int n = GROUP_MIN; n <= GROUP_MAX; n++)
		cdf[n] = (n > GROUP_MIN ? cdf[n - 1] : 0) + 1.0 / n / total;
	for (int g = 0; g < N_GROUPS; g++)
	{
		double		u = (g + 0.5) / N_GROUPS;
		int			n = GROUP_MIN;

		while (n < GROUP_MAX && cdf[n] < u)
			n++;
		raw[g] = n;
		rawsum += n;
	}
	for (int g = 0; g < N_GROUPS; g++)
	{
		int			n = (int) rint(raw[g] * N_ROLES / rawsum);

		org->groups[g].size0 = Min(Max(n, GROUP_MIN), GROUP_MAX);
		sum += org->groups[g].size0;
	}
	/* the rounding remainder, on the largest groups */
	for (int g = N_GROUPS - 1; sum != N_ROLES; g = g > 0 ? g - 1 : N_GROUPS - 1)
	{
		int			step = sum < N_ROLES ? 1 : -1;
		int			n = org->groups[g].size0 + step;

		if (n >= GROUP_MIN && n <= GROUP_MAX)
		{
			org->groups[g].size0 = n;
			sum += step;
		}
	}
}

static void
build_groups(Org *org, Rng *r)
{
	double		pop[N_TABLES];

	for (int t = 0; t < N_TABLES; t++)
		pop[t] = 1.0 / (t + 1);
	group_sizes(org);
	org->groups[SERVICE_GROUP].size0 = N_SERVICES;
	for (int g = 0; g < N_PEER_GROUPS; g++)
	{
		Group	   *grp = &org->groups[g];
		bool		taken[N_TABLES] = {0};

		grp->ops = unit(r) < OPS_GROUP_SHARE;
		grp->median = log_uniform(r, GROUP_MEDIAN_MIN, GROUP_MEDIAN_MAX);
		grp->month_end = unit(r) < MONTH_END_SHARE ?
			log_uniform(r, MONTH_END_MIN, MONTH_END_MAX) : 1.0;
		grp->ncore = uniform_int(r, GROUP_TABLES_MIN, GROUP_TABLES_MAX);
		for (int k = 0; k < grp->ncore; k++)
		{
			double		left = 0;
			double		u;
			int			t;

			for (t = 0; t < N_TABLES; t++)
				left += taken[t] ? 0 : pop[t];
			u = unit(r) * left;
			for (t = 0; t < N_TABLES - 1; t++)
			{
				if (taken[t])
					continue;
				if (u < pop[t])
					break;
				u -= pop[t];
			}
			while (taken[t])
				t--;
			taken[t] = true;
			grp->core[k] = (int16) t;
			grp->core_weight[k] = 1.0 / (k + 1);
		}
	}
}

/* a group drawn by its initial size */
static int
draw_group(const Org *org, Rng *r, int not)
{
	for (;;)
	{
		int			u = (int) (unit(r) * N_ROLES);
		int			g = 0;

		while (u >= org->groups[g].size0)
			u -= org->groups[g++].size0;
		if (g != not)
			return g;
	}
}

/* the series slot of (role, table), made if need be */
static int
role_slot(Org *org, int role, int table)
{
	Role	   *ro = &org->roles[role];

	if (org->slot_of[role][table] < 0)
	{
		if (ro->nslots >= MAX_SLOTS)
		{
			fprintf(stderr, "role %d reads too many tables\n", role);
			exit(1);
		}
		ro->slot_table[ro->nslots] = (int16) table;
		org->slot_of[role][table] = (int8) ro->nslots++;
	}
	return org->slot_of[role][table];
}

static void
draw_job(Org *org, Rng *r, int role, int group, Job *job)
{
	const Group *grp = &org->groups[group];
	bool		chosen[GROUP_TABLES_MAX] = {0};
	int			table[MAX_JOB_TABLES];
	double		weight[MAX_JOB_TABLES];
	double		sum = 0;
	double		acc = 0;
	int			n;

	job->group = group;
	if (group == SERVICE_GROUP)
		job->shift = SHIFT_SERVICE;
	else if (grp->ops)
		job->shift = SHIFT_OPS_DAY + uniform_int(r, 0, 2);
	else
		job->shift = unit(r) < OFFICE_NIGHT_SHARE ? SHIFT_OFFICE_NIGHT : SHIFT_OFFICE_DAY;
	job->median = grp->median * exp(ROLE_MEDIAN_SIGMA * normal(r));
	job->p_active = uniform(r, P_ACTIVE_MIN, P_ACTIVE_MAX);
	if (group == SERVICE_GROUP)
	{
		job->median = log_uniform(r, SERVICE_MEDIAN_MIN, SERVICE_MEDIAN_MAX);
		job->p_active = SERVICE_P_ACTIVE;
	}

	/* tables of the group, by its affinity, without replacement */
	n = uniform_int(r, ROLE_TABLES_MIN, Min(ROLE_TABLES_MAX, grp->ncore));
	for (int i = 0; i < n; i++)
	{
		double		left = 0;
		double		u;
		int			k;

		for (k = 0; k < grp->ncore; k++)
			left += chosen[k] ? 0 : grp->core_weight[k];
		u = unit(r) * left;
		for (k = 0; k < grp->ncore - 1; k++)
		{
			if (chosen[k])
				continue;
			if (u < grp->core_weight[k])
				break;
			u -= grp->core_weight[k];
		}
		while (chosen[k])
			k--;
		chosen[k] = true;
		table[i] = grp->core[k];
		weight[i] = grp->core_weight[k] * exp(ROLE_TABLE_SIGMA * normal(r));
		sum += weight[i];
	}
	if (unit(r) < PERSONAL_SHARE)
	{
		int			t;
		bool		dup;

		do
		{
			t = uniform_int(r, 0, N_TABLES - 1);
			dup = false;
			for (int i = 0; i < n; i++)
				dup |= table[i] == t;
		} while (dup);
		table[n] = t;
		weight[n] = PERSONAL_WEIGHT * sum;
		sum += weight[n];
		n++;
	}
	job->ntables = n;
	for (int i = 0; i < n; i++)
	{
		acc += weight[i];
		job->slot[i] = (int8) role_slot(org, role, table[i]);
		job->cum[i] = acc / sum;
	}
	job->cum[n - 1] = 1.0;
}

static void
new_role(Org *org, Rng *r, int group, int hire_day)
{
	int			role = org->nroles++;
	Role	   *ro = &org->roles[role];

	if (org->nroles > MAX_ROLES)
	{
		fprintf(stderr, "too many roles\n");
		exit(1);
	}
	memset(ro, 0, sizeof(Role));
	ro->hire_day = hire_day;
	ro->change_day = -1;
	ro->leave_day = -1;
	ro->sigma = uniform(r, SIGMA_MIN, SIGMA_MAX);
	ro->alpha = unit(r) < HEAVY_SHARE ? uniform(r, ALPHA_MIN, ALPHA_MAX) : 0;
	ro->lambda = log_uniform(r, LAMBDA_MIN, LAMBDA_MAX);
	ro->drift = normal(r) * DRIFT_SD_180 / 180.0;
	if (group == SERVICE_GROUP)
	{
		ro->service = true;
		ro->sigma = SERVICE_SIGMA;
		ro->alpha = 0;
		ro->lambda = SERVICE_LAMBDA;
	}
	draw_job(org, r, role, group, &ro->job[0]);
	ro->job[1] = ro->job[0];
}

/*
 * Legitimate first reads at the base rate: Poisson(ADOPT_RATE per year of
 * employment) tables, at most ADOPT_MAX, each from a day drawn uniformly,
 * drawn by popularity among the tables the role does not read (in either
 * job).  Drawn after every job, from a stream of their own.
 */
static void
draw_adoptions(Org *org, uint64 seed)
{
	for (int role = 0; role < org->nroles; role++)
	{
		Role	   *ro = &org->roles[role];
		Rng			r = {hash4(seed, TAG_ADOPT, role, 0)};
		int			end = ro->leave_day >= 0 ? ro->leave_day : SIM_DAYS;
		int			n = poisson(&r, ADOPT_RATE * (end - ro->hire_day) / 365.0);

		n = Min(n, ADOPT_MAX);
		for (int i = 0; i < n; i++)
		{
			double		left = 0;
			double		u;
			int			t;

			for (t = 0; t < N_TABLES; t++)
				left += org->slot_of[role][t] >= 0 ? 0 : 1.0 / (t + 1);
			u = unit(&r) * left;
			for (t = 0; t < N_TABLES - 1; t++)
			{
				if (org->slot_of[role][t] >= 0)
					continue;
				if (u < 1.0 / (t + 1))
					break;
				u -= 1.0 / (t + 1);
			}
			while (org->slot_of[role][t] >= 0)
				t--;
			ro->adopt_day[i] = uniform_int(&r, ro->hire_day + 1, Max(end - 1, ro->hire_day + 1));
			ro->adopt_share[i] = uniform(&r, ADOPT_SHARE_MIN, ADOPT_SHARE_MAX);
			ro->adopt_slot[i] = (int8) role_slot(org, role, t);
			ro->nadopt++;
			if (ro->adopt_day[i] >= WARMUP_DAYS && ro->adopt_day[i] < end)
				org->adopts_eval++;
		}
	}
}

/*
 * Builds the organisation of a seed: groups, tables, roles, and the hires
 * and role changes of the 180 days.
 */
void
org_build(Org *org, uint64 seed)
{
	Rng			r = {hash4(seed, TAG_ORG, 0, 0)};
	double		hires_a_day = HIRE_RATE * N_ROLES / 30.44;
	double		changes_a_day = CHANGE_RATE * N_ROLES / 30.44;
	double		leaves_a_day = LEAVE_RATE * N_ROLES / 30.44;

	memset(org, 0, sizeof(Org));
	memset(org->slot_of, -1, sizeof(org->slot_of));
	org->seed = seed;
	build_calendar(org);
	build_groups(org, &r);
	build_spikes(org, &r);
	for (int g = 0; g < N_PEER_GROUPS; g++)
		for (int i = 0; i < org->groups[g].size0; i++)
			new_role(org, &r, g, 0);
	for (int d = 1; d < SIM_DAYS; d++)
	{
		int			hires = poisson(&r, hires_a_day);
		int			changes = poisson(&r, changes_a_day);
		int			leaves = poisson(&r, leaves_a_day);

		for (int i = 0; i < hires; i++)
		{
			new_role(org, &r, draw_group(org, &r, -1), d);
			if (d >= WARMUP_DAYS)
				org->hires_eval++;
		}
		for (int i = 0; i < changes; i++)
		{
			/* anyone here 30 days or more who has not changed yet */
			for (int tries = 0; tries < 1000; tries++)
			{
				int			role = (int) (unit(&r) * org->nroles);
				Role	   *ro = &org->roles[role];

				if (ro->hire_day > d - 30 || ro->change_day >= 0 ||
					ro->leave_day >= 0 || ro->service)
					continue;
				ro->change_day = d;
				draw_job(org, &r, role, draw_group(org, &r, ro->job[0].group),
						 &ro->job[1]);
				if (d >= WARMUP_DAYS)
					org->changes_eval++;
				break;
			}
		}
		for (int i = 0; i < leaves; i++)
		{
			/* anyone here 30 days or more, not changing job today */
			for (int tries = 0; tries < 1000; tries++)
			{
				int			role = (int) (unit(&r) * org->nroles);
				Role	   *ro = &org->roles[role];

				if (ro->hire_day > d - 30 || ro->leave_day >= 0 ||
					ro->service || ro->change_day == d)
					continue;
				ro->leave_day = d;
				if (d >= WARMUP_DAYS)
					org->leaves_eval++;
				break;
			}
		}
	}
	draw_adoptions(org, seed);
}

/* the day a role's current peer-group membership began (long ago: -1000) */
int
membership_since(const Org *org, int role, int day)
{
	const Role *ro = &org->roles[role];

	if (ro->change_day >= 0 && day >= ro->change_day)
		return ro->change_day;
	return ro->hire_day > 0 ? ro->hire_day : -1000;
}

bool
role_employed(const Org *org, int role, int day)
{
	const Role *ro = &org->roles[role];

	return day >= ro->hire_day && (ro->leave_day < 0 || day < ro->leave_day);
}

/* the job a role has on a day */
const Job *
role_job(const Org *org, int role, int day)
{
	const Role *ro = &org->roles[role];

	return &ro->job[ro->change_day >= 0 && day >= ro->change_day ? 1 : 0];
}

/* does an ops role work the shift that starts on this day */
static bool
rota(const Org *org, int role, int day)
{
	return (hash4(org->seed, TAG_ROTA, role, day) >> 11) <
		(uint64) (OPS_DAYS_SHARE * 9007199254740992.0);
}

/*
 * Where an hour falls for a role: 1 in a shift it works, 2 in a shift it
 * does not work (weekend, holiday, off the rota), 0 outside its shift
 * hours; *business: the hour's day is a business day.
 */
static int
shift_of(const Org *org, int role, int hour, bool *business)
{
	int			d = hour / 24;
	int			hod = hour % 24;
	const Job  *job = role_job(org, role, d);
	int			from;
	int			shift_day;
	bool		works;

	*business = (org->day_kind[d] & DAY_BUSINESS) != 0;
	if (job->shift == SHIFT_SERVICE)
		return 1;
	switch (job->shift)
	{
		case SHIFT_OFFICE_DAY:
			from = 8;
			break;
		case SHIFT_OPS_DAY:
			from = 6;
			break;
		case SHIFT_OPS_EVENING:
			from = 14;
			break;
		default:
			from = 22;
			break;
	}
	if (job->shift == SHIFT_OFFICE_DAY)
	{
		if (hod < from || hod >= 18)
			return 0;
		shift_day = d;
	}
	else if (from == 22)
	{
		if (hod >= 22)
			shift_day = d;
		else if (hod < 6)
			shift_day = d - 1;
		else
			return 0;
	}
	else
	{
		if (hod < from || hod >= from + 8)
			return 0;
		shift_day = d;
	}
	if (shift_day < 0)
		works = false;
	else if (job->shift <= SHIFT_OFFICE_NIGHT)
		works = (org->day_kind[shift_day] & DAY_BUSINESS) != 0;
	else
		works = rota(org, role, shift_day);
	return works ? 1 : 2;
}

/* the probability that a role reads anything in an hour */
double
activity_p(const Org *org, int role, int hour)
{
	int			d = hour / 24;
	const Job  *job;
	bool		business;
	int			s;

	if (!role_employed(org, role, d))
		return 0;
	job = role_job(org, role, d);
	s = shift_of(org, role, hour, &business);
	if (job->shift == SHIFT_SERVICE)
		return job->p_active;
	if (job->shift >= SHIFT_OPS_DAY)
		return s == 1 ? job->p_active : P_OPS_OFF;
	if (s == 1)
		return job->p_active *
			(job->shift == SHIFT_OFFICE_DAY && hour % 24 == 12 ? LUNCH_FACTOR : 1);
	if (s == 2)
		return P_OFF_HOLIDAY;
	return business ? P_OFF_WORKDAY : P_OFF_NIGHT;
}

/* is the hour one of the role's working hours */
bool
in_shift(const Org *org, int role, int hour)
{
	bool		business;

	return role_employed(org, role, hour / 24) &&
		shift_of(org, role, hour, &business) == 1;
}

/*
 * The statements a role runs in an hour (none if it is not active),
 * ordered by time.  Returns how many.
 */
int
gen_hour(const Org *org, int role, int hour, Stmt *out)
{
	const Role *ro = &org->roles[role];
	int			d = hour / 24;
	double		p = activity_p(org, role, hour);
	Rng			r;
	Rng			rd;
	const Job  *job;
	double		w;
	double		e[MAX_STMTS_HOUR];
	double		esum = 0;
	int64		total;
	int64		left;
	int			n;
	int			k = 0;

	if (p <= 0)
		return 0;
	r.s = hash4(org->seed, TAG_HOUR, role, hour);
	if (unit(&r) >= p)
		return 0;
	job = role_job(org, role, d);
	rd.s = hash4(org->seed, TAG_DAY, role, d);

	w = job->median *
		exp(ro->sigma * sqrt(DAY_VAR_SHARE) * normal(&rd)) *
		exp(ro->sigma * sqrt(1 - DAY_VAR_SHARE) * normal(&r));
	if (org->day_kind[d] & DAY_MONTH_END)
		w *= org->groups[job->group].month_end;
	w *= exp(ro->drift * (d - ro->hire_day)) * org->spike[d];
	if (ro->alpha > 0)
		w *= Min(pow(unit(&r), -1.0 / ro->alpha), PARETO_CAP);
	total = Max((int64) llround(w), 1);

	n = Min(1 + poisson(&r, ro->lambda), MAX_STMTS_HOUR);
	for (int i = 0; i < n; i++)
	{
		e[i] = -log(unit(&r));
		esum += e[i];
	}
	left = total;
	for (int i = 0; i < n; i++)
	{
		int64		rows = i == n - 1 ? left : (int64) floor(total * e[i] / esum);
		Stmt	   *s = &out[k];
		int			j;

		rows = Min(rows, left);
		left -= rows;
		s->t = HOUR_START(hour) + (int64) (unit(&r) * HOUR_US);
		s->slot = job->slot[draw_cum(&r, job->cum, job->ntables)];
		/* a table first read at the base rate takes its share from then */
		if (ro->nadopt > 0)
		{
			double		u = unit(&r);

			for (int a = 0; a < ro->nadopt; a++)
			{
				if (d < ro->adopt_day[a])
					continue;
				if (u < ro->adopt_share[a])
				{
					s->slot = ro->adopt_slot[a];
					break;
				}
				u -= ro->adopt_share[a];
			}
		}
		s->rows = rows;
		s->event = -1;
		if (rows <= 0)
			continue;
		/* insertion by time */
		for (j = k; j > 0 && out[j - 1].t > s->t; j--)
			;
		if (j < k)
		{
			Stmt		tmp = *s;

			memmove(&out[j + 1], &out[j], (k - j) * sizeof(Stmt));
			out[j] = tmp;
		}
		k++;
	}
	return k;
}

/* ---- the exfiltrations ---- */

/* a working (or, off_hours, a never-worked) hour of a role in days lo..hi */
static int
pick_hour(const Org *org, Rng *r, int role, int job, int lo, int hi,
		  bool off_hours)
{
	const Role *ro = &org->roles[role];

	for (int tries = 0; tries < 10000; tries++)
	{
		int			d = uniform_int(r, lo, hi);
		int			h0 = uniform_int(r, 0, 23);

		if ((ro->change_day >= 0 && d >= ro->change_day ? 1 : 0) != job)
			continue;
		for (int i = 0; i < 24; i++)
		{
			int			hour = d * 24 + (h0 + i) % 24;

			if (off_hours ? (activity_p(org, role, hour) <= P_OFF_WORKDAY &&
							 !in_shift(org, role, hour))
				: in_shift(org, role, hour))
				return hour;
		}
	}
	fprintf(stderr, "role %d: no hour found\n", role);
	exit(1);
}

/*
 * A role for an event: eligible for the shape and not used in the batch.
 * Service accounts and leavers carry none.
 */
static int
pick_role(const Org *org, Rng *r, Shape shape, const bool *used)
{
	int			cand[MAX_ROLES];
	int			n = 0;

	for (int role = 0; role < org->nroles; role++)
	{
		const Role *ro = &org->roles[role];
		bool		ok;

		if (used[role] || ro->service || ro->leave_day >= 0)
			continue;
		if (shape == SHAPE_NEW_HIRE)
			ok = ro->hire_day >= WARMUP_DAYS &&
				ro->hire_day <= SIM_DAYS - 7 - NEW_HIRE_DAYS;
		else if (shape == SHAPE_ROLE_CHANGE)
			ok = ro->change_day >= WARMUP_DAYS &&
				ro->change_day <= SIM_DAYS - 7 - CHANGE_DAYS;
		else
			ok = ro->hire_day == 0 && ro->change_day < 0;
		if (ok)
			cand[n++] = role;
	}
	if (n == 0)
		return -1;
	return cand[uniform_int(r, 0, n - 1)];
}

/* "count" statements of an event spread over one hour */
static void
burst(Rng *r, Event *ev, int hour, int count)
{
	int64		left = ev->rows;

	for (int i = 0; i < count; i++)
	{
		Stmt	   *s = &ev->stmts[ev->nstmts++];

		s->t = HOUR_START(hour) + (int64) (unit(r) * HOUR_US);
		s->rows = i == count - 1 ? left : ev->rows / count;
		left -= s->rows;
	}
}

static int
compare_stmt(const void *a, const void *b)
{
	int64		ta = ((const Stmt *) a)->t;
	int64		tb = ((const Stmt *) b)->t;

	return (ta > tb) - (ta < tb);
}

/*
 * Draws N_EVENTS exfiltrations, ids from first_id: event i has shape i mod
 * 8 and size (i / 8) mod 6 (so every pair comes 7 times), and alternates
 * between two batches by round of 48, a role carrying at most one event per
 * batch (a further batch takes the events of a shape whose eligible roles
 * ran out).  Sized on the role's own p99 of the window the shape fills
 * (an hour, a day, 7 days) or, for the stress report, on its median daily
 * volume.  Needs the roles' clean volumes.  Returns how many events were
 * made, and in *nbatches how many batches they need.
 */
int
make_events(Org *org, Event *events, int first_id, Sizing sizing, int *nbatches)
{
	Rng			r = {hash4(org->seed, sizing == SIZE_P99 ? TAG_EVENTS : TAG_STRESS, 0, 0)};
	static bool used[MAX_BATCHES][MAX_ROLES];
	int			made = 0;

	memset(used, 0, sizeof(used));
	*nbatches = 1;
	for (int i = 0; i < N_EVENTS; i++)
	{
		Event	   *ev = &events[made];
		Shape		shape = (Shape) (i % N_SHAPES);
		int			batch = (i / (N_SHAPES * N_SIZES)) % N_BATCHES;
		int			role = pick_role(org, &r, shape, used[batch]);
		Role	   *ro;
		const Job  *job;
		int			lo = WARMUP_DAYS;
		int			hi = SIM_DAYS - 7 - SLOW_DAYS_MAX;

		for (int b = 0; role < 0 && b < MAX_BATCHES; b++)
		{
			batch = b;
			role = pick_role(org, &r, shape, used[batch]);
		}
		if (role < 0)
		{
			fprintf(stderr, "event %d: no role left for shape %s\n", i,
					shape_name[shape]);
			continue;
		}
		*nbatches = Max(*nbatches, batch + 1);
		used[batch][role] = true;
		ro = &org->roles[role];
		memset(ev, 0, sizeof(Event));
		ev->id = first_id + made;
		ev->role = role;
		ev->size = (i / N_SHAPES) % N_SIZES;
		ev->shape = shape;
		ev->batch = batch;
		ev->sizing = sizing;
		if (shape == SHAPE_NEW_HIRE)
		{
			lo = ro->hire_day;
			hi = ro->hire_day + NEW_HIRE_DAYS - 1;
		}
		else if (shape == SHAPE_ROLE_CHANGE)
		{
			lo = ro->change_day;
			hi = ro->change_day + CHANGE_DAYS - 1;
		}
		ev->job = shape == SHAPE_ROLE_CHANGE ? 1 : 0;
		job = &ro->job[ev->job];
		ev->median_daily = ro->median_daily[ev->job];
		if (sizing == SIZE_MEDIAN)
			ev->basis = ev->median_daily;
		else if (shape == SHAPE_DAY)
			ev->basis = ro->p99_day[ev->job];
		else if (shape == SHAPE_SLOW)
			ev->basis = ro->p99_week[ev->job];
		else
			ev->basis = ro->p99_hour[ev->job];
		ev->rows = Max((int64) llround(size_factor[ev->size] * ev->basis), 1);

		/* the table: never read before, or one of the role's by its mix */
		if (shape == SHAPE_NEW_TABLE)
		{
			int			t;

			do
				t = uniform_int(&r, 0, N_TABLES - 1);
			while (org->slot_of[role][t] >= 0);
			ev->slot = role_slot(org, role, t);
		}
		else
			ev->slot = job->slot[draw_cum(&r, job->cum, job->ntables)];

		if (shape == SHAPE_SLOW || shape == SHAPE_DAY)
		{
			int			days = shape == SHAPE_DAY ? 1 :
				uniform_int(&r, SLOW_DAYS_MIN, SLOW_DAYS_MAX);
			int			start = pick_hour(org, &r, role, 0, lo, hi, false);
			int			hours[SLOW_DAYS_MAX * 24 * 2];
			int			nh = 0;
			int			ndays = 0;
			int			last_day = -1;
			int64		left = ev->rows;

			/* the working hours of "days" days from the first one */
			for (int h = start; h < SIM_HOURS && nh < (int) lengthof(hours); h++)
			{
				if (!in_shift(org, role, h))
					continue;
				if (h / 24 != last_day)
				{
					if (ndays == days)
						break;
					ndays++;
					last_day = h / 24;
				}
				hours[nh++] = h;
			}
			ev->stmts = palloc(nh * sizeof(Stmt));
			for (int k = 0; k < nh; k++)
			{
				Stmt	   *s = &ev->stmts[ev->nstmts++];

				s->t = HOUR_START(hours[k]) + (int64) (unit(&r) * HOUR_US);
				s->rows = k == nh - 1 ? left : ev->rows / nh;
				left -= s->rows;
			}
		}
		else
		{
			int			hour = pick_hour(org, &r, role, ev->job, lo, hi,
										 shape == SHAPE_OFF_HOURS);
			int			count = shape == SHAPE_STATEMENT ? 1 : BURST_STMTS;

			ev->stmts = palloc(count * sizeof(Stmt));
			burst(&r, ev, hour, count);
		}
		qsort(ev->stmts, ev->nstmts, sizeof(Stmt), compare_stmt);
		for (int k = 0; k < ev->nstmts; k++)
		{
			ev->stmts[k].slot = (int16) ev->slot;
			ev->stmts[k].event = (int16) ev->id;
		}
		ev->start = ev->stmts[0].t;
		ev->first_hour = (int) (ev->stmts[0].t / HOUR_US - SIM_EPOCH_DAY * 24);
		ev->last_hour = (int) (ev->stmts[ev->nstmts - 1].t / HOUR_US - SIM_EPOCH_DAY * 24);
		made++;
	}
	return made;
}
