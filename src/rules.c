/*-------------------------------------------------------------------------
 *
 * rules.c
 *		Backend-local cache of this database's thresholds and exemptions,
 *		and of which of them cover the session user.
 *
 * The rules are read from insider_guard.thresholds and .exemptions (when
 * the extension is installed in this database) on first need and again
 * after any change.  The tables' triggers send a relcache invalidation for
 * them, which is delivered at commit (and replayed on standbys); the
 * executor hook accepts pending invalidations at the start of every
 * statement.  So a committed change applies from every session's next
 * statement, and a rolled-back one never does.
 *
 * Matching the rules to the session user is redone when the rules, the
 * user, or role memberships and attributes change (pg_auth_members and
 * pg_authid invalidations).  A rule covers a user when it names the user;
 * or, unless the user is a superuser or exempt, when it names no role or a
 * role the user is a member of, through any chain of membership.  The
 * covering rules are kept by relation, so that a statement finds the rules
 * of each table it reads with one hash lookup.
 *
 * IDENTIFICATION
 *		src/rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_auth_members.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "counters.h"
#include "guc.h"
#include "rules.h"
#include "statement.h"

/* attribute numbers of insider_guard.thresholds */
#define Anum_threshold_id		1
#define Anum_threshold_role		2
#define Anum_threshold_table	3
#define Anum_threshold_max_rows 4
#define Anum_threshold_per		5
#define Anum_threshold_action	6
#define Natts_threshold_min		6

/* what was read from the tables */
static MemoryContext rules_cxt = NULL;
static bool rules_loaded = false;
static Oid	thresholds_oid = InvalidOid;
static Oid	exemptions_oid = InvalidOid;
static IgRule *rules = NULL;		/* ordered by role, then id */
static int	nrules = 0;

/*
 * The roles the rules name (InvalidOid first), each with its run of rules
 * and whether any role is a member of it (only then can a rule naming it
 * cover a user it does not name).  has_members is refreshed whenever
 * memberships may have changed.
 */
typedef struct IgRuleRole
{
	Oid			roleid;
	int			first;			/* index into rules */
	int			count;
	bool		has_members;
} IgRuleRole;

static IgRuleRole *rule_roles = NULL;
static int	nrule_roles = 0;
static Oid *exempt_roles = NULL;
static int	nexempt = 0;
static bool exemptions_loaded = false;	/* exempt_roles is read */
static Oid	rules_nspid = InvalidOid;	/* schema insider_guard, if any */

/*
 * Which of them cover each session user seen, by relation.  A backend's
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
} IgUserMatch;

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
	if (!OidIsValid(relid) || relid == thresholds_oid || relid == exemptions_oid)
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

/* The OID of insider_guard.thresholds in this database, or InvalidOid. */
Oid
ig_rules_table_oid(void)
{
	return thresholds_oid;
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
		Datum		role = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);

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

/* An interval as a window length in microseconds (months count 30 days). */
static int64
interval_length(Interval *per)
{
	return per->time + (int64) per->day * USECS_PER_DAY +
		(int64) per->month * 30 * USECS_PER_DAY;
}

/*
 * The counter ring answering a window length; the few distinct lengths
 * of a load are asked of the counters once each.
 */
static int
window_slot_cached(int64 per, int64 *lengths, int *slots, int *nlengths,
				   TimestampTz now)
{
	for (int i = 0; i < *nlengths; i++)
		if (lengths[i] == per)
			return slots[i];
	if (*nlengths < IG_MAX_WINDOWS)
	{
		lengths[*nlengths] = per;
		slots[*nlengths] = ig_counters_window_slot(per, now);
		return slots[(*nlengths)++];
	}
	return ig_counters_window_slot(per, now);
}

/*
 * Reads insider_guard.thresholds: one pass with the catalog snapshot, each
 * row deformed once (a session pays this once, and again after changes).
 */
