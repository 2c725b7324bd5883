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

/* how Citus names its connections to other nodes */
#define IG_CITUS_GPID_PREFIX "citus_internal gpid="

/*
 * True if this backend serves a Citus connection from another node (or
 * claims to: anyone can set application_name).  One compare for every
 * other backend.
 */
static inline bool
ig_citus_connection(void)
{
	return application_name != NULL && application_name[0] == 'c' &&
		strncmp(application_name, IG_CITUS_GPID_PREFIX,
				sizeof(IG_CITUS_GPID_PREFIX) - 1) == 0;
}

/* ig_citus_lease's answer when the node cannot be asked */
#define IG_LEASE_FAILED PG_INT64_MIN

extern bool ig_citus_override_set;

extern Oid	ig_citus_reader(Oid login);
extern void ig_citus_override_begin(char *application, char *query);
extern void ig_citus_override_end(void);
extern bool ig_citus_attributed(void);
extern int64 ig_citus_lease(const char *schema, const char *table, int64 read,
							int64 keep, int64 want, char **why);
extern bool ig_citus_client(bool refresh, char **application, char **query);

#endif							/* IG_CITUS_SESSION_H */
