/*-------------------------------------------------------------------------
 *
 * insider_guard.c
 *		Module entry point: settings, shared memory, hooks, worker.
 *
 * insider_guard counts the rows each login role reads from each table,
 * keeps rolling windows of those counts in shared memory, and shows them
 * in SQL.  It must be loaded by shared_preload_libraries; loaded any other
 * way it installs nothing, and its SQL functions raise 55000.
 *
 * IDENTIFICATION
 *		src/insider_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "catalog/pg_control.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "base/compat.h"
#include "shmem/acting.h"
#include "shmem/rules_sync.h"
#include "shmem/counters.h"
#include "exec/executor.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "shmem/locks.h"
#include "sql/citus_sync.h"
#include "utility.h"
#include "shmem/violations.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

#ifdef IG_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Asks for shared memory and the lock. */
static void
ig_shmem_request(void)
{
	Size		size;

#ifdef IG_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	size = ig_counters_shmem_size();
	size = add_size(size, ig_violations_shmem_size());
	size = add_size(size, ig_history_shmem_size());
	size = add_size(size, ig_acting_shmem_size());
	size = add_size(size, ig_rules_sync_shmem_size());
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche(IG_LWLOCK_TRANCHE, IG_LWLOCKS);
}

/*
 * True if the server was shut down cleanly: the control file says so
 * (the shutdown checkpoint wrote it).  After an immediate stop the
 * postmaster exits with code 0 too, having killed backends that may have
 * held a counter's spinlock: shared memory may be inconsistent then.
 * Read directly, without anything that could raise an error.
 */
static bool
shut_down_cleanly(void)
{
	ControlFileData control;
	pg_crc32c	crc;
	int			fd = OpenTransientFile(XLOG_CONTROL_FILE, O_RDONLY | PG_BINARY);
	bool		read_whole;

	if (fd < 0)
		return false;
	read_whole = (read(fd, &control, sizeof(control)) == sizeof(control));
	CloseTransientFile(fd);
	if (!read_whole)
		return false;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &control, offsetof(ControlFileData, crc));
	FIN_CRC32C(crc);
	return EQ_CRC32C(crc, control.crc) &&
		(control.state == DB_SHUTDOWNED ||
		 control.state == DB_SHUTDOWNED_IN_RECOVERY);
}

/*
 * At a clean shutdown of the postmaster (or single-user backend): save.
 * Never after a crash or an immediate stop: shared memory may be
 * inconsistent, and the last save is what comes back.
 */
static void
ig_shmem_shutdown(int code, Datum arg)
{
	if (code != 0 || !shut_down_cleanly())
		return;
	ig_save_counts();
	ig_save_history();
	ig_violations_write_repeats(false);
	ig_violations_shutdown();
}

/* Creates or attaches to shared memory; the postmaster loads the counts. */
static void
ig_shmem_startup(void)
{
	bool		created;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	created = ig_counters_shmem_init();
	ig_violations_shmem_init(created && !IsUnderPostmaster);
	ig_history_shmem_init(created);
	ig_acting_shmem_init();
	ig_rules_sync_shmem_init();
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		if (created)
		{
			ig_load_counts();
			ig_load_history();
			ig_violations_restore_counts();
		}
		on_shmem_exit(ig_shmem_shutdown, (Datum) 0);
	}
}

void
_PG_init(void)
{
	ig_define_settings(process_shared_preload_libraries_in_progress);
	if (!process_shared_preload_libraries_in_progress)
		return;

#ifdef IG_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ig_shmem_request;
#else
	ig_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ig_shmem_startup;

	ig_executor_init();
	ig_utility_init();
	ig_worker_register();
	ig_citus_sync_register_launcher();
}
