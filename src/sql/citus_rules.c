/*-------------------------------------------------------------------------
 *
 * citus_rules.c
 *		Rules on a Citus cluster: the coordinator's rule set, by name,
 *		pushed to every worker whenever it changes; a worker takes its
 *		rules from the coordinator only.
 *
 * Which node this is comes from Citus' catalog at run time, without its
 * headers: pg_catalog.pg_dist_local_group holds the node's group, 0 on the
 * coordinator (and on a node not yet in a cluster), another on a worker
 * whose metadata Citus has synced.
 *
 * On the coordinator, a change of a rules table (the admin functions and
 * direct DML alike go through the tables' statement triggers, triggers.c)
 * marks the transaction; just before it commits, the whole rule set of the
 * database -- thresholds, exemptions, baseline rules, peer groups; roles
 * and tables by name, rule ids and created_at kept -- is sent to every
 * active primary worker as one call of insider_guard._apply_rules(jsonb),
 * through Citus' run_command_on_workers, as the extension's owner.  Each
 * worker applies it in a transaction of its own, so a worker that cannot
 * be reached keeps its old rules: the change commits on the coordinator
 * all the same, with a WARNING naming the worker; the background check of
 * citus_sync.c sends the set to a worker that is behind or new within
 * insider_guard.citus_sync_interval, and insider_guard.sync_rules() at
 * once.  Pushes are serialised by a lock on the extension and read the
 * rules with a fresh snapshot, so the last one to commit sends what was
 * committed last.  A transaction that aborts after its push (Citus
 * commits its own remote work after this pre-commit step, and can fail)
 * has a background worker send the committed rules again; one that would
 * be prepared is refused.  The rules of a table dropped on a Citus node
 * wait for the commit, where they follow a table of the same name (Citus
 * rebuilds tables under their name).
 *
 * On a worker, the rules tables refuse every change (42501) except those
 * _apply_rules makes, which a superuser alone may call; it replaces the
 * worker's rules with the set it is given, changing only the rows that
 * differ, and skips (WARNING, counted in its result) those whose role or
 * table does not exist on the worker.
 *
 * IDENTIFICATION
 *		src/sql/citus_rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/bgw.h"
#include "cache/relinfo.h"
#include "sql/adminlog.h"
#include "sql/args.h"
#include "cache/citus.h"
#include "sql/citus_rules.h"

PG_FUNCTION_INFO_V1(ig_apply_rules);
PG_FUNCTION_INFO_V1(ig_sync_rules);
PG_FUNCTION_INFO_V1(ig_defer_dropped_table_rules);

PGDLLEXPORT void ig_rules_resync_main(Datum arg);

/* _apply_rules is changing the rules tables */
static bool applying = false;

/* this transaction changed the rules on a coordinator */
static bool push_pending = false;
static bool callback_registered = false;

/*
 * This transaction sent the rules to the workers (as the extension's
 * owner, pushed_by): if it aborts after all, they have rules the
 * coordinator never committed.
 */
static bool pushed = false;
static Oid	pushed_by = InvalidOid;

/*
 * A table with rules dropped in this transaction, on a Citus node: its
 * rules go to the table of that schema and name at commit, if there is
 * one then; else, on a coordinator, they are deleted (a worker leaves
 * them to the coordinator's next push).  Citus' alter_distributed_table,
 * undistribute_table and alter_table_set_access_method rebuild a table
 * under a new OID and the same name, on the coordinator and, in the same
 * distributed transaction, its shell on every worker: the coordinator
 * pushes its rules before the workers' part commits, so a worker moves
 * its own rules to the new shell when its part commits (or is
 * prepared).  In TopTransactionContext.
 */
typedef struct IgDroppedTable
{
	Oid			relid;
	char	   *schema;
	char	   *name;
	bool		on_worker;		/* rebuilt here by the coordinator's Citus */
} IgDroppedTable;

static List *dropped_tables = NIL;

/*
 * A Citus table's least shard id (c its pg_class row), or NULL: a rule's
 * table is found on a worker by it first, whatever the owner named the
 * table there (its shell can be renamed on a worker alone).
 */
#define TABLE_SHARD \
"(SELECT pg_catalog.min(sh.shardid) FROM pg_catalog.pg_dist_shard sh" \
"  WHERE sh.logicalrelid::pg_catalog.oid OPERATOR(pg_catalog.=) c.oid)"

/*
 * The rule set of this database as one jsonb value, roles and tables by
 * name (and Citus tables by a shard id).  A rule whose role or table was dropped (inert here, shown by OID)
 * is sent as unresolved: an OID means another role or table on a worker.
 */
