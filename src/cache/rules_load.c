/*-------------------------------------------------------------------------
 *
 * rules_load.c
 *		Finding this database's rule tables, and knowing when to read them
 *		again: the extension's tables and indexes, the invalidations that
 *		say a rule or a role changed, the exemptions and the registered
 *		peer groups.
 *
 * The rules are read from insider_guard.thresholds, .baseline_rules,
 * .exemptions and .peer_group_roles on first need and again after any
 * change -- only from the tables that CREATE EXTENSION insider_guard made
 * in this database, with the columns it made (rules_read.c checks): a
 * look-alike schema or table of those names, which any role with CREATEDB
 * can make in its own database, is ignored (and logged once per backend).
 * The tables' triggers send a relcache invalidation for them, which is
 * delivered at commit (and replayed on standbys); the executor hook
 * accepts pending invalidations at the start of every statement.  So a
 * committed change applies from every session's next statement, and a
 * rolled-back one never does.  Creating the extension changes the schema
 * (made, or granted USAGE on), and dropping it drops the tables: both
 * reach every backend of the database the same way.  Role memberships and
 * attributes that change (pg_auth_members and pg_authid invalidations)
 * make the users be matched again.
 *
 * While insider_guard's own install or update script runs, its statements
 * may find the tables it has made before it registers them with the
 * extension: they are refused, as any table the extension did not make,
 * until the script is done -- but not logged as look-alikes.
 *
 * Here the tables are only found (ig_rules_load); the rules are read per
 * user (rules_match.c) or whole (rules_all.c).  The exemptions and the
 * registered peer groups, small tables, are read whole on first need.
 *
 * IDENTIFICATION
 *		src/cache/rules_load.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/event.h"
#include "base/logtext.h"
#include "cache/citus.h"
#include "cache/rules_internal.h"
#include "shmem/rules_sync.h"

/* The rule tables found in this database (zeroes: none found yet). */
IgRuleTables ig_rules_tables;

/* Nothing loaded nor matched yet. */
IgRulesFreshness ig_rules_fresh;

/* The registered peer groups, once read. */
IgPeerGroupList ig_rules_peer_list;

/* ig_rules_cover's last answer, while neither rules nor roles change */
IgRulesAnswer ig_rules_answer = {false, false, InvalidOid};

/*
 * Changes whenever rule lists handed out by ig_rules_for_relation may stop
 * being the current ones (rules reloaded, matches dropped).
 */
uint32		ig_rules_gen = 1;

#define IG_MAX_WATCHED 8

/*
 * Where the rules come from: the extension insider_guard of this database
 * and its schema; and the relations found by the names of the rule tables
 * and of their indexes, used or refused: a change to any of them reads the
 * rules again.
 */
typedef struct IgRuleSource
{
	Oid			extoid;			/* the extension, if installed */
	Oid			nspid;			/* its schema */
	Oid			watched[IG_MAX_WATCHED];
	int			nwatched;
	bool		refusal_logged; /* a rule table was refused, and the server
								 * log told (once per backend) */
} IgRuleSource;

static IgRuleSource source;

/* The roles of insider_guard.exemptions, read on first need. */
typedef struct IgExemptions
{
	bool		loaded;			/* read since the tables were found */
	int			count;
	Oid		   *roleids;		/* in ig_rules_tables.cxt */
} IgExemptions;

static IgExemptions exemptions;

/* Relcache invalidation: reload if it concerns our tables. */
static void
rules_relcache_callback(Datum arg, Oid relid)
{
	bool		ours = !OidIsValid(relid);

	for (int i = 0; i < source.nwatched && !ours; i++)
		ours = (source.watched[i] == relid);
	if (ours)
	{
		ig_rules_fresh.loaded = false;
		ig_rules_fresh.table_changes++;
		ig_rules_answer.valid = false;
	}
}

/* A schema was created, dropped or renamed: maybe ours. */
static void
rules_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	ig_rules_fresh.loaded = false;
	ig_rules_fresh.table_changes++;
	ig_rules_answer.valid = false;
}

