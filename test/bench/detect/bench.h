/*-------------------------------------------------------------------------
 *
 * bench.h
 *		The benchmark's deployments, what one seed's run yields, and the
 *		insider scenarios.
 *
 * IDENTIFICATION
 *		test/bench/detect/bench.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BENCH_H
#define BENCH_H

#include "engine.h"

/* what one event is, for the report (Event without its statements) */
typedef struct EvMeta
{
	int			size;
	Shape		shape;
	Sizing		sizing;
	int			role;
	int64		rows;
	int64		start;			/* first statement */
	double		basis;			/* the volume it is sized on */
	double		median_daily;
} EvMeta;

/* what one deployment did on one seed */
typedef struct DepSeed
{
	bool		ran;
	int64		alerts[N_CLASSES][MAX_RULES];	/* false breaks (records) */
	int64		alert_days[N_CLASSES];	/* active role-days with one */
	int64		block_days[N_CLASSES];	/* with a false block record */
	int64		stop_days[N_CLASSES];	/* with a statement stopped */
	int64		verified;
	int64		verify_diff;
} DepSeed;

#define MAX_DEP			40

typedef struct SeedResult
{
	uint64		seed;
	int			nroles;
	int			hires_eval;
	int			changes_eval;
	int			leaves_eval;
	int			adopts_eval;
	int			nbatches[2];
	int			nevents;
	int64		active_days[N_CLASSES];
	int64		role_days[N_CLASSES];
	int64		active_hours;
	int64		stmts;
	double		seconds;
	DepSeed		dep[MAX_DEP];
	EvMeta		ev[EVENTS_TOTAL];
	EventResult res[MAX_DEP][EVENTS_TOTAL];
} SeedResult;

/* scenario.c */
extern void run_scenarios(const Deployment *recommended,
						  const Deployment *whatif);

#endif							/* BENCH_H */