const char *const ig_citus_rule_set_sql =
"SELECT pg_catalog.jsonb_build_object("
"  'thresholds', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
"      'id', t.threshold_id, 'role', r.rolname, 'schema', n.nspname, 'table', c.relname,"
"      'shard', " TABLE_SHARD ","
"      'max_rows', t.max_rows, 'per', t.per, 'action', t.action,"
"      'created_at', t.created_at, 'created_by', t.created_by,"
"      'unresolved', (t.role_name IS NOT NULL AND r.oid IS NULL)"
"                    OR (t.table_name IS NOT NULL AND c.oid IS NULL))"
"      ORDER BY t.threshold_id), '[]')"
"    FROM insider_guard.thresholds t"
"    LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) t.role_name::pg_catalog.oid"
"    LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.table_name::pg_catalog.oid"
"    LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace),"
"  'baseline_rules', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
"      'id', b.rule_id, 'role', r.rolname, 'schema', n.nspname, 'table', c.relname,"
"      'shard', " TABLE_SHARD ","
"      'per', b.per, 'factor', b.factor, 'min_rows', b.min_rows,"
"      'compare_to', b.compare_to, 'action', b.action,"
"      'created_at', b.created_at, 'created_by', b.created_by,"
"      'unresolved', (b.role_name IS NOT NULL AND r.oid IS NULL)"
"                    OR (b.table_name IS NOT NULL AND c.oid IS NULL))"
"      ORDER BY b.rule_id), '[]')"
"    FROM insider_guard.baseline_rules b"
"    LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) b.role_name::pg_catalog.oid"
"    LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) b.table_name::pg_catalog.oid"
"    LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace),"
"  'exemptions', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
"      'role', r.rolname, 'created_at', e.created_at, 'created_by', e.created_by,"
"      'unresolved', r.oid IS NULL)"
"      ORDER BY e.role_name::pg_catalog.oid), '[]')"
"    FROM insider_guard.exemptions e"
"    LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.role_name::pg_catalog.oid),"
"  'peer_group_roles', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
"      'role', r.rolname, 'created_at', p.created_at, 'created_by', p.created_by,"
"      'unresolved', r.oid IS NULL)"
"      ORDER BY p.group_role::pg_catalog.oid), '[]')"
"    FROM insider_guard.peer_group_roles p"
"    LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.group_role::pg_catalog.oid))::pg_catalog.text";

/* The set sent to every active primary worker (Citus' own list). */
static const char *const push_sql =
"SELECT w.nodename, w.nodeport, w.success, w.result,"
"       CASE WHEN w.success THEN (w.result::pg_catalog.jsonb OPERATOR(pg_catalog.->>) 'skipped')::pg_catalog.int8 END"
"  FROM pg_catalog.run_command_on_workers("
"    'SELECT insider_guard._apply_rules(' OPERATOR(pg_catalog.||)"
"    pg_catalog.quote_literal($1) OPERATOR(pg_catalog.||) '::pg_catalog.jsonb)') w"
" ORDER BY w.nodename, w.nodeport";

/*
 * On a worker, each rules table's rows from the set ($1), resolved to
 * this node's OIDs: "ok" if everything it names exists here, "what" to
 * say which rule was skipped if not (no control characters: it goes to
 * the server log).  Columns after "ok" and "what" are
 * the table's, in its order.
 */
#define RESOLVE_ROLE(col) \
	"(SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) s." col ")"
#define RESOLVE_TABLE \
	"COALESCE((SELECT sh.logicalrelid::pg_catalog.oid FROM pg_catalog.pg_dist_shard sh" \
	" WHERE sh.shardid OPERATOR(pg_catalog.=) s.shard)," \
	" (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n" \
	" ON n.oid OPERATOR(pg_catalog.=) c.relnamespace" \
	" WHERE n.nspname OPERATOR(pg_catalog.=) s.schema AND c.relname OPERATOR(pg_catalog.=) s.\"table\"))"
#define OK_EXPR(role, table) \
	"(NOT COALESCE(s.unresolved, false)" \
	" AND (s.role IS NULL OR " role " IS NOT NULL)" \
	" AND (s.\"table\" IS NULL OR " table " IS NOT NULL))"

