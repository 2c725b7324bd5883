/*-------------------------------------------------------------------------
 *
 * citus_sync.c
 *		Keeping the Citus workers' rules current in the background: a
 *		worker added after the rules, or down while they changed, gets
 *		them without anyone calling sync_rules().
 *
 * A coordinator sends its rules to every worker when they change
 * (citus_rules.c); a worker that was not there then -- added later,
 * unreachable, or whose part failed -- would keep no rules, or old ones,
 * and with no block rule of its own it leases nothing from the
 * coordinator: its shards would be read uncounted.  So, with Citus in
 * shared_preload_libraries, a launcher process starts every
 * insider_guard.citus_sync_interval seconds (10 by default; 0 turns it
 * off) a short-lived check in each database registered as a coordinator
 * with insider_guard (shmem/rules_sync.c: a backend registers its
 * database when it reads the rules there).  The check, as the
 * extension's owner:
 *
 *	1. takes an md5 digest of the coordinator's rule set (the jsonb text
 *	   citus_rules.c sends) and asks every active primary worker for the
 *	   digest of its own, by the same query (run_command_on_workers);
 *	2. if a worker answers a digest other than the one it showed right
 *	   after it was last sent the coordinator's current set (or was never
 *	   sent one since the coordinator started), sends the set to every
 *	   worker, as a change does, and remembers what each then shows.
 *
 * A worker that holds every rule shows the coordinator's digest; one that
 * skips rules (a table only the coordinator has) shows another, the same
 * at every check, and is not sent the set again until either side
 * changes.  A worker that does not answer is tried at the next check.
 * The check holds no lock while it compares; a send takes the lock every
 * push takes.  Being short-lived, the check never keeps the database busy
 * for DROP DATABASE longer than one round trip to the workers.
 *
 * IDENTIFICATION
 *		src/sql/citus_sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "base/bgw.h"
#include "base/guc.h"
#include "shmem/rules_sync.h"
#include "sql/citus_rules.h"
#include "sql/citus_sync.h"

PGDLLEXPORT void ig_citus_sync_launcher_main(Datum arg);
PGDLLEXPORT void ig_citus_sync_check_main(Datum arg);

/* a worker's answer to "what is the digest of your rules" */
typedef struct IgWorkerDigest
{
	char	   *node;
	int			port;
	bool		answered;
	uint64		digest;
} IgWorkerDigest;

/* The first 64 bits of an md5 digest in hex, or 0 if it is not one. */
static uint64
digest_value(const char *hex)
{
	uint64		value = 0;

	if (hex == NULL || strlen(hex) != 32 ||
		strspn(hex, "0123456789abcdef") != 32)
		return 0;
	for (int i = 0; i < 16; i++)
		value = (value << 4) |
			(uint64) (hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	return value;
}

/* A worker's key in shmem/rules_sync.c: its name and port, hashed. */
static uint64
node_key(const char *node, int port)
{
	char	   *name = psprintf("%s:%d", node, port);

	return hash_bytes_extended((const unsigned char *) name, strlen(name), 0);
}

/* The query whose answer is the digest of a node's rule set. */
static char *
digest_sql(void)
{
	return psprintf("SELECT pg_catalog.md5((%s))", ig_citus_rule_set_sql);
}

/* This node's digest (in SPI). */
static uint64
local_digest(void)
{
	if (SPI_execute(digest_sql(), true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "insider_guard: could not read the rule set");
	return digest_value(SPI_getvalue(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1));
}

/*
 * Every active primary worker's digest (in SPI), as a list of
 * IgWorkerDigest in "cxt".
 */
static List *
worker_digests(MemoryContext cxt)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(digest_sql())};
	List	   *answers = NIL;

	if (SPI_execute_with_args("SELECT w.nodename, w.nodeport, w.success, w.result"
							  "  FROM pg_catalog.run_command_on_workers($1) w",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "insider_guard: could not ask the Citus workers for their rules");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *node = SPI_getvalue(row, desc, 1);
		char	   *port = SPI_getvalue(row, desc, 2);
		char	   *success = SPI_getvalue(row, desc, 3);
		char	   *result = SPI_getvalue(row, desc, 4);
		MemoryContext spi_cxt = MemoryContextSwitchTo(cxt);
		IgWorkerDigest *answer = palloc0(sizeof(IgWorkerDigest));

		answer->node = pstrdup(node ? node : "");
		answer->port = port ? pg_strtoint32(port) : 0;
		answer->digest = digest_value(result);
		answer->answered = success != NULL && strcmp(success, "t") == 0 &&
			answer->digest != 0;
		answers = lappend(answers, answer);
		MemoryContextSwitchTo(spi_cxt);
	}
	return answers;
}

