/*-------------------------------------------------------------------------
 *
 * rules.c
 *		Backend-local cache of this database's thresholds, baseline rules,
 *		exemptions and peer groups, and of which rules cover the session
 *		user.
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
 * reach every backend of the database the same way.
 *
 * A rule covers a user when it names the user; or, unless the user is a
 * superuser or exempt, when it names no role or a role the user is a
 * member of, through any chain of membership.  So the rules of a session
 * user are those naming it, those naming no role, and those naming one of
 * the roles it is a member of.  For the first few session users a backend
 * sees (IG_INDEX_MATCHES), they are read through the indexes on the
 * rules' role (thresholds_role_table_per, baseline_rules_role_table_per):
 * a session pays for the rules of its own user, not for everybody's.  A
 * backend that sees more users (or a database without usable indexes)
 * reads the whole tables once instead, and matches each further user from
 * them, looking only at the user's own rules and at those that can cover
 * users they do not name.  Baseline rules are matched like thresholds.  A
 * user that belongs to a peer group also keeps its history of every
 * relation any baseline rule names, so that its peers can be compared
 * with it: from the whole table, once read, or else looked up in the
 * index on the rules' table (baseline_rules_table) the first time the
 * backend reads each relation (baseline_history_kinds).
 * The covering rules are kept by relation, so that a statement finds the
 * rules of each table it reads with a binary search.  (The rows are read
 * into IgRule by rules_read.c.)  Matching is redone
 * when the rules, or role memberships and attributes change
 * (pg_auth_members and pg_authid invalidations).
 *
 * IDENTIFICATION
 *		src/cache/rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_auth_members.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "shmem/counters.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/logtext.h"
#include "cache/rules.h"
#include "cache/rules_read.h"
#include "shmem/violations.h"

/* what was found in this database */
static MemoryContext rules_cxt = NULL;
static bool rules_loaded = false;
static Oid	rules_extoid = InvalidOid;	/* the extension, if installed */
static Oid	rules_nspid = InvalidOid;	/* its schema */
static Oid	thresholds_oid = InvalidOid;
static Oid	role_index_oid = InvalidOid;	/* or InvalidOid: scan the table */
static bool thresholds_present = false; /* the table has ever had a row */
static bool rules_present = false;	/* it, or baseline_rules, has */
static Oid *exempt_roles = NULL;
static int	nexempt = 0;
static bool exemptions_loaded = false;	/* exempt_roles is read */

/* behavioural baselines: absent before version 0.2.0 of the extension */
static Oid	baseline_rules_oid = InvalidOid;
static Oid	baseline_role_index_oid = InvalidOid;	/* or InvalidOid */
static Oid	baseline_table_index_oid = InvalidOid;	/* or InvalidOid */
static Oid	peer_groups_oid = InvalidOid;
static bool baselines_present = false;	/* baseline_rules ever had a row */

/* the registered peer groups, ordered, once read */
static bool peer_groups_loaded = false;
static Oid *peer_groups = NULL;
static int	npeer_groups = 0;

/*
 * The (relation, kinds) that baseline rules name: a member of a peer
 * group keeps history for each, so that its peers can be compared with it.
 */
typedef struct IgHistKey
{
	Oid			relid;
	uint8		kinds;			/* bit k: IG_HIST_HOUR, IG_HIST_DAY */
} IgHistKey;

static IgHistKey *hist_keys = NULL;	/* by relid, once all are read */
static int	nhist_keys = 0;
static int	hist_keys_allocated = 0;

/* before they are all read, those looked up through the table index */
static HTAB *hist_keys_found = NULL;

/*
 * The relations found by the names of the rule tables and of their
 * indexes, used or refused: a change to any of them reads the rules again.
 */
#define IG_MAX_WATCHED 8
static Oid	watched[IG_MAX_WATCHED];
static int	nwatched = 0;

/* a rule table was refused, and the server log told (once per backend) */
static bool refusal_logged = false;

/*
 * The whole table, once read (all_loaded): ordered by role, then id.  The
 * roles the rules name (InvalidOid first), each with its run of rules and
 * whether any role is a member of it (only then can a rule naming it cover
 * a user it does not name); has_members is refreshed whenever memberships
 * may have changed.  shared_roles lists the runs that can cover users they
 * do not name: rules for every role, rules naming a role with members.
 */
typedef struct IgRuleRole
{
	Oid			roleid;
	int			first;			/* index into rules */
	int			count;
	bool		has_members;
} IgRuleRole;

static bool all_loaded = false;
static IgRule *rules = NULL;
static int	nrules = 0;
static IgRuleRole *rule_roles = NULL;
static int	nrule_roles = 0;
static int *shared_roles = NULL;
static int	nshared_roles = 0;

/*
 * The memberships of the peer groups, when find_group_roles read them
 * (peer_memberships_read, until the matches are dropped): (member, group)
 * pairs ordered by member, and the same as (group, member) by group.
 */
typedef struct IgMembership
{
	Oid			first;
	Oid			second;
} IgMembership;

static bool peer_memberships_read = false;
static IgMembership *peers_by_member = NULL;
static IgMembership *peers_by_group = NULL;
static int	npeer_memberships = 0;

/* users matched through the index before the whole table is read */
#define IG_INDEX_MATCHES 4
static int	index_matches = 0;

/*
 * The rules covering each session user seen, by relation.  A backend's
 * session user rarely changes (SET SESSION AUTHORIZATION), but when it
 * does the match is kept, so switching back costs a lookup.  The matches
 * live in match_cxt and are dropped when the rules or roles change; while
 * statements that use them run, the old context is kept (retired).
 */
typedef struct IgUserMatch
{
	Oid			userid;			/* hash key */
	bool		covered;		/* some rule covers the user */
	int			nlists;
	IgRuleList *lists;			/* by relid, ascending */
	/* a member of peer groups matched before all rules were read: */
	int			npeer_groups;
	IgPeerGroup *peer_groups;
	HTAB	   *history_lists;	/* lists of relations no rule of its names,
								 * made as they are read (NULL if none) */
} IgUserMatch;

