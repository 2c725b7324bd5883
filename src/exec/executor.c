/*-------------------------------------------------------------------------
 *
 * executor.c
 *		Executor hooks: find each statement's scans of user tables and put
 *		a counter on each.
 *
 * At ExecutorStart (after the standard one) the plan-state tree and every
 * subplan are walked once.  Each scan node on a counted relation gets a
 * trampoline (tramp.c) where a row first meets code of the query: in
 * front of its filter when the filter passes rows to a function that is
 * not leakproof (every row it looks at counts), else in front of its
 * projection when it projects (ExecScan projects a row before handing it
 * out), else in front of its ExecProcNodeReal.  So no function of the
 * query sees a row before it is counted, and a row that makes the
 * statement fail has been counted.  An INSERT ... ON CONFLICT DO UPDATE
 * gets one in front of its SET projection (or its leaky WHERE), counting
 * each existing row it reaches, attributed to the partition it is in.
 * The EvalPlanQual rechecks of its ModifyTable and LockRows nodes run a
 * second copy of the plan that never passes through ExecutorStart: epq.c
 * hands it back to this walk when a recheck starts it.
 *
 * The rules (thresholds) covering the session user are looked up once per
 * statement, after accepting pending invalidations, so that a change
 * committed by another session applies from this statement on.
 *
 * Not counted: EXPLAIN without ANALYZE, the queries PostgreSQL runs for
 * foreign-key checks and actions, logical replication workers, binary
 * upgrade, and everything while insider_guard.enabled is off.
 *
 * Foreign-key queries run in a security context that says so
 * (InNoForceRLSOperation), as the owner of the table they read.  So does
 * everything they fire -- the BEFORE triggers of a cascaded DELETE, the
 * defaults of SET DEFAULT, functions of the child's indexes -- which may
 * be any role's code, and so are the functions the planner evaluates
 * while it plans such a query (casts, stable functions it folds or
 * estimates with).  So only the executor that enters that context is the
 * foreign-key query, and of it only the scans of relations owned by the
 * role it runs as, or whose ancestor is (the partitions of a partitioned
 * referenced table, which may have other owners), go uncounted (a rule
 * can rewrite the query into anything); statements started while such a
 * query is planned, started or run (tracked by the planner, Start and Run
 * hooks) are counted as any other.  (Foreign-key queries run with their
 * AFTER triggers deferred to the statement that fired them, which runs
 * outside that context: no Finish hook is needed.)
 *
 * Autovacuum runs no statement of its own, but ANALYZE evaluates the
 * expressions of indexes, which may call functions that run statements:
 * those are counted for the owner of the table being analyzed (whose code
 * it is), whatever SECURITY DEFINER function they go through (reader.c
 * decides whom a process's reads count for).
 *
 * IDENTIFICATION
 *		src/exec/executor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/clauses.h"
#include "optimizer/planner.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "base/compat.h"
#include "shmem/counters.h"
#include "exec/epq.h"
#include "exec/executor.h"
#include "shmem/acting.h"
#include "base/guc.h"
#include "base/names.h"
#include "exec/reader.h"
#include "cache/relinfo.h"
#include "cache/rules.h"
#include "exec/statement.h"
#include "exec/tramp.h"

/* Context of the walk over a new statement's plan-state tree. */
typedef struct IgWalk
{
	EState	   *estate;
	Oid			userid;			/* the session user */
	bool		covered;		/* rules cover the user */
	IgStmt	   *stmt;			/* made on the first counted node */
	Bitmapset  *seen;			/* plan_node_ids visited, with subplans */
	bool		track_seen;
	bool		foreign_key;	/* a foreign-key query of PostgreSQL's */
	List	   *epqs;			/* EPQStates whose rechecks are to count */
} IgWalk;

static planner_hook_type prev_planner = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;

/* executors planned, started or run inside a foreign-key query's context */
static int	noforce_depth = 0;

/*
 * The executor state started last, and the top-level statement it was
 * started in: its first run in that statement needs no check of the
 * rules, which were matched a moment ago.  (A cursor's first FETCH is a
 * later statement.)
 */