static const char *const thresholds_src =
"SELECT " OK_EXPR("x.roid", "x.toid") " AS ok,"
"       pg_catalog.regexp_replace(pg_catalog.format('threshold %s (role %s, table %s)', s.id,"
"                         COALESCE(pg_catalog.quote_ident(s.role), 'all'),"
"                         COALESCE(pg_catalog.quote_ident(s.schema) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.\"table\"), 'all')), '[[:cntrl:]]', '?', 'g') AS what,"
"       s.id, x.roid::pg_catalog.regrole AS role_name, x.toid::pg_catalog.regclass AS table_name,"
"       s.max_rows, s.per, s.action, s.created_at, s.created_by"
"  FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'thresholds')"
"       AS s(id int8, role name, schema name, \"table\" name, shard int8, max_rows int8,"
"            per interval, action text, created_at timestamptz, created_by name,"
"            unresolved bool),"
"       LATERAL (SELECT " RESOLVE_ROLE("role") " AS roid, " RESOLVE_TABLE " AS toid) x";

static const char *const baseline_rules_src =
"SELECT " OK_EXPR("x.roid", "x.toid") " AS ok,"
"       pg_catalog.regexp_replace(pg_catalog.format('baseline rule %s (role %s, table %s)', s.id,"
"                         COALESCE(pg_catalog.quote_ident(s.role), 'all'),"
"                         COALESCE(pg_catalog.quote_ident(s.schema) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.\"table\"), 'all')), '[[:cntrl:]]', '?', 'g') AS what,"
"       s.id, x.roid::pg_catalog.regrole AS role_name, x.toid::pg_catalog.regclass AS table_name,"
"       s.per, s.factor, s.min_rows, s.compare_to, s.action, s.created_at, s.created_by"
"  FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'baseline_rules')"
"       AS s(id int8, role name, schema name, \"table\" name, shard int8, per interval, factor float8,"
"            min_rows int8, compare_to text, action text, created_at timestamptz,"
"            created_by name, unresolved bool),"
"       LATERAL (SELECT " RESOLVE_ROLE("role") " AS roid, " RESOLVE_TABLE " AS toid) x";

#define ROLE_ROWS_SRC(key, kind) \
"SELECT (NOT COALESCE(s.unresolved, false) AND x.roid IS NOT NULL) AS ok," \
"       pg_catalog.regexp_replace(pg_catalog.format('" kind " %s', COALESCE(pg_catalog.quote_ident(s.role), '(a dropped role)')), '[[:cntrl:]]', '?', 'g') AS what," \
"       x.roid::pg_catalog.regrole AS role_name, s.created_at, s.created_by" \
"  FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) '" key "')" \
"       AS s(role name, created_at timestamptz, created_by name, unresolved bool)," \
"       LATERAL (SELECT " RESOLVE_ROLE("role") " AS roid) x"

static const char *const exemptions_src = ROLE_ROWS_SRC("exemptions", "exemption of");
static const char *const peer_group_roles_src = ROLE_ROWS_SRC("peer_group_roles", "peer group");

/*
 * One rules table on a worker: its name, its columns (a row of it, to
 * compare with the set's), and its rows' source above.
 */
typedef struct IgRulesTable
{
	const char *name;
	const char *columns;
	const char *src;
	const char *id_column;		/* the rule id, or NULL */
} IgRulesTable;

static const IgRulesTable rules_tables[] = {
	{"thresholds",
		"threshold_id, role_name, table_name, max_rows, per, action, created_at, created_by",
	thresholds_src, "threshold_id"},
	{"baseline_rules",
		"rule_id, role_name, table_name, per, factor, min_rows, compare_to, action, created_at, created_by",
	baseline_rules_src, "rule_id"},
	{"exemptions", "role_name, created_at, created_by", exemptions_src, NULL},
	{"peer_group_roles", "group_role, created_at, created_by", peer_group_roles_src, NULL},
};

#define NUM_RULES_TABLES lengthof(rules_tables)

/*
 * A rules table's columns, each qualified by alias: of the table itself,
 * or (set) of its rows in the set's source, which names the first "id"
 * and a peer group's role "role_name".
 */
