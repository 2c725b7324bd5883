/*-------------------------------------------------------------------------
 *
 * engine.h
 *		Detectors as deployed rules: insider_guard's baseline rules (driving
 *		src/base/stats.c), fixed thresholds, a z-score rule and a spike rule, all
 *		enforced per statement in the same way.
 *
 * IDENTIFICATION
 *		test/bench/detect/engine.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENGINE_H
#define ENGINE_H

#include "detect.h"

/*
 * The history series a rule covers: per hour or day, all tables or one,
 * and per 7 days (all tables): a rolling sum of the last 7 daily windows,
 * its series fed once a day with the 7-day total ending that day.
 */
typedef enum Kind
{
	K_HOUR_ALL,
	K_DAY_ALL,
	K_HOUR_TABLE,
	K_DAY_TABLE,
	K_WEEK_ALL,
	N_KINDS
} Kind;

#define KIND_HOURLY(k)	((k) == K_HOUR_ALL || (k) == K_HOUR_TABLE)
#define KIND_TABLE(k)	((k) == K_HOUR_TABLE || (k) == K_DAY_TABLE)
/* a peer-group membership younger than this raises no limit */
#define YOUNG_MEMBERSHIP_DAYS 14

typedef enum Source
{
	SRC_SELF,					/* insider_guard compare_to 'self' */
	SRC_PEERS,					/* 'peers' */
	SRC_BOTH,					/* 'both' */
	SRC_NOVELTY,				/* insider_guard's novelty rule (K_DAY_TABLE) */
	SRC_FIXED,					/* factor x the group's warm-up maximum */
	SRC_Z,						/* log(1 + rows): mean + 3 sd of past windows */
	SRC_SPIKE,					/* z > 3 and (x - p95) / (p95 - p25 + 1) > 2 */
	SRC_ORACLE					/* the role's own clean maximum in evaluation */
} Source;

#define SRC_IG(src)		((src) <= SRC_BOTH)	/* a baseline rule */

typedef struct Rule
{
	Kind		kind;
	Source		src;
	bool		block;
	double		factor;
	int64		min_rows;
} Rule;

#define MAX_RULES		8

typedef struct Deployment
{
	const char *name;
	int			nrules;
	Rule		rule[MAX_RULES];
	bool		reset_on_change;	/* forget own history at a role change
									 * (insider_guard.reset_history) */
	int			young_fallback; /* what-if, not the extension: a membership
								 * younger than 14 days gives the peer limit
								 * while the own side is unusable (YF_*) */
	int			rise;			/* RISE_*: RISE_AS_IS is the extension */
} Deployment;

/* how limits may rise (Deployment.rise) */
#define RISE_AS_IS		0		/* stats.c: at most a bin a 7-day period */
#define RISE_NONE		1		/* what-if: no cap (stats.c before 56e68cd) */

/* exact history of a series, for the z-score and spike rules */
typedef struct Exact
{
	int64	   *v;				/* sorted */
	int			n;
	int			cap;
	double		sum;			/* of log(1 + rows) */
	double		sumsq;
	int			days;
	int			last_day;
} Exact;

/* the history seeded from warm-up, shared by every detector */
typedef struct Base
{
	IgHistogram *hist[N_KINDS];
	Exact	   *exact[2];		/* K_HOUR_ALL, K_DAY_ALL */
	int64		group_max[2][N_PEER_GROUPS];
	int64		oracle[2][MAX_ROLES][2];	/* by job */
	int64		week_ring[MAX_ROLES][7];	/* last 7 warm-up days, by day % 7 */
} Base;

/* role classes the false alerts are counted by */
typedef enum RoleClass
{
	CLS_STEADY,					/* none of the below */
	CLS_HEAVY,					/* heavy-tailed roles */
	CLS_CHANGED,				/* the 30 days after a role change */
	CLS_SERVICE,				/* service accounts */
	CLS_NEW_HIRE,				/* a new hire's first 14 days */
	N_CLASSES
} RoleClass;

#define NEW_CLASS_DAYS	14

/* what happened to one exfiltration under one detector */
typedef struct EventResult
{
	bool		detected;		/* a break credited to it */
	bool		blocked;		/* a credited block stopped it */
	bool		stopped;		/* a block stopped it, credited or not */
	bool		started;
	int16		uncredited;		/* breaks not credited: the clean run broke
								 * the same rule in the same window */
	int8		rule;			/* the first credited break's rule */
	int64		t_detect;
	int64		limit;			/* of the first break (the block if one) */
	int64		read;			/* exfiltrated rows read before it stopped */
	int64		leak;			/* read before the block */
	int64		limit0[MAX_RULES];	/* in force at its first statement */
} EventResult;

