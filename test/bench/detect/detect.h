/*-------------------------------------------------------------------------
 *
 * detect.h
 *		The detection-quality benchmark of behavioural baselines: a
 *		synthetic organisation, its workload, injected exfiltrations, and
 *		the detectors compared on them.
 *
 * Every generator parameter is here, chosen from the benchmark's
 * description before any result was looked at (see README.md).  Nothing
 * in this directory reimplements src/base/stats.c: the insider_guard detectors
 * call its functions, exactly as the extension does.
 *
 * IDENTIFICATION
 *		test/bench/detect/detect.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DETECT_H
#define DETECT_H

#include "postgres_fe.h"

#include "base/stats.h"

/* ---- the organisation (generator parameters) ---- */

#define N_ROLES			2000	/* roles at the start of warm-up */
#define N_GROUPS		40		/* peer groups of staff */
#define SERVICE_GROUP	N_GROUPS	/* the service accounts' own peer group */
#define N_PEER_GROUPS	(N_GROUPS + 1)
#define GROUP_MIN		5		/* group sizes: Zipf (P(n) ~ 1/n) on 5..200 */
#define GROUP_MAX		200
#define N_TABLES		200
#define WARMUP_DAYS		90
#define EVAL_DAYS		90
#define SIM_DAYS		(WARMUP_DAYS + EVAL_DAYS)
#define SIM_HOURS		(SIM_DAYS * 24)

/* per-window volumes: log-normal, sigma per role uniform on 0.5..1.5 */
#define SIGMA_MIN		0.5
#define SIGMA_MAX		1.5
/* of sigma^2, this share varies per day (busy days), the rest per hour */
#define DAY_VAR_SHARE	0.25
/* 5% of roles have a Pareto tail (x_m = 1, alpha 1.1..1.8) on every window */
#define HEAVY_SHARE		0.05
#define ALPHA_MIN		1.1
#define ALPHA_MAX		1.8
#define PARETO_CAP		1e4
/* median rows per active hour: group log-uniform on 100..100,000, role
 * log-normal (sigma 0.5) around its group's */
#define GROUP_MEDIAN_MIN	100.0
#define GROUP_MEDIAN_MAX	100000.0
#define ROLE_MEDIAN_SIGMA	0.5
/* statements per active hour: 1 + Poisson(lambda), lambda log-uniform 1..20 */
#define LAMBDA_MIN		1.0
#define LAMBDA_MAX		20.0
#define MAX_STMTS_HOUR	64

/* hour-of-week activity */
#define OPS_GROUP_SHARE	0.2		/* 24/7 groups: fixed 8-hour shifts, 5 days in 7 */
#define OFFICE_NIGHT_SHARE 0.03 /* office roles on the night shift (22-06) */
#define P_ACTIVE_MIN	0.4		/* in-shift hours: active with p, per role */
#define P_ACTIVE_MAX	0.9
#define LUNCH_FACTOR	0.6		/* office day shift, 12:00-13:00 */
#define P_OFF_WORKDAY	0.01	/* off-shift hours of a working day */
#define P_OFF_HOLIDAY	0.02	/* in-shift hours of a weekend or holiday */
#define P_OFF_NIGHT		0.002	/* any other hour */
#define P_OPS_OFF		0.005	/* ops roles outside their shift */
#define OPS_DAYS_SHARE	(5.0 / 7.0)

/* month end: the last two business days and the first of the next month */
#define MONTH_END_SHARE	0.3		/* groups with a month-end peak */
#define MONTH_END_MIN	2.0		/* its factor, log-uniform */
#define MONTH_END_MAX	5.0

/* staff turnover, per month of 30.44 days, of the initial headcount */
#define HIRE_RATE		0.01
#define CHANGE_RATE		0.005
#define LEAVE_RATE		0.01	/* leavers: anyone employed 30 days or more */

/* service accounts: steady, high-volume, around the clock, every day, in a
 * peer group of their own (the DBA does not pool them with people) */
#define N_SERVICES		30
#define SERVICE_MEDIAN_MIN	10000.0	/* rows per active hour, log-uniform */
#define SERVICE_MEDIAN_MAX	1000000.0
#define SERVICE_SIGMA	0.3
#define SERVICE_P_ACTIVE 0.97	/* every hour of every day */
#define SERVICE_LAMBDA	20.0

