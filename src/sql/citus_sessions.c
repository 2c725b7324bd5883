/*-------------------------------------------------------------------------
 *
 * citus_sessions.c
 *		On a Citus node that runs distributed queries (the coordinator),
 *		tells a worker whose session a connection of Citus' works for:
 *		insider_guard._citus_session(gpid).
 *
 * Citus connects to the workers as the role the session acts as (SET ROLE
 * and SECURITY DEFINER functions move it), naming the session in the
 * connection's application_name, "citus_internal gpid=N": N is the node
 * id times 10^10 plus the session's pid.  A worker asks this node, over a
 * connection logged in as that same role (citus_session.c), for the
 * session's session user -- the role its reads count for -- and the
 * client's application name and query, for its violation records.
 *
 * Anyone can ask, but the answer comes only for a session of this
 * database whose running (or last) statement acts as the caller (the
 * role published by acting.c): a Citus connection is logged in as exactly
 * that role.  So a caller learns nothing of sessions that do not act as
 * it, and a client that connects to a worker directly and names some
 * other session's gpid in its application_name gets no answer, and its
 * reads count for itself.  What a caller can learn -- the session user
 * and application name of a session acting as it, which pg_stat_activity
 * shows to everyone, and its query, which the session runs with the
 * caller's rights -- is documented in docs/citus-notes.md.
 *
 * IDENTIFICATION
 *		src/sql/citus_sessions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "base/compat.h"
#include IG_BACKEND_STATUS_HEADER
#include "shmem/acting.h"
#include "sql/citus_sessions.h"

PG_FUNCTION_INFO_V1(ig_citus_session);

/* Citus' global pid: node id * 10^10 + pid */
#define IG_GPID_NODE_FACTOR INT64CONST(10000000000)

/*
 * The application name and query of the backend with that pid, clipped
 * like pg_stat_activity's; false if it has no status entry.
 */
static bool
backend_activity(int pid, char **application, char **query)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = ig_local_beentry(i);
		PgBackendStatus *status;
		const char *text;

		if (local == NULL || local->backendStatus.st_procpid != pid)
			continue;
		status = &local->backendStatus;
		*application = pstrdup(status->st_appname ? status->st_appname : "");
		text = status->st_activity_raw ? status->st_activity_raw : "";
		*query = pnstrdup(text, pg_mbcliplen(text, strlen(text),
											 pgstat_track_activity_query_size - 1));
		return true;
	}
	return false;
}

/*
 * The session user of this node's session that Citus names by gpid, if it
 * is of this database and acts as the caller; else InvalidOid.
 */
Oid
ig_citus_session_user(int64 gpid)
{
	int64		pid = gpid % IG_GPID_NODE_FACTOR;
	PGPROC	   *proc;
	Oid			session_user = InvalidOid;

	if (gpid <= 0 || pid <= 0 || pid > PG_INT32_MAX)
		return InvalidOid;
	/* held so that the PGPROC is not given to another backend meanwhile */
	LWLockAcquire(ProcArrayLock, LW_SHARED);
	proc = BackendPidGetProcWithLock((int) pid);
	if (proc != NULL && proc->databaseId == MyDatabaseId &&
		OidIsValid(proc->roleId) && ig_acting_of(proc) == GetUserId())
		session_user = proc->roleId;
	LWLockRelease(ProcArrayLock);
	return session_user;
}

/*
 * The client's application name and query of this node's session Citus
 * names by gpid, clipped like pg_stat_activity's; false if it has none.
 */
bool
ig_citus_session_activity(int64 gpid, char **application, char **query)
{
	return backend_activity((int) (gpid % IG_GPID_NODE_FACTOR), application,
							query);
}

/*
 * insider_guard._citus_session(gpid bigint) -> (session_user_name name,
 * application_name text, query text): the session this node's Citus
 * names by gpid, if it is of this database and acts as the caller; a row
 * of NULLs otherwise.
 */
Datum
ig_citus_session(PG_FUNCTION_ARGS)
{
	int64		gpid = PG_GETARG_INT64(0);
	int64		pid = gpid % IG_GPID_NODE_FACTOR;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {true, true, true};
	Oid			session_user;
	char	   *application;
	char	   *query;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	session_user = ig_citus_session_user(gpid);

	if (OidIsValid(session_user) &&
		backend_activity((int) pid, &application, &query))
	{
		char	   *name = GetUserNameFromId(session_user, true);

		if (name != NULL)
		{
			values[0] = CStringGetDatum(name);
			values[0] = DirectFunctionCall1(namein, values[0]);
			values[1] = CStringGetTextDatum(application);
			values[2] = CStringGetTextDatum(query);
			nulls[0] = nulls[1] = nulls[2] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