static char *
column_list(const IgRulesTable *t, const char *alias, bool set)
{
	StringInfoData buf;
	char	   *cols = pstrdup(t->columns);
	char	   *tok;
	char	   *save;
	bool		first = true;

	initStringInfo(&buf);
	for (tok = strtok_r(cols, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
	{
		const char *name = tok;

		if (set && (strcmp(tok, "threshold_id") == 0 || strcmp(tok, "rule_id") == 0))
			name = "id";
		else if (set && strcmp(tok, "group_role") == 0)
			name = "role_name";
		appendStringInfo(&buf, "%s%s.%s", first ? "" : ", ", alias, name);
		first = false;
	}
	return buf.data;
}

/*
 * Which node of a Citus cluster this is, from pg_dist_local_group (read
 * directly: no Citus function is called).  A table of that name that is
 * not laid out as Citus' is taken for no Citus.
 */
IgCitusNode
ig_citus_node(void)
{
	int32		group;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return IG_CITUS_NONE;
	group = ig_citus_local_group();
	if (group < 0)
		return IG_CITUS_NONE;
	return group == 0 ? IG_CITUS_COORDINATOR : IG_CITUS_WORKER;
}

/*
 * Whether this database's insider_guard has _apply_rules (0.5.0 on): with
 * an earlier version a worker has no way to receive rules, and keeps
 * taking its own.
 */
bool
ig_citus_rules_installed(void)
{
	Oid			argtypes[1] = {JSONBOID};

	return OidIsValid(LookupFuncName(list_make2(makeString("insider_guard"),
												makeString("_apply_rules")),
									 1, argtypes, true));
}

/* The owner of this database's insider_guard extension (a superuser). */
Oid
ig_citus_extension_owner(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("insider_guard"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		elog(ERROR, "insider_guard is not installed in this database");
	return owner;
}

/*
 * Sends the rule set to every active primary worker; returns a list of
 * IgPushResult, one per worker, in the caller's memory context.
 */
List *
ig_citus_push_rules(void)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	SPIPlanPtr	plan;
	Datum		set;
	bool		isnull;
	Oid			argtypes[1] = {TEXTOID};
	int			ret;
	List	   *results = NIL;

	/* one push at a time: the last to commit sends the last rules */
	LockDatabaseObject(ExtensionRelationId,
					   get_extension_oid("insider_guard", false), 0,
					   ExclusiveLock);

	/* as the extension's owner, whoever changed the rules here */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(ig_citus_extension_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	/* just before a commit, no statement has set one */
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* what is committed now, and this transaction's changes */
	plan = SPI_prepare(ig_citus_rule_set_sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, false, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the rule set: %s", SPI_result_code_string(ret));
	set = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	ret = SPI_execute_with_args(push_sql, 1, argtypes, &set, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not send the rules to the workers: %s",
			 SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	rowdesc = SPI_tuptable->tupdesc;
		char	   *node = SPI_getvalue(row, rowdesc, 1);
		char	   *port = SPI_getvalue(row, rowdesc, 2);
		char	   *result = SPI_getvalue(row, rowdesc, 4);
		bool		ok_null;
		bool		skipped_null;
		MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);
		IgPushResult *r = palloc0(sizeof(IgPushResult));

		r->node = pstrdup(node ? node : "");
		r->port = port ? pg_strtoint32(port) : 0;
		r->ok = DatumGetBool(SPI_getbinval(row, rowdesc, 3, &ok_null));
		if (ok_null)
			r->ok = false;
		r->result = result ? pstrdup(result) : NULL;
		r->skipped = DatumGetInt64(SPI_getbinval(row, rowdesc, 5,
												 &skipped_null));
		r->skipped_known = !skipped_null;
		results = lappend(results, r);
		MemoryContextSwitchTo(spi_cxt);
	}

	SPI_finish();
	PopActiveSnapshot();
	AtEOXact_GUC(true, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return results;
}

/*
 * Says, for each worker of a push, that it did not take the set or
 * skipped rules of it (WARNING).
 */
void
ig_citus_warn_push(List *results)
{
	ListCell   *lc;

	foreach(lc, results)
	{
		IgPushResult *r = lfirst(lc);

		if (!r->ok)
			ereport(WARNING,
					(errmsg("insider_guard: the rules were not sent to Citus worker %s:%d",
							r->node, r->port),
					 errdetail("%s", r->result ? r->result : "no result"),
					 errhint("That worker keeps its earlier rules until it is back: insider_guard sends them within insider_guard.citus_sync_interval, or run SELECT insider_guard.sync_rules() on the coordinator.")));
		else if (r->skipped_known && r->skipped > 0)
			ereport(WARNING,
					(errmsg("insider_guard: %lld rules were not applied on Citus worker %s:%d",
							(long long) r->skipped, r->node, r->port),
					 errdetail("The roles or tables they name do not exist there."),
					 errhint("Once they do, run SELECT insider_guard.sync_rules() on the coordinator.")));
	}
}

/*
 * Whether a relation may carry rules (as ig_check_table_arg says, without
 * its errors): a table, partitioned table, materialized view or foreign
 * table, not temporary, not initdb's, not insider_guard's own.
 */
static bool
rules_may_name(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	bool		ok;
	Oid			nspid;

	if (!HeapTupleIsValid(tuple))
		return false;
	form = (Form_pg_class) GETSTRUCT(tuple);
	ok = (form->relkind == RELKIND_RELATION ||
		  form->relkind == RELKIND_PARTITIONED_TABLE ||
		  form->relkind == RELKIND_MATVIEW ||
		  form->relkind == RELKIND_FOREIGN_TABLE) &&
		form->relpersistence != RELPERSISTENCE_TEMP &&
		relid >= FirstNormalObjectId &&
		!IsCatalogNamespace(form->relnamespace) &&
		!IsToastNamespace(form->relnamespace);
	nspid = form->relnamespace;
	ReleaseSysCache(tuple);
	return ok && !ig_relinfo_extension_table(relid, nspid);
}

/*
 * At commit, the rules of each table dropped in this transaction go to
 * the table now of its schema and name, or (on a coordinator) are
 * deleted.  As the extension's owner: the sql_drop trigger that noted
 * them is its.  A table not dropped after all (a rolled back savepoint)
 * keeps its rules.  On a coordinator, changing the rules marks the
 * transaction for a push; on a worker, it is let through like
 * _apply_rules' changes.
 */
static void
resolve_dropped_tables(void)
{
	List	   *tables = dropped_tables;
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	bool		baselines;

	dropped_tables = NIL;
	if (tables == NIL)
		return;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(ig_citus_extension_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	baselines = OidIsValid(get_relname_relid("baseline_rules",
											 get_namespace_oid("insider_guard", false)));

	PG_TRY();
	{
		foreach(lc, tables)
		{
			IgDroppedTable *t = (IgDroppedTable *) lfirst(lc);
			Oid			nspid;
			Oid			now = InvalidOid;
			Oid			argtypes[2] = {OIDOID, OIDOID};
			Datum		args[2];

			if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t->relid)))
				continue;
			nspid = get_namespace_oid(t->schema, true);
			if (OidIsValid(nspid))
				now = get_relname_relid(t->name, nspid);
			if (OidIsValid(now) && !rules_may_name(now))
				now = InvalidOid;
			if (!OidIsValid(now) && t->on_worker)
				continue;
			args[0] = ObjectIdGetDatum(t->relid);
			args[1] = ObjectIdGetDatum(now);
			applying = t->on_worker;
			for (int i = 0; i < (baselines ? 2 : 1); i++)
			{
				const char *table = i == 0 ? "thresholds" : "baseline_rules";
				char	   *sql;
				int			ret;

				/*
				 * Those the table of the name has no rule of the same key
				 * for (its unique index's: role, window and, for baseline
				 * rules, kind) go to it; the rest are deleted.
				 */
				if (OidIsValid(now))
				{
					sql = psprintf("UPDATE insider_guard.%s o SET table_name = $2::pg_catalog.regclass"
								   " WHERE o.table_name::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
								   " AND NOT EXISTS (SELECT 1 FROM insider_guard.%s n"
								   "  WHERE n.table_name::pg_catalog.oid OPERATOR(pg_catalog.=) $2"
								   "  AND n.role_name IS NOT DISTINCT FROM o.role_name"
								   "  AND n.per OPERATOR(pg_catalog.=) o.per%s)",
								   table, table,
								   i == 0 ? "" :
								   " AND (n.compare_to OPERATOR(pg_catalog.=) 'novelty')"
								   " IS NOT DISTINCT FROM (o.compare_to OPERATOR(pg_catalog.=) 'novelty')");
					ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0);
					if (ret != SPI_OK_UPDATE)
						elog(ERROR, "insider_guard: the rules of a dropped table could not be moved: %s",
							 SPI_result_code_string(ret));
				}
				if (t->on_worker)
					continue;	/* a worker's rules are the coordinator's */
				sql = psprintf("DELETE FROM insider_guard.%s"
							   " WHERE table_name::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
							   table);
				ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0);
				if (ret != SPI_OK_DELETE)
					elog(ERROR, "insider_guard: the rules of a dropped table could not be deleted: %s",
						 SPI_result_code_string(ret));
			}
			applying = false;
		}
	}
	PG_FINALLY();
	{
		applying = false;
	}
	PG_END_TRY();

	SPI_finish();
	PopActiveSnapshot();
	AtEOXact_GUC(true, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * From the abort of a transaction that sent the rules: a background
 * worker sends them again, as they are committed, once this transaction's
 * lock on the extension is gone.  No catalog access here (aborting); a
 * worker that cannot be started is said, with the way out.
 */
static void
launch_resync(void)
{
	BackgroundWorker worker;

	ig_bgw_init(&worker, "ig_rules_resync_main", "insider_guard rules resync",
				MyDatabaseId, BGW_NEVER_RESTART);
	memcpy(worker.bgw_extra, &pushed_by, sizeof(Oid));
	if (RegisterDynamicBackgroundWorker(&worker, NULL))
		ereport(LOG,
				(errmsg("insider_guard: a transaction that sent the rules to the Citus workers failed; they are sent again as committed")));
	else
		ereport(WARNING,
				(errmsg("insider_guard: a transaction that sent the rules to the Citus workers failed, and they could not be sent again"),
				 errdetail("No background worker slot is free."),
				 errhint("Run SELECT insider_guard.sync_rules() on the coordinator.")));
}

/*
 * The background worker launch_resync starts: connected to the database
 * as the extension's owner, sends the committed rules to every worker, if
 * this is still a Citus coordinator with insider_guard.  Its WARNINGs go
 * to the server log.
 */
void
ig_rules_resync_main(Datum arg)
{
	Oid			owner;

	memcpy(&owner, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), owner, 0);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (OidIsValid(get_extension_oid("insider_guard", true)) &&
		ig_citus_node() == IG_CITUS_COORDINATOR && ig_citus_rules_installed())
		ig_citus_warn_push(ig_citus_push_rules());
	CommitTransactionCommand();
	proc_exit(0);
}

/* Whether this transaction dropped a table with rules on a coordinator. */
static bool
dropped_on_coordinator(void)
{
	ListCell   *lc;

	foreach(lc, dropped_tables)
		if (!((IgDroppedTable *) lfirst(lc))->on_worker)
			return true;
	return false;
}

/*
 * Just before a transaction that changed the rules commits: the rules of
 * the tables it dropped find their table, then the rules are sent.  A
 * transaction that would be prepared is refused: the workers would have
 * the change at PREPARE, and keep it after a ROLLBACK PREPARED.
 */
static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* the extension dropped after the change: nothing to send */
			if ((push_pending || dropped_tables != NIL) &&
				!OidIsValid(get_extension_oid("insider_guard", true)))
			{
				push_pending = false;
				dropped_tables = NIL;
			}
			resolve_dropped_tables();
			if (push_pending)
			{
				push_pending = false;
				pushed_by = ig_citus_extension_owner();
				pushed = true;
				ig_citus_warn_push(ig_citus_push_rules());
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* a worker's part of Citus' two-phase commit: see above */
			if (push_pending || dropped_on_coordinator())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("insider_guard: cannot PREPARE a transaction that changed the rules on a Citus coordinator"),
						 errdetail("The rules reach the workers before the transaction is prepared; a ROLLBACK PREPARED would leave them there."),
						 errhint("Change the rules, or drop tables that have rules, in a transaction that is not prepared.")));
			resolve_dropped_tables();
			break;
		case XACT_EVENT_ABORT:
			/* Citus' commit of its own remote work can fail after the push */
			if (pushed)
				launch_resync();
			/* FALLTHROUGH */
		default:
			push_pending = false;
			pushed = false;
			dropped_tables = NIL;
			break;
	}
}

