/*-------------------------------------------------------------------------
 *
 * rules_sync.c
 *		The shared state of the background check of the Citus workers'
 *		rules: the databases to check, and per worker what it was last
 *		sent and what it held afterwards.
 *
 * A backend of a Citus coordinator's database with insider_guard
 * registers the database the first time it reads the rules there
 * (ig_rules_sync_register: a lookup under a spinlock).  The launcher
 * (sql/citus_sync.c) starts, every insider_guard.citus_sync_interval, a
 * short-lived check in each registered database; the check compares a
 * digest of the coordinator's rule set with a digest of each worker's,
 * and sends the rules when a worker is new or behind.  A worker that
 * cannot hold every rule of the set (a rule on a table only the
 * coordinator has) never shows the coordinator's digest: what it showed
 * right after it was sent the set is remembered here, so that it is sent
 * the set again only when either side changes.  Nothing here survives a
 * restart: the first check after one sends the rules to every worker once.
 *
 * Each database has a fixed array of workers (node name and port hashed
 * to 64 bits); when it is full, the oldest entry is overwritten, at the
 * cost of one more send to that worker.  All of it is under one spinlock,
 * held for a few compares.
 *
 * IDENTIFICATION
 *		src/shmem/rules_sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"
#include "storage/spin.h"

#include "shmem/rules_sync.h"

/* the most workers remembered per database */
#define IG_SYNC_MAX_NODES 128

typedef struct IgSyncNode
{
	uint64		node;			/* hash of the worker's name and port */
	uint64		sent;			/* digest of the set it was sent */
	uint64		seen;			/* digest of its rules right after */
} IgSyncNode;

typedef struct IgSyncDatabase
{
	Oid			dbid;			/* InvalidOid: a free slot */
	int			nnodes;			/* entries of nodes[] in use */
	int			next_evicted;	/* when nodes[] is full */
	IgSyncNode	nodes[IG_SYNC_MAX_NODES];
} IgSyncDatabase;

typedef struct IgSyncShared
{
	slock_t		mutex;
	IgSyncDatabase dbs[IG_SYNC_MAX_DATABASES];
} IgSyncShared;

static IgSyncShared *sync_state = NULL;

Size
ig_rules_sync_shmem_size(void)
{
	return MAXALIGN(sizeof(IgSyncShared));
}

/* Creates or attaches to the state; under AddinShmemInitLock. */
void
ig_rules_sync_shmem_init(void)
{
	bool		found;

	sync_state = ShmemInitStruct("insider_guard rules sync",
								 ig_rules_sync_shmem_size(), &found);
	if (!found)
	{
		memset(sync_state, 0, ig_rules_sync_shmem_size());
		SpinLockInit(&sync_state->mutex);
	}
}

/* The slot of a database, or NULL; under the mutex. */
static IgSyncDatabase *
find_database(Oid dbid)
{
	for (int i = 0; i < IG_SYNC_MAX_DATABASES; i++)
		if (sync_state->dbs[i].dbid == dbid)
			return &sync_state->dbs[i];
	return NULL;
}

/*
 * Has the launcher check this database's workers.  When every slot is
 * taken, the database is not checked (said once a backend); its rules
 * still go out at each change and with sync_rules().
 */
void
ig_rules_sync_register(Oid dbid)
{
	static bool said_full = false;
	IgSyncDatabase *db;
	bool		full = false;

	if (sync_state == NULL || !OidIsValid(dbid))
		return;
	SpinLockAcquire(&sync_state->mutex);
	if (find_database(dbid) == NULL)
	{
		db = find_database(InvalidOid);
		if (db != NULL)
		{
			db->dbid = dbid;
			db->nnodes = 0;
			db->next_evicted = 0;
		}
		else
			full = true;
	}
	SpinLockRelease(&sync_state->mutex);
	if (full && !said_full)
	{
		said_full = true;
		ereport(LOG,
				(errmsg("insider_guard: the rules of this database's Citus workers are not checked in the background"),
				 errdetail("%d coordinator databases are checked already.",
						   IG_SYNC_MAX_DATABASES),
				 errhint("Run SELECT insider_guard.sync_rules() after adding a worker.")));
	}
}

/* Stops checking a database (no longer a coordinator with insider_guard). */
void
ig_rules_sync_forget(Oid dbid)
{
	IgSyncDatabase *db;

	if (sync_state == NULL)
		return;
	SpinLockAcquire(&sync_state->mutex);
	db = find_database(dbid);
	if (db != NULL)
		db->dbid = InvalidOid;
	SpinLockRelease(&sync_state->mutex);
}

/* Copies up to max registered databases into dbids; returns how many. */
int
ig_rules_sync_databases(Oid *dbids, int max)
{
	int			n = 0;

	if (sync_state == NULL)
		return 0;
	SpinLockAcquire(&sync_state->mutex);
	for (int i = 0; i < IG_SYNC_MAX_DATABASES && n < max; i++)
		if (OidIsValid(sync_state->dbs[i].dbid))
			dbids[n++] = sync_state->dbs[i].dbid;
	SpinLockRelease(&sync_state->mutex);
	return n;
}

/* A worker's entry of a database, or NULL; under the mutex. */
static IgSyncNode *
find_node(IgSyncDatabase *db, uint64 node)
{
	for (int i = 0; i < db->nnodes; i++)
		if (db->nodes[i].node == node)
			return &db->nodes[i];
	return NULL;
}

/*
 * Whether a worker holds what it held right after it was last sent the
 * rule set whose digest is "sent" (the coordinator's now): nothing to
 * send it.
 */
bool
ig_rules_sync_current(Oid dbid, uint64 node, uint64 sent, uint64 seen)
{
	IgSyncDatabase *db;
	IgSyncNode *entry;
	bool		current = false;

	if (sync_state == NULL)
		return false;
	SpinLockAcquire(&sync_state->mutex);
	db = find_database(dbid);
	if (db != NULL && (entry = find_node(db, node)) != NULL)
		current = entry->sent == sent && entry->seen == seen;
	SpinLockRelease(&sync_state->mutex);
	return current;
}

/* Remembers that a worker was sent "sent" and then held "seen". */
void
ig_rules_sync_record(Oid dbid, uint64 node, uint64 sent, uint64 seen)
{
	IgSyncDatabase *db;
	IgSyncNode *entry;

	if (sync_state == NULL)
		return;
	SpinLockAcquire(&sync_state->mutex);
	db = find_database(dbid);
	if (db != NULL)
	{
		entry = find_node(db, node);
		if (entry == NULL && db->nnodes < IG_SYNC_MAX_NODES)
			entry = &db->nodes[db->nnodes++];
		else if (entry == NULL)
		{
			entry = &db->nodes[db->next_evicted];
			db->next_evicted = (db->next_evicted + 1) % IG_SYNC_MAX_NODES;
		}
		entry->node = node;
		entry->sent = sent;
		entry->seen = seen;
	}
	SpinLockRelease(&sync_state->mutex);
}