/* gradual drift: a role's volume moves by exp(drift * days employed),
 * drift normal per role with this sd of its log over 180 days */
#define DRIFT_SD_180	0.5

/* organisation-wide spikes (an outage re-read): business days drawn in
 * each half (warm-up, evaluation), everybody reads this many times more */
#define ORG_SPIKES_HALF	2
#define ORG_SPIKE_MIN	3.0		/* log-uniform */
#define ORG_SPIKE_MAX	6.0

/* legitimate first reads of a table at a base rate (besides those of a
 * role change): per role-year, at most ADOPT_MAX per role; from that day
 * the table takes a share of the role's statements; the table is drawn by
 * the Zipf popularity among those the role does not read */
#define ADOPT_RATE		1.0
#define ADOPT_MAX		2
#define ADOPT_SHARE_MIN	0.05
#define ADOPT_SHARE_MAX	0.30

/* tables */
#define GROUP_TABLES_MIN 4		/* core tables of a group: 4..15, drawn by */
#define GROUP_TABLES_MAX 15		/*   a Zipf popularity over the 200 tables */
#define ROLE_TABLES_MIN	2		/* a role's tables: 2..min(8, core) of its */
#define ROLE_TABLES_MAX	8		/*   group's, drawn by the group's affinity */
#define PERSONAL_SHARE	0.1		/* roles that also read one other table */
#define PERSONAL_WEIGHT	0.05
#define ROLE_TABLE_SIGMA 0.5	/* a role's own mix around its group's */

/* ---- the injected exfiltrations ---- */

#define N_EVENTS		336		/* 7 of each (size, shape) */
#define N_SIZES			6
#define N_SHAPES		8
#define N_BATCHES		2		/* events of one batch are on distinct roles; */
#define MAX_BATCHES		8		/*   more batches if the roles run out */
#define NEW_HIRE_DAYS	14		/* "a new hire's first 14 days" */
#define CHANGE_DAYS		14		/* "right after a role change" */
#define BURST_STMTS		10		/* statements of a one-hour exfiltration */
#define SLOW_DAYS_MIN	2
#define SLOW_DAYS_MAX	5
/* which volume an event is sized on */
typedef enum Sizing
{
	SIZE_P99,					/* the role's own p99 of the window concerned */
	SIZE_MEDIAN					/* its median daily volume (stress report) */
} Sizing;

typedef enum Shape
{
	SHAPE_STATEMENT,			/* one statement */
	SHAPE_HOUR,					/* one hour */
	SHAPE_DAY,					/* spread over the working hours of one day */
	SHAPE_SLOW,					/* spread over the working hours of 2-5 days */
	SHAPE_OFF_HOURS,			/* one hour when the role never works */
	SHAPE_NEW_TABLE,			/* one hour, from a table never read before */
	SHAPE_NEW_HIRE,				/* one hour in a new hire's first 14 days */
	SHAPE_ROLE_CHANGE			/* one hour in the 14 days after a role change */
} Shape;

extern const double size_factor[N_SIZES];
extern const char *const shape_name[N_SHAPES];

/* ---- time ---- */

#define USEC			INT64CONST(1000000)
#define HOUR_US			(INT64CONST(3600) * USEC)
#define DAY_US			IG_STATS_USEC_PER_DAY
/* day 0 is Monday 2024-01-01, 8766 days after the PostgreSQL epoch */
#define SIM_EPOCH_DAY	8766
#define HOUR_START(h)	((int64) (SIM_EPOCH_DAY * 24 + (h)) * HOUR_US)

/* ---- the organisation ---- */

#define MAX_JOB_TABLES	(ROLE_TABLES_MAX + 1)
#define MAX_SLOTS		24		/* tables a role ever reads, its series */
#define MAX_ROLES		(N_ROLES + 600)
#define EVENTS_TOTAL	(2 * N_EVENTS)	/* p99-sized, then median-sized */

