/*-------------------------------------------------------------------------
 *
 * fastscan_ios.c
 *		The index-only scan fast path: a counting trampoline that stands in
 *		for core's ExecIndexOnlyScan instead of wrapping it.
 *
 * count(*) as the planner plans it on a vacuumed table is an index-only
 * scan with neither filter nor projection.  For such a node -- a forward
 * scan, of an index without ORDER BY operators or name columns -- while
 * insider_guard.fast_scans is on, the trampoline takes the place of
 * ExecIndexOnlyScan and does what these core functions do for it, with the
 * same calls in the same order, then counts the row:
 *
 *	ExecIndexOnlyScan (nodeIndexonlyscan.c)
 *		runtime keys ready: ExecScan with IndexOnlyNext
 *	ExecScan (execScan.c)
 *		no qual, no projection: reset the per-tuple context, ExecScanFetch
 *	ExecScanFetch (execScan.c)
 *		CHECK_FOR_INTERRUPTS; outside EvalPlanQual, the access method
 *	IndexOnlyNext, StoreIndexTuple (nodeIndexonlyscan.c)
 *		scan begun, forward: the next TID from the index; the visibility
 *		map, and the heap when the page is not all-visible; the index
 *		tuple (or the heap-format tuple a GiST or SP-GiST index returns)
 *		into the scan slot; a lossy index's recheck; a predicate lock on
 *		the heap page when the heap was not visited; an empty slot at the
 *		end
 *
 * So which rows are seen, and what SERIALIZABLE locks, are exactly
 * core's.  Whatever else those functions do goes through core's
 * ExecIndexOnlyScan itself, the node's real function: the first call,
 * which begins the scan, runtime keys not yet computed, a backward
 * direction (a cursor's FETCH BACKWARD), and every call inside an
 * EvalPlanQual recheck.  The node is wrapped this way only if its
 * function is core's own, not another extension's wrapper; nodes with
 * ORDER BY operators or name columns (whose cstrings core copies) always
 * go to core, so the "lossy distance" error and the name copies need no
 * code here.
 *
 * Checked against:
 *	15.20: the installed server's machine code.  Its source was not at
 *		hand; 15.18's was.  15.18's nodeIndexonlyscan.c, compiled with the
 *		server's compiler (gcc 12.2) and flags (pg_config --cflags
 *		--cppflags) against 15.20's headers, does NOT match the 15.20
 *		executable: 15.20's IndexOnlyNext clears the scan slot once before
 *		filling it, stores a heap-format tuple with heap_deform_tuple and
 *		the index AM's descriptor (xs_hitupdesc) into a virtual tuple
 *		instead of ExecForceStoreHeapTuple with the slot's, and shares
 *		ExecStoreVirtualTuple with the index-tuple branch.  15.18's source
 *		edited that way compiles to the same instructions, calls, branches
 *		and field offsets as 15.20's IndexOnlyNext, differing only in
 *		register allocation; the rest of the file (ExecIndexOnlyScan
 *		included) and execScan.c are the same code.  The code below follows
 *		15.20.  The headers it uses were compared with 15.18's: the only
 *		changes are in structs and inline functions it does not use.
 *	15.18: not enabled -- its IndexOnlyNext differs as above.
 * compat.h builds and enables this path for 15.20 only.
 *
 * IDENTIFICATION
 *		src/exec/fastscan_ios.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/visibilitymap.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/predicate.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/compat.h"
#include "exec/fastscan.h"
#include "exec/tramp_pool.h"

#ifdef IG_INDEXONLYSCAN_FAST_PATH

static const int checked[] = IG_INDEXONLYSCAN_CHECKED;

/* the server runs a checked release: decided at load */
static bool enabled = false;

static IgCoreFn core_indexonlyscan;

/*
 * ExecIndexOnlyScan, for a scan ig_fastscan_ios accepted, counting its
 * rows: the next row, or an empty scan slot at the end.
 */