/* Memberships or role attributes changed: match again. */
static void
rules_role_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	ig_rules_fresh.matched = false;
	ig_rules_fresh.role_changes++;
	ig_rules_answer.valid = false;
}

/*
 * Registers the invalidation callbacks; once per backend.
 */
void
ig_rules_init(void)
{
	CacheRegisterRelcacheCallback(rules_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, rules_namespace_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, rules_role_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, rules_role_callback, (Datum) 0);
}

/*
 * True if the rules matched when ig_rules_gen was "gen" are still those in
 * force: nothing changed since, nor is waiting to be read (invalidations
 * accepted).
 */
bool
ig_rules_current(uint64 gen)
{
	return ig_rules_fresh.loaded &&
		(ig_rules_fresh.matched || !ig_rules_tables.rules_present) &&
		gen == ig_rules_gen;
}

/* Reloads the rules when the relation changes (InvalidOid: none). */
static void
watch(Oid relid)
{
	if (OidIsValid(relid) && source.nwatched < IG_MAX_WATCHED)
		source.watched[source.nwatched++] = relid;
}

/*
 * Tells the server log, once per backend, that a relation bearing a rule
 * table's name is ignored, and why.  Only the server log: the session may
 * belong to whoever made it.  Not while insider_guard's own install or
 * update script runs (CREATE or ALTER EXTENSION): the tables it makes are
 * registered with the extension only by its pg_extension_config_dump
 * calls, after its first statements have found them.
 */
static void
log_refusal(Oid nspid, IgRuleTable which, const char *problem)
{
	char	   *nspname;
	char	   *dbname;

	if (source.refusal_logged)
		return;
	if (creating_extension && OidIsValid(source.extoid) &&
		CurrentExtensionObject == source.extoid)
		return;
	source.refusal_logged = true;
	nspname = get_namespace_name(nspid);
	dbname = get_database_name(MyDatabaseId);
	if (ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "rules_ignored", ig_now());
		ig_event_string(&ev, "database", dbname);
		ig_event_int(&ev, "database_oid", MyDatabaseId);
		ig_event_string(&ev, "table",
						psprintf("%s.%s", nspname ? nspname : "?",
								 ig_rules_table_name(which)));
		ig_event_keyword(&ev, "reason", problem);
		ig_event_emit(&ev, LOG_SERVER_ONLY);
		return;
	}
	ereport(LOG_SERVER_ONLY,
			(errmsg("insider_guard: ignoring %s in database %s: %s",
					ig_log_quote(psprintf("%s.%s", nspname ? nspname : "?",
										  ig_rules_table_name(which))),
					ig_log_quote(dbname ? dbname : "?"), problem),
			 errdetail("Rules, exemptions and peer groups are read only from the tables CREATE EXTENSION insider_guard makes; no rule of this database is read from it."),
			 errhidestmt(true), errhidecontext(true)));
}

/*
 * The extension's rule table "which", if it is one (ig_rules_find_table);
 * else InvalidOid, and what bears its name is logged.  Watched either way.
 */
static Oid
find_rule_table(IgRuleTable which)
{
	Oid			named;
	const char *problem;
	Oid			relid = ig_rules_find_table(source.extoid, source.nspid, which,
											&named, &problem);

	watch(named);
	if (problem != NULL)
		log_refusal(source.nspid, which, problem);
	return relid;
}

/*
 * Opens a rule table to read it, if its columns are still those checked;
 * else NULL (and logs why): then it is not read.
 */
Relation
ig_rules_open_table(Oid relid, IgRuleTable which, LOCKMODE lockmode)
{
	Relation	rel = table_open(relid, lockmode);
	const char *problem = ig_rules_table_problem(rel, which);

	if (problem == NULL)
		return rel;
	log_refusal(RelationGetNamespace(rel), which, problem);
	table_close(rel, lockmode);
	return NULL;
}

/*
 * With no extension in this database, says in the server log (once per
 * backend) if a schema insider_guard holds a table named like the
 * thresholds: a look-alike, never read.
 */