/* an entry of IgUserMatch.history_lists */
typedef struct IgHistoryList
{
	Oid			relid;			/* hash key */
	IgRuleList *list;			/* NULL: no baseline rule names it */
} IgHistoryList;

#define IG_MAX_USER_MATCHES 1024

static MemoryContext match_cxt = NULL;
static MemoryContext retired_cxt = NULL;	/* parent of retired contexts */
bool		ig_rules_have_retired = false;
static HTAB *user_matches = NULL;
static bool rules_matched = false;
static IgUserMatch *current = NULL;	/* the last user asked about */

/* ig_rules_cover's last answer, while neither rules nor roles change */
IgRulesAnswer ig_rules_answer = {false, false, InvalidOid};

/*
 * Changes whenever rule lists handed out by ig_rules_for_relation may stop
 * being the current ones (rules reloaded, matches dropped).
 */
uint32		ig_rules_gen = 1;

/*
 * Invalidations seen; loading and matching run catalog lookups that may
 * deliver some, so they repeat until none arrived while they ran.
 */
static uint64 rules_invalidations = 0;
static uint64 role_invalidations = 0;

/* Relcache invalidation: reload if it concerns our tables. */
static void
rules_relcache_callback(Datum arg, Oid relid)
{
	bool		ours = !OidIsValid(relid);

	for (int i = 0; i < nwatched && !ours; i++)
		ours = (watched[i] == relid);
	if (ours)
	{
		rules_loaded = false;
		rules_invalidations++;
		ig_rules_answer.valid = false;
	}
}

/* A schema was created, dropped or renamed: maybe ours. */
static void
rules_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	rules_loaded = false;
	rules_invalidations++;
	ig_rules_answer.valid = false;
}

/* Memberships or role attributes changed: match again. */
static void
rules_role_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	rules_matched = false;
	role_invalidations++;
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
 * True if the rules matched at "epoch" are still those in force: nothing
 * changed since, nor is waiting to be read (invalidations accepted).
 */
bool
ig_rules_current(uint64 epoch)
{
	return rules_loaded && (rules_matched || !rules_present) &&
		epoch == ig_rules_gen;
}

/* Reloads the rules when the relation changes (InvalidOid: none). */
static void
watch(Oid relid)
{
	if (OidIsValid(relid) && nwatched < IG_MAX_WATCHED)
		watched[nwatched++] = relid;
}

/*
 * Tells the server log, once per backend, that a relation bearing a rule
 * table's name is ignored, and why.  Only the server log: the session may
 * belong to whoever made it.
 */
static void
log_refusal(Oid nspid, IgRuleTable which, const char *problem)
{
	char	   *nspname;
	char	   *dbname;

	if (refusal_logged)
		return;
	refusal_logged = true;
	nspname = get_namespace_name(nspid);
	dbname = get_database_name(MyDatabaseId);
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
	Oid			relid = ig_rules_find_table(rules_extoid, rules_nspid, which,
											&named, &problem);

	watch(named);
	if (problem != NULL)
		log_refusal(rules_nspid, which, problem);
	return relid;
}

/*
 * Opens a rule table to read it, if its columns are still those checked;
 * else NULL (and logs why): then it is not read.
 */
static Relation
open_rule_table(Oid relid, IgRuleTable which, LOCKMODE lockmode)
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

	if (refusal_logged)
		return;
	nspid = get_namespace_oid("insider_guard", true);
	if (OidIsValid(nspid) &&
		OidIsValid(get_relname_relid(ig_rules_table_name(IG_TABLE_THRESHOLDS),
									 nspid)))
		log_refusal(nspid, IG_TABLE_THRESHOLDS,
					"CREATE EXTENSION insider_guard did not make it (the extension is not installed here)");
}

/* Reads the role OIDs of insider_guard.exemptions. */
static void
load_exemptions(Relation rel)
{
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 16;

	exempt_roles = MemoryContextAlloc(rules_cxt, sizeof(Oid) * allocated);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		role = heap_getattr(tuple, Anum_exemption_role,
										RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		if (nexempt == allocated)
		{
			allocated *= 2;
			exempt_roles = repalloc(exempt_roles, sizeof(Oid) * allocated);
		}
		exempt_roles[nexempt++] = DatumGetObjectId(role);
	}
	systable_endscan(scan);
}

/*
 * Notes that baseline rules keep history of a relation, kind; duplicates
 * are merged once all are read (merge_hist_keys).
 */
static void
add_hist_key(Oid relid, int kind)
{
	if (nhist_keys == hist_keys_allocated)
	{
		hist_keys_allocated = Max(hist_keys_allocated * 2, 64);
		hist_keys = hist_keys == NULL ?
			MemoryContextAlloc(rules_cxt, sizeof(IgHistKey) * hist_keys_allocated) :
			repalloc(hist_keys, sizeof(IgHistKey) * hist_keys_allocated);
	}
	hist_keys[nhist_keys].relid = relid;
	hist_keys[nhist_keys].kinds = (1 << kind);
	nhist_keys++;
}

static int
compare_hist_keys(const void *a, const void *b)
{
	Oid			ra = ((const IgHistKey *) a)->relid;
	Oid			rb = ((const IgHistKey *) b)->relid;

	return (ra > rb) - (ra < rb);
}

/* Orders the history keys by relation, one per relation. */
static void
merge_hist_keys(void)
{
	int			n = 0;

	if (nhist_keys == 0)
		return;
	qsort(hist_keys, nhist_keys, sizeof(IgHistKey), compare_hist_keys);
	for (int i = 1; i < nhist_keys; i++)
	{
		if (hist_keys[i].relid == hist_keys[n].relid)
			hist_keys[n].kinds |= hist_keys[i].kinds;
		else
			hist_keys[++n] = hist_keys[i];
	}
	nhist_keys = n + 1;
}

