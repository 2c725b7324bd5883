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

/* the history series a rule covers: per hour or day, all tables or one */
typedef enum Kind
{
	K_HOUR_ALL,
	K_DAY_ALL,
	K_HOUR_TABLE,
	K_DAY_TABLE,
	N_KINDS
} Kind;

#define KIND_HOURLY(k)	((k) == K_HOUR_ALL || (k) == K_HOUR_TABLE)
#define KIND_TABLE(k)	((k) >= K_HOUR_TABLE)

typedef enum Source
{
	SRC_SELF,					/* insider_guard compare_to 'self' */
	SRC_PEERS,					/* 'peers' */
	SRC_BOTH,					/* 'both' */
	SRC_FIXED,					/* factor x the group's warm-up maximum */
	SRC_Z,						/* mean + 3 sd of the role's past windows */
	SRC_SPIKE,					/* z > 3 and (x - p90) / (p90 - p25 + 1) > 2 */
	SRC_ORACLE					/* the role's own clean maximum in evaluation */
} Source;

typedef struct Rule
{
	Kind		kind;
	Source		src;
	bool		block;
	double		factor;
	int64		min_rows;
} Rule;

#define MAX_RULES		4

typedef struct Deployment
{
	const char *name;
	int			nrules;
	Rule		rule[MAX_RULES];
	bool		reset_on_change;	/* forget own history at a role change
									 * (insider_guard.reset_history) */
} Deployment;

/* exact history of a series, for the z-score and spike rules */
typedef struct Exact
{
	int64	   *v;				/* sorted */
	int			n;
	int			cap;
	double		sum;
	double		sumsq;
	int			days;
	int			last_day;
} Exact;

/* the history seeded from warm-up, shared by every detector */
typedef struct Base
{
	IgHistogram *hist[N_KINDS];
	Exact	   *exact[2];		/* K_HOUR_ALL, K_DAY_ALL */
	int64		group_max[2][N_GROUPS];
	int64		oracle[2][MAX_ROLES][2];	/* by job */
} Base;

/* role classes the false alerts are counted by */
typedef enum RoleClass
{
	CLS_STEADY,					/* none of the below */
	CLS_HEAVY,					/* heavy-tailed roles */
	CLS_CHANGED,				/* the 30 days after a role change */
	CLS_NEW_HIRE,				/* the 30 days after a hire */
	N_CLASSES
} RoleClass;

/* what happened to one exfiltration under one detector */
typedef struct EventResult
{
	bool		detected;
	bool		blocked;
	int64		t_detect;
	int64		limit;			/* of the first break (the block if one) */
	int64		read;			/* exfiltrated rows read before it stopped */
	int64		leak;			/* read before the block */
	bool		started;
	int64		limit0[MAX_RULES];	/* in force at its first statement */
} EventResult;

typedef struct Win
{
	int64		rows;
	int64		exfil;
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
	/* results */
	int64		alerts[N_CLASSES][MAX_RULES];	/* breaks not caused by an event */
	int64		blocked_stmts[N_CLASSES];
	EventResult *ev;
	int64		verified;		/* limits recomputed at a later statement */
	int64		verify_diff;
	int64		pools;
} Inst;

/* the role-hour being run */
typedef struct Ctx
{
	int			role;
	int			hour;
	int			day;
	int			group;
	RoleClass	cls;
	int			event;			/* the role's event in this run; -1 */
} Ctx;

/* what the engine reads: the organisation and who is in which group */
typedef struct World
{
	const Org  *org;
	const Base *base;
	int		   *members[N_GROUPS];
	int			nmembers[N_GROUPS];
} World;

extern World world;

#define SERIES(k, role, slot) \
	(KIND_TABLE(k) ? (role) * MAX_SLOTS + (slot) : (role))
#define N_SERIES(k)		(KIND_TABLE(k) ? MAX_ROLES * MAX_SLOTS : MAX_ROLES)

extern void exact_add(Exact *e, int64 v, int day);
extern void inst_init(Inst *in, const Deployment *dep, int nevents);
extern void inst_free(Inst *in);
extern void inst_day_start(Inst *in, int day);
extern void inst_role_hour(Inst *in, const Ctx *c, const Stmt *stmts, int n);
extern void inst_close(Inst *in, bool hourly, int64 window_end, int day);

/* selftest.c */
extern int	engine_selftest(void);

#endif							/* ENGINE_H */
