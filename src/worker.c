/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker that saves the counters and the baselines'
 *		history to disk every insider_guard.save_interval seconds, so that
 *		a crash loses at most that much, and adds the windows of idle
 *		counters that ended to their history.  A save that fails is tried
 *		again at the next cycle; the info view's last_save_at is the end
 *		of the last cycle after which both files were current.  The postmaster saves both
 *		once more at a clean shutdown and loads them at start.
 *
 * The worker needs shared memory but no database connection; it starts
 * with the postmaster, on primaries and standbys alike.  At a shutdown
 * (SIGTERM) it leaves its loop and exits with status 0, logging nothing
 * above DEBUG1: the postmaster makes the last save itself once every
 * process has stopped (ig_shmem_shutdown).  Exiting with 0 also means the
 * postmaster does not start it again: a saver stopped by hand with SIGTERM
 * stays stopped until the server restarts.
 *
 * IDENTIFICATION
 *		src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shmem/counters.h"
#include "base/bgw.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/persist.h"
#include "shmem/violations.h"
#include "worker.h"

PGDLLEXPORT void ig_worker_main(Datum arg);

/*
 * Saves a state file if its module says it changed since the last save,
 * or the last save failed ("behind": it is tried again).  True if the file
 * is up to date: saved, or nothing to save.
 */
static bool
save_if_changed(const char *what, bool (*take_dirty) (void), bool *behind,
				const char *path, uint32 magic, IgFileBodyWriter body)
{
	if (!take_dirty() && !*behind)
		return true;
	*behind = !ig_file_save(path, magic, body);
	if (!*behind)
		ereport(DEBUG1,
				(errmsg_internal("insider_guard: saved the %s to \"%s\"",
								 what, path)));
	return !*behind;
}

/* a save of each file failed, and was not made good since */
static bool counts_behind = false;
static bool history_behind = false;

/*
 * Saves the counters if they changed since the last save.  True if the
 * file is up to date.
 */
bool
ig_save_counts(void)
{
	return save_if_changed("counters", ig_counters_take_dirty, &counts_behind,
						   IG_COUNTS_FILE, IG_COUNTS_MAGIC, ig_counters_save);
}

/*
 * Loads the counters saved last; at postmaster start, into empty memory.
 */
void
ig_load_counts(void)
{
	ig_file_load_or_previous(IG_COUNTS_FILE, IG_COUNTS_MAGIC, ig_counters_load);
}

/*
 * Saves the baselines' history series if they changed since the last
 * save.  True if the file is up to date.
 */
bool
ig_save_history(void)
{
	return save_if_changed("history", ig_history_take_dirty, &history_behind,
						   IG_HISTORY_FILE, IG_HISTORY_MAGIC, ig_history_save);
}

/*
 * Loads the history saved last, and matches the record of seeded windows
 * with it; at postmaster start, into empty memory.
 */
void
ig_load_history(void)
{
	ig_file_load_or_previous(IG_HISTORY_FILE, IG_HISTORY_MAGIC, ig_history_load);
	ig_history_seeds_start();
	/* when role memberships were granted: written as they are */
	if (!ig_file_load_or_previous(IG_MEMBERS_FILE, IG_MEMBERS_MAGIC,
								  ig_history_members_load))
		ig_history_members_lost();
}

/*
 * Registers the worker; from _PG_init when preloaded.
 */
void
ig_worker_register(void)
{
	BackgroundWorker worker;

	ig_bgw_init(&worker, "ig_worker_main", "insider_guard saver", InvalidOid,
				10);
	/* from the postmaster's start, in recovery and on a standby too */
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	RegisterBackgroundWorker(&worker);
}

/*
 * The worker's main loop, until a shutdown is asked for.
 */
void
ig_worker_main(Datum arg)
{
	/*
	 * Right after a start -- after a crash, a role's reads since the last
	 * save were lost -- save after 1 second, then 2, 4 ... up to
	 * save_interval: what a crash soon after a crash loses stays small.
	 */
	long		interval_ms = 1000;
	MemoryContext cycle_cxt;
	bool		saved;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* what a cycle allocates goes with it */
	cycle_cxt = AllocSetContextCreate(TopMemoryContext, "insider_guard saver cycle",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cycle_cxt);
	while (!ShutdownRequestPending)
	{
		MemoryContextReset(cycle_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* windows of idle counters that ended go to their history */
		ig_counters_sweep(ig_now());
		saved = ig_save_counts();
		saved &= ig_save_history();
		/* the info view's last_save_at: both files are current */
		if (saved)
			ig_counters_note_saved(GetCurrentTimestamp());
		ig_violations_write_repeats(true);

		interval_ms = Min(interval_ms, (long) ig_save_interval * 1000L);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		interval_ms *= 2;
	}

	/* no save here: backends may still be reading; the postmaster saves */
	proc_exit(0);
}