static EState *fresh_estate = NULL;
static TimestampTz fresh_statement = 0;

/*
 * True if the statement starting now is a foreign-key query of
 * PostgreSQL's own (not one started beneath it): the scans of relations
 * owned by the role it runs as are not counted.
 */
bool
ig_in_foreign_key_query(void)
{
	return unlikely(InNoForceRLSOperation()) && noforce_depth == 0;
}

/* The statement for the walk, started on first need. */
static IgStmt *
walk_stmt(IgWalk *walk)
{
	if (walk->stmt == NULL)
		walk->stmt = ig_stmt_start(walk->estate, walk->userid,
								   walk->covered);
	return walk->stmt;
}

/*
 * Puts a node's trampoline where a row first meets code of the query:
 * each row is counted before any function of the query sees it.
 */
static inline void
wrap_node(PlanState *ps, IgCountedNode *node)
{
	if (ps->qual != NULL && contain_leaked_vars((Node *) ps->plan->qual))
	{
		node->kind = IG_COUNTED_FILTER;
		node->tramp = ig_wrap_expr(ps->qual, node, node->granted);
	}
	else if (ps->ps_ProjInfo != NULL && !IsA(ps, CustomScanState))
	{
		node->kind = IG_COUNTED_PROJECT;
		node->tramp = ig_wrap_expr(&ps->ps_ProjInfo->pi_state, node,
								  node->granted);
	}
	else
		node->tramp = ig_wrap_exec(ps, node, node->granted);
}

/*
 * Puts a counter on a scan node reading the given relations, if any of
 * them is counted.
 */
static void
wrap_scan(IgWalk *walk, PlanState *ps, const Oid *relids, int nrelids)
{
	IgCountedNode *node;
	Oid			kept[8];

	if (unlikely(walk->foreign_key))
	{
		/* of a foreign-key query, the relations its owner does not own */
		nrelids = Min(nrelids, (int) lengthof(kept));
		memcpy(kept, relids, sizeof(Oid) * nrelids);
		nrelids = ig_foreign_key_filter(kept, nrelids);
		if (nrelids == 0)
			return;
		relids = kept;
	}
	node = ig_stmt_scan(&walk->stmt, walk->estate, walk->userid,
						walk->covered, relids, nrelids);
	if (node != NULL)
		wrap_node(ps, node);
}

/*
 * INSERT ... ON CONFLICT DO UPDATE reads each existing row it updates:
 * count when the SET projection (or, if it is leaky, the WHERE clause)
 * reaches it.  The row's partition is known only then, so every row goes
 * through ig_tramp_exhausted.
 */
static void
wrap_on_conflict(IgWalk *walk, ModifyTableState *mt)
{
	ModifyTable *plan = (ModifyTable *) mt->ps.plan;
	IgOnConflictState *oc;
	IgCountedNode *node;
	ExprState  *target;

	if (mt->operation != CMD_INSERT ||
		plan->onConflictAction != ONCONFLICT_UPDATE ||
		mt->resultRelInfo == NULL ||
		mt->resultRelInfo->ri_onConflict == NULL)
		return;
	oc = mt->resultRelInfo->ri_onConflict;

	if (oc->oc_WhereClause != NULL &&
		contain_leaked_vars((Node *) plan->onConflictWhere))
		target = oc->oc_WhereClause;
	else if (oc->oc_ProjInfo != NULL)
		target = &oc->oc_ProjInfo->pi_state;
	else
		return;

	node = ig_stmt_node(walk_stmt(walk), IG_COUNTED_CONFLICT);
	node->granted = 0;
	node->tramp = ig_wrap_expr(target, node, 0);
}