/*
 * SPI as the extension's owner, with a safe search_path: what the check
 * asks the workers, it asks as the owner, as every push does.
 */
typedef struct IgOwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
} IgOwnerScope;

static void
owner_scope_begin(IgOwnerScope *scope)
{
	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(ig_citus_extension_owner(),
						   scope->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	scope->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
owner_scope_end(IgOwnerScope *scope)
{
	SPI_finish();
	AtEOXact_GUC(true, scope->nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

/*
 * The coordinator's digest (*digest) and every worker's (the list), read
 * as the extension's owner.
 */
static List *
read_digests(MemoryContext cxt, uint64 *digest)
{
	IgOwnerScope scope;
	List	   *answers;

	owner_scope_begin(&scope);
	*digest = local_digest();
	answers = worker_digests(cxt);
	owner_scope_end(&scope);
	return answers;
}

/*
 * Compares every worker's rules with the coordinator's; sends them when a
 * worker is new or behind, and remembers what each holds afterwards.
 */
static void
check_workers(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		digest;
	List	   *answers;
	List	   *results;
	ListCell   *lc;
	StringInfoData behind;

	initStringInfo(&behind);
	answers = read_digests(cxt, &digest);
	foreach(lc, answers)
	{
		IgWorkerDigest *answer = lfirst(lc);

		if (answer->answered &&
			!ig_rules_sync_current(MyDatabaseId,
								   node_key(answer->node, answer->port),
								   digest, answer->digest))
			appendStringInfo(&behind, "%s%s:%d", behind.len > 0 ? ", " : "",
							 answer->node, answer->port);
	}
	if (behind.len == 0)
		return;

	/* under the push's lock until this commits: the set stays the one sent */
	results = ig_citus_push_rules();
	answers = read_digests(cxt, &digest);
	foreach(lc, results)
	{
		IgPushResult *r = lfirst(lc);
		ListCell   *la;

		if (!r->ok)
			continue;
		foreach(la, answers)
		{
			IgWorkerDigest *answer = lfirst(la);

			if (answer->answered && answer->port == r->port &&
				strcmp(answer->node, r->node) == 0)
				ig_rules_sync_record(MyDatabaseId,
									 node_key(answer->node, answer->port),
									 digest, answer->digest);
		}
	}
	ereport(LOG,
			(errmsg("insider_guard: sent the rules to the Citus workers; new or behind: %s",
					behind.data)));
	ig_citus_warn_push(results);
}

/*
 * The check the launcher starts in a database (its OID the argument):
 * connected as the bootstrap superuser -- by its OID, so that it is the
 * session user the workers' questions about this session find (an
 * unnamed one would be none, and each round would log that it stands for
 * no session) -- checks as the extension's owner if this is still a
 * Citus coordinator with insider_guard, and has the launcher forget the
 * database if not.
 */
void
ig_citus_sync_check_main(Datum arg)
{
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg),
											  BOOTSTRAP_SUPERUSERID, 0);
	pgstat_report_appname("insider_guard citus sync");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("insider_guard", true)) &&
		ig_citus_node() == IG_CITUS_COORDINATOR && ig_citus_rules_installed())
		check_workers();
	else
		ig_rules_sync_forget(MyDatabaseId);
	PopActiveSnapshot();
	CommitTransactionCommand();
	proc_exit(0);
}

