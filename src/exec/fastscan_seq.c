/*-------------------------------------------------------------------------
 *
 * fastscan_seq.c
 *		The sequential-scan fast path: a counting trampoline that stands in
 *		for core's ExecSeqScan instead of wrapping it.
 *
 * A sequential scan with neither filter nor projection (count(*), SELECT
 * * FROM t) is the cheapest scan per row, where even a wrapper shows.
 * For such a node, while insider_guard.fast_scans is on, the trampoline
 * takes the place of ExecSeqScan and does what these core functions do
 * for it, in the same order, then counts the row:
 *
 *	ExecSeqScan (nodeSeqscan.c)		ExecScan with SeqNext and SeqRecheck
 *	ExecScan (execScan.c)			no qual, no projection: reset the
 *									per-tuple context, ExecScanFetch
 *	ExecScanFetch (execScan.c)		CHECK_FOR_INTERRUPTS; outside
 *									EvalPlanQual, the access method
 *	SeqNext (nodeSeqscan.c)			scan begun: table_scan_getnextslot
 *									into the scan slot, NULL at the end
 *
 * Whatever else those functions do goes through core's ExecSeqScan
 * itself, the node's real function: the first call, which begins the
 * scan (table_beginscan takes the serializable predicate lock on the
 * relation there), and every call inside an EvalPlanQual recheck (test
 * tuples, row marks).  The visibility of each row is the table access
 * method's, reached through the same inline function as in core.  The
 * node is wrapped this way only if its function is core's own, not
 * another extension's wrapper.
 *
 * Checked against:
 *	15.18: the source (postgresql-15.18, nodeSeqscan.c and execScan.c),
 *		line by line against the code below.
 *	15.20: the installed server's machine code.  15.18's nodeSeqscan.c
 *		and execScan.c, compiled with the server's compiler (gcc 12.2) and
 *		flags (pg_config --cflags --cppflags) against 15.20's headers, are
 *		byte for byte the text of the 15.20 postgres executable, apart from
 *		relocated addresses; the headers this file and those files use
 *		(execnodes.h's scan states, tableam.h's table_scan_getnextslot,
 *		tuptable.h, executor.h, miscadmin.h, memutils.h) were compared:
 *		the only changes, in structs and inline functions neither uses.
 * compat.h builds and enables this path for those releases only.
 *
 * IDENTIFICATION
 *		src/exec/fastscan_seq.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "base/compat.h"
#include "exec/fastscan.h"
#include "exec/tramp_pool.h"

#ifdef IG_SEQSCAN_FAST_PATH

static const int checked[] = IG_SEQSCAN_CHECKED;

/* the server runs a checked release: decided at load */
static bool enabled = false;

static IgCoreFn core_seqscan;

/*
 * ExecSeqScan, for a scan without qual or projection, counting its rows.
 * Core's own ExecSeqScan begins the scan and runs EvalPlanQual rechecks.
 */
#define SEQ_TRAMPOLINE(n) \
static TupleTableSlot * \
seq_tramp_##n(PlanState *ps) \
{ \
	SeqScanState *node = (SeqScanState *) ps; \
	TableScanDesc scan = node->ss.ss_currentScanDesc; \
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot; \
\
	if (unlikely(scan == NULL || ps->state->es_epq_active != NULL)) \
		return ig_tramp_slow(&ig_exec_tramps[0##n], ps); \
	/* ExecScan, then ExecScanFetch */ \
	ResetExprContext(ps->ps_ExprContext); \
	CHECK_FOR_INTERRUPTS(); \
	/* SeqNext */ \
	if (!table_scan_getnextslot(scan, ps->state->es_direction, slot)) \
		return NULL; \
	if (unlikely(--ig_exec_tramps[0##n].left < 0)) \
		ig_exhausted(&ig_exec_tramps[0##n], NULL); \
	return slot; \
}

IG_OCTAL64(SEQ_TRAMPOLINE)

#define SEQ_NAME(n) seq_tramp_##n,

static const ExecProcNodeMtd seq_trampolines[IG_POOL_SIZE] = {
	IG_OCTAL64(SEQ_NAME)
};

/*
 * Enables the fast path if the server runs a release it was checked
 * against; else says once why it is off.
 */
void
ig_fastscan_seq_init(void)
{
	enabled = ig_fastscan_release_checked("sequential-scan", checked,
										  lengthof(checked));
}

/*
 * The trampoline of pool index "index" in place of ExecSeqScan, if the
 * node is a sequential scan without qual or projection whose function is
 * core's own.
 */
ExecProcNodeMtd
ig_fastscan_seq(PlanState *ps, int index)
{
	if (!enabled ||
		!IsA(ps, SeqScanState) ||
		ps->qual != NULL ||
		ps->ps_ProjInfo != NULL ||
		!ig_is_core_fn(&core_seqscan, ps->ExecProcNodeReal))
		return NULL;
	return seq_trampolines[index];
}

#else							/* !IG_SEQSCAN_FAST_PATH */

/* Says once that this build has no sequential-scan fast path. */
void
ig_fastscan_seq_init(void)
{
	ig_fastscan_release_checked("sequential-scan", NULL, 0);
}

ExecProcNodeMtd
ig_fastscan_seq(PlanState *ps, int index)
{
	return NULL;
}

#endif							/* IG_SEQSCAN_FAST_PATH */