static void
log_lookalike(void)
{
	Oid			nspid;

	if (source.refusal_logged)
		return;
	nspid = get_namespace_oid("insider_guard", true);
	if (OidIsValid(nspid) &&
		OidIsValid(get_relname_relid(ig_rules_table_name(IG_TABLE_THRESHOLDS),
									 nspid)))
		log_refusal(nspid, IG_TABLE_THRESHOLDS,
					"CREATE EXTENSION insider_guard did not make it (the extension is not installed here)");
}

/*
 * (Re)finds the tables, if the extension is installed in this database:
 * those it made, with the columns it made (find_rule_table,
 * ig_rules_open_table); a table that is not is ignored as if it were
 * absent.  Forgets what was read from the tables found before: whoever
 * keeps some of it in ig_rules_tables.cxt forgets it first
 * (ig_rules_all_forget).  Catalog access: may deliver invalidations (the
 * caller checks).
 */
void
ig_rules_load(void)
{
	IgRuleTables *tables = &ig_rules_tables;
	Relation	rel;

	if (tables->cxt == NULL)
		tables->cxt = AllocSetContextCreate(TopMemoryContext,
											"insider_guard rules",
											ALLOCSET_SMALL_SIZES);
	MemoryContextReset(tables->cxt);
	tables->rules_present = false;
	tables->thresholds_role_index = InvalidOid;
	exemptions.roleids = NULL;
	exemptions.count = 0;
	exemptions.loaded = false;
	tables->baselines_present = false;
	ig_rules_peer_list.loaded = false;
	ig_rules_peer_list.roleids = NULL;
	ig_rules_peer_list.count = 0;
	tables->thresholds_present = false;
	tables->baseline_role_index = InvalidOid;
	ig_rules_windows_reset();
	ig_rules_fresh.matched = false;
	ig_rules_gen++;

	source.nwatched = 0;
	tables->thresholds = InvalidOid;
	tables->baseline_rules = InvalidOid;
	tables->peer_group_roles = InvalidOid;

	/* the catalog lookups may deliver invalidations: loaded only at the end */
	source.extoid = ig_rules_find_extension(&source.nspid);
	if (!OidIsValid(source.extoid))
	{
		log_lookalike();
		return;
	}
	tables->thresholds = find_rule_table(IG_TABLE_THRESHOLDS);
	if (OidIsValid(tables->thresholds))
	{
		rel = ig_rules_open_table(tables->thresholds, IG_TABLE_THRESHOLDS,
								  AccessShareLock);
		if (rel == NULL)
			tables->thresholds = InvalidOid;
		else
		{
			/* a table that never had a row has not a page */
			tables->rules_present = RelationGetNumberOfBlocks(rel) > 0;
			if (tables->rules_present)
				tables->thresholds_role_index =
					ig_rules_find_index(rel, source.nspid, IG_ROLE_INDEX_NAME,
										Anum_threshold_role);
			watch(tables->thresholds_role_index);
			table_close(rel, AccessShareLock);
		}
	}
	tables->thresholds_present = tables->rules_present;
	if (OidIsValid(tables->thresholds))
		tables->baseline_rules = find_rule_table(IG_TABLE_BASELINE_RULES);
	if (OidIsValid(tables->baseline_rules))
		tables->peer_group_roles = find_rule_table(IG_TABLE_PEER_GROUP_ROLES);
	if (OidIsValid(tables->baseline_rules) &&
		OidIsValid(tables->peer_group_roles))
	{
		rel = ig_rules_open_table(tables->baseline_rules,
								  IG_TABLE_BASELINE_RULES, AccessShareLock);
		if (rel != NULL)
		{
			tables->baselines_present = RelationGetNumberOfBlocks(rel) > 0;
			if (tables->baselines_present)
			{
				tables->baseline_role_index =
					ig_rules_find_index(rel, source.nspid,
										IG_BASELINE_ROLE_INDEX_NAME,
										Anum_baseline_role);
				if (!OidIsValid(tables->baseline_role_index))
					tables->baseline_role_index =
						ig_rules_find_index(rel, source.nspid,
											IG_BASELINE_ROLE_INDEX_NAME_0_3,
											Anum_baseline_role);
			}
			watch(tables->baseline_role_index);
			table_close(rel, AccessShareLock);
			tables->rules_present |= tables->baselines_present;
		}
	}

	/* a Citus coordinator's workers have their rules checked (citus_sync.c) */
	if (ig_citus_local_group() == 0 &&
		OidIsValid(get_extension_oid("citus", true)))
		ig_rules_sync_register(MyDatabaseId);
}