/* The relations a scan node reads (usually one). */
static int
scan_relids(PlanState *ps, Oid *relids, int max)
{
	Bitmapset  *rtis = NULL;
	int			n = 0;
	int			rti = -1;

	/* a foreign or custom scan that joins remotely */
	if (IsA(ps, ForeignScanState))
		rtis = ((ForeignScan *) ps->plan)->fs_relids;
	else if (IsA(ps, CustomScanState))
		rtis = ((CustomScan *) ps->plan)->custom_relids;
	while ((rti = bms_next_member(rtis, rti)) >= 0 && n < max)
	{
		RangeTblEntry *rte = exec_rt_fetch(rti, ps->state);

		if (rte->rtekind == RTE_RELATION)
			relids[n++] = rte->relid;
	}
	return n;
}

/* visit_scan for a scan without a relation of its own (a remote join). */
static pg_noinline void
visit_scan_relids(IgWalk *walk, PlanState *ps)
{
	Oid			relids[8];
	int			nrelids = scan_relids(ps, relids, lengthof(relids));

	if (nrelids > 0)
		wrap_scan(walk, ps, relids, nrelids);
}

/* Puts a counter on a scan node if it reads counted relations. */
static inline void
visit_scan(IgWalk *walk, PlanState *ps)
{
	Relation	rel = ((ScanState *) ps)->ss_currentRelation;

	if (likely(rel != NULL))
		wrap_scan(walk, ps, &rel->rd_id, 1);
	else
		visit_scan_relids(walk, ps);
}

/* True for the scan nodes counted by visit_scan. */
static inline bool
is_scan(PlanState *ps)
{
	switch (nodeTag(ps))
	{
		case T_SeqScanState:
		case T_SampleScanState:
		case T_IndexScanState:
		case T_IndexOnlyScanState:
		case T_BitmapHeapScanState:
		case T_TidScanState:
		IG_CASE_TID_RANGE_SCAN
		case T_ForeignScanState:
		case T_CustomScanState:
			return true;
		default:
			return false;
	}
}

/*
 * True for a scan node with nothing below it (a custom scan may have
 * children of its own).
 */
static inline bool
is_leaf_scan(PlanState *ps)
{
	return ps->lefttree == NULL && ps->righttree == NULL &&
		ps->initPlan == NIL && ps->subPlan == NIL &&
		is_scan(ps) && !IsA(ps, CustomScanState);
}

/* Visits one plan-state node, then its children. */
static bool
walk_planstate(PlanState *ps, IgWalk *walk)
{
	if (ps == NULL)
		return false;
	if (walk->track_seen)
	{
		if (bms_is_member(ps->plan->plan_node_id, walk->seen))
			return false;
		walk->seen = bms_add_member(walk->seen, ps->plan->plan_node_id);
	}

	if (is_scan(ps))
		visit_scan(walk, ps);
	else if (IsA(ps, ModifyTableState))
	{
		wrap_on_conflict(walk, (ModifyTableState *) ps);
		walk->epqs = lappend(walk->epqs, &((ModifyTableState *) ps)->mt_epqstate);
	}
	else if (IsA(ps, LockRowsState))
		walk->epqs = lappend(walk->epqs, &((LockRowsState *) ps)->lr_epqstate);

	if (is_leaf_scan(ps))
		return false;
	return planstate_tree_walker(ps, IG_PLANSTATE_WALKER(walk_planstate), walk);
}

/*
 * Finds the scans of a plan-state tree and of the executor state's
 * subplans and puts counters on them, the general way.  The rechecks of
 * its ModifyTable and LockRows nodes will count too (epq.c).
 */
static pg_noinline void
stmt_begin_walk(EState *estate, PlanState *ps, Oid userid, bool covered,
				bool foreign_key)
{
	IgWalk		walk;
	ListCell   *lc;

	walk.estate = estate;
	walk.userid = userid;
	walk.covered = covered;
	walk.stmt = NULL;
	walk.seen = NULL;
	walk.track_seen = false;
	walk.foreign_key = foreign_key;
	walk.epqs = NIL;

	if (estate->es_subplanstates == NIL && is_leaf_scan(ps))
		visit_scan(&walk, ps);
	else
	{
		/* subplans are reached from the tree and listed again: skip repeats */
		walk.track_seen = (estate->es_subplanstates != NIL);
		walk_planstate(ps, &walk);
		foreach(lc, estate->es_subplanstates)
			walk_planstate((PlanState *) lfirst(lc), &walk);
		if (walk.seen)
			bms_free(walk.seen);
	}

	/* a recheck runs the same plan: nothing to count if this counts nothing */
	if (walk.stmt != NULL)
		foreach(lc, walk.epqs)
			ig_epq_watch((EPQState *) lfirst(lc), foreign_key);
	list_free(walk.epqs);

	if (walk.stmt != NULL && walk.stmt->enforcing)
		ig_stmt_begin_enforcing(walk.stmt);
}

