/*-------------------------------------------------------------------------
 *
 * bgw.c
 *		Filling in a BackgroundWorker of insider_guard: the saver, the
 *		Citus rules launcher, and the short-lived workers that send the
 *		rules to the Citus workers.
 *
 * Each has shared memory; one given a database (dbid valid) connects to
 * it -- its main function gets the OID as its argument -- and starts once
 * recovery has finished.  The postmaster notifies no one of their start.
 *
 * IDENTIFICATION
 *		src/base/bgw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/bgw.h"

/*
 * Fills *worker: insider_guard's "function", shown as "name", connected
 * to dbid if valid, restarted after restart_time seconds
 * (BGW_NEVER_RESTART: never).
 */
void
ig_bgw_init(BackgroundWorker *worker, const char *function, const char *name,
			Oid dbid, int restart_time)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	if (OidIsValid(dbid))
	{
		worker->bgw_flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker->bgw_main_arg = ObjectIdGetDatum(dbid);
	}
	worker->bgw_restart_time = restart_time;
	strlcpy(worker->bgw_library_name, "insider_guard", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
	strlcpy(worker->bgw_type, name, BGW_MAXLEN);
	worker->bgw_notify_pid = 0;
}