/* the check running in each database the launcher started one in */
typedef struct IgCheckSlot
{
	Oid			dbid;
	BackgroundWorkerHandle *handle;
} IgCheckSlot;

static IgCheckSlot checks[IG_SYNC_MAX_DATABASES];

/* Whether a check started for a database has not ended yet. */
static bool
check_running(Oid dbid)
{
	pid_t		pid;

	for (int i = 0; i < IG_SYNC_MAX_DATABASES; i++)
		if (checks[i].dbid == dbid && checks[i].handle != NULL)
			return GetBackgroundWorkerPid(checks[i].handle, &pid) != BGWH_STOPPED;
	return false;
}

/* Keeps the handle of a check started in a database. */
static void
keep_handle(Oid dbid, BackgroundWorkerHandle *handle)
{
	IgCheckSlot *free_slot = NULL;
	pid_t		pid;

	for (int i = 0; i < IG_SYNC_MAX_DATABASES; i++)
	{
		IgCheckSlot *slot = &checks[i];

		/* a slot of a database whose check ended is free */
		if (slot->handle != NULL && slot->dbid != dbid &&
			GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED)
		{
			pfree(slot->handle);
			slot->handle = NULL;
			slot->dbid = InvalidOid;
		}
		if (slot->dbid == dbid || (free_slot == NULL && slot->handle == NULL))
			free_slot = slot;
	}
	if (free_slot->handle != NULL)
		pfree(free_slot->handle);
	free_slot->dbid = dbid;
	free_slot->handle = handle;
}

/* Starts a check in every registered database that has none running. */
static void
launch_checks(void)
{
	static bool said_no_slot = false;
	Oid			dbids[IG_SYNC_MAX_DATABASES];
	int			n = ig_rules_sync_databases(dbids, IG_SYNC_MAX_DATABASES);

	for (int i = 0; i < n; i++)
	{
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;
		MemoryContext old;
		bool		started;

		if (check_running(dbids[i]))
			continue;
		ig_bgw_init(&worker, "ig_citus_sync_check_main",
					"insider_guard citus sync check", dbids[i],
					BGW_NEVER_RESTART);
		old = MemoryContextSwitchTo(TopMemoryContext);
		started = RegisterDynamicBackgroundWorker(&worker, &handle);
		MemoryContextSwitchTo(old);
		if (started)
		{
			keep_handle(dbids[i], handle);
			said_no_slot = false;
		}
		else if (!said_no_slot)
		{
			said_no_slot = true;
			ereport(LOG,
					(errmsg("insider_guard: could not start a check of the Citus workers' rules"),
					 errdetail("No background worker slot is free."),
					 errhint("Raise max_worker_processes, or run SELECT insider_guard.sync_rules() after adding a worker.")));
		}
	}
}

/*
 * The launcher: every insider_guard.citus_sync_interval seconds, a check
 * in each registered database.  Not connected to a database.
 */
void
ig_citus_sync_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	while (!ShutdownRequestPending)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ig_citus_sync_interval > 0)
			launch_checks();
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (ig_citus_sync_interval > 0 ?
						  ig_citus_sync_interval : 60) * 1000L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

/*
 * Registers the launcher when Citus is in shared_preload_libraries (a
 * server without it has no process for this); from _PG_init.
 */
void
ig_citus_sync_register_launcher(void)
{
	BackgroundWorker worker;

	if (shared_preload_libraries_string == NULL ||
		strstr(shared_preload_libraries_string, "citus") == NULL)
		return;
	ig_bgw_init(&worker, "ig_citus_sync_launcher_main",
				"insider_guard citus sync", InvalidOid, 10);
	RegisterBackgroundWorker(&worker);
}