/* Has xact_callback called at the end of this backend's transactions. */
static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(xact_callback, NULL);
		callback_registered = true;
	}
}

/*
 * Called by the rules tables' statement triggers after each change: on a
 * Citus worker, refuses it unless _apply_rules makes it; on a coordinator,
 * has the rules sent to the workers when the transaction commits.
 */
void
ig_citus_rules_changed(void)
{
	IgCitusNode node;

	/* extension scripts, and pg_upgrade restoring a worker's own rows */
	if (applying || creating_extension || IsBinaryUpgrade)
		return;
	node = ig_citus_node();
	if (node == IG_CITUS_NONE || !ig_citus_rules_installed())
		return;

	/*
	 * A worker refuses even a superuser: rules set there would be gone at
	 * the next push, and a worker's rules are the coordinator's to set.
	 */
	if (node == IG_CITUS_WORKER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: rules cannot be changed on a Citus worker"),
				 errdetail("A worker takes its rules from the coordinator."),
				 errhint("Set rules on the coordinator; they reach every worker.")));
	register_callback();
	push_pending = true;
}

/*
 * insider_guard._defer_dropped_table_rules(table_oid oid, schema_name
 * text, table_name text) RETURNS boolean
 *
 * Called by the sql_drop event trigger for a dropped table that has
 * rules.  On a Citus node, the rules wait for the commit, where they go
 * to the table then of that schema and name -- Citus rebuilt it under a
 * new OID -- or, on a coordinator, are deleted (true); without Citus
 * nothing is done (false: the trigger deletes them now).  Superuser only
 * (the trigger runs as the extension's owner).
 */
