/*-------------------------------------------------------------------------
 *
 * utility.c
 *		The ProcessUtility hook: COPY table TO is counted (copy.c),
 *		role memberships a statement changed are noted and logged
 *		(memberships.c), rule matches dropped meanwhile are freed, and a
 *		Citus shard keeps its shard id at the end of its name (citus.c).
 *
 * In an autovacuum worker, a utility statement that user code runs (an
 * index expression's function doing CREATE INDEX) is also where whom its
 * reads count for is decided, before the statement can change it
 * (reader.c).
 *
 * IDENTIFICATION
 *		src/utility.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "cache/citus.h"
#include "cache/rules.h"
#include "exec/copy.h"
#include "exec/reader.h"
#include "exec/statement.h"
#include "shmem/acting.h"
#include "sql/memberships.h"
#include "utility.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
call_next(IG_PROCESS_UTILITY_ARGS)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, IG_PROCESS_UTILITY_REST);
	else
		standard_ProcessUtility(pstmt, IG_PROCESS_UTILITY_REST);
}

/*
 * A Citus shard is tied to its table by the "_<shardid>" its name ends
 * in, nothing else: renaming one so that it loses it (its owner can, on a
 * worker) would make its reads count for no table.  Refused (42501) where
 * insider_guard is installed; Citus' own renames of shards keep the id.
 */
static void
check_shard_rename(Node *parsetree)
{
	RenameStmt *stmt;
	Oid			relid;

	if (!IsA(parsetree, RenameStmt))
		return;
	stmt = (RenameStmt *) parsetree;
	if ((stmt->renameType != OBJECT_TABLE &&
		 stmt->renameType != OBJECT_FOREIGN_TABLE &&
		 stmt->renameType != OBJECT_MATVIEW) ||
		stmt->relation == NULL || stmt->newname == NULL ||
		!OidIsValid(get_extension_oid("insider_guard", true)))
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (OidIsValid(relid) && !ig_citus_rename_keeps_shard(relid, stmt->newname))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: Citus shard \"%s\" must keep its shard id at the end of its name",
						stmt->relation->relname),
				 errdetail("Reads of a shard count for its table by that id."),
				 errhint("Rename the distributed table on the coordinator: Citus renames its shards.")));
}

static void
ig_ProcessUtility(IG_PROCESS_UTILITY_ARGS)
{
	Node	   *parsetree = pstmt->utilityStmt;
	IgMemberships *memberships = NULL;
	/*
	 * Whom it acts as, for Citus workers asking (Citus' COPY and DDL reach
	 * them from here): as executor.c's acting_begin, a role the session
	 * user is not a member of only for a COPY, and only while it runs.
	 */
	static int	citus_loaded = -1;
	Oid			user = GetUserId();
	bool		member;
	bool		acting;
	Oid			acting_before;

	if (citus_loaded < 0)
		citus_loaded = GetConfigOption("citus.node_conninfo", true, false) != NULL;
	/* (an aborted transaction's ROLLBACK may not read the catalogs) */
	member = citus_loaded &&
		(user == GetSessionUserId() ||
		 (IsTransactionState() &&
		  is_member_of_role_nosuper(GetSessionUserId(), user)));
	acting = citus_loaded && (member || IsA(parsetree, CopyStmt));
	acting_before = acting ? ig_acting_publish(user) : InvalidOid;

	/* (in autovacuum: whom user code counts for, before this runs) */
	ig_reader_note();
	check_shard_rename(parsetree);
	/* role memberships, to see what the statement changed */
	if (ig_memberships_may_change(parsetree))
		memberships = ig_memberships_read(false);
	PG_TRY();
	{
		if (ig_copy_counts(parsetree))
			ig_copy_to_table(call_next, pstmt, IG_PROCESS_UTILITY_REST);
		else
			call_next(pstmt, IG_PROCESS_UTILITY_REST);
	}
	PG_FINALLY();
	{
		/* nested, or another role's COPY: put back, on error too */
		if (acting && (!member || OidIsValid(acting_before)))
			ig_acting_restore(acting_before);
	}
	PG_END_TRY();
	if (memberships != NULL)
		ig_memberships_changed(memberships);

	/*
	 * Logging it matched the rules again (the membership changed), and a
	 * loop of GRANT and REVOKE starts no statement that would free what
	 * that dropped: free it here.
	 */
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();
}

/*
 * Installs the ProcessUtility hook; from _PG_init when preloaded.
 */
void
ig_utility_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = ig_ProcessUtility;
}
