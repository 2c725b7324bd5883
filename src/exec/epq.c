/*-------------------------------------------------------------------------
 *
 * epq.c
 *		Counting the scans of EvalPlanQual recheck plans.
 *
 * When UPDATE, DELETE, MERGE or SELECT ... FOR UPDATE/SHARE meets a row
 * that a concurrent transaction changed, PostgreSQL rechecks the new
 * version with a second copy of the plan below the ModifyTable or
 * LockRows node (EvalPlanQualStart): a separate executor state whose
 * nodes never pass through the ExecutorStart hook.  Its correlated
 * subqueries, and the scans under them, run again on the new row version
 * and can read any table; left alone they would read uncounted.
 *
 * The recheck plan is started from the EPQState's "plan" pointer, a
 * field of the executor's own state (not of the cached plan).  At
 * ExecutorStart, every ModifyTable and LockRows node of a counted
 * statement has that pointer replaced by a CustomScan of ours whose only
 * child is the original plan.  Nothing else changes: unless a recheck
 * happens, the CustomScan is never initialized, so plans that never
 * recheck pay nothing per row.  When a recheck starts the recheck plan,
 * the CustomScan's BeginCustomScan initializes the real plan below it,
 * then hands the recheck's executor state to the callback the executor
 * hooks registered (ig_epq_init), which puts counters on its scans as on
 * any statement's: they count and are enforced, stopped at the row that
 * breaks a limit, for the session user of the statement.  The row being
 * rechecked (and rows of other tables re-fetched through row marks) come
 * back from their scan nodes once per recheck and count too.
 *
 * The CustomScan returns its child's slots unchanged, passes rescans on
 * (EvalPlanQualBegin marks the top node with the EPQ parameter; it
 * reaches the child as lefttree), and ends the child with itself.
 *
 * IDENTIFICATION
 *		src/exec/epq.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "nodes/extensible.h"
#include "utils/memutils.h"

#include "exec/epq.h"

/* The recheck plan wrapper: a CustomScan with the real plan below it. */
typedef struct IgEpqPlan
{
	CustomScan	cscan;
	bool		foreign_key;	/* the statement is a foreign-key query */
} IgEpqPlan;

static IgEpqBeginFn epq_begin = NULL;

static Node *epq_create_state(CustomScan *cscan);
static void epq_begin_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *epq_exec(CustomScanState *node);
static void epq_end(CustomScanState *node);
static void epq_rescan(CustomScanState *node);

static const CustomScanMethods epq_plan_methods = {
	.CustomName = "insider_guard recheck",
	.CreateCustomScanState = epq_create_state,
};

static const CustomExecMethods epq_exec_methods = {
	.CustomName = "insider_guard recheck",
	.BeginCustomScan = epq_begin_scan,
	.ExecCustomScan = epq_exec,
	.EndCustomScan = epq_end,
	.ReScanCustomScan = epq_rescan,
};

/*
 * Registers what to call with a recheck plan's executor state; once per
 * backend.
 */
void
ig_epq_init(IgEpqBeginFn fn)
{
	epq_begin = fn;
}

/*
 * Makes a recheck of this EPQState count: its plan is wrapped, in the
 * executor state's memory.  foreign_key says the statement is a
 * foreign-key query (see executor.c).
 */
void
ig_epq_watch(EPQState *epq, bool foreign_key)
{
	Plan	   *real = epq->plan;
	IgEpqPlan  *wrapper;

	if (real == NULL || epq->recheckestate != NULL ||
		(IsA(real, CustomScan) &&
		 ((CustomScan *) real)->methods == &epq_plan_methods))
		return;

	wrapper = MemoryContextAllocZero(epq->parentestate->es_query_cxt,
									 sizeof(IgEpqPlan));
	NodeSetTag(wrapper, T_CustomScan);
	wrapper->cscan.scan.plan.startup_cost = real->startup_cost;
	wrapper->cscan.scan.plan.total_cost = real->total_cost;
	wrapper->cscan.scan.plan.plan_rows = real->plan_rows;
	wrapper->cscan.scan.plan.plan_width = real->plan_width;
	wrapper->cscan.scan.plan.plan_node_id = real->plan_node_id;
	/* the recheck reads the parameters of the real plan */
	wrapper->cscan.scan.plan.extParam = real->extParam;
	wrapper->cscan.scan.plan.allParam = real->allParam;
	wrapper->cscan.scan.plan.lefttree = real;
	wrapper->cscan.scan.scanrelid = 0;
	wrapper->cscan.custom_plans = NIL;
	wrapper->cscan.methods = &epq_plan_methods;
	wrapper->foreign_key = foreign_key;
	epq->plan = (Plan *) wrapper;
}

static Node *
epq_create_state(CustomScan *cscan)
{
	CustomScanState *css = makeNode(CustomScanState);

	css->methods = &epq_exec_methods;
	return (Node *) css;
}

/*
 * A recheck starts: initializes the real plan, then counts its scans.
 */
static void
epq_begin_scan(CustomScanState *node, EState *estate, int eflags)
{
	IgEpqPlan  *wrapper = (IgEpqPlan *) node->ss.ps.plan;
	PlanState  *child;

	child = ExecInitNode(wrapper->cscan.scan.plan.lefttree, estate, eflags);
	outerPlanState(node) = child;
	if (epq_begin != NULL)
		epq_begin(estate, child, wrapper->foreign_key);
}

static TupleTableSlot *
epq_exec(CustomScanState *node)
{
	return ExecProcNode(outerPlanState(node));
}

static void
epq_end(CustomScanState *node)
{
	ExecEndNode(outerPlanState(node));
}

/*
 * A rescan: the parameters that changed were passed to the child by
 * ExecReScan (it is the lefttree); rescan it if none did.
 */
static void
epq_rescan(CustomScanState *node)
{
	PlanState  *child = outerPlanState(node);

	if (child->chgParam == NULL)
		ExecReScan(child);
}
