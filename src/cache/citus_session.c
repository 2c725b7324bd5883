/*-------------------------------------------------------------------------
 *
 * citus_session.c
 *		On a Citus node, whose session a connection from another node
 *		works for, so that its reads count for that session's session
 *		user, and its violation records show the client's application and
 *		query.
 *
 * Citus runs a distributed statement's shard queries over connections of
 * its own, logged in as the role the session acts as -- after SET ROLE,
 * or in a SECURITY DEFINER function, another role than the session's --
 * and names the session in the connection's application_name:
 * "citus_internal gpid=N" (run_command_on_* uses "citus_run_command
 * gpid=N", the rebalancer "citus_rebalancer gpid=N"), N the node id times
 * 10^10 plus the session's pid on that node.  Counting those reads for the connection's login role
 * would let SET ROLE carry a role's reads past its rules, so the first
 * statement a backend runs for a gpid asks the node it names, over libpq,
 * insider_guard._citus_session(N) (citus_sessions.c): that node answers
 * with the session's session user only if the session acts as the role
 * this backend is logged in as.  The answer is kept for the backend's
 * life (a Citus connection serves one session; a new gpid asks again).
 *
 * Outcomes, for the reads of this backend:
 *	- answered: they count for the session user (by name: OIDs differ
 *	  between nodes; Citus creates roles on every node);
 *	- no session of that gpid acts as this login (a client that named
 *	  another session in its application_name, or a session whose statement
 *	  changed roles meanwhile): they count for the login role, as a direct
 *	  connection's do, and the server log says so once;
 *	- the gpid names no node Citus knows (Citus' own connections while
 *	  nodes are added name node 99999999): likewise;
 *	- the node cannot be asked (down, refuses the connection, has no
 *	  insider_guard): whose reads they are cannot be known, and every
 *	  statement is refused (42501) until it can be -- failing closed, as
 *	  a block rule must -- asking again at most every few seconds.
 * Nothing of this happens in a database without Citus (pg_dist_node) or
 * without insider_guard.
 *
 * The connection uses citus.node_conninfo, like Citus' own, with the
 * login role's name; it must be accepted as Citus' are (trust, a password
 * file, certificates).  It blocks for at most IG_ASK_TIMEOUT_S seconds.
 *
 * IDENTIFICATION
 *		src/cache/citus_session.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/guc.h"
#include "cache/citus.h"
#include "cache/citus_session.h"

/* Citus' global pid: node id * 10^10 + pid */
#define IG_GPID_NODE_FACTOR INT64CONST(10000000000)

/* the most the question may block, connecting and answering */
#define IG_ASK_TIMEOUT_S 5

/* how long a failure to ask stands before asking again */
#define IG_ASK_RETRY (5 * USECS_PER_SEC)

typedef enum IgAnswer
{
	IG_ANSWER_NONE,				/* not asked yet */
	IG_ANSWER_SESSION,			/* the session user is known */
	IG_ANSWER_NOT_ACTING,		/* no session of the gpid acts as the login */
	IG_ANSWER_NO_NODE,			/* Citus has no node of the gpid's id */
	IG_ANSWER_FAILED			/* the node could not be asked */
} IgAnswer;

/* An answer for a gpid and login, in TopMemoryContext. */
typedef struct IgSessionAnswer
{
	int64		gpid;
	Oid			login;
	IgAnswer	answer;
	Oid			session_user;	/* IG_ANSWER_SESSION */
	char	   *application;	/* the client's, IG_ANSWER_SESSION */
	char	   *query;			/* the client's, when last asked */
	char	   *why;			/* IG_ANSWER_FAILED: the error */
	TimestampTz asked_at;
	char	   *host;			/* the node asked, as whom, where: for leases */
	int			port;
	char	   *role_name;
	char	   *dbname;
} IgSessionAnswer;

/* the answer for this backend's gpid and login */
static IgSessionAnswer known;

/*
 * On the coordinator, in a backend a worker leases through: the answer
 * for a session of another worker the lease is for (a query planned on a
 * worker), kept apart from "known".
 */
static IgSessionAnswer remote;

/*
 * On the node of a session, while it leases rows to a worker
 * (citus_leases.c): the session's application and query, for the records
 * made meanwhile.
 */
