/*-------------------------------------------------------------------------
 *
 * utility.c
 *		The ProcessUtility hook: COPY table TO is counted (copy.c),
 *		role memberships granted are noted for the 14 days they raise no
 *		peer limit (shmem/history_members.c) and those of peer groups and
 *		covered roles logged (adminlog.c), and rule matches dropped
 *		meanwhile are freed.
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

#include "tcop/utility.h"
#include "utils/acl.h"

#include "sql/adminlog.h"
#include "base/compat.h"
#include "base/guc.h"
#include "cache/rules.h"
#include "exec/copy.h"
#include "exec/reader.h"
#include "exec/statement.h"
#include "shmem/history.h"
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
 * A membership a statement granted or revoked: noted if granted, for the
 * 14 days it raises no peer limit (in every database), and logged where
 * insider_guard counts if it concerns a peer group or a role a rule
 * covers (adminlog.c).
 */
static void
membership_changed(Oid groupid, Oid member, bool granted)
{
	if (!OidIsValid(groupid) || !OidIsValid(member))
		return;
	if (granted)
		ig_history_note_membership(groupid, member, ig_now());
	if (ig_counting_active())
		ig_admin_log_membership(groupid, member, granted);
}

/* each of a list of RoleSpecs, granted groupid or granted to member */
static void
each_role(List *roles, Oid groupid, Oid member, bool granted)
{
	ListCell   *lc;

	foreach(lc, roles)
	{
		Oid			role = get_rolespec_oid((RoleSpec *) lfirst(lc), true);

		if (OidIsValid(groupid))
			membership_changed(groupid, role, granted);
		else
			membership_changed(role, member, granted);
	}
}

/*
 * The memberships a statement that completed changed: GRANT or REVOKE of
 * roles; CREATE ROLE ... IN ROLE, ROLE, ADMIN; ALTER GROUP ... ADD or DROP
 * USER.  (DROP ROLE takes the dropped role's memberships with it: that
 * role is gone.)
 */
static void
memberships_changed(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, GrantRoleStmt))
	{
		GrantRoleStmt *stmt = (GrantRoleStmt *) parsetree;

		foreach(lc, stmt->granted_roles)
		{
			AccessPriv *priv = (AccessPriv *) lfirst(lc);

			if (priv->priv_name != NULL)
				each_role(stmt->grantee_roles,
						  get_role_oid(priv->priv_name, true), InvalidOid,
						  stmt->is_grant);
		}
	}
	else if (IsA(parsetree, CreateRoleStmt))
	{
		CreateRoleStmt *stmt = (CreateRoleStmt *) parsetree;
		Oid			role = get_role_oid(stmt->role, true);

		foreach(lc, stmt->options)
		{
			DefElem    *option = (DefElem *) lfirst(lc);

			if (strcmp(option->defname, "addroleto") == 0)
				each_role((List *) option->arg, InvalidOid, role, true);
			else if (strcmp(option->defname, "rolemembers") == 0 ||
					 strcmp(option->defname, "adminmembers") == 0)
				each_role((List *) option->arg, role, InvalidOid, true);
		}
	}
	else
	{
		AlterRoleStmt *stmt = (AlterRoleStmt *) parsetree;

		/* ALTER GROUP group ADD USER / DROP USER members */
		foreach(lc, stmt->options)
		{
			DefElem    *option = (DefElem *) lfirst(lc);

			if (strcmp(option->defname, "rolemembers") == 0 &&
				stmt->action != 0)
				each_role((List *) option->arg,
						  get_rolespec_oid(stmt->role, true), InvalidOid,
						  stmt->action > 0);
		}
	}
}

static void
ig_ProcessUtility(IG_PROCESS_UTILITY_ARGS)
{
	Node	   *parsetree = pstmt->utilityStmt;

	/* (in autovacuum: whom user code counts for, before this runs) */
	ig_reader_note();
	if (ig_copy_counts(parsetree))
		ig_copy_to_table(call_next, pstmt, IG_PROCESS_UTILITY_REST);
	else
		call_next(pstmt, IG_PROCESS_UTILITY_REST);
	if (IsA(parsetree, GrantRoleStmt) || IsA(parsetree, CreateRoleStmt) ||
		IsA(parsetree, AlterRoleStmt))
		memberships_changed(parsetree);

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