typedef enum Shift
{
	SHIFT_OFFICE_DAY,			/* 08-18, business days */
	SHIFT_OFFICE_NIGHT,			/* 22-06, nights after business days */
	SHIFT_OPS_DAY,				/* 06-14 */
	SHIFT_OPS_EVENING,			/* 14-22 */
	SHIFT_OPS_NIGHT,			/* 22-06 */
	SHIFT_SERVICE				/* every hour of every day */
} Shift;

typedef struct Group
{
	int			size0;			/* members at the start */
	bool		ops;			/* staffed around the clock */
	double		median;			/* typical rows per active hour */
	double		month_end;		/* volume factor on month-end days */
	int			ncore;
	int16		core[GROUP_TABLES_MAX];
	double		core_weight[GROUP_TABLES_MAX];
} Group;

typedef struct Job
{
	int			group;
	Shift		shift;
	double		median;			/* rows per active hour, before factors */
	double		p_active;		/* in-shift hours */
	int			ntables;
	int8		slot[MAX_JOB_TABLES];	/* the role's series slot of each */
	double		cum[MAX_JOB_TABLES];	/* cumulative weights */
} Job;

typedef struct Role
{
	int			hire_day;		/* 0 for the initial staff */
	int			change_day;		/* day job[1] starts; -1: never */
	int			leave_day;		/* first day not employed; -1: never */
	bool		service;		/* a service account */
	double		drift;			/* log-volume change per day employed */
	int			nadopt;			/* tables first read at the base rate */
	int			adopt_day[ADOPT_MAX];
	int8		adopt_slot[ADOPT_MAX];
	double		adopt_share[ADOPT_MAX];
	Job			job[2];
	double		sigma;
	double		alpha;			/* Pareto tail; 0: none */
	double		lambda;			/* statements per active hour - 1 */
	int			nslots;
	int16		slot_table[MAX_SLOTS];
	double		median_daily[2];	/* of each job, clean, active days */
	double		p99_hour[2];	/* of each job, clean: active hours, */
	double		p99_day[2];		/*   active days, */
	double		p99_week[2];	/*   7-day totals (> 0) ending each day */
} Role;

typedef struct Org
{
	uint64		seed;
	int			nroles;
	Group		groups[N_PEER_GROUPS];
	Role		roles[MAX_ROLES];
	int8		slot_of[MAX_ROLES][N_TABLES];	/* -1: no series */
	uint8		day_kind[SIM_DAYS];		/* DAY_* bits */
	double		spike[SIM_DAYS];	/* organisation-wide volume factor */
	int			hires_eval;		/* hired during evaluation */
	int			changes_eval;
	int			leaves_eval;
	int			adopts_eval;
} Org;

#define DAY_BUSINESS	1
#define DAY_MONTH_END	2
#define DAY_HOLIDAY		4

/* one statement: reads "rows" rows from one table */
typedef struct Stmt
{
	int64		t;				/* start, microseconds (TimestampTz) */
	int64		rows;
	int16		slot;
	int16		event;			/* index of the exfiltration; -1: normal */
} Stmt;

typedef struct Event
{
	int			id;
	int			role;
	int			size;			/* index into size_factor */
	Sizing		sizing;
	double		basis;			/* the volume it is sized on */
	Shape		shape;
	int			batch;
	int			job;			/* the role's job at the time */
	int			slot;			/* table read */
	double		median_daily;
	int64		rows;			/* total to read */
	int64		start;			/* first statement */
	int			first_hour;
	int			last_hour;
	int			nstmts;
	Stmt	   *stmts;			/* by time */
} Event;

/* org.c */
extern uint64 mix64(uint64 x);
extern uint64 hash4(uint64 a, uint64 b, uint64 c, uint64 d);
extern void org_build(Org *org, uint64 seed);
extern const Job *role_job(const Org *org, int role, int day);
extern bool role_employed(const Org *org, int role, int day);
extern double activity_p(const Org *org, int role, int hour);
extern bool in_shift(const Org *org, int role, int hour);
extern int	gen_hour(const Org *org, int role, int hour, Stmt *out);
extern int	make_events(Org *org, Event *events, int first_id, Sizing sizing,
						int *nbatches);
extern int	membership_since(const Org *org, int role, int day);

#endif							/* DETECT_H */
