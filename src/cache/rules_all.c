/*-------------------------------------------------------------------------
 *
 * rules_all.c
 *		The rule tables read whole: every threshold and baseline rule of
 *		this database ordered by the role it names; and the relations
 *		whose history baseline rules keep.
 *
 * A backend matches its first few session users through the rule tables'
 * role indexes (rules_match.c).  One that sees more users, or a database
 * without usable indexes, reads the whole tables once instead
 * (ig_rules_all_load), and matches each further user from them, looking
 * only at the user's own run of rules and at the runs that can cover
 * users they do not name (rules_roles.c finds which of the roles they
 * name have members).
 *
 * A user that belongs to a peer group also keeps its history of every
 * relation any baseline rule names, so that its peers can be compared
 * with it: from the history keys read with the whole tables, once read,
 * or else from one scan of every baseline rule that notes only the
 * relation and window kind of each, the first time the backend reads a
 * relation (ig_rules_history_kinds).
 *
 * All of it lives in the rule tables' memory context, and is forgotten
 * (ig_rules_all_forget) before the tables are found again.
 *
 * IDENTIFICATION
 *		src/cache/rules_all.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "common/hashfn.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/guc.h"
#include "shmem/history.h"
#include "cache/rules_internal.h"

/* The rule tables read whole, once read. */
IgAllRules	ig_rules_all;

/* The history keys of all baseline rules, once read. */
IgHistKeys	ig_rules_hist_keys;

/*
 * Before the whole tables are read: the history kinds of every relation
 * baseline rules name, read at once the first time a relation's are asked
 * for (scan_history_kinds), by relid.
 */
typedef struct IgHistKindsEntry
{
	Oid			relid;			/* hash key */
	uint8		kinds;			/* bit k: history kind k (IG_HIST_*) */
	char		status;			/* for simplehash */
} IgHistKindsEntry;

#define SH_PREFIX histkinds
#define SH_ELEMENT_TYPE IgHistKindsEntry
#define SH_KEY_TYPE Oid
#define SH_KEY relid
#define SH_HASH_KEY(tb, key) murmurhash32(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* in IgRuleTables.cxt; NULL until read */
static histkinds_hash *hist_kinds_scanned = NULL;

/*
 * Forgets the whole tables and the history keys: the rule tables are
 * about to be found again (ig_rules_load), which frees them.
 */
void
ig_rules_all_forget(void)
{
	ig_rules_all.loaded = false;
	ig_rules_all.rules = NULL;
	ig_rules_all.nrules = 0;
	ig_rules_all.roles = NULL;
	ig_rules_all.nroles = 0;
	ig_rules_all.shared = NULL;
	ig_rules_all.nshared = 0;
	ig_rules_hist_keys.keys = NULL;
	ig_rules_hist_keys.count = 0;
	ig_rules_hist_keys.allocated = 0;
	hist_kinds_scanned = NULL;
}

/*
 * Notes that baseline rules keep history of a relation, kind; duplicates
 * are merged once all are read (merge_hist_keys).
 */
static void
add_hist_key(Oid relid, int kind)
{
	IgHistKeys *hk = &ig_rules_hist_keys;

	if (hk->count == hk->allocated)
	{
		hk->allocated = Max(hk->allocated * 2, 64);
		hk->keys = hk->keys == NULL ?
			MemoryContextAlloc(ig_rules_tables.cxt, sizeof(IgHistKey) * hk->allocated) :
			repalloc(hk->keys, sizeof(IgHistKey) * hk->allocated);
	}
	hk->keys[hk->count].relid = relid;
	hk->keys[hk->count].kinds = (1 << kind);
	hk->count++;
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
	IgHistKeys *hk = &ig_rules_hist_keys;
	int			n = 0;

	if (hk->count == 0)
		return;
	qsort(hk->keys, hk->count, sizeof(IgHistKey), compare_hist_keys);
	for (int i = 1; i < hk->count; i++)
	{
		if (hk->keys[i].relid == hk->keys[n].relid)
			hk->keys[n].kinds |= hk->keys[i].kinds;
		else
			hk->keys[++n] = hk->keys[i];
	}
	hk->count = n + 1;
}