bool		ig_citus_override_set = false;
static char *override_application = NULL;
static char *override_query = NULL;


/* the application names of Citus' connections, up to the gpid */
static const char *const citus_prefixes[] = {
	"citus_internal gpid=",
	"citus_run_command gpid=",
	"citus_rebalancer gpid=",
};

/*
 * Where the gpid starts in an application name of a Citus connection, or
 * NULL if it is not one.
 */
const char *
ig_citus_gpid_text(const char *application)
{
	if (strncmp(application, IG_CITUS_PREFIX, sizeof(IG_CITUS_PREFIX) - 1) != 0)
		return NULL;
	for (int i = 0; i < lengthof(citus_prefixes); i++)
	{
		size_t		len = strlen(citus_prefixes[i]);

		if (strncmp(application, citus_prefixes[i], len) == 0)
			return application + len;
	}
	return NULL;
}

/* The gpid of this backend's application_name, or 0 if malformed. */
static int64
gpid_of_application(void)
{
	const char *digits = application_name ?
		ig_citus_gpid_text(application_name) : NULL;
	char	   *end;
	int64		gpid;

	if (digits == NULL || *digits == '\0' ||
		strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 18)
		return 0;
	errno = 0;
	gpid = strtoi64(digits, &end, 10);
	if (errno != 0 || *end != '\0' || gpid <= 0)
		return 0;
	return gpid;
}

/*
 * A node of Citus' pg_dist_node: the one of that node id, or with nodeid
 * < 0 the coordinator (group 0).  Its host and port (palloc'd), id and
 * group;
 * false if the database has no such table (*citus false) or node.
 * Catalog access.
 */
static bool
find_node(int32 nodeid, char **host, int *port, int32 *found_id,
		  int32 *found_group, bool *citus)
{
	Oid			tableoid = get_relname_relid("pg_dist_node", PG_CATALOG_NAMESPACE);
	Relation	table;
	TupleDesc	desc;
	AttrNumber	id_att,
				group_att,
				name_att,
				port_att;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	*citus = false;
	if (!OidIsValid(tableoid) || get_rel_relkind(tableoid) != RELKIND_RELATION)
		return false;
	table = table_open(tableoid, AccessShareLock);
	desc = RelationGetDescr(table);
	id_att = ig_citus_column(desc, "nodeid", INT4OID, INT4OID);
	group_att = ig_citus_column(desc, "groupid", INT4OID, INT4OID);
	name_att = ig_citus_column(desc, "nodename", TEXTOID, TEXTOID);
	port_att = ig_citus_column(desc, "nodeport", INT4OID, INT4OID);
	if (id_att != 0 && group_att != 0 && name_att != 0 && port_att != 0)
	{
		*citus = true;
		scan = systable_beginscan(table, InvalidOid, false, NULL, 0, NULL);
		while (!found && (tuple = systable_getnext(scan)) != NULL)
		{
			bool		nulls[4];
			Datum		id = heap_getattr(tuple, id_att, desc, &nulls[0]);
			Datum		group = heap_getattr(tuple, group_att, desc, &nulls[1]);
			Datum		name = heap_getattr(tuple, name_att, desc, &nulls[2]);
			Datum		p = heap_getattr(tuple, port_att, desc, &nulls[3]);

			if (nulls[0] || nulls[1] || nulls[2] || nulls[3] ||
				(nodeid >= 0 ? DatumGetInt32(id) != nodeid :
				 DatumGetInt32(group) != 0))
				continue;
			*host = TextDatumGetCString(name);
			*port = DatumGetInt32(p);
			*found_id = DatumGetInt32(id);
			*found_group = DatumGetInt32(group);
			found = true;
		}
		systable_endscan(scan);
	}
	table_close(table, AccessShareLock);
	return found;
}

/* Sets the failure, in TopMemoryContext. */
static void
failed(IgSessionAnswer *k, const char *why)
{
	k->answer = IG_ANSWER_FAILED;
	k->why = MemoryContextStrdup(TopMemoryContext, why);
}

/* Replaces a kept string with a copy of another, in TopMemoryContext. */
static void
keep_string(char **kept, const char *value)
{
	if (*kept != NULL)
		pfree(*kept);
	*kept = MemoryContextStrdup(TopMemoryContext, value);
}