/* Reads every baseline rule into buf, and the history keys they make. */
static void
read_baseline_rules(Snapshot snapshot, IgRuleBuf *buf)
{
	Relation	heap = open_rule_table(baseline_rules_oid, IG_TABLE_BASELINE_RULES,
									   AccessShareLock);
	TupleTableSlot *slot;
	TableScanDesc scan;

	if (heap == NULL)
		return;
	slot = table_slot_create(heap, NULL);
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		IgRule	   *rule = ig_rules_baseline_row(slot, IG_ANY_ROLE, buf);

		if (rule != NULL)
			add_hist_key(rule->relid, rule->hist_kind);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
}

static int	compare_oids(const void *a, const void *b);

/* Reads the registered peer groups, once.  Catalog access. */
static void
read_peer_groups(void)
{
	Relation	heap;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	TableScanDesc scan;
	int			allocated = 16;

	if (peer_groups_loaded)
		return;
	/* (loaded only once read: an error meanwhile leaves it to be read) */
	npeer_groups = 0;
	if (!OidIsValid(peer_groups_oid))
	{
		peer_groups_loaded = true;
		return;
	}
	heap = open_rule_table(peer_groups_oid, IG_TABLE_PEER_GROUP_ROLES,
						   AccessShareLock);
	if (heap == NULL)
	{
		peer_groups_loaded = true;
		return;
	}
	snapshot = RegisterSnapshot(GetCatalogSnapshot(peer_groups_oid));
	slot = table_slot_create(heap, NULL);
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	peer_groups = MemoryContextAlloc(rules_cxt, sizeof(Oid) * allocated);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		slot_getsomeattrs(slot, Anum_peer_group_role);
		if (slot->tts_isnull[Anum_peer_group_role - 1])
			continue;
		if (npeer_groups == allocated)
		{
			allocated *= 2;
			peer_groups = repalloc(peer_groups, sizeof(Oid) * allocated);
		}
		peer_groups[npeer_groups++] =
			DatumGetObjectId(slot->tts_values[Anum_peer_group_role - 1]);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	table_close(heap, AccessShareLock);
	qsort(peer_groups, npeer_groups, sizeof(Oid), compare_oids);
	peer_groups_loaded = true;
}

/*
 * (Re)finds the tables, if the extension is installed in this database:
 * those it made, with the columns it made (find_rule_table,
 * open_rule_table); a table that is not is ignored as if it were absent.
 * The rules themselves are read per user (match_rules).
 */