/* Reads every baseline rule into buf, and the history keys they make. */
static void
read_baseline_rules(Snapshot snapshot, IgRuleBuf *buf)
{
	Relation	heap = ig_rules_open_table(ig_rules_tables.baseline_rules,
										   IG_TABLE_BASELINE_RULES,
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

		/* a novelty rule's limit comes from the all-tables hourly p50 */
		if (rule != NULL && rule->novelty)
			add_hist_key(InvalidOid, IG_HIST_HOUR);
		else if (rule != NULL)
			add_hist_key(rule->relid, rule->hist_kind);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
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
 * Reads the whole tables, orders the rules by role and lists the roles
 * they name (each taken to have members until ig_rules_find_group_roles
 * looks).  Catalog access: may deliver invalidations (the caller checks).
 *
 * Starts afresh: a statement that failed after an earlier call, before
 * the roles with members were known (ig_rules_all.loaded still false),
 * leaves its runs and history keys behind, in arrays sized for them.
 */
void
ig_rules_all_load(void)
{
	IgAllRules *all = &ig_rules_all;
	Relation	heap;
	Snapshot	snapshot;
	IgRuleBuf	buf;

	ig_rules_all_forget();
	heap = table_open(ig_rules_tables.thresholds, AccessShareLock);
	snapshot = RegisterSnapshot(GetCatalogSnapshot(ig_rules_tables.thresholds));
	buf.allocated = 64;
	buf.nrules = 0;
	buf.rules = MemoryContextAlloc(ig_rules_tables.cxt,
								   sizeof(IgRule) * buf.allocated);
	buf.now = ig_now();
	/* (changed since it was checked: the rules are read again) */
	if (RelationGetNumberOfBlocks(heap) > 0 &&
		ig_rules_table_problem(heap, IG_TABLE_THRESHOLDS) == NULL)
		ig_rules_read_role(heap, NULL, snapshot, IG_ANY_ROLE, false, &buf);
	if (ig_rules_tables.baselines_present)
	{
		read_baseline_rules(snapshot, &buf);
		merge_hist_keys();
		ig_rules_read_peer_groups();
	}
	UnregisterSnapshot(snapshot);
	table_close(heap, AccessShareLock);

	all->rules = buf.rules;
	all->nrules = buf.nrules;
	if (all->nrules == 0)
		return;
	qsort(all->rules, all->nrules, sizeof(IgRule), compare_rules_by_role);
	all->roles = MemoryContextAlloc(ig_rules_tables.cxt,
									sizeof(IgRuleRole) * all->nrules);
	all->shared = MemoryContextAlloc(ig_rules_tables.cxt,
									 sizeof(int) * all->nrules);
	for (int i = 0; i < all->nrules; i++)
	{
		IgRuleRole *role = &all->roles[all->nroles - 1];

		if (all->nroles == 0 || role->roleid != all->rules[i].roleid)
		{
			role = &all->roles[all->nroles++];
			role->roleid = all->rules[i].roleid;
			role->first = i;
			role->count = 0;
			role->has_members = true;	/* until looked at */
		}
		role->count++;
	}
}

/*
 * Reads every baseline rule, once, for the history kinds they keep of each
 * relation (ig_rules_baseline_row_kind): into a table by relid, in the
 * rule tables' memory context, set only once complete.  False, reading
 * nothing, if the rules table cannot be read now (see below).
 */
static bool
scan_history_kinds(void)
{
	const IgRuleTables *tables = &ig_rules_tables;
	Relation	heap;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	TableScanDesc scan;
	histkinds_hash *kinds;

	if (!ConditionalLockRelationOid(tables->baseline_rules, AccessShareLock))
		return false;
	/* the lock accepted invalidations: is the OID still that loaded? */
	if (!ig_rules_fresh.loaded)
	{
		UnlockRelationOid(tables->baseline_rules, AccessShareLock);
		return false;
	}
	heap = table_open(tables->baseline_rules, NoLock);
	if (ig_rules_table_problem(heap, IG_TABLE_BASELINE_RULES) != NULL)
	{
		/* changed since it was checked: the rules are read again */
		table_close(heap, NoLock);
		UnlockRelationOid(tables->baseline_rules, AccessShareLock);
		return false;
	}
	kinds = histkinds_create(tables->cxt, 64, NULL);
	snapshot = RegisterSnapshot(GetCatalogSnapshot(tables->baseline_rules));
	slot = table_slot_create(heap, NULL);
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		Oid			relid;
		int			kind;
		IgHistKindsEntry *entry;
		bool		found;

		if (!ig_rules_baseline_row_kind(slot, &relid, &kind))
			continue;
		entry = histkinds_insert(kinds, relid, &found);
		if (!found)
			entry->kinds = 0;
		entry->kinds |= (1 << kind);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	table_close(heap, NoLock);
	UnlockRelationOid(tables->baseline_rules, AccessShareLock);
	hist_kinds_scanned = kinds;
	return true;
}

/*
 * The history kinds (bits) baseline rules keep of a relation, InvalidOid
 * for all tables: those naming it, of any role, since a user's peers are
 * compared with its history.  Catalog access, once until the rules change:
 * the first call reads every baseline rule (scan_history_kinds) -- unless
 * all are read, whose history keys say.  (Looking a relation's rules up in
 * the index on their table would read every rule naming it, to know
 * whether one keeps 7-day history; and again for each relation.)
 *
 * Runs while a statement's state is being made, so it neither waits for
 * a lock nor reads tables the rules were not loaded from: while
 * baseline_rules is locked exclusively (a TRUNCATE, a VACUUM FULL, the
 * extension being dropped), or once an invalidation says the rules are to
 * be read again, *known is false and nothing is remembered: the next
 * statement asks again.
 */
uint8
ig_rules_history_kinds(Oid relid, bool *known)
{
	const IgRuleTables *tables = &ig_rules_tables;
	IgHistKindsEntry *entry;

	*known = true;
	if (!tables->baselines_present)
		return 0;
	if (ig_rules_all.loaded)
	{
		IgHistKey	wanted = {relid, 0};
		IgHistKey  *found;

		found = bsearch(&wanted, ig_rules_hist_keys.keys,
						ig_rules_hist_keys.count, sizeof(IgHistKey),
						compare_hist_keys);
		return found != NULL ? found->kinds : 0;
	}
	if (hist_kinds_scanned == NULL && !scan_history_kinds())
	{
		*known = false;
		return 0;
	}
	entry = histkinds_lookup(hist_kinds_scanned, relid);
	return entry != NULL ? entry->kinds : 0;
}