/*
 * Asks the node the gpid names whose session it is, as the login role,
 * and fills *k.  Catalog access; blocks for at most
 * IG_ASK_TIMEOUT_S seconds; raises no error of its own.
 */
static PGconn *connect_to(const char *host, int port, const char *role_name,
						  const char *dbname, char **error);
static void ask_on(IgSessionAnswer *k, PGconn *conn, int64 gpid,
				   const char *host, int port);

static void
ask(IgSessionAnswer *k, int64 gpid, Oid login)
{
	char	   *host;
	int			port;
	int32		found_id;
	int32		found_group;
	bool		citus;
	PGconn	   *conn;
	char	   *role_name;
	char	   *error;

	k->gpid = gpid;
	k->login = login;
	k->asked_at = GetCurrentTimestamp();
	k->answer = IG_ANSWER_NONE;

	if (!find_node((int32) (gpid / IG_GPID_NODE_FACTOR), &host, &port,
				   &found_id, &found_group, &citus))
	{
		/*
		 * No Citus, or no such node: Citus names a node not yet in its
		 * metadata 99999999 (its own connections while nodes are added).
		 * Nobody to ask: the reads are the login role's, as a direct
		 * connection's are.
		 */
		if (citus)
			k->answer = IG_ANSWER_NO_NODE;
		return;
	}
	role_name = GetUserNameFromId(login, true);
	if (role_name == NULL)
	{
		failed(k, "the login role is gone");
		return;
	}

	keep_string(&k->dbname, get_database_name(MyDatabaseId));
	keep_string(&k->role_name, role_name);
	keep_string(&k->host, host);
	k->port = port;
	conn = connect_to(host, port, role_name, k->dbname, &error);
	if (conn == NULL)
	{
		failed(k, error);
		return;
	}
	ask_on(k, conn, gpid, host, port);
	PQfinish(conn);
}

/*
 * A connection to the node, as the role, with citus.node_conninfo's
 * settings; NULL, with *error set, if it cannot be made.
 */
