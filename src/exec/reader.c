/*-------------------------------------------------------------------------
 *
 * reader.c
 *		Who reads: whether this process counts at all, the role its reads
 *		count for, and which relations a foreign-key query's reads count.
 *
 * A backend's reads count for its session user, but while a maintenance
 * command it runs (ANALYZE, CREATE INDEX, REFRESH MATERIALIZED VIEW...)
 * runs user code as a table's owner, for that owner.  An autovacuum worker
 * runs user code too (index expressions and predicates of the tables it
 * analyzes, BRIN summaries): its reads count for the owner of the table,
 * decided before user code can change what identifies it.  Logical
 * replication workers and binary upgrade count nothing.
 *
 * IDENTIFICATION
 *		src/exec/reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/autovacuum.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/compat.h"
#include IG_BACKEND_STATUS_HEADER
#include "shmem/counters.h"
#include "base/guc.h"
#include "exec/reader.h"
#include "cache/citus_session.h"
#include "cache/relinfo.h"

/* this process is an autovacuum worker: see ig_reader_id */
static bool in_autovacuum = false;

static fmgr_hook_type prev_fmgr_hook = NULL;

static Oid	relation_owner(Oid relid);

/*
 * -1 until ig_counting_active_slow has looked at what does not change in a
 * process; then whether this process counts at all.
 */
int			ig_process_counts = -1;

/*
 * True if this process counts reads right now: the first call of
 * ig_counting_active in a process.
 */
bool
ig_counting_active_slow(void)
{
	if (!OidIsValid(MyDatabaseId))
		return false;
	ig_process_counts = ig_counters_ready() &&
		!IsBinaryUpgrade &&
		!ig_is_logical_worker();
	in_autovacuum = ig_am_autovacuum_worker();
	return ig_counting_active();
}

/*
 * The owner of the table whose index an autovacuum work item (a BRIN
 * summary) is summarizing: the one table this process holds
 * ShareUpdateExclusiveLock on (brin_summarize_range takes it on the table
 * and its index), or InvalidOid if there is none or not just one owner.
 * Called before user code has run a statement.
 */
static Oid
work_item_owner(void)
{
	LockData   *data = GetLockStatusData();
	Oid			owner = InvalidOid;

	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *lock = &data->locks[i];
		Oid			relid;
		char		relkind;
		Oid			o;

		if (lock->pid != MyProcPid ||
			lock->locktag.locktag_type != LOCKTAG_RELATION ||
			lock->locktag.locktag_field1 != MyDatabaseId ||
			(lock->holdMask & LOCKBIT_ON(ShareUpdateExclusiveLock)) == 0)
			continue;
		relid = lock->locktag.locktag_field2;
		relkind = get_rel_relkind(relid);
		if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW &&
			relkind != RELKIND_PARTITIONED_TABLE)
			continue;
		o = relation_owner(relid);
		if (OidIsValid(owner) && o != owner)
			return InvalidOid;
		owner = o;
	}
	return owner;
}

/*
 * In an autovacuum worker, the role user code counts for, decided once
 * for each table and each work item autovacuum processes (told apart by
 * the transaction and the activity autovacuum reports for it, which user
 * code cannot change), the first time user code starts a statement,
 * plans one or calls a SECURITY DEFINER function: the owner of the table
 * being analyzed or vacuumed (its progress target); for a work item (a
 * BRIN summary), the owner of the table it holds its lock on; else the
 * current user.  Decided once, because user code can change all of them
 * later: a CREATE INDEX it runs overwrites the progress target, and a
 * SECURITY DEFINER function (called before any of its statements when it
 * is an index's expression) changes the current user.
 */
static LocalTransactionId autovacuum_reader_lxid = InvalidLocalTransactionId;
static char autovacuum_reader_activity[NAMEDATALEN * 4];
static Oid	autovacuum_reader_role = InvalidOid;

static Oid
autovacuum_reader(void)
{
	PgBackendStatus *status = MyBEEntry;
	const char *activity = status != NULL ? status->st_activity_raw : "";
	Oid			role = InvalidOid;

	if (ig_proc_lxid(MyProc) == autovacuum_reader_lxid &&
		OidIsValid(autovacuum_reader_role) &&
		strncmp(activity, autovacuum_reader_activity,
				sizeof(autovacuum_reader_activity) - 1) == 0)
		return autovacuum_reader_role;
	if (status != NULL &&
		(status->st_progress_command == PROGRESS_COMMAND_ANALYZE ||
		 status->st_progress_command == PROGRESS_COMMAND_VACUUM) &&
		OidIsValid(status->st_progress_command_target))
		role = relation_owner(status->st_progress_command_target);
	if (!OidIsValid(role))
		role = work_item_owner();
	if (!OidIsValid(role))
		role = GetUserId();
	autovacuum_reader_lxid = ig_proc_lxid(MyProc);
	strlcpy(autovacuum_reader_activity, activity,
			sizeof(autovacuum_reader_activity));
	autovacuum_reader_role = role;
	return role;
}

