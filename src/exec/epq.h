/*-------------------------------------------------------------------------
 *
 * epq.h
 *		Counting the scans of EvalPlanQual recheck plans.
 *
 * src/exec/epq.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_EPQ_H
#define IG_EPQ_H

#include "nodes/execnodes.h"

/*
 * Called when a recheck plan has been initialized: its executor state and
 * the top of the real plan (the recheck's subplans are in the state).
 */
typedef void (*IgEpqBeginFn) (EState *estate, PlanState *planstate,
							  bool foreign_key);

extern void ig_epq_init(IgEpqBeginFn fn);
extern void ig_epq_watch(EPQState *epq, bool foreign_key);

#endif							/* IG_EPQ_H */