static PGconn *
connect_to(const char *host, int port, const char *role_name,
		   const char *dbname, char **error)
{
	const char *keywords[32];
	const char *values[32];
	int			n = 0;
	char		port_text[16];
	char		timeout_text[16];
	const char *node_conninfo;
	PQconninfoOption *options = NULL;
	PGconn	   *conn;

	/* Citus' settings for connections between nodes first, ours over them */
	node_conninfo = GetConfigOption("citus.node_conninfo", true, false);
	if (node_conninfo != NULL && node_conninfo[0] != '\0' &&
		(options = PQconninfoParse(node_conninfo, NULL)) != NULL)
	{
		for (PQconninfoOption *o = options; o->keyword != NULL && n < 20; o++)
			if (o->val != NULL && o->val[0] != '\0' &&
				strcmp(o->keyword, "host") != 0 &&
				strcmp(o->keyword, "hostaddr") != 0 &&
				strcmp(o->keyword, "port") != 0 &&
				strcmp(o->keyword, "dbname") != 0 &&
				strcmp(o->keyword, "user") != 0 &&
				strcmp(o->keyword, "application_name") != 0 &&
				strcmp(o->keyword, "options") != 0)
			{
				keywords[n] = o->keyword;
				values[n++] = o->val;
			}
	}
	snprintf(port_text, sizeof(port_text), "%d", port);
	snprintf(timeout_text, sizeof(timeout_text), "%d", IG_ASK_TIMEOUT_S);
	keywords[n] = "host";
	values[n++] = host;
	keywords[n] = "port";
	values[n++] = port_text;
	keywords[n] = "dbname";
	values[n++] = dbname;
	keywords[n] = "user";
	values[n++] = role_name;
	keywords[n] = "application_name";
	values[n++] = "insider_guard citus_session";
	keywords[n] = "connect_timeout";
	values[n++] = timeout_text;
	keywords[n] = "options";
	values[n++] = "-c statement_timeout=5000";
	keywords[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keywords, values, false);
	if (options != NULL)
		PQconninfoFree(options);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		*error = psprintf("cannot connect to node %s:%d as %s: %s", host, port,
						  role_name, conn ? PQerrorMessage(conn) : "out of memory");
		if (conn != NULL)
			PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Asks, on the connection, whose session the gpid is: fills *k. */
static void
ask_on(IgSessionAnswer *k, PGconn *conn, int64 gpid, const char *host,
	   int port)
{
	char		gpid_text[24];
	const char *params[1];
	PGresult   *result;

	snprintf(gpid_text, sizeof(gpid_text), INT64_FORMAT, gpid);
	params[0] = gpid_text;
	result = PQexecParams(conn,
						  "SELECT session_user_name, application_name, query "
						  "FROM insider_guard._citus_session($1::pg_catalog.int8)",
						  1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1 ||
		PQnfields(result) != 3)
		failed(k, psprintf("node %s:%d did not answer: %s", host, port,
						PQresultErrorMessage(result)));
	else if (PQgetisnull(result, 0, 0))
		k->answer = IG_ANSWER_NOT_ACTING;
	else
	{
		Oid			here = get_role_oid(PQgetvalue(result, 0, 0), true);

		if (!OidIsValid(here))
			failed(k, psprintf("role \"%s\" of node %s:%d does not exist here",
							PQgetvalue(result, 0, 0), host, port));
		else
		{
			k->answer = IG_ANSWER_SESSION;
			k->session_user = here;
			keep_string(&k->application, PQgetvalue(result, 0, 1));
			keep_string(&k->query, PQgetvalue(result, 0, 2));
		}
	}
	PQclear(result);
}

/*
 * The role the reads of this backend, a Citus connection logged in as
 * "login", count for: the session user of the session it works for, or
 * the login role (see the file's header).  Raises 42501 if that cannot be
 * known in a database protected by insider_guard.  Catalog access.
 */
Oid
ig_citus_reader(Oid login)
{
	static bool asking = false;
	int64		gpid = gpid_of_application();

	/* leases go to the coordinator, whoever the session is (or is not) */
	if (ig_citus_budget == IG_CITUS_BUDGET_LEASE && !asking)
		ig_citus_prepare_direct(login);
	if (gpid == 0 || asking)
		return login;
	if (known.gpid != gpid || known.login != login ||
		(known.answer == IG_ANSWER_FAILED &&
		 GetCurrentTimestamp() - known.asked_at >= IG_ASK_RETRY))
	{
		if (!OidIsValid(get_extension_oid("insider_guard", true)))
			return login;
		asking = true;
		PG_TRY();
		{
			ask(&known, gpid, login);
		}
		PG_FINALLY();
		{
			asking = false;
		}
		PG_END_TRY();
		if (known.answer == IG_ANSWER_NOT_ACTING ||
			known.answer == IG_ANSWER_NO_NODE)
			ereport(LOG,
					(errmsg("insider_guard: %s Citus gpid " INT64_FORMAT " acts as role \"%s\": its reads count for that role",
							known.answer == IG_ANSWER_NO_NODE ?
							"no node of Citus knows the session of" : "no session of",
							gpid, GetUserNameFromId(login, true))));
	}
	switch (known.answer)
	{
		case IG_ANSWER_SESSION:
			return known.session_user;
		case IG_ANSWER_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("insider_guard: cannot tell whose session Citus connection gpid=" INT64_FORMAT " works for",
							gpid),
					 errdetail("%s", known.why ? known.why : "unknown"),
					 errhint("Each node must accept connections from the others as the roles Citus connects as (citus.node_conninfo), and have insider_guard in this database.")));
			break;
		case IG_ANSWER_NONE:
		case IG_ANSWER_NOT_ACTING:
		case IG_ANSWER_NO_NODE:
			break;
	}
	return login;
}

/*
 * The client's application name and query for a violation record of this
 * backend, if it works for a known session: asked again first with
 * "refresh" (catalog access; the connection may serve many statements of
 * the session) -- if the session no longer answers, the application as
 * last asked and an empty query; without "refresh", the application as
 * last asked, and *query NULL.  False, with nothing set, otherwise.
 */