/*
 * In an autovacuum worker, notes whom user code counts for before it can
 * change it (see autovacuum_reader): from the planner, utility and
 * function-manager hooks, which see a statement or a SECURITY DEFINER
 * call before it runs.
 */
void
ig_reader_note(void)
{
	if (unlikely(ig_am_autovacuum_worker()))
		(void) autovacuum_reader();
}

/*
 * The function manager calls this around SECURITY DEFINER functions: in
 * an autovacuum worker, the reader is decided before the first one runs.
 */
static void
ig_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *arg)
{
	if (event == FHET_START && unlikely(ig_am_autovacuum_worker()))
		(void) autovacuum_reader();
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, arg);
}

/*
 * In a backend, the role user code counts for while a maintenance command
 * runs it as a table's owner, in a security-restricted operation (ANALYZE,
 * VACUUM, CREATE INDEX, REINDEX, CLUSTER evaluating index expressions;
 * REFRESH MATERIALIZED VIEW running its query): the owner of the table
 * the command reports progress on, else the current user -- the owner the
 * command switched to.  Not the session user: a DBA's routine ANALYZE
 * would carry an insider's index function past its rules -- unless the
 * session user is a member of that owner (ig_reader_id), when the reads
 * stay its own.  User code can only retarget the progress to a table it
 * owns (CREATE INDEX).
 */
static Oid
restricted_reader(void)
{
	PgBackendStatus *status = MyBEEntry;

	if (status != NULL &&
		(status->st_progress_command == PROGRESS_COMMAND_ANALYZE ||
		 status->st_progress_command == PROGRESS_COMMAND_VACUUM ||
		 status->st_progress_command == PROGRESS_COMMAND_CREATE_INDEX ||
		 status->st_progress_command == PROGRESS_COMMAND_CLUSTER) &&
		OidIsValid(status->st_progress_command_target))
	{
		Oid			owner = relation_owner(status->st_progress_command_target);

		if (OidIsValid(owner))
			return owner;
	}
	return GetUserId();
}

/*
 * The role reads are counted for: the session user; while a maintenance
 * command runs user code as a table's owner, that owner; in an autovacuum
 * worker the owner of the table whose index functions run.
 */
Oid
ig_reader_id(void)
{
	if (likely(!in_autovacuum))
	{
		Oid			session_user = GetSessionUserId();

		if (unlikely(InSecurityRestrictedOperation()) &&
			GetUserId() != session_user)
		{
			Oid			owner = restricted_reader();

			/*
			 * Only an owner the session user cannot act as: a member of the
			 * owning role could make any role it belongs to own the object,
			 * and carry its own reads there.
			 */
			if (!is_member_of_role_nosuper(session_user, owner))
				return owner;
		}
		/* Citus' connections: the session they work for (citus_session.c) */
		if (unlikely(ig_citus_connection()))
			return ig_citus_reader(session_user);
		return session_user;
	}
	return autovacuum_reader();
}

/* The owner of a relation, or InvalidOid. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tuple))
	{
		owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
	}
	return owner;
}

/*
 * True if the role owns the relation or one of its ancestors (partition
 * or inheritance parents at every level).  Only the owner of a table can
 * attach partitions or children to it, so a partition of the referenced
 * table that another role owns is still the referenced table's.
 */
static bool
owned_here_or_above(Oid relid, Oid owner)
{
	const IgRelInfo *info;
	Oid			ancestors[IG_MAX_ANCESTORS];
	int			nancestors;

	if (relation_owner(relid) == owner)
		return true;

	/* copied at once: relation_owner may free the entry */
	info = ig_relinfo_get(relid);
	nancestors = info->nancestors;
	memcpy(ancestors, info->ancestors, sizeof(Oid) * nancestors);
	for (int i = 0; i < nancestors; i++)
		if (relation_owner(ancestors[i]) == owner)
			return true;
	return false;
}

/*
 * Leaves out of a foreign-key query's relations those owned by the role
 * it runs as, and their partitions and inheritance children (a check
 * into a partitioned table reads its partitions, whatever their owner).
 * Returns how many are left.
 */
int
ig_foreign_key_filter(Oid *relids, int nrelids)
{
	Oid			runs_as = GetUserId();
	int			kept = 0;

	for (int i = 0; i < nrelids; i++)
		if (!owned_here_or_above(relids[i], runs_as))
			relids[kept++] = relids[i];
	return kept;
}

/*
 * Installs the function-manager hook that decides an autovacuum worker's
 * reader before a SECURITY DEFINER function runs; from _PG_init.
 */
void
ig_reader_init(void)
{
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = ig_fmgr_hook;
}