static void
load_thresholds(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			allocated = 64;
	TimestampTz now = ig_now();
	int64		lengths[IG_MAX_WINDOWS];
	int			slots[IG_MAX_WINDOWS];
	int			nlengths = 0;

	if (desc->natts < Natts_threshold_min)
		elog(ERROR, "insider_guard.thresholds has an unexpected definition");

	rules = MemoryContextAlloc(rules_cxt, sizeof(IgRule) * allocated);
	snapshot = RegisterSnapshot(GetCatalogSnapshot(RelationGetRelid(rel)));
	scan = table_beginscan_strat(rel, snapshot, 0, NULL, true, false);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		Datum	   *values = slot->tts_values;
		bool	   *nulls = slot->tts_isnull;
		IgRule	   *rule;
		text	   *action;

		slot_getsomeattrs(slot, Natts_threshold_min);
		if (nulls[Anum_threshold_id - 1] || nulls[Anum_threshold_max_rows - 1] ||
			nulls[Anum_threshold_per - 1] || nulls[Anum_threshold_action - 1])
			continue;

		if (nrules == allocated)
		{
			allocated *= 2;
			rules = repalloc(rules, sizeof(IgRule) * allocated);
		}
		rule = &rules[nrules++];
		rule->id = DatumGetInt64(values[Anum_threshold_id - 1]);
		rule->roleid = nulls[Anum_threshold_role - 1] ? InvalidOid :
			DatumGetObjectId(values[Anum_threshold_role - 1]);
		rule->relid = nulls[Anum_threshold_table - 1] ? InvalidOid :
			DatumGetObjectId(values[Anum_threshold_table - 1]);
		rule->max_rows = DatumGetInt64(values[Anum_threshold_max_rows - 1]);
		rule->per = interval_length(DatumGetIntervalP(values[Anum_threshold_per - 1]));
		action = DatumGetTextPP(values[Anum_threshold_action - 1]);
		rule->block = (VARSIZE_ANY_EXHDR(action) == 5 &&
					   memcmp(VARDATA_ANY(action), "block", 5) == 0);
		rule->window = window_slot_cached(rule->per, lengths, slots,
										  &nlengths, now);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
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

/* Orders the rules by role and lists the roles they name. */
static void
group_by_role(void)
{
	if (nrules == 0)
		return;
	qsort(rules, nrules, sizeof(IgRule), compare_rules_by_role);
	rule_roles = MemoryContextAlloc(rules_cxt, sizeof(IgRuleRole) * nrules);
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

/*
 * Finds which of the roles the rules name have members: one scan of
 * pg_auth_members.  Catalog access: may deliver invalidations (the caller
 * checks).
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

	if (nrule_roles == 0)
		return;
	groups = palloc(sizeof(Oid) * allocated);
	rel = table_open(AuthMemRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		if (ngroups == allocated)
		{
			allocated *= 2;
			groups = repalloc(groups, sizeof(Oid) * allocated);
		}
		groups[ngroups++] = ((Form_pg_auth_members) GETSTRUCT(tuple))->roleid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(groups, ngroups, sizeof(Oid), compare_oids);

	for (int r = 0; r < nrule_roles; r++)
		rule_roles[r].has_members = OidIsValid(rule_roles[r].roleid) &&
			bsearch(&rule_roles[r].roleid, groups, ngroups, sizeof(Oid),
					compare_oids) != NULL;
	pfree(groups);
}

/* (Re)reads the tables, if the extension is installed in this database. */
static void
load_rules(void)
{
	Oid			nspid;
	Relation	rel;

	if (rules_cxt == NULL)
		rules_cxt = AllocSetContextCreate(TopMemoryContext,
										  "insider_guard rules",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(rules_cxt);
	rules = NULL;
	nrules = 0;
	rule_roles = NULL;
	nrule_roles = 0;
	exempt_roles = NULL;
	nexempt = 0;
	exemptions_loaded = false;
	exemptions_oid = InvalidOid;
	rules_matched = false;
	current = NULL;
	ig_rules_gen++;

	/* the catalog lookups may deliver invalidations: loaded only at the end */
	nspid = get_namespace_oid("insider_guard", true);
	thresholds_oid = OidIsValid(nspid) ? get_relname_relid("thresholds", nspid) : InvalidOid;
	rules_nspid = nspid;
	if (OidIsValid(thresholds_oid))
	{
		rel = table_open(thresholds_oid, AccessShareLock);
		load_thresholds(rel);
		table_close(rel, AccessShareLock);
		group_by_role();
	}
}

/*
 * Exemptions matter only to rules that do not name the user: rules for
 * every role, and rules naming a role that has members.  Reads them the
 * first time such a rule is seen (after find_group_roles).
 */
static void
load_exemptions_if_needed(void)
{
	bool		needed = false;
	Oid			relid;
	Relation	rel;

	if (exemptions_loaded)
		return;
	for (int r = 0; r < nrule_roles && !needed; r++)
		needed = !OidIsValid(rule_roles[r].roleid) || rule_roles[r].has_members;
	if (!needed)
		return;

	/* changes to it concern us from now */
	relid = OidIsValid(rules_nspid) ? get_relname_relid("exemptions", rules_nspid) : InvalidOid;
	exemptions_oid = relid;
	exemptions_loaded = true;
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	load_exemptions(rel);
	table_close(rel, AccessShareLock);
}

static int
compare_rule_lists(const void *a, const void *b)
{
	Oid			ra = ((const IgRuleList *) a)->relid;
	Oid			rb = ((const IgRuleList *) b)->relid;

	return (ra > rb) - (ra < rb);
}

/*
 * Drops every user's match.  Statements still running may point into it:
 * then the context is retired, and freed once none runs.
 */
static void
drop_matches(void)
{
	HASHCTL		ctl;

	if (match_cxt != NULL)
	{
		if (ig_stmt_running())
		{
			if (retired_cxt == NULL)
				retired_cxt = AllocSetContextCreate(TopMemoryContext,
													"insider_guard retired rules",
													ALLOCSET_SMALL_SIZES);
			MemoryContextSetParent(match_cxt, retired_cxt);
			ig_rules_have_retired = true;
		}
		else
			MemoryContextDelete(match_cxt);
	}
	match_cxt = AllocSetContextCreate(TopMemoryContext,
									  "insider_guard matched rules",
									  ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(IgUserMatch);
	ctl.hcxt = match_cxt;
	user_matches = hash_create("insider_guard rules by user", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	current = NULL;
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
compare_rule_ids(const void *a, const void *b)
{
	int64		ia = ((const IgRule *) a)->id;
	int64		ib = ((const IgRule *) b)->id;

	return (ia > ib) - (ia < ib);
}

/* Files a rule in the list of its relation. */
static void
add_to_lists(IgRuleList *lists, int *nlists, const IgRule *rule)
{
	IgRuleList *list = NULL;

	for (int l = 0; l < *nlists && list == NULL; l++)
		if (lists[l].relid == rule->relid)
			list = &lists[l];
	if (list == NULL)
	{
		list = &lists[(*nlists)++];
		list->relid = rule->relid;
		list->nrules = 0;
		list->rules = MemoryContextAlloc(match_cxt, sizeof(IgRule) * nrules);
		list->any_block = false;
		list->longest = 0;
	}
	list->rules[list->nrules++] = *rule;
	list->any_block |= rule->block;
	list->longest = Max(list->longest, rule->per);
}

/*
 * Finds the rules that cover the user, and files them by relation, each
 * list with the counter ring and length of each rule's window.
 */
static IgUserMatch *
match_rules(Oid userid)
{
	bool		unwatched = superuser_arg(userid);
	IgUserMatch *match;
	IgRuleList *lists;
	int			nlists = 0;
	bool		found;

	for (int i = 0; i < nexempt && !unwatched; i++)
		if (exempt_roles[i] == userid)
			unwatched = true;

	/* a backend that saw very many users starts over */
	if (hash_get_num_entries(user_matches) >= IG_MAX_USER_MATCHES)
		drop_matches();

	/*
	 * A rule covers the user when it names the user; or, unless the user is
	 * unwatched, when it names no role or a role with members the user is
	 * one of.  One list per relation: gather the covering rules (each run
	 * ordered by id), then sort the lists.
	 */
	lists = MemoryContextAlloc(match_cxt, sizeof(IgRuleList) * Max(nrules, 1));
	for (int r = 0; r < nrule_roles; r++)
	{
		IgRuleRole *role = &rule_roles[r];

		if (role->roleid != userid &&
			(unwatched ||
			 (OidIsValid(role->roleid) &&
			  (!role->has_members ||
			   !is_member_of_role_nosuper(userid, role->roleid)))))
			continue;
		for (int i = role->first; i < role->first + role->count; i++)
			add_to_lists(lists, &nlists, &rules[i]);
	}
	for (int l = 0; l < nlists; l++)
	{
		IgRuleList *list = &lists[l];

		qsort(list->rules, list->nrules, sizeof(IgRule), compare_rule_ids);
		list->slots = MemoryContextAlloc(match_cxt, sizeof(int) * list->nrules);
		list->lengths = MemoryContextAlloc(match_cxt, sizeof(int64) * list->nrules);
		list->maxes = MemoryContextAlloc(match_cxt, sizeof(int64) * list->nrules);
		for (int i = 0; i < list->nrules; i++)
		{
			list->slots[i] = list->rules[i].window;
			list->lengths[i] = list->rules[i].per;
			list->maxes[i] = list->rules[i].max_rows;
		}
		list->pin_span = list->longest +
			Max(list->longest / 60, USECS_PER_SEC) + USECS_PER_SEC;
		list->memo.valid = false;
	}
	qsort(lists, nlists, sizeof(IgRuleList), compare_rule_lists);

	match = hash_search(user_matches, &userid, HASH_ENTER, &found);
	match->covered = nlists > 0;
	match->nlists = nlists;
	match->lists = lists;
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
	if (nrules == 0)
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
			find_group_roles();
			load_exemptions_if_needed();
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
 * The rules covering a user that ig_rules_cover matched for a relation, or
 * for all tables if relid is InvalidOid; NULL if none.  Valid while the
 * statement that asked runs.
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
		Oid			found = match->lists[mid].relid;

		if (found == relid)
			return &match->lists[mid];
		if (found < relid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}