/* the (rule, window) breaks of watched roles in the clean run */
typedef struct KeySet
{
	uint64	   *keys;			/* open addressing, 0 empty */
	int			cap;
	int			n;
} KeySet;

extern void keyset_add(KeySet *ks, uint64 key);
extern uint64 break_key(int role, int rule, int slot, int32 win);
extern bool keyset_has(const KeySet *ks, uint64 key);

typedef struct Win
{
	int64		rows;			/* per 7 days: the rolling sum */
	int64		exfil;
	int64		today;			/* per 7 days: rows read today */
	int64		exfil_today;
	int32		win;			/* hour or day of the open window; -1 */
	uint8		flags[MAX_RULES];
	int64		limit[MAX_RULES];
	int64		peer_high;		/* the p99 peer limits come from, or -1 */
} Win;

typedef struct Inst
{
	const Deployment *dep;
	bool		uses[N_KINDS];
	bool		ig[N_KINDS];	/* has insider_guard rules on the kind */
	bool		exact;			/* has z / spike rules */
	IgHistogram *hist[N_KINDS];
	Exact	   *ex[2];
	Win		   *win[N_KINDS];
	int		   *touched[N_KINDS];
	int			ntouched[N_KINDS];
	/* per 7 days: each role's daily totals and exfiltrated rows, by day % 7 */
	int64		(*week_rows)[7];
	int64		(*week_exfil)[7];
	uint8		(*incident)[MAX_RULES];	/* per 7 days: an incident is open */
	int64		(*last_cross)[MAX_RULES];	/* per 7 days, log: the time of the
											 * last crossing, or 0 */
	bool		novelty;		/* has a novelty rule */
	/* pools of whole peer groups (all-tables kinds), while history holds */
	uint32		gen[N_KINDS];	/* moves when a series of the kind is fed */
	struct GroupPool *group_pool[N_KINDS];
	bool		(*known)[N_TABLES];	/* by group: read by a usable member */
	/* results */
	int64		alerts[N_CLASSES][MAX_RULES];	/* breaks not caused by an event */
	int64		blocked_stmts[N_CLASSES];
	uint8	   *day_flags;		/* [role * EVAL_DAYS + day]: DF_* */
	EventResult *ev;			/* by event id */
	KeySet	   *record;			/* clean run: note watched roles' breaks */
	const bool *watch;
	const KeySet *clean;		/* event runs: the clean run's breaks */
	int64		verified;		/* limits recomputed at a later statement */
	int64		verify_diff;
	int64		pools;
} Inst;

/* young_fallback */
#define YF_NONE			0		/* the extension: a young group gives nothing */
#define YF_PEERS		1		/* its peer limit, while the own is unusable */
#define YF_CAPPED		2		/* the same, but a block rule's never above
								 * its cold-start limit (min_rows) */

typedef struct GroupPool
{
	bool		valid;
	uint32		gen;
	int64		at;				/* the weights are brought to then */
	IgHistPool	pool;			/* every member's usable series */
} GroupPool;

/* day_flags */
#define DF_ALERT		1		/* a false break (a new record) of any rule */
#define DF_STOPPED		2		/* a statement stopped by a block rule */
#define DF_BLOCK		4		/* a false break of a block rule */

/* the role-hour being run */
typedef struct Ctx
{
	int			role;
	int			hour;
	int			day;
	int			group;
	RoleClass	cls;
	int			event;			/* the role's event in this run; -1 */
	bool		young;			/* its membership is younger than 14 days */
} Ctx;

/* what the engine reads: the organisation and who is in which group */
typedef struct World
{
	const Org  *org;
	const Base *base;
	int		   *members[N_PEER_GROUPS];
	int			nmembers[N_PEER_GROUPS];
} World;

extern World world;

#define SERIES(k, role, slot) \
	(KIND_TABLE(k) ? (role) * MAX_SLOTS + (slot) : (role))
#define N_SERIES(k)		(KIND_TABLE(k) ? MAX_ROLES * MAX_SLOTS : MAX_ROLES)

extern void exact_add(Exact *e, int64 v, int day);
extern void inst_init(Inst *in, const Deployment *dep, int nevents);
extern int64 inst_headroom(Inst *in, Kind k, const Ctx *c, int slot, int64 t,
						   int rule);
extern void inst_free(Inst *in);
extern void inst_day_start(Inst *in, int day);
extern void inst_role_hour(Inst *in, const Ctx *c, const Stmt *stmts, int n);
extern void inst_close(Inst *in, bool hourly, int64 window_end, int day);

/* selftest.c */
extern int	engine_selftest(void);

#endif							/* ENGINE_H */