static void
load_rules(void)
{
	Relation	rel;

	if (rules_cxt == NULL)
		rules_cxt = AllocSetContextCreate(TopMemoryContext,
										  "insider_guard rules",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(rules_cxt);
	rules_present = false;
	role_index_oid = InvalidOid;
	all_loaded = false;
	rules = NULL;
	nrules = 0;
	rule_roles = NULL;
	nrule_roles = 0;
	shared_roles = NULL;
	nshared_roles = 0;
	exempt_roles = NULL;
	nexempt = 0;
	exemptions_loaded = false;
	baselines_present = false;
	peer_groups_loaded = false;
	peer_groups = NULL;
	npeer_groups = 0;
	hist_keys = NULL;
	nhist_keys = 0;
	hist_keys_allocated = 0;
	hist_keys_found = NULL;
	thresholds_present = false;
	baseline_role_index_oid = InvalidOid;
	baseline_table_index_oid = InvalidOid;
	ig_rules_windows_reset();
	rules_matched = false;
	current = NULL;
	ig_rules_gen++;

	nwatched = 0;
	thresholds_oid = InvalidOid;
	baseline_rules_oid = InvalidOid;
	peer_groups_oid = InvalidOid;

	/* the catalog lookups may deliver invalidations: loaded only at the end */
	rules_extoid = ig_rules_find_extension(&rules_nspid);
	if (!OidIsValid(rules_extoid))
	{
		log_lookalike();
		return;
	}
	thresholds_oid = find_rule_table(IG_TABLE_THRESHOLDS);
	if (OidIsValid(thresholds_oid))
	{
		rel = open_rule_table(thresholds_oid, IG_TABLE_THRESHOLDS, AccessShareLock);
		if (rel == NULL)
			thresholds_oid = InvalidOid;
		else
		{
			/* a table that never had a row has not a page */
			rules_present = RelationGetNumberOfBlocks(rel) > 0;
			if (rules_present)
				role_index_oid = ig_rules_find_index(rel, rules_nspid, IG_ROLE_INDEX_NAME,
													 Anum_threshold_role);
			watch(role_index_oid);
			table_close(rel, AccessShareLock);
		}
	}
	thresholds_present = rules_present;
	if (OidIsValid(thresholds_oid))
		baseline_rules_oid = find_rule_table(IG_TABLE_BASELINE_RULES);
	if (OidIsValid(baseline_rules_oid))
		peer_groups_oid = find_rule_table(IG_TABLE_PEER_GROUP_ROLES);
	if (OidIsValid(baseline_rules_oid) && OidIsValid(peer_groups_oid))
	{
		rel = open_rule_table(baseline_rules_oid, IG_TABLE_BASELINE_RULES,
							  AccessShareLock);
		if (rel != NULL)
		{
			baselines_present = RelationGetNumberOfBlocks(rel) > 0;
			if (baselines_present)
			{
				baseline_role_index_oid =
					ig_rules_find_index(rel, rules_nspid, IG_BASELINE_ROLE_INDEX_NAME,
										Anum_baseline_role);
				baseline_table_index_oid =
					ig_rules_find_index(rel, rules_nspid, IG_BASELINE_TABLE_INDEX_NAME,
										Anum_baseline_table);
			}
			watch(baseline_role_index_oid);
			watch(baseline_table_index_oid);
			table_close(rel, AccessShareLock);
			rules_present |= baselines_present;
		}
	}
}

/* Reads the exemptions, the first time a user's rules need them. */
static void
load_exemptions_if_needed(void)
{
	Oid			relid;
	Relation	rel;

	if (exemptions_loaded)
		return;

	/* changes to it concern us from now (watched) */
	relid = OidIsValid(rules_extoid) ? find_rule_table(IG_TABLE_EXEMPTIONS) : InvalidOid;
	/* (loaded only once read: an error meanwhile leaves it to be read) */
	nexempt = 0;
	if (OidIsValid(relid) &&
		(rel = open_rule_table(relid, IG_TABLE_EXEMPTIONS, AccessShareLock)) != NULL)
	{
		load_exemptions(rel);
		table_close(rel, AccessShareLock);
	}
	exemptions_loaded = true;
}

/* Is the user exempt? */
static bool
is_exempt(Oid userid)
{
	load_exemptions_if_needed();
	for (int i = 0; i < nexempt; i++)
		if (exempt_roles[i] == userid)
			return true;
	return false;
}

/*
 * The roles a user is a member of, through any chain of membership
 * (INHERIT or not), without the user itself.
 */
static List *
member_of(Oid userid)
{
	List	   *roles = NIL;
	List	   *todo = list_make1_oid(userid);

	while (todo != NIL)
	{
		Oid			member = linitial_oid(todo);
		CatCList   *memlist;

		todo = list_delete_first(todo);
		memlist = SearchSysCacheList1(AUTHMEMMEMROLE, ObjectIdGetDatum(member));
		for (int i = 0; i < memlist->n_members; i++)
		{
			HeapTuple	tuple = &memlist->members[i]->tuple;
			Oid			role = ((Form_pg_auth_members) GETSTRUCT(tuple))->roleid;

			if (role != userid && !list_member_oid(roles, role))
			{
				roles = lappend_oid(roles, role);
				todo = lappend_oid(todo, role);
			}
		}
		ReleaseSysCacheList(memlist);
	}
	return roles;
}

/* A hash table in cxt of entries whose first field is an OID, the key. */
static HTAB *
oid_hash(const char *name, Size entrysize, long nelem, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Drops every user's match.  Statements still running may point into it,
 * so the context is retired: the statement layer frees it when a
 * statement ends and none is running (ig_rules_free_retired).
 */
static void
drop_matches(void)
{
	if (match_cxt != NULL)
	{
		if (retired_cxt == NULL)
			retired_cxt = AllocSetContextCreate(TopMemoryContext,
												"insider_guard retired rules",
												ALLOCSET_SMALL_SIZES);
		MemoryContextSetParent(match_cxt, retired_cxt);
		ig_rules_have_retired = true;
	}
	match_cxt = AllocSetContextCreate(TopMemoryContext,
									  "insider_guard matched rules",
									  ALLOCSET_SMALL_SIZES);
	user_matches = oid_hash("insider_guard rules by user",
							sizeof(IgUserMatch), 16, match_cxt);
	current = NULL;
	index_matches = 0;
	peer_memberships_read = false;
	peers_by_member = peers_by_group = NULL;
	npeer_memberships = 0;
	ig_rules_gen++;
}

/*
 * Frees the rules of statements that have ended; called when none runs
 * and some were retired.
 */
void
ig_rules_free_retired_slow(void)
{
	MemoryContextReset(retired_cxt);
	ig_rules_have_retired = false;
}

static int
compare_rules_by_role(const void *a, const void *b)
{
	const IgRule *ra = (const IgRule *) a;
	const IgRule *rb = (const IgRule *) b;

	if (ra->roleid != rb->roleid)
		return (ra->roleid > rb->roleid) - (ra->roleid < rb->roleid);
	return (ra->id > rb->id) - (ra->id < rb->id);
}

/*
 * Reads the whole table, orders the rules by role and lists the roles
 * they name.  Catalog access: may deliver invalidations (the caller
 * checks).
 */
static void
load_all_rules(void)
{
	Relation	heap = table_open(thresholds_oid, AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetCatalogSnapshot(thresholds_oid));
	IgRuleBuf	buf;

	buf.allocated = 64;
	buf.nrules = 0;
	buf.rules = MemoryContextAlloc(rules_cxt, sizeof(IgRule) * buf.allocated);
	buf.now = ig_now();
	/* (changed since it was checked: the rules are read again) */
	if (RelationGetNumberOfBlocks(heap) > 0 &&
		ig_rules_table_problem(heap, IG_TABLE_THRESHOLDS) == NULL)
		ig_rules_read_role(heap, NULL, snapshot, IG_ANY_ROLE, false, &buf);
	if (baselines_present)
	{
		read_baseline_rules(snapshot, &buf);
		merge_hist_keys();
		read_peer_groups();
	}
	UnregisterSnapshot(snapshot);
	table_close(heap, AccessShareLock);

	rules = buf.rules;
	nrules = buf.nrules;
	if (nrules == 0)
		return;
	qsort(rules, nrules, sizeof(IgRule), compare_rules_by_role);
	rule_roles = MemoryContextAlloc(rules_cxt, sizeof(IgRuleRole) * nrules);
	shared_roles = MemoryContextAlloc(rules_cxt, sizeof(int) * nrules);
	for (int i = 0; i < nrules; i++)
	{
		IgRuleRole *role = &rule_roles[nrule_roles - 1];

		if (nrule_roles == 0 || role->roleid != rules[i].roleid)
		{
			role = &rule_roles[nrule_roles++];
			role->roleid = rules[i].roleid;
			role->first = i;
			role->count = 0;
			role->has_members = true;	/* until looked at */
		}
		role->count++;
	}
}

static int
compare_oids(const void *a, const void *b)
{
	Oid			oa = *(const Oid *) a;
	Oid			ob = *(const Oid *) b;

	return (oa > ob) - (oa < ob);
}

static int
compare_memberships(const void *a, const void *b)
{
	const IgMembership *ma = (const IgMembership *) a;
	const IgMembership *mb = (const IgMembership *) b;

	if (ma->first != mb->first)
		return (ma->first > mb->first) - (ma->first < mb->first);
	return (ma->second > mb->second) - (ma->second < mb->second);
}

/*
 * Finds which of the roles the rules name have members, and who belongs
 * to each peer group: one scan of pg_auth_members.  Catalog access: may
 * deliver invalidations (the caller checks).
 */
static void
find_group_roles(void)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid		   *groups;
	int			ngroups = 0;
	int			allocated = 64;
	int			peers_allocated = 64;

	nshared_roles = 0;
	if (nrule_roles == 0)
		return;
	groups = palloc(sizeof(Oid) * allocated);
	peers_by_member = MemoryContextAlloc(match_cxt, sizeof(IgMembership) * peers_allocated);
	npeer_memberships = 0;
	rel = table_open(AuthMemRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Form_pg_auth_members form = (Form_pg_auth_members) GETSTRUCT(tuple);

		if (ngroups == allocated)
		{
			allocated *= 2;
			groups = repalloc(groups, sizeof(Oid) * allocated);
		}
		groups[ngroups++] = form->roleid;
		if (npeer_groups > 0 &&
			bsearch(&form->roleid, peer_groups, npeer_groups, sizeof(Oid),
					compare_oids) != NULL)
		{
			if (npeer_memberships == peers_allocated)
			{
				peers_allocated *= 2;
				peers_by_member = repalloc(peers_by_member,
										   sizeof(IgMembership) * peers_allocated);
			}
			peers_by_member[npeer_memberships].first = form->member;
			peers_by_member[npeer_memberships].second = form->roleid;
			npeer_memberships++;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(groups, ngroups, sizeof(Oid), compare_oids);

	/* (member, group) and (group, member), each ordered */
	qsort(peers_by_member, npeer_memberships, sizeof(IgMembership),
		  compare_memberships);
	peers_by_group = MemoryContextAlloc(match_cxt,
										sizeof(IgMembership) * Max(npeer_memberships, 1));
	for (int i = 0; i < npeer_memberships; i++)
	{
		peers_by_group[i].first = peers_by_member[i].second;
		peers_by_group[i].second = peers_by_member[i].first;
	}
	qsort(peers_by_group, npeer_memberships, sizeof(IgMembership),
		  compare_memberships);
	peer_memberships_read = true;

	for (int r = 0; r < nrule_roles; r++)
	{
		rule_roles[r].has_members = OidIsValid(rule_roles[r].roleid) &&
			bsearch(&rule_roles[r].roleid, groups, ngroups, sizeof(Oid),
					compare_oids) != NULL;
		if (!OidIsValid(rule_roles[r].roleid) || rule_roles[r].has_members)
			shared_roles[nshared_roles++] = r;
	}
	pfree(groups);
}

/* The run of rules naming a role, or NULL if none names it. */
static IgRuleRole *
find_rule_role(Oid roleid)
{
	int			lo = 0;
	int			hi = nrule_roles - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (rule_roles[mid].roleid == roleid)
			return &rule_roles[mid];
		if (rule_roles[mid].roleid < roleid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Appends a run of rules to buf. */
static void
add_run(IgRuleBuf *buf, const IgRuleRole *role)
{
	while (buf->nrules + role->count > buf->allocated)
	{
		buf->allocated *= 2;
		buf->rules = repalloc(buf->rules, sizeof(IgRule) * buf->allocated);
	}
	memcpy(&buf->rules[buf->nrules], &rules[role->first],
		   sizeof(IgRule) * role->count);
	buf->nrules += role->count;
}

/*
 * The rules covering the user, from the whole table: the user's own run,
 * and the shared runs that cover it -- not the rules of other users.
 */
static void
user_rules_from_all(Oid userid, bool unwatched, IgRuleBuf *buf)
{
	IgRuleRole *own = find_rule_role(userid);
	int			nown;

	if (own != NULL)
		add_run(buf, own);
	nown = buf->nrules;
	if (unwatched)
		return;
	for (int g = 0; g < nshared_roles; g++)
	{
		IgRuleRole *role = &rule_roles[shared_roles[g]];

		if (role == own ||
			(OidIsValid(role->roleid) &&
			 !is_member_of_role_nosuper(userid, role->roleid)))
			continue;
		add_run(buf, role);
	}
	/* rules that do not name the user spare an exempt user */
	if (buf->nrules > nown && is_exempt(userid))
		buf->nrules = nown;
}

/*
 * The rules covering the user, through the role indexes: those naming it,
 * those naming no role, those naming a role it is a member of.
 */
static void
user_rules_from_index(Oid userid, bool unwatched, IgRuleBuf *buf)
{
	Snapshot	snapshot = RegisterSnapshot(GetCatalogSnapshot(thresholds_oid));
	List	   *roles = list_make1_oid(userid);
	int			nown = 0;

	if (!unwatched)
	{
		List	   *groups = member_of(userid);

		roles = list_concat(lappend_oid(roles, InvalidOid), groups);
		list_free(groups);
	}
	if (thresholds_present)
		ig_rules_read_roles(thresholds_oid, role_index_oid, false, snapshot,
						 roles, buf);
	if (baselines_present)
		ig_rules_read_roles(baseline_rules_oid, baseline_role_index_oid, true,
						 snapshot, roles, buf);
	list_free(roles);
	UnregisterSnapshot(snapshot);

	/* rules that do not name the user spare an exempt user */
	for (int i = 0; i < buf->nrules; i++)
		nown += (buf->rules[i].roleid == userid);
	if (buf->nrules > nown && is_exempt(userid))
	{
		nown = 0;
		for (int i = 0; i < buf->nrules; i++)
			if (buf->rules[i].roleid == userid)
				buf->rules[nown++] = buf->rules[i];
		buf->nrules = nown;
	}
}

/*
 * The history kinds (bits) baseline rules keep of a relation, InvalidOid
 * for all tables: those naming it, of any role, since a user's peers are
 * compared with its history.  Catalog access, once per relation until the
 * rules change (unless all are read).
 *
 * Runs while a statement's state is being made, so it neither waits for
 * a lock nor reads tables the rules were not loaded from: while
 * baseline_rules is locked exclusively (a TRUNCATE, a VACUUM FULL, the
 * extension being dropped), or once an invalidation says the rules are to
 * be read again, *known is false and nothing is remembered: the next
 * statement asks again.
 */
static uint8
baseline_history_kinds(Oid relid, bool *known)
{
	IgHistKey  *found;
	bool		present;
	Relation	heap;
	Relation	index;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	ScanKeyData key;
	IndexScanDesc scan;
	IgRuleBuf	buf;
	uint8		kinds = 0;

	*known = true;
	if (!baselines_present)
		return 0;
	if (all_loaded || !OidIsValid(baseline_table_index_oid))
	{
		IgHistKey	wanted = {relid, 0};

		found = bsearch(&wanted, hist_keys, nhist_keys, sizeof(IgHistKey),
						compare_hist_keys);
		return found != NULL ? found->kinds : 0;
	}
	if (hist_keys_found == NULL)
		hist_keys_found = oid_hash("insider_guard history keys",
								   sizeof(IgHistKey), 64, rules_cxt);
	found = hash_search(hist_keys_found, &relid, HASH_FIND, NULL);
	if (found != NULL)
		return found->kinds;

	*known = false;
	if (!ConditionalLockRelationOid(baseline_rules_oid, AccessShareLock))
		return 0;
	if (!ConditionalLockRelationOid(baseline_table_index_oid, AccessShareLock))
	{
		UnlockRelationOid(baseline_rules_oid, AccessShareLock);
		return 0;
	}
	/* the locks accepted invalidations: are the OIDs still those loaded? */
	if (!rules_loaded)
	{
		UnlockRelationOid(baseline_table_index_oid, AccessShareLock);
		UnlockRelationOid(baseline_rules_oid, AccessShareLock);
		return 0;
	}
	heap = table_open(baseline_rules_oid, NoLock);
	if (ig_rules_table_problem(heap, IG_TABLE_BASELINE_RULES) != NULL)
	{
		/* changed since it was checked: the rules are read again */
		table_close(heap, NoLock);
		UnlockRelationOid(baseline_table_index_oid, AccessShareLock);
		UnlockRelationOid(baseline_rules_oid, AccessShareLock);
		return 0;
	}
	index = index_open(baseline_table_index_oid, NoLock);
	snapshot = RegisterSnapshot(GetCatalogSnapshot(baseline_rules_oid));
	slot = table_slot_create(heap, NULL);
	buf.allocated = 1;
	buf.nrules = 0;
	buf.rules = palloc(sizeof(IgRule));
	buf.now = ig_now();
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = index_beginscan(heap, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	/* (until both kinds are found: many rules may name a table) */
	while (kinds != (1 << IG_HIST_KINDS) - 1 &&
		   index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		buf.nrules = 0;
		if (ig_rules_baseline_row(slot, IG_ANY_ROLE, &buf) != NULL &&
			buf.rules[0].relid == relid)
			kinds |= (1 << buf.rules[0].hist_kind);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	UnlockRelationOid(baseline_table_index_oid, AccessShareLock);
	UnlockRelationOid(baseline_rules_oid, AccessShareLock);
	pfree(buf.rules);

	found = hash_search(hist_keys_found, &relid, HASH_ENTER, &present);
	found->kinds = kinds;
	*known = true;
	return kinds;
}

/*
 * Orders OIDs and drops repeats (a membership granted by several
 * grantors is one); returns how many are left.
 */
static int
sort_unique_oids(Oid *oids, int n)
{
	int			unique = 0;

	qsort(oids, n, sizeof(Oid), compare_oids);
	for (int i = 0; i < n; i++)
		if (unique == 0 || oids[i] != oids[unique - 1])
			oids[unique++] = oids[i];
	return unique;
}

/* The first of the pairs whose first is "first", or npairs if none. */
static int
first_pair(const IgMembership *pairs, int npairs, Oid first)
{
	int			lo = 0;
	int			hi = npairs;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (pairs[mid].first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < npairs && pairs[lo].first == first) ? lo : npairs;
}

/*
 * The registered peer groups a user is a direct member of, ordered, each
 * once; palloc'd.
 * Catalog access, unless find_group_roles read the memberships.
 */
static Oid *
user_peer_groups(Oid userid, int *count)
{
	Oid		   *mine;
	int			nmine = 0;

	if (peer_memberships_read)
	{
		int			i = first_pair(peers_by_member, npeer_memberships, userid);

		mine = palloc(sizeof(Oid) * Max(npeer_memberships - i, 1));
		for (; i < npeer_memberships && peers_by_member[i].first == userid; i++)
			mine[nmine++] = peers_by_member[i].second;
	}
	else
	{
		CatCList   *memberships = SearchSysCacheList1(AUTHMEMMEMROLE,
													  ObjectIdGetDatum(userid));

		mine = palloc(sizeof(Oid) * Max(memberships->n_members, 1));
		for (int i = 0; i < memberships->n_members; i++)
		{
			Oid			group = ((Form_pg_auth_members)
								 GETSTRUCT(&memberships->members[i]->tuple))->roleid;

			if (bsearch(&group, peer_groups, npeer_groups, sizeof(Oid),
						compare_oids) != NULL)
				mine[nmine++] = group;
		}
		ReleaseSysCacheList(memberships);
	}
	*count = sort_unique_oids(mine, nmine);
	return mine;
}

/*
 * The members of a peer group but the user, ordered, each once, in cxt.
 * Catalog access, unless find_group_roles read the memberships.
 */
static Oid *
peer_group_others(Oid groupid, Oid userid, MemoryContext cxt, int *count)
{
	Oid		   *others;
	int			nothers = 0;

	if (peer_memberships_read)
	{
		int			i = first_pair(peers_by_group, npeer_memberships, groupid);

		others = MemoryContextAlloc(cxt, sizeof(Oid) * Max(npeer_memberships - i, 1));
		for (; i < npeer_memberships && peers_by_group[i].first == groupid; i++)
			if (peers_by_group[i].second != userid)
				others[nothers++] = peers_by_group[i].second;
	}
	else
	{
		CatCList   *members = SearchSysCacheList1(AUTHMEMROLEMEM,
												  ObjectIdGetDatum(groupid));

		others = MemoryContextAlloc(cxt, sizeof(Oid) * Max(members->n_members, 1));
		for (int i = 0; i < members->n_members; i++)
		{
			Oid			member = ((Form_pg_auth_members)
								  GETSTRUCT(&members->members[i]->tuple))->member;

			if (member != userid)
				others[nothers++] = member;
		}
		ReleaseSysCacheList(members);
	}
	*count = sort_unique_oids(others, nothers);
	return others;
}

/*
 * The registered peer groups a user belongs to directly, each with its
 * other members, allocated in cxt, ordered by group.  Catalog access
 * (unless find_group_roles read the memberships): may deliver
 * invalidations (the caller checks).
 */
static IgPeerGroup *
find_peer_groups(Oid userid, MemoryContext cxt, int *count)
{
	Oid		   *mine;
	int			nmine;
	IgPeerGroup *groups = NULL;

	*count = 0;
	if (npeer_groups == 0)
		return NULL;
	mine = user_peer_groups(userid, &nmine);
	if (nmine > 0)
		groups = MemoryContextAlloc(cxt, sizeof(IgPeerGroup) * nmine);
	for (int g = 0; g < nmine; g++)
	{
		groups[g].groupid = mine[g];
		groups[g].members = peer_group_others(mine[g], userid, cxt,
											  &groups[g].nmembers);
	}
	pfree(mine);
	*count = nmine;
	return groups;
}

/* Orders rules by relation, then id. */
static int
compare_rules(const void *a, const void *b)
{
	const IgRule *ra = (const IgRule *) a;
	const IgRule *rb = (const IgRule *) b;

	if (ra->relid != rb->relid)
		return (ra->relid > rb->relid) - (ra->relid < rb->relid);
	return (ra->id > rb->id) - (ra->id < rb->id);
}

/*
 * Reads the rules that cover the user, and files them by relation, each
 * list with the counter ring and length of each rule's window.  A user in
 * a peer group also gets (maybe empty) lists that keep its history for
 * every relation baseline rules name.  Catalog access: may deliver
 * invalidations (the caller checks).
 */
static IgUserMatch *
match_rules(Oid userid)
{
	bool		unwatched = superuser_arg(userid);
	IgRuleBuf	buf;
	IgUserMatch *match;
	IgRuleList *lists = NULL;
	int			nlists = 0;
	bool		found;
	IgPeerGroup *groups = NULL;
	int			ngroups = 0;
	int			nkeys;

	/* a backend that saw very many users starts over */
	if (hash_get_num_entries(user_matches) >= IG_MAX_USER_MATCHES)
		drop_matches();

	buf.allocated = 8;
	buf.nrules = 0;
	buf.rules = palloc(sizeof(IgRule) * buf.allocated);
	buf.now = ig_now();

	/* the first few users through the indexes; then the whole tables, once */
	if (!all_loaded && index_matches < IG_INDEX_MATCHES &&
		(!thresholds_present || OidIsValid(role_index_oid)) &&
		(!baselines_present || (OidIsValid(baseline_role_index_oid) &&
								OidIsValid(baseline_table_index_oid))))
	{
		user_rules_from_index(userid, unwatched, &buf);
		index_matches++;
	}
	else
	{
		if (!all_loaded)
		{
			load_all_rules();
			find_group_roles();
			all_loaded = true;
		}
		user_rules_from_all(userid, unwatched, &buf);
	}

	/* one list per relation, by relid; in each, the rules by id */
	qsort(buf.rules, buf.nrules, sizeof(IgRule), compare_rules);
	for (int i = 0; i < buf.nrules; i++)
		nlists += (i == 0 || buf.rules[i].relid != buf.rules[i - 1].relid);
	if (baselines_present)
	{
		read_peer_groups();
		groups = find_peer_groups(userid, match_cxt, &ngroups);
	}
	/*
	 * A peer keeps the history its peers' rules compare with: from the
	 * history keys, once all rules are read; else looked up as relations
	 * are read (ig_rules_for_relation).
	 */
	nkeys = ngroups > 0 && all_loaded ? nhist_keys : 0;
	if (nlists > 0 || nkeys > 0)
	{
		int			nrules = Max(buf.nrules, 1);
		IgRule	   *copies = MemoryContextAlloc(match_cxt, sizeof(IgRule) * nrules);
		int		   *slots = MemoryContextAlloc(match_cxt, sizeof(int) * nrules);
		int64	   *lengths = MemoryContextAlloc(match_cxt, sizeof(int64) * nrules);
		int64	   *maxes = MemoryContextAlloc(match_cxt, sizeof(int64) * nrules);
		bool	   *blocks = MemoryContextAlloc(match_cxt, sizeof(bool) * nrules);
		int			r = 0;
		int			h = 0;

		/* the rules (by relid) and the history keys (by relid), merged */
		lists = MemoryContextAlloc(match_cxt, sizeof(IgRuleList) * (nlists + nkeys));
		nlists = 0;
		while (r < buf.nrules || h < nkeys)
		{
			IgRuleList *list = &lists[nlists++];
			Oid			relid;

			if (h == nkeys ||
				(r < buf.nrules && buf.rules[r].relid <= hist_keys[h].relid))
				relid = buf.rules[r].relid;
			else
				relid = hist_keys[h].relid;
			memset(list, 0, sizeof(IgRuleList));
			list->relid = relid;
			list->rules = &copies[Min(r, nrules - 1)];
			list->slots = &slots[Min(r, nrules - 1)];
			list->lengths = &lengths[Min(r, nrules - 1)];
			list->maxes = &maxes[Min(r, nrules - 1)];
			list->blocks = &blocks[Min(r, nrules - 1)];
			for (; r < buf.nrules && buf.rules[r].relid == relid; r++)
			{
				const IgRule *rule = &buf.rules[r];

				copies[r] = *rule;
				slots[r] = rule->window;
				lengths[r] = rule->per;
				maxes[r] = rule->max_rows;
				blocks[r] = rule->block;
				list->nrules++;
				list->any_block |= rule->block;
				list->longest = Max(list->longest, rule->per);
				if (rule->baseline)
				{
					list->nbaseline++;
					list->hist_wanted |= (1 << rule->hist_kind);
				}
			}
			if (h < nkeys && hist_keys[h].relid == relid)
				list->hist_wanted |= hist_keys[h++].kinds;
			list->history_known = ngroups == 0 || all_loaded;

			list->pin_span = list->longest +
				Max(list->longest / 60, USECS_PER_SEC) + USECS_PER_SEC;
			list->memo.valid = false;
			list->hist_gen = 0; /* baseline limits not computed yet */
			for (int k = 0; k < IG_HIST_KINDS; k++)
				list->hist_cap[k] = IG_NO_LIMIT;
			list->npeer_groups = ngroups;
			list->peer_groups = groups;
		}
	}
	pfree(buf.rules);

	match = hash_search(user_matches, &userid, HASH_ENTER, &found);
	match->nlists = nlists;
	match->lists = lists;
	match->npeer_groups = all_loaded ? 0 : ngroups;
	match->peer_groups = groups;
	match->history_lists = NULL;
	/* a peer's statements must look up the history of what they read */
	match->covered = nlists > 0 || match->npeer_groups > 0;
	return match;
}

/*
 * Brings the cache up to date and says whether any rule covers the user,
 * when ig_rules_cover cannot answer from its last answer.  Needs catalog
 * access (a transaction).
 */
bool
ig_rules_cover_slow(Oid userid)
{
	ig_rules_answer.valid = false;
	while (!rules_loaded)
	{
		uint64		seen = rules_invalidations;

		load_rules();
		rules_loaded = (seen == rules_invalidations);
	}
	if (!rules_present)
	{
		current = NULL;
		ig_rules_answer.userid = userid;
		ig_rules_answer.covered = false;
		ig_rules_answer.valid = true;
		return false;
	}

	for (;;)
	{
		uint64		seen = role_invalidations;
		IgUserMatch *match;

		if (!rules_matched || user_matches == NULL)
		{
			drop_matches();
			rules_matched = true;
			if (all_loaded)
				find_group_roles();
		}
		match = hash_search(user_matches, &userid, HASH_FIND, NULL);
		if (match == NULL)
			match = match_rules(userid);
		/* memberships read while matching may have changed meanwhile */
		if (rules_matched && seen == role_invalidations)
		{
			current = match;
			ig_rules_answer.userid = userid;
			ig_rules_answer.covered = match->covered;
			/* loading or matching may have seen an invalidation */
			ig_rules_answer.valid = rules_loaded;
			return match->covered;
		}
	}
}

/*
 * The registered peer groups a user belongs to directly, with their other
 * members, palloc'd in the current memory context (for the baselines
 * view).  Needs catalog access.
 */
IgPeerGroup *
ig_rules_peer_groups(Oid userid, int *count)
{
	*count = 0;
	(void) ig_rules_cover(userid);
	read_peer_groups();
	return find_peer_groups(userid, CurrentMemoryContext, count);
}

/*
 * Is a role a registered peer group of this database (insider_guard's
 * peer_group_roles)?  Catalog access.
 */
bool
ig_rules_is_peer_group(Oid roleid)
{
	(void) ig_rules_cover(GetSessionUserId());
	read_peer_groups();
	return npeer_groups > 0 &&
		bsearch(&roleid, peer_groups, npeer_groups, sizeof(Oid),
				compare_oids) != NULL;
}

/*
 * A list for a relation no rule covering a peer-group member names, if
 * baseline rules (of its peers) want its history kept; made once.
 */
static IgRuleList *
history_list(IgUserMatch *match, Oid relid)
{
	IgHistoryList *entry;
	bool		found;
	bool		known;
	uint8		kinds;

	if (match->history_lists == NULL)
		match->history_lists = oid_hash("insider_guard history lists",
										sizeof(IgHistoryList), 16, match_cxt);
	entry = hash_search(match->history_lists, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->list;

	kinds = baseline_history_kinds(relid, &known);
	if (!known)
		return NULL;			/* asked again by the next statement */
	entry = hash_search(match->history_lists, &relid, HASH_ENTER, &found);
	entry->list = NULL;
	if (kinds != 0)
	{
		IgRuleList *list = MemoryContextAllocZero(match_cxt, sizeof(IgRuleList));

		list->relid = relid;
		list->hist_wanted = kinds;
		list->history_known = true;
		list->pin_span = 2 * USECS_PER_SEC;
		for (int k = 0; k < IG_HIST_KINDS; k++)
			list->hist_cap[k] = IG_NO_LIMIT;
		list->npeer_groups = match->npeer_groups;
		list->peer_groups = match->peer_groups;
		entry->list = list;
	}
	return entry->list;
}

/*
 * The rules covering a user that ig_rules_cover matched for a relation, or
 * for all tables if relid is InvalidOid; NULL if none.  Valid while the
 * statement that asked runs.
 *
 * A member of peer groups matched before all rules were read learns here,
 * as it reads relations, which of them its peers' baseline rules want the
 * history of: catalog access, once per relation, that waits for no lock
 * and may deliver invalidations (the list returned stays valid meanwhile:
 * the callbacks free nothing).
 */
IgRuleList *
ig_rules_for_relation(Oid userid, Oid relid)
{
	IgUserMatch *match = current;
	int			lo = 0;
	int			hi;

	if (match == NULL || match->userid != userid)
	{
		/* a statement run meanwhile under another session user */
		if (user_matches == NULL ||
			(match = hash_search(user_matches, &userid, HASH_FIND, NULL)) == NULL)
			return NULL;
	}
	hi = match->nlists - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		IgRuleList *list = &match->lists[mid];

		if (list->relid == relid)
		{
			if (unlikely(!list->history_known))
			{
				bool		known;

				list->hist_wanted |= baseline_history_kinds(relid, &known);
				list->history_known = known;
			}
			return list;
		}
		if (list->relid < relid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (match->npeer_groups > 0)
		return history_list(match, relid);
	return NULL;
}