bool
ig_citus_client(bool refresh, char **application, char **query)
{
	if (ig_citus_override_set)
	{
		*application = pstrdup(override_application);
		*query = pstrdup(override_query);
		return true;
	}
	if (!ig_citus_connection() || known.answer != IG_ANSWER_SESSION ||
		known.gpid != gpid_of_application())
		return false;
	if (refresh)
	{
		Oid			session_user = known.session_user;
		char	   *last_application = pstrdup(known.application ?
											   known.application : "");

		ask(&known, known.gpid, known.login);
		if (known.answer != IG_ANSWER_SESSION ||
			known.session_user != session_user)
		{
			/*
			 * Asked again later, by the next statement.  The session ended
			 * meanwhile (its statement failed on another node first), or
			 * acts as another role: its application, not a query of its
			 * that may not be this one's.
			 */
			known.gpid = 0;
			*application = last_application;
			*query = pstrdup("");
			return true;
		}
	}
	*application = pstrdup(known.application ? known.application : "");
	/* an earlier statement's query would mislead: then Citus' own */
	*query = refresh ? pstrdup(known.query ? known.query : "") : NULL;
	return true;
}

/*
 * On the coordinator, for a lease (citus_leases.c): whether the gpid
 * names a session of a worker -- a query planned there, whose shard
 * queries other workers run -- rather than one of this node.  If so, that
 * worker is asked whose session it is, as a Citus connection's backend
 * asks (ask(), as "login"): *session_user is its session user if it acts
 * as the login, else InvalidOid; *application and *query are its client's.
 * Raises 42501 if the worker cannot be asked: the lease is refused, and
 * the reading worker stops (fail closed).  Catalog access.
 */
bool
ig_citus_worker_session(int64 gpid, Oid login, Oid *session_user,
						char **application, char **query)
{
	char	   *host;
	int			port;
	int32		id;
	int32		group;
	bool		citus;

	*session_user = InvalidOid;
	if (!find_node((int32) (gpid / IG_GPID_NODE_FACTOR), &host, &port, &id,
				   &group, &citus) || group == 0)
		return false;
	ask(&remote, gpid, login);
	if (remote.answer == IG_ANSWER_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: cannot tell whose session Citus gpid " INT64_FORMAT " is",
						gpid),
				 errdetail("%s", remote.why ? remote.why : "unknown")));
	if (remote.answer == IG_ANSWER_SESSION)
	{
		*session_user = remote.session_user;
		*application = pstrdup(remote.application ? remote.application : "");
		*query = pstrdup(remote.query ? remote.query : "");
	}
	return true;
}

/*
 * On the coordinator, before a lease's record: the client's application
 * and query of a worker's session (ig_citus_worker_session) as they are
 * now, if it still acts as the login for the same session user.  False,
 * with nothing set, if it does not answer so.  No error of its own.
 */
bool
ig_citus_worker_client(int64 gpid, Oid login, Oid session_user,
					   char **application, char **query)
{
	ask(&remote, gpid, login);
	if (remote.answer != IG_ANSWER_SESSION ||
		remote.session_user != session_user)
		return false;
	*application = pstrdup(remote.application ? remote.application : "");
	*query = pstrdup(remote.query ? remote.query : "");
	return true;
}

/*
 * On a worker, with insider_guard.citus_budget = lease: where the
 * backend's own reads lease their rows when it is not a Citus connection
 * (a client connected to the worker): the coordinator, as its login role.
 */
static struct
{
	bool		resolved;		/* looked at, for "login" */
	bool		worker;			/* this node is a worker of a cluster */
	int32		coordinator;	/* the coordinator's node id */
	Oid			login;
	char	   *host;
	int			port;
	char	   *role_name;
	char	   *dbname;
}			direct;

static PGconn *direct_conn = NULL;

/*
 * The login ig_citus_prepare_direct was last asked for (InvalidOid: not
 * yet), and whether this backend is on a Citus worker, where block-ruled
 * reads lease their rows: what the inline checks of citus_session.h and
 * lease.h read, so that a server without Citus pays a compare.
 */
Oid			ig_citus_direct_login = InvalidOid;
bool		ig_citus_on_worker = false;

/*
 * ig_citus_prepare_direct for a login not looked at yet: finds, once,
 * whether this node is a worker and where its coordinator is, so that
 * block-ruled reads lease their rows there (ig_citus_lease_ready).
 * Catalog access.
 */
