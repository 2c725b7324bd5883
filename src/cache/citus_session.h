/*-------------------------------------------------------------------------
 *
 * citus_session.h
 *		Whose session a Citus connection works for (see citus_session.c).
 *
 * src/cache/citus_session.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_SESSION_H
#define IG_CITUS_SESSION_H

#include "utils/guc.h"

/*
 * How Citus names its connections to other nodes: "<prefix>gpid=N", the
 * prefix one of these (Citus' connection_management.h): its executor's,
 * run_command_on_*'s, and the rebalancer's.  Each works for the session
 * of gpid N, as the role that session acts as.
 */
#define IG_CITUS_PREFIX "citus_"

extern const char *ig_citus_gpid_text(const char *application);

/*
 * True if this backend serves a Citus connection from another node (or
 * claims to: anyone can set application_name).  One compare for almost
 * every other backend.
 */
static inline bool
ig_citus_connection(void)
{
	return application_name != NULL && application_name[0] == 'c' &&
		ig_citus_gpid_text(application_name) != NULL;
}

/* ig_citus_lease's answer when the node cannot be asked */
#define IG_LEASE_FAILED PG_INT64_MIN

/* its answer when other holders hold every row left (citus_leases.c) */
#define IG_LEASE_CROWDED (PG_INT64_MIN + 1)

/*
 * its answer when the limit is broken and no record id can be given (else
 * minus the id: -1 is record 1)
 */
#define IG_LEASE_UNRECORDED (PG_INT64_MIN + 2)

/* a record id in a lease's answer, or 0 */
#define IG_LEASE_RECORD_ID(answer) \
	((answer) < 0 && (answer) > IG_LEASE_UNRECORDED ? -(answer) : 0)

extern bool ig_citus_override_set;

extern Oid	ig_citus_reader(Oid login);
extern void ig_citus_override_begin(char *application, char *query);
extern void ig_citus_override_end(void);
extern Oid	ig_citus_direct_login;
extern bool ig_citus_on_worker;

extern void ig_citus_prepare_direct_slow(Oid login);
extern bool ig_citus_lease_ready(bool *session);
extern int64 ig_citus_lease(bool session, const char *schema,
							const char *table, int64 read, int64 keep,
							int64 want, char **why);
extern int64 ig_citus_give_back(bool session, const char *schema,
								const char *table, int64 read, char **why);
extern bool ig_citus_give_back_taken(void);
extern bool ig_citus_reconnected(void);
extern bool ig_citus_client(bool refresh, char **application, char **query);
extern bool ig_citus_worker_session(int64 gpid, Oid login, Oid *session_user,
									char **application, char **query);
extern bool ig_citus_worker_client(int64 gpid, Oid login, Oid session_user,
								   char **application, char **query);

/*
 * With citus_budget = lease, at a statement's start: finds, once a login,
 * whether this node is a Citus worker and where its coordinator is
 * (ig_citus_on_worker).  A compare after the first statement.
 */
static inline void
ig_citus_prepare_direct(Oid login)
{
	if (likely(ig_citus_direct_login == login))
		return;
	ig_citus_prepare_direct_slow(login);
}

#endif							/* IG_CITUS_SESSION_H */