/*
 * An EvalPlanQual recheck plan was started (epq.c): its scans count like
 * the statement's, for the same reader.
 */
static void
epq_stmt_begin(EState *estate, PlanState *ps, bool foreign_key)
{
	Oid			userid;

	if (!ig_counting_active())
		return;
	userid = ig_reader_id();
	stmt_begin_walk(estate, ps, userid, ig_rules_cover(userid), foreign_key);
	/* rules dropped meanwhile: as at any statement's start */
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();
}

/*
 * Finds the statement's scans and puts counters on them.
 */
static inline void
stmt_begin(QueryDesc *query)
{
	EState	   *estate = query->estate;
	PlanState  *ps = query->planstate;
	Oid			userid;
	bool		covered;
	bool		foreign_key = ig_in_foreign_key_query();
	TimestampTz statement_start = GetCurrentStatementStartTimestamp();

	/*
	 * A rule changed by a committed transaction applies from now.  The
	 * first statement of a transaction has just had them accepted by
	 * StartTransaction (and again by locking its tables) -- but not the
	 * statements it runs in functions, which share its timestamps and may
	 * start long after: a rule made meanwhile applies to them too.  They
	 * are the executors started again within one statement
	 * (fresh_statement: that of the last one started).
	 */
	if (statement_start != GetCurrentTransactionStartTimestamp() ||
		statement_start == fresh_statement)
		AcceptInvalidationMessages();

	userid = ig_reader_id();
	covered = ig_rules_cover(userid);
	/* rules dropped meanwhile go at once if no statement points into them */
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();
	fresh_estate = estate;
	fresh_statement = statement_start;

	/* most statements are one scan of a table with nothing below it */
	if (estate->es_subplanstates == NIL && is_leaf_scan(ps) &&
		likely(!foreign_key) &&
		((ScanState *) ps)->ss_currentRelation != NULL)
	{
		Oid			relid = RelationGetRelid(((ScanState *) ps)->ss_currentRelation);
		const IgRelInfo *info = ig_relinfo_get(relid);
		IgCountedNode *node;

		if (!info->countable)
			return;
		if (info->nancestors == 0 &&
			(node = ig_stmt_simple(estate, userid, relid)) != NULL)
		{
			wrap_node(ps, node);
			return;
		}
	}
	stmt_begin_walk(estate, ps, userid, covered, foreign_key);
}