void
ig_citus_prepare_direct_slow(Oid login)
{
	char	   *host;
	int			port;
	char	   *role_name;
	int32		group;
	bool		citus;

	direct.resolved = true;
	direct.login = login;
	direct.worker = false;
	ig_citus_direct_login = login;
	ig_citus_on_worker = false;
	if (!OidIsValid(get_extension_oid("insider_guard", true)) ||
		ig_citus_local_group() <= 0 ||
		!find_node(-1, &host, &port, &direct.coordinator, &group, &citus) ||
		(role_name = GetUserNameFromId(login, true)) == NULL)
		return;
	keep_string(&direct.host, host);
	direct.port = port;
	keep_string(&direct.role_name, role_name);
	keep_string(&direct.dbname, get_database_name(MyDatabaseId));
	direct.worker = true;
	ig_citus_on_worker = true;
}

/*
 * Whether this backend's block-ruled reads lease their rows -- on a
 * worker, from the coordinator, the one node that holds the cluster's
 * budget -- and for whom: with *session, for the session a Citus
 * connection works for, on the coordinator or on a worker where the query
 * was planned (its session user, which the coordinator checks, asking
 * that worker if need be); else for the login role (a client's own
 * connection to the worker; a Citus connection whose session did not
 * answer).
 */
bool
ig_citus_lease_ready(bool *session)
{
	*session = ig_citus_connection() && known.answer == IG_ANSWER_SESSION &&
		known.gpid == gpid_of_application();
	return direct.resolved && direct.worker;
}

/*
 * A lease given back at commit is sent without waiting for the answer
 * (ig_citus_give_back): the worker's commit does not wait a round trip.
 * The answer is read before the next call on the connection -- the node
 * answers calls in order, so it has taken the rows back by then -- and a
 * failure is logged.
 */
static bool answer_pending = false;

/*
 * The session gpid the coordinator last answered a lease for on this
 * connection: it checks the session once, at the first call for it (it
 * must be running then), so a first call for a session is never sent
 * without waiting -- the session may be gone by the time the coordinator
 * reads it.  0: none.
 */
static int64 answered_gpid = 0;

/*
 * Reads the answer of the give-back sent without waiting, if one is
 * pending: true if there is none or the node took it; false, logged, if
 * it did not (its backend was gone: the caller reports the rows again).
 * No catalog access, no error of its own.
 */
bool
ig_citus_give_back_taken(void)
{
	PGresult   *result;
	bool		taken = true;
	bool		answered = false;

	if (!answer_pending)
		return true;
	answer_pending = false;
	while ((result = PQgetResult(direct_conn)) != NULL)
	{
		if (PQresultStatus(result) == PGRES_TUPLES_OK)
			answered = true;
		else
		{
			taken = false;
			ereport(LOG,
					(errmsg("insider_guard: node %s:%d did not take back a lease: %s",
							direct.host, direct.port,
							PQresultErrorMessage(result)),
					 errhidestmt(true)));
		}
		PQclear(result);
	}
	return taken && answered;
}

/*
 * A new connection to the coordinator, in place of one gone (its backend,
 * and what it held for this one, are gone: ig_citus_reconnected says so
 * to lease.c).  False, with *why, if it cannot be made.
 */
static bool reconnected = false;

static bool
reconnect(char **why)
{
	if (direct_conn != NULL)
	{
		PQfinish(direct_conn);
		reconnected = true;
	}
	answer_pending = false;
	answered_gpid = 0;			/* a new backend there: it checks again */
	direct_conn = connect_to(direct.host, direct.port, direct.role_name,
							 direct.dbname, why);
	return direct_conn != NULL;
}

/*
 * Whether the connection to the coordinator was made anew since the last
 * time this was asked: the rows leased on the old one are held no more.
 */
bool
ig_citus_reconnected(void)
{
	bool		was = reconnected;

	reconnected = false;
	return was;
}

/*
 * Calls _citus_lease on the coordinator (see ig_citus_lease); without
 * "wait", only sends the call: 0 if sent.
 */
