/*-------------------------------------------------------------------------
 *
 * acting.c
 *		The role each backend's running statement acts as (its current
 *		user), published in shared memory when an executor starts or runs.
 *
 * A backend's session user is in its PGPROC for anyone to read, but the
 * role it acts as -- changed by SET ROLE and SECURITY DEFINER functions --
 * is private to it.  Citus connects to the workers as that role; a worker
 * that wants to count the reads it runs for a coordinator session for the
 * session's session user asks the coordinator (citus_session.c), and the
 * coordinator answers only a caller logged in as the role the session is
 * acting as (citus_sql.c) -- what this file publishes.
 *
 * One Oid per PGPROC slot, written by its backend without a lock (an
 * aligned 4-byte store is atomic) and read by others without one: a
 * reader sees the value before or after a statement started, never a torn
 * one.  What is published, and for how long (executor.c, acting_begin):
 * the session user, or a role it is a member of (SET ROLE), for every
 * statement, kept after the outermost one ends (Citus' tasks may reach the
 * workers after it); a role it is not a member of (a SECURITY DEFINER
 * function another role wrote) only while a Citus distributed statement
 * starts and runs, put back when it ends, on error too -- so that role
 * cannot pose as the session while it naps in the function, nor after.
 * A backend that has published nothing, and a slot no backend holds,
 * publish InvalidOid, which no caller matches; a backend clears its slot
 * when it exits.  Only on Citus nodes.
 *
 * IDENTIFICATION
 *		src/shmem/acting.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "base/compat.h"
#include "shmem/acting.h"

/* every PGPROC: backends, auxiliary processes, prepared transactions */
#define IG_ACTING_SLOTS (MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts)

static volatile Oid *acting_roles = NULL;

Size
ig_acting_shmem_size(void)
{
	return MAXALIGN(mul_size(sizeof(Oid), IG_ACTING_SLOTS));
}

/* Creates or attaches to the array; under AddinShmemInitLock. */
void
ig_acting_shmem_init(void)
{
	bool		found;

	acting_roles = ShmemInitStruct("insider_guard acting roles",
								   ig_acting_shmem_size(), &found);
	if (!found)
		memset((void *) acting_roles, 0, ig_acting_shmem_size());
}

/* what this backend published last (InvalidOid: nothing yet) */
static Oid	published = InvalidOid;
static bool clear_at_exit = false;

/* A backend exiting leaves nothing behind for the next one in its slot. */
static void
acting_clear(int code, Datum arg)
{
	(void) ig_acting_publish(InvalidOid);
}

/*
 * Publishes the role this backend's statement acts as; returns what was
 * published before, for the caller to put back when a nested statement
 * ends (ig_acting_restore).
 */
Oid
ig_acting_publish(Oid roleid)
{
	int			slot;
	Oid			before = published;

	if (acting_roles == NULL || MyProc == NULL || roleid == published)
		return before;
	slot = ig_proc_number(MyProc);
	if (slot < 0 || slot >= IG_ACTING_SLOTS)
		return before;
	if (!clear_at_exit)
	{
		before_shmem_exit(acting_clear, (Datum) 0);
		clear_at_exit = true;
	}
	acting_roles[slot] = roleid;
	published = roleid;
	return before;
}

/* The role a backend last published, or InvalidOid. */
Oid
ig_acting_of(PGPROC *proc)
{
	int			slot;

	if (acting_roles == NULL || proc == NULL)
		return InvalidOid;
	slot = ig_proc_number(proc);
	if (slot < 0 || slot >= IG_ACTING_SLOTS)
		return InvalidOid;
	return acting_roles[slot];
}

/*
 * Puts back what ig_acting_publish returned when a statement started:
 * the role of the statement it is nested in, or nobody.
 */
void
ig_acting_restore(Oid before)
{
	(void) ig_acting_publish(before);
}