static void
start_executor(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * True if a plan runs Citus' distributed execution: one of Citus' custom
 * scans in it (it sends the shard queries, maybe while it starts: the
 * subplans of recursive planning).  Looked for only when Citus is loaded.
 */
static bool
plan_is_distributed(Plan *plan, int depth)
{
	ListCell   *lc;

	if (plan == NULL || depth > 32)
		return false;
	if (IsA(plan, CustomScan))
	{
		const char *name = ((CustomScan *) plan)->methods->CustomName;

		if (name != NULL && strncmp(name, "Citus", 5) == 0)
			return true;
		foreach(lc, ((CustomScan *) plan)->custom_plans)
			if (plan_is_distributed(lfirst(lc), depth + 1))
				return true;
	}
	if (IsA(plan, Append))
		foreach(lc, ((Append *) plan)->appendplans)
			if (plan_is_distributed(lfirst(lc), depth + 1))
				return true;
	if (IsA(plan, MergeAppend))
		foreach(lc, ((MergeAppend *) plan)->mergeplans)
			if (plan_is_distributed(lfirst(lc), depth + 1))
				return true;
	if (IsA(plan, SubqueryScan) &&
		plan_is_distributed(((SubqueryScan *) plan)->subplan, depth + 1))
		return true;
	return plan_is_distributed(plan->lefttree, depth + 1) ||
		plan_is_distributed(plan->righttree, depth + 1);
}

/*
 * Whom the statement acts as, published for the Citus workers it reads on,
 * which ask whose session it is (acting.c).  The session user, or a role
 * it is a member of (SET ROLE): published for every statement, and kept
 * after the outermost one -- Citus' tasks may reach the workers after the
 * statement ended or failed.  A role it is not a member of (a SECURITY
 * DEFINER function another role wrote): only while a Citus distributed
 * statement starts and runs, put back when it ends, on error too
 * (*scoped) -- else that role could pose as the session meanwhile, and
 * after.  Returns what was published before, to put back.
 */
static Oid
acting_begin(QueryDesc *queryDesc, bool *published, bool *scoped)
{
	static int	citus_loaded = -1;
	PlannedStmt *pstmt = queryDesc->plannedstmt;
	Oid			user;
	Oid			session_user;

	*published = *scoped = false;
	if (likely(citus_loaded == 0))
		return InvalidOid;
	if (citus_loaded < 0)
		citus_loaded = GetConfigOption("citus.node_conninfo", true, false) != NULL;
	if (!citus_loaded)
		return InvalidOid;
	user = GetUserId();
	session_user = GetSessionUserId();
	if (user == session_user || is_member_of_role_nosuper(session_user, user))
	{
		*published = true;
		return ig_acting_publish(user);
	}
	if (pstmt == NULL || !plan_is_distributed(pstmt->planTree, 0))
	{
		ListCell   *lc;
		bool		found = false;

		if (pstmt != NULL)
			foreach(lc, pstmt->subplans)
				found |= plan_is_distributed(lfirst(lc), 0);
		if (!found)
			return InvalidOid;
	}
	*published = *scoped = true;
	return ig_acting_publish(user);
}

/* What acting_begin published gives way again (see there). */
static inline void
acting_end(Oid before, bool scoped)
{
	if (scoped || OidIsValid(before))
		ig_acting_restore(before);
}

static void
start_statement(QueryDesc *queryDesc, int eflags)
{
	if (unlikely(InNoForceRLSOperation()))
	{
		/* what starting a foreign-key query starts is beneath it */
		noforce_depth++;
		PG_TRY();
		{
			start_executor(queryDesc, eflags);
		}
		PG_FINALLY();
		{
			noforce_depth--;
		}
		PG_END_TRY();
	}
	else
		start_executor(queryDesc, eflags);
}

static void
ig_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	bool		acting;
	bool		scoped;
	Oid			acting_before = acting_begin(queryDesc, &acting, &scoped);

	if (unlikely(scoped))
	{
		/* put back on error too */
		PG_TRY();
		{
			start_statement(queryDesc, eflags);
		}
		PG_FINALLY();
		{
			acting_end(acting_before, true);
		}
		PG_END_TRY();
	}
	else
	{
		start_statement(queryDesc, eflags);
		if (unlikely(acting))
			acting_end(acting_before, false);
	}

	if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && ig_counting_active())
		stmt_begin(queryDesc);
}

static void
run_executor(IG_EXECUTOR_RUN_ARGS)
{
	if (prev_ExecutorRun)
		prev_ExecutorRun(IG_EXECUTOR_RUN_PASS);
	else
		standard_ExecutorRun(IG_EXECUTOR_RUN_PASS);
}

static void
run_statement(IG_EXECUTOR_RUN_ARGS)
{
	if (unlikely(InNoForceRLSOperation()))
	{
		/* what this executor starts is beneath a foreign-key query */
		noforce_depth++;
		PG_TRY();
		{
			run_executor(IG_EXECUTOR_RUN_PASS);
		}
		PG_FINALLY();
		{
			noforce_depth--;
		}
		PG_END_TRY();
	}
	else
		run_executor(IG_EXECUTOR_RUN_PASS);
}