static int64
lease_call(bool session, const char *schema, const char *table,
		   int64 read, int64 keep, int64 want, bool wait, char **why)
{
	static const char *const lease_sql =
		"SELECT insider_guard._citus_lease($1::pg_catalog.int8, $2, $3, "
		"$4::pg_catalog.int8, $5::pg_catalog.int8, $6::pg_catalog.int8, $7, $8)";
	char		gpid_text[24];
	char		read_text[24];
	char		keep_text[24];
	char		want_text[24];
	const char *params[8];
	PGresult   *result;
	int64		leased = IG_LEASE_FAILED;
	PGconn	  **conn = &direct_conn;
	const char *host = direct.host;
	int			port = direct.port;

	*why = NULL;
	if (!direct.resolved || !direct.worker)
	{
		*why = pstrdup("no coordinator to lease from is known");
		return IG_LEASE_FAILED;
	}
	/* a give-back's answer lease.c did not read (it always does) */
	if (*conn != NULL && answer_pending)
		(void) ig_citus_give_back_taken();
	if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK)
	{
		if (!reconnect(why))
			return IG_LEASE_FAILED;
	}
	snprintf(gpid_text, sizeof(gpid_text), INT64_FORMAT, session ? known.gpid : 0);
	snprintf(read_text, sizeof(read_text), INT64_FORMAT, read);
	snprintf(keep_text, sizeof(keep_text), INT64_FORMAT, keep);
	snprintf(want_text, sizeof(want_text), INT64_FORMAT, want);
	params[0] = gpid_text;
	params[1] = schema;
	params[2] = table;
	params[3] = read_text;
	params[4] = keep_text;
	params[5] = want_text;
	params[6] = session ? NULL : (application_name ? application_name : "");
	params[7] = session ? NULL :
		(debug_query_string ? debug_query_string : "");
	if (!wait && (!session || answered_gpid == known.gpid))
	{
		if (PQsendQueryParams(*conn, lease_sql, 8, NULL, params, NULL, NULL, 0))
		{
			answer_pending = true;
			return 0;
		}
		*why = psprintf("node %s:%d could not be sent a lease: %s", host, port,
						PQerrorMessage(*conn));
		return IG_LEASE_FAILED;
	}
	result = PQexecParams(*conn, lease_sql, 8, NULL, params, NULL, NULL, 0);

	/*
	 * The connection was gone (the node restarted, its backend was ended):
	 * once more on a new one.  A call the node ran before it went counts
	 * its rows twice: more, never less.
	 */
	if (PQresultStatus(result) != PGRES_TUPLES_OK &&
		PQstatus(*conn) != CONNECTION_OK)
	{
		PQclear(result);
		if (!reconnect(why))
			return IG_LEASE_FAILED;
		result = PQexecParams(*conn, lease_sql, 8, NULL, params, NULL, NULL, 0);
	}
	if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1 &&
		PQnfields(result) == 1 && !PQgetisnull(result, 0, 0))
	{
		leased = strtoi64(PQgetvalue(result, 0, 0), NULL, 10);
		answered_gpid = session ? known.gpid : answered_gpid;
		if (!wait)
			leased = 0;			/* a give-back: sent, and answered */
	}
	else
		*why = psprintf("node %s:%d did not lease: %s", host, port,
						PQresultErrorMessage(result));
	PQclear(result);
	return leased;
}

/*
 * Asks for a lease (see ig_citus_lease_ready): reports "read" rows read
 * since the last lease of the key (the table by schema and name; NULL:
 * all tables), "keep" rows still granted, and wants up to "want" fresh
 * ones; a direct client's application and query go along, for the
 * node's record.  Returns the fresh rows leased (>= 0); a negative number
 * when the cluster's limit is broken (minus the id of the node's
 * violation record, or IG_LEASE_UNRECORDED); IG_LEASE_FAILED, with *why,
 * when the node cannot be asked.  No catalog access, no error of its own.
 */
int64
ig_citus_lease(bool session, const char *schema, const char *table,
			   int64 read, int64 keep, int64 want, char **why)
{
	return lease_call(session, schema, table, read, keep, want, true, why);
}

/*
 * Gives a lease back, reporting "read" rows read on it, without waiting
 * for the answer (at commit).  0 if sent, else IG_LEASE_FAILED with *why.
 * No catalog access, no error of its own.
 */
int64
ig_citus_give_back(bool session, const char *schema, const char *table,
				   int64 read, char **why)
{
	return lease_call(session, schema, table, read, 0, 0, false, why);
}

/*
 * Until ig_citus_override_end, records made by this backend show that
 * application and query: those of the session a worker's lease is for.
 */
void
ig_citus_override_begin(char *application, char *query)
{
	override_application = application;
	override_query = query;
	ig_citus_override_set = true;
}

void
ig_citus_override_end(void)
{
	ig_citus_override_set = false;
	override_application = override_query = NULL;
}