static pg_attribute_always_inline TupleTableSlot *
ios_next(PlanState *ps, IgTramp *tramp)
{
	IndexOnlyScanState *node = (IndexOnlyScanState *) ps;
	EState	   *estate = ps->state;
	IndexScanDesc scan = node->ioss_ScanDesc;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = ps->ps_ExprContext;
	ItemPointer tid;

	if (unlikely(scan == NULL || estate->es_epq_active != NULL ||
				 estate->es_direction != ForwardScanDirection ||
				 (node->ioss_NumRuntimeKeys != 0 && !node->ioss_RuntimeKeysReady)))
		return ig_tramp_slow(tramp, ps);

	/* ExecScan, then ExecScanFetch */
	ResetExprContext(econtext);
	CHECK_FOR_INTERRUPTS();

	/* IndexOnlyNext */
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		tuple_from_heap = false;

		CHECK_FOR_INTERRUPTS();

		/* a page not all-visible: the heap decides whether the row is seen */
		if (!VM_ALL_VISIBLE(scan->heapRelation,
							ItemPointerGetBlockNumber(tid),
							&node->ioss_VMBuffer))
		{
			InstrCountTuples2(node, 1);
			if (!index_fetch_heap(scan, node->ioss_TableSlot))
				continue;
			ExecClearTuple(node->ioss_TableSlot);
			if (scan->xs_heap_continue)
				elog(ERROR, "non-MVCC snapshots are not supported in index-only scans");
			tuple_from_heap = true;
		}

		/* the row, from the index, in either format */
		ExecClearTuple(slot);
		if (scan->xs_hitup)
			heap_deform_tuple(scan->xs_hitup, scan->xs_hitupdesc,
							  slot->tts_values, slot->tts_isnull);
		else if (scan->xs_itup)
			index_deform_tuple(scan->xs_itup, scan->xs_itupdesc,
							   slot->tts_values, slot->tts_isnull);
		else
			elog(ERROR, "no data returned for index-only scan");
		ExecStoreVirtualTuple(slot);

		/* a lossy index: its conditions are checked again */
		if (scan->xs_recheck)
		{
			econtext->ecxt_scantuple = slot;
			if (!ExecQualAndReset(node->recheckqual, econtext))
			{
				InstrCountFiltered2(node, 1);
				continue;
			}
		}

		/* serializable: the heap page counts as read */
		if (!tuple_from_heap)
			PredicateLockPage(scan->heapRelation,
							  ItemPointerGetBlockNumber(tid),
							  estate->es_snapshot);

		if (unlikely(--tramp->left < 0))
			ig_exhausted(tramp, NULL);
		return slot;
	}

	/* the end */
	return ExecClearTuple(slot);
}

#define IOS_TRAMPOLINE(n) \
static TupleTableSlot * \
ios_tramp_##n(PlanState *ps) \
{ \
	return ios_next(ps, &ig_exec_tramps[0##n]); \
}

IG_OCTAL64(IOS_TRAMPOLINE)

#define IOS_NAME(n) ios_tramp_##n,

static const ExecProcNodeMtd ios_trampolines[IG_POOL_SIZE] = {
	IG_OCTAL64(IOS_NAME)
};

/*
 * Enables the fast path if the server runs a release it was checked
 * against; else says once why it is off.
 */
void
ig_fastscan_ios_init(void)
{
	enabled = ig_fastscan_release_checked("index-only scan", checked,
										  lengthof(checked));
}

/*
 * The trampoline of pool index "index" in place of ExecIndexOnlyScan, if
 * the node is an index-only scan without qual or projection, ORDER BY
 * operators or name columns, not planned backward, whose function is
 * core's own.
 */
ExecProcNodeMtd
ig_fastscan_ios(PlanState *ps, int index)
{
	IndexOnlyScanState *node = (IndexOnlyScanState *) ps;

	if (!enabled ||
		!IsA(ps, IndexOnlyScanState) ||
		ps->qual != NULL ||
		ps->ps_ProjInfo != NULL ||
		node->ioss_NumOrderByKeys != 0 ||
		node->ioss_NameCStringAttNums != NULL ||
		((IndexOnlyScan *) ps->plan)->indexorderdir == BackwardScanDirection ||
		!ig_is_core_fn(&core_indexonlyscan, ps->ExecProcNodeReal))
		return NULL;
	return ios_trampolines[index];
}

#else							/* !IG_INDEXONLYSCAN_FAST_PATH */

/* Says once that this build has no index-only scan fast path. */
void
ig_fastscan_ios_init(void)
{
	ig_fastscan_release_checked("index-only scan", NULL, 0);
}

ExecProcNodeMtd
ig_fastscan_ios(PlanState *ps, int index)
{
	return NULL;
}

#endif							/* IG_INDEXONLYSCAN_FAST_PATH */
