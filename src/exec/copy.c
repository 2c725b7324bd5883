/*-------------------------------------------------------------------------
 *
 * copy.c
 *		COPY table TO: the one read path that bypasses the executor.
 *
 * In PostgreSQL 15, COPY rel TO loops over table_beginscan in copyto.c;
 * no scan node sees the rows.  It does report each row to the progress
 * machinery (PROGRESS_COPY_TUPLES_PROCESSED), exactly, after it is sent.
 * So the ProcessUtility hook (utility.c) has ig_copy_to_table run it:
 *
 *	- resolves and locks the relation first, and runs the COPY with the
 *	  relation named by schema, so that it reads exactly the relation that
 *	  is counted (no search_path race);
 *	- leaves tables with row-level security alone: core runs those as
 *	  COPY (SELECT ...) TO, which the executor hooks count;
 *	- leaves Citus tables to Citus: it reads them from their shards, on
 *	  the workers or through connections of its own, whose COPY or query
 *	  is counted where it runs (for the table: relinfo.c);
 *	- otherwise counts, when the COPY ends, the rows it sent: from the
 *	  completion tag on success, from the progress counter on error, and
 *	  from a before_shmem_exit callback when the backend dies mid-COPY
 *	  (a client that disconnects makes a FATAL error, which no PG_CATCH
 *	  sees);
 *	- runs it as COPY (SELECT ... FROM ONLY rel) TO when the rows must be
 *	  seen one by one, so that the executor hooks count (and can stop) it:
 *	  when a block threshold covers the role and the table, or when the
 *	  progress counter is off (track_activities).  Log thresholds are
 *	  checked when the rows are counted.
 *
 * The rows count as one statement towards the table, its ancestors and
 * all tables (IgDirectCount, direct_commit), with the keys and rules
 * looked up before the COPY runs, while the catalogs may still be read.
 *
 * IDENTIFICATION
 *		src/exec/copy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/copy.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "base/compat.h"
#include IG_BACKEND_STATUS_HEADER

#include "exec/copy.h"
#include "base/guc.h"
#include "shmem/counters.h"
#include "cache/relinfo.h"
#include "cache/rules.h"
#include "exec/enforce.h"
#include "exec/lease.h"
#include "exec/reader.h"
#include "exec/statement.h"
#include "exec/tally.h"

/*
 * The counters that the rows a COPY reads outside the executor count
 * towards: the table's, its ancestors', all tables'; and their rules.
 */
typedef struct IgDirectCount
{
	Oid			userid;
	int			ntallies;
	IgTally		tallies[IG_MAX_ANCESTORS + 2];
	IgKeyRules *rules[IG_MAX_ANCESTORS + 2];
} IgDirectCount;

/* the plain COPY TO running now, for the exit callback */
static IgDirectCount *copy_running = NULL;
static Oid	copy_running_relid = InvalidOid;
static bool exit_callback_registered = false;

/*
 * Rows the running COPY of relid has sent so far, per the progress
 * counter; 0 if it has not started (an error before the first row).
 */
static uint64
copy_progress_rows(Oid relid)
{
	volatile PgBackendStatus *beentry = MyBEEntry;

	if (beentry == NULL ||
		beentry->st_progress_command != PROGRESS_COMMAND_COPY ||
		beentry->st_progress_command_target != relid)
		return 0;
	return (uint64) beentry->st_progress_param[PROGRESS_COPY_TUPLES_PROCESSED];
}

/*
 * Prepares to count rows read outside the executor (COPY t TO): looks up,
 * while catalog access is still safe, the keys the relation's rows count
 * towards and their rules.  Returns false if its reads are not counted
 * here (a Citus table's are counted where its shards are read).
 */
static bool
direct_prepare(Oid relid, IgDirectCount *direct)
{
	const IgRelInfo *info = ig_relinfo_get(relid);
	Oid			relids[IG_MAX_ANCESTORS + 2];
	bool		covered;

	if (!info->countable || info->citus_table)
		return false;
	direct->userid = ig_reader_id();
	direct->ntallies = 0;
	relids[direct->ntallies++] = relid;
	for (int i = 0; i < info->nancestors; i++)
		relids[direct->ntallies++] = info->ancestors[i];
	relids[direct->ntallies++] = InvalidOid;

	covered = ig_rules_cover(direct->userid);
	for (int i = 0; i < direct->ntallies; i++)
	{
		IgRuleList *list = covered ?
			ig_rules_for_relation(direct->userid, relids[i]) : NULL;

		ig_tally_init(&direct->tallies[i], direct->userid, relids[i]);
		ig_tally_reset(&direct->tallies[i]);
		direct->rules[i] = NULL;
		if (list == NULL)
			continue;
		if (list->hist_wanted != 0)
			ig_tally_history(&direct->tallies[i], list);
		direct->rules[i] = ig_enforce_copy(direct->userid, relids[i],
										   CurrentMemoryContext);
	}
	/* copies taken: rules dropped meanwhile go if no statement needs them */
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();
	return true;
}

/* True if a block rule covers the rows: they must be counted one by one. */
static bool
direct_needs_executor(const IgDirectCount *direct)
{
	for (int i = 0; i < direct->ntallies; i++)
		if (direct->rules[i] != NULL && direct->rules[i]->list->any_block)
			return true;
	return false;
}

/*
 * Counts the rows, as one statement, and records the log rules they
 * crossed -- without catalog_ok (the transaction failing, the backend
 * exiting) with the names last seen.  Safe in an aborting transaction and
 * at backend exit: no error, no catalog access then.
 */