Datum
ig_defer_dropped_table_rules(PG_FUNCTION_ARGS)
{
	IgDroppedTable *t;
	MemoryContext old;
	IgCitusNode node;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: only a superuser may defer the rules of a dropped table")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("insider_guard: table_oid, schema_name and table_name must not be null")));
	if (creating_extension || IsBinaryUpgrade)
		PG_RETURN_BOOL(false);
	node = ig_citus_node();
	if (node == IG_CITUS_NONE || !ig_citus_rules_installed())
		PG_RETURN_BOOL(false);

	register_callback();
	old = MemoryContextSwitchTo(TopTransactionContext);
	t = palloc(sizeof(IgDroppedTable));
	t->relid = PG_GETARG_OID(0);
	t->schema = text_to_cstring(PG_GETARG_TEXT_PP(1));
	t->name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	t->on_worker = node == IG_CITUS_WORKER;
	dropped_tables = lappend(dropped_tables, t);
	MemoryContextSwitchTo(old);
	PG_RETURN_BOOL(true);
}

/*
 * Runs sql, with the rule set as $1, in SPI; returns SPI_processed.  Any
 * result but expect is an error.
 */
static uint64
run_with_set(const char *sql, Datum set, int expect)
{
	Oid			argtypes[1] = {JSONBOID};
	int			ret = SPI_execute_with_args(sql, 1, argtypes, &set, NULL,
											false, 0);

	if (ret != expect)
		elog(ERROR, "insider_guard: applying the rules failed: %s",
			 SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * insider_guard._apply_rules(rule_set jsonb) RETURNS jsonb
 *
 * On a Citus worker, by a superuser (the coordinator's push): makes this
 * node's rules those of the set.  Returns how many rows each table holds
 * from it and how many were skipped.
 */
Datum
ig_apply_rules(PG_FUNCTION_ARGS)
{
	Datum		set;
	int64		skipped = 0;
	int64		kept[NUM_RULES_TABLES];
	StringInfoData sql;
	StringInfoData result;
	int			nestlevel;

	ig_require_preloaded();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: only a superuser may apply a rule set"),
				 errhint("Set rules on the coordinator; they reach every worker.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("insider_guard: the rule set must not be null")));
	if (ig_citus_node() != IG_CITUS_WORKER)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insider_guard: a rule set is applied on a Citus worker only"),
				 errhint("Here, set rules with the admin functions.")));
	set = PG_GETARG_DATUM(0);

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* every table's list, an array: a missing one would empty its table */
	if (run_with_set("SELECT 1 WHERE pg_catalog.jsonb_typeof($1) = 'object'"
					 " AND pg_catalog.jsonb_typeof($1 -> 'thresholds') = 'array'"
					 " AND pg_catalog.jsonb_typeof($1 -> 'baseline_rules') = 'array'"
					 " AND pg_catalog.jsonb_typeof($1 -> 'exemptions') = 'array'"
					 " AND pg_catalog.jsonb_typeof($1 -> 'peer_group_roles') = 'array'",
					 set, SPI_OK_SELECT) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("insider_guard: not a rule set"),
				 errdetail("A rule set is an object with the arrays thresholds, baseline_rules, exemptions and peer_group_roles.")));

	/* one apply at a time; readers of the rules wait for none */
	run_with_set("LOCK TABLE insider_guard.thresholds, insider_guard.baseline_rules,"
				 " insider_guard.exemptions, insider_guard.peer_group_roles"
				 " IN SHARE ROW EXCLUSIVE MODE", set, SPI_OK_UTILITY);

	initStringInfo(&sql);
	applying = true;
	PG_TRY();
	{
		/* what cannot be resolved here is skipped, and said */
		for (int i = 0; i < NUM_RULES_TABLES; i++)
		{
			resetStringInfo(&sql);
			appendStringInfo(&sql, "SELECT what FROM (%s) s WHERE NOT ok",
							 rules_tables[i].src);
			run_with_set(sql.data, set, SPI_OK_SELECT);
			for (uint64 j = 0; j < SPI_processed; j++)
				ereport(WARNING,
						(errmsg("insider_guard: %s of the coordinator's rules is not applied here",
								SPI_getvalue(SPI_tuptable->vals[j],
											 SPI_tuptable->tupdesc, 1)),
						 errdetail("The role or table it names does not exist on this node: a rule of that id this node has is kept as it is.")));
			skipped += SPI_processed;
		}

		/*
		 * rows not in the set, or changed, go; then the set's new ones
		 * come.  A rule of the set skipped here keeps the row of its id this
		 * node has: a name renamed on the coordinator only, for the time of
		 * a push, must not delete the rule here.
		 */
		for (int i = 0; i < NUM_RULES_TABLES; i++)
		{
			const IgRulesTable *t = &rules_tables[i];

			resetStringInfo(&sql);
			appendStringInfo(&sql,
							 "DELETE FROM insider_guard.%s t WHERE NOT EXISTS"
							 " (SELECT 1 FROM (%s) s WHERE s.ok AND"
							 " ROW(%s) IS NOT DISTINCT FROM ROW(%s))",
							 t->name, t->src, column_list(t, "s", true),
							 column_list(t, "t", false));
			if (t->id_column != NULL)
				appendStringInfo(&sql,
								 " AND NOT EXISTS (SELECT 1 FROM (%s) s"
								 " WHERE NOT s.ok AND s.id OPERATOR(pg_catalog.=) t.%s)",
								 t->src, t->id_column);
			run_with_set(sql.data, set, SPI_OK_DELETE);
		}
		for (int i = 0; i < NUM_RULES_TABLES; i++)
		{
			const IgRulesTable *t = &rules_tables[i];
			char	   *cols = column_list(t, "s", true);

			resetStringInfo(&sql);
			appendStringInfo(&sql,
							 "INSERT INTO insider_guard.%s (%s)"
							 " SELECT %s FROM (%s) s WHERE s.ok AND NOT EXISTS"
							 " (SELECT 1 FROM insider_guard.%s t"
							 "  WHERE ROW(%s) IS NOT DISTINCT FROM ROW(%s))",
							 t->name, t->columns, cols, t->src, t->name,
							 cols, column_list(t, "t", false));
			run_with_set(sql.data, set, SPI_OK_INSERT);
			resetStringInfo(&sql);
			appendStringInfo(&sql, "SELECT FROM insider_guard.%s",
							 rules_tables[i].name);
			kept[i] = (int64) run_with_set(sql.data, set, SPI_OK_SELECT);
		}
	}
	PG_FINALLY();
	{
		applying = false;
	}
	PG_END_TRY();

	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

	initStringInfo(&result);
	appendStringInfoChar(&result, '{');
	for (int i = 0; i < NUM_RULES_TABLES; i++)
		appendStringInfo(&result, "\"%s\": %lld, ", rules_tables[i].name,
						 (long long) kept[i]);
	appendStringInfo(&result, "\"skipped\": %lld}", (long long) skipped);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(result.data)));
}

