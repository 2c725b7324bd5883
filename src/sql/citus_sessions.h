/*-------------------------------------------------------------------------
 *
 * citus_sessions.h
 *		This node's sessions, as Citus names them to other nodes (see
 *		citus_sessions.c).
 *
 * src/sql/citus_sessions.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_SESSIONS_H
#define IG_CITUS_SESSIONS_H

extern Oid	ig_citus_session_user(int64 gpid);
extern bool ig_citus_session_activity(int64 gpid, char **application,
									  char **query);

#endif							/* IG_CITUS_SESSIONS_H */