static void
direct_commit(IgDirectCount *direct, uint64 rows, bool catalog_ok)
{
	TimestampTz now = ig_now();

	for (int i = 0; i < direct->ntallies; i++)
	{
		direct->tallies[i].pending = rows;
		if (direct->rules[i] != NULL)
			direct->tallies[i].query = &direct->rules[i]->query;
	}
	ig_counters_settle(MyDatabaseId, direct->userid, direct->tallies,
					   direct->ntallies, true, true, now);
	for (int i = 0; i < direct->ntallies; i++)
	{
		ig_lease_note(direct->rules[i], &direct->tallies[i], direct->userid,
					  rows);
		if (direct->rules[i] != NULL)
			ig_enforce_check(direct->rules[i], &direct->tallies[i],
							 direct->userid, rows, direct->tallies[0].relid,
							 0, catalog_ok, false);
		ig_tally_remember(&direct->tallies[i], direct->userid);
	}
}

/* The backend is exiting in the middle of a COPY: count what it sent. */
static void
copy_on_exit(int code, Datum arg)
{
	IgDirectCount *direct = copy_running;

	if (direct == NULL)
		return;
	copy_running = NULL;
	direct_commit(direct, copy_progress_rows(copy_running_relid), false);
}

/* A copy of the statement with the relation named by schema. */
static PlannedStmt *
with_qualified_relation(PlannedStmt *pstmt, Oid relid)
{
	PlannedStmt *copy = copyObject(pstmt);
	CopyStmt   *stmt = (CopyStmt *) copy->utilityStmt;
	RangeVar   *rv = stmt->relation;

	rv->catalogname = NULL;
	rv->schemaname = get_namespace_name(get_rel_namespace(relid));
	rv->relname = get_rel_name(relid);
	return copy;
}

/*
 * The statement as COPY (SELECT columns FROM ONLY rel) TO, the way core
 * does it for row-level security, so the executor sees every row.
 */
static PlannedStmt *
as_query(PlannedStmt *pstmt, Oid relid)
{
	PlannedStmt *copy = copyObject(pstmt);
	CopyStmt   *stmt = (CopyStmt *) copy->utilityStmt;
	Relation	rel = table_open(relid, NoLock);	/* locked by the caller */
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *attnums = CopyGetAttnums(desc, rel, stmt->attlist);
	List	   *target = NIL;
	ListCell   *lc;
	RangeVar   *from;
	SelectStmt *select;

	foreach(lc, attnums)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, lfirst_int(lc) - 1);
		ColumnRef  *column = makeNode(ColumnRef);
		ResTarget  *res = makeNode(ResTarget);

		column->fields = list_make1(makeString(pstrdup(NameStr(attr->attname))));
		column->location = -1;
		res->val = (Node *) column;
		res->location = -1;
		target = lappend(target, res);
	}
	from = makeRangeVar(get_namespace_name(RelationGetNamespace(rel)),
						pstrdup(RelationGetRelationName(rel)), -1);
	from->inh = false;
	table_close(rel, NoLock);

	select = makeNode(SelectStmt);
	select->targetList = target;
	select->fromClause = list_make1(from);

	stmt->relation = NULL;
	stmt->attlist = NIL;
	stmt->query = (Node *) select;
	return copy;
}

/*
 * True if a utility statement is a COPY rel TO that ig_copy_to_table
 * counts.
 */
bool
ig_copy_counts(Node *parsetree)
{
	return IsA(parsetree, CopyStmt) &&
		!((CopyStmt *) parsetree)->is_from &&
		((CopyStmt *) parsetree)->relation != NULL &&
		ig_counting_active();
}

/*
 * COPY rel TO ...: count it, one way or the other.  run runs a utility
 * statement: the next ProcessUtility hook, or the standard one.
 */
void
ig_copy_to_table(IgRunUtility run, IG_PROCESS_UTILITY_ARGS)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	IgDirectCount direct;
	IgDirectCount *outer_running = copy_running;
	Oid			outer_relid = copy_running_relid;
	PlannedStmt *pinned;
	Oid			relid;
	uint64		rows;

	/* as DoCopy will; a missing relation gets COPY's own error */
	relid = RangeVarGetRelid(stmt->relation, AccessShareLock, true);
	if (!OidIsValid(relid) ||
		get_rel_relkind(relid) != RELKIND_RELATION ||
		!direct_prepare(relid, &direct))
	{
		run(pstmt, IG_PROCESS_UTILITY_REST);
		return;
	}
	pinned = with_qualified_relation(pstmt, relid);

	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
	{
		/* core turns it into a query; the executor hooks count it */
		run(pinned, IG_PROCESS_UTILITY_REST);
		return;
	}

	if (!pgstat_track_activities || direct_needs_executor(&direct))
	{
		run(as_query(pinned, relid), IG_PROCESS_UTILITY_REST);
		return;
	}

	if (!exit_callback_registered)
	{
		before_shmem_exit(copy_on_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	copy_running = &direct;
	copy_running_relid = relid;
	PG_TRY();
	{
		run(pinned, IG_PROCESS_UTILITY_REST);
	}
	PG_CATCH();
	{
		copy_running = outer_running;
		copy_running_relid = outer_relid;
		direct_commit(&direct, copy_progress_rows(relid), false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	copy_running = outer_running;
	copy_running_relid = outer_relid;

	/* the progress command has ended, but its counter is still there */
	if (qc != NULL)
		rows = qc->nprocessed;
	else
		rows = (uint64) MyBEEntry->st_progress_param[PROGRESS_COPY_TUPLES_PROCESSED];
	direct_commit(&direct, rows, true);
}
