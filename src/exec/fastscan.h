/*-------------------------------------------------------------------------
 *
 * fastscan.h
 *		The fast paths: trampolines that stand in for core's own scan
 *		function instead of wrapping it (fastscan_seq.c, fastscan_ios.c).
 *
 * Each is built only for the core releases compat.h lists for it and used
 * only when the server runs one of them; tramp.c asks for one only while
 * insider_guard.fast_scans is on.
 *
 * src/exec/fastscan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_FASTSCAN_H
#define IG_FASTSCAN_H

#include "nodes/execnodes.h"

/*
 * Compares the server's release with the checked ones, once, when the
 * library loads; logs once if a fast path is off for that reason.
 */
extern void ig_fastscan_seq_init(void);
extern void ig_fastscan_ios_init(void);

/*
 * The fast trampoline of pool index "index" for the node, or NULL if the
 * node is not one the fast path stands in for (or the path is off).
 */
extern ExecProcNodeMtd ig_fastscan_seq(PlanState *ps, int index);
extern ExecProcNodeMtd ig_fastscan_ios(PlanState *ps, int index);

#endif							/* IG_FASTSCAN_H */