static void
ig_ExecutorRun(IG_EXECUTOR_RUN_ARGS)
{
	IgStmt	   *stmt = NULL;
	Oid			acting_before;
	bool		acting;
	bool		scoped;

	/*
	 * A FETCH (or a portal run again) is a statement of its own: rules
	 * changed since the cursor was opened apply to it, and so do the rows
	 * other sessions of the user read since its last run.  The first run
	 * of the executor started last needs no check.
	 */
	if ((queryDesc->estate != fresh_estate ||
		 fresh_statement != GetCurrentStatementStartTimestamp()) &&
		ig_stmt_running() &&
		(stmt = ig_stmt_find(queryDesc->estate)) != NULL &&
		ig_counting_active())
	{
		AcceptInvalidationMessages();
		ig_stmt_refresh_run(queryDesc->estate, stmt);
	}
	fresh_estate = NULL;
	acting_before = acting_begin(queryDesc, &acting, &scoped);

	if (unlikely(scoped))
	{
		/* then its caller's role (or nobody), on error too */
		PG_TRY();
		{
			run_statement(IG_EXECUTOR_RUN_PASS);
		}
		PG_FINALLY();
		{
			acting_end(acting_before, true);
		}
		PG_END_TRY();
	}
	else
	{
		run_statement(IG_EXECUTOR_RUN_PASS);
		/* a statement nested in a function ends: its caller acts again */
		if (unlikely(acting))
			acting_end(acting_before, false);
	}

	/*
	 * Each FETCH and MOVE counts when it runs.  A run to completion (a
	 * statement, FETCH ALL) leaves the plan exhausted: what it read is
	 * settled when the executor shuts down, at once for a statement, at
	 * CLOSE or commit for a cursor (rows a threshold covers settle batch by
	 * batch meanwhile, as always).  Rows reserved for a block rule, which
	 * other processes of the role may need, go back at once.
	 */
	if (count == 0)
	{
		/*
		 * Rows reserved and not read go back when the executor ends, at
		 * once for a statement -- or now, if a named portal (a cursor)
		 * runs it: it may stay open long after FETCH ALL.
		 */
		if (likely(ActivePortal == NULL || ActivePortal->queryDesc != queryDesc ||
				   ActivePortal->name[0] == '\0'))
			return;
		if (stmt == NULL)
			stmt = ig_stmt_find(queryDesc->estate);
		if (stmt == NULL || likely(!stmt->reserving))
			return;
	}
	else if (stmt == NULL)
		stmt = ig_stmt_find(queryDesc->estate);
	if (stmt != NULL || ig_stmt_running())
		ig_stmt_settle_run(queryDesc->estate, stmt);
}

static PlannedStmt *
plan_query(IG_PLANNER_ARGS)
{
	if (prev_planner)
		return prev_planner(IG_PLANNER_PASS);
	return standard_planner(IG_PLANNER_PASS);
}

/*
 * The planner folds and estimates with functions: while it plans a
 * foreign-key query, what they start is beneath that query.
 */
static PlannedStmt *
ig_planner(IG_PLANNER_ARGS)
{
	PlannedStmt *result;

	ig_reader_note();
	if (likely(!InNoForceRLSOperation()))
		return plan_query(IG_PLANNER_PASS);
	noforce_depth++;
	PG_TRY();
	{
		result = plan_query(IG_PLANNER_PASS);
	}
	PG_FINALLY();
	{
		noforce_depth--;
	}
	PG_END_TRY();
	return result;
}

/*
 * Installs the executor hooks; from _PG_init when preloaded.
 */
void
ig_executor_init(void)
{
	ig_tramp_init(ig_tramp_exhausted);
	ig_epq_init(epq_stmt_begin);
	ig_relinfo_init();
	ig_rules_init();
	ig_names_init();
	ig_reader_init();

	prev_planner = planner_hook;
	planner_hook = ig_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = ig_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = ig_ExecutorRun;
}