/* Reads the role OIDs of insider_guard.exemptions. */
static void
read_exemptions(Relation rel)
{
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 16;

	exemptions.roleids = MemoryContextAlloc(ig_rules_tables.cxt,
											sizeof(Oid) * allocated);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		role = heap_getattr(tuple, Anum_exemption_role,
										RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		if (exemptions.count == allocated)
		{
			allocated *= 2;
			exemptions.roleids = repalloc(exemptions.roleids,
										  sizeof(Oid) * allocated);
		}
		exemptions.roleids[exemptions.count++] = DatumGetObjectId(role);
	}
	systable_endscan(scan);
}

/* Reads the exemptions, the first time a user's rules need them. */
static void
load_exemptions_if_needed(void)
{
	Oid			relid;
	Relation	rel;

	if (exemptions.loaded)
		return;

	/* changes to it concern us from now (watched) */
	relid = OidIsValid(source.extoid) ?
		find_rule_table(IG_TABLE_EXEMPTIONS) : InvalidOid;
	/* (loaded only once read: an error meanwhile leaves it to be read) */
	exemptions.count = 0;
	if (OidIsValid(relid) &&
		(rel = ig_rules_open_table(relid, IG_TABLE_EXEMPTIONS,
								   AccessShareLock)) != NULL)
	{
		read_exemptions(rel);
		table_close(rel, AccessShareLock);
	}
	exemptions.loaded = true;
}

/* Is the user exempt?  Catalog access the first time. */
bool
ig_rules_is_exempt(Oid userid)
{
	load_exemptions_if_needed();
	for (int i = 0; i < exemptions.count; i++)
		if (exemptions.roleids[i] == userid)
			return true;
	return false;
}

/* Reads the registered peer groups, once.  Catalog access. */
void
ig_rules_read_peer_groups(void)
{
	IgPeerGroupList *list = &ig_rules_peer_list;
	Relation	heap;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	TableScanDesc scan;
	int			allocated = 16;

	if (list->loaded)
		return;
	/* (loaded only once read: an error meanwhile leaves it to be read) */
	list->count = 0;
	if (!OidIsValid(ig_rules_tables.peer_group_roles))
	{
		list->loaded = true;
		return;
	}
	heap = ig_rules_open_table(ig_rules_tables.peer_group_roles,
							   IG_TABLE_PEER_GROUP_ROLES, AccessShareLock);
	if (heap == NULL)
	{
		list->loaded = true;
		return;
	}
	snapshot = RegisterSnapshot(GetCatalogSnapshot(ig_rules_tables.peer_group_roles));
	slot = table_slot_create(heap, NULL);
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	list->roleids = MemoryContextAlloc(ig_rules_tables.cxt,
									   sizeof(Oid) * allocated);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		slot_getsomeattrs(slot, Anum_peer_group_role);
		if (slot->tts_isnull[Anum_peer_group_role - 1])
			continue;
		if (list->count == allocated)
		{
			allocated *= 2;
			list->roleids = repalloc(list->roleids, sizeof(Oid) * allocated);
		}
		list->roleids[list->count++] =
			DatumGetObjectId(slot->tts_values[Anum_peer_group_role - 1]);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	table_close(heap, AccessShareLock);
	qsort(list->roleids, list->count, sizeof(Oid), oid_cmp);
	list->loaded = true;
}