/*
 * insider_guard.sync_rules() RETURNS TABLE (node_name text, node_port int,
 * success bool, skipped bigint, result text)
 *
 * On the coordinator: sends the rule set to every active primary worker
 * now, for a worker that was down or is new; one row per worker, and an
 * admin log line.
 */
Datum
ig_sync_rules(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	ListCell   *lc;

	ig_require_preloaded();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: only a superuser may send the rules to the workers")));
	if (ig_citus_node() != IG_CITUS_COORDINATOR)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insider_guard: rules are sent from a Citus coordinator only")));
	desc = ig_materialize_result(fcinfo, &store);
	foreach(lc, ig_citus_push_rules())
	{
		IgPushResult *r = lfirst(lc);
		Datum		values[5];
		bool		nulls[5] = {false, false, false, !r->skipped_known,
		r->result == NULL};

		values[0] = CStringGetTextDatum(r->node);
		values[1] = Int32GetDatum(r->port);
		values[2] = BoolGetDatum(r->ok);
		values[3] = r->skipped_known ? Int64GetDatum(r->skipped) : (Datum) 0;
		values[4] = r->result ? CStringGetTextDatum(r->result) : (Datum) 0;
		tuplestore_putvalues(store, desc, values, nulls);
	}
	ig_admin_log_call(fcinfo, "sync_rules", NULL, NULL, 0, (Datum) 0,
					  InvalidOid);
	return (Datum) 0;
}
