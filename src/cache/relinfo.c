/*-------------------------------------------------------------------------
 *
 * relinfo.c
 *		Backend-local cache of what reading a relation counts towards:
 *		whether it is counted at all, and which ancestors the rows also
 *		count for.
 *
 * Counted: tables, partitioned tables, materialized views and foreign
 * tables created after initdb, that are not temporary, not in pg_catalog
 * or pg_toast, and not insider_guard's own -- members of the extension
 * insider_guard of this database (a look-alike table in a schema of that
 * name is counted like any other).  Rows read from a partition or an
 * inheritance child also count for each ancestor at every level.  With
 * Citus, a shard counts like a partition of its distributed, reference or
 * Citus local table (citus.c finds which): rules name that table, on
 * every node.
 *
 * Also kept for a Citus table, once asked (ig_relinfo_share): the share
 * of its shard placements this node holds, by which a rule's limit on it
 * is shared across the cluster (budget.c).  Whenever entries are dropped,
 * ig_citus_budget_gen moves on, so that the limits scaled by a share are
 * scaled again.
 *
 * Entries are built from the catalogs on first use and dropped on any
 * relcache invalidation that concerns them (ALTER TABLE ... ATTACH
 * PARTITION, INHERIT, DROP, ...).  Citus invalidates a table when its
 * shards change in pg_dist_shard; a table that is not (yet) a known shard
 * but is named like one cannot be told apart from one whose metadata has
 * not arrived, so while one is cached, any invalidation drops the cache.
 *
 * Beside it, a small direct-mapped memo of where the counter of each
 * (session user, relation) lives in shared memory: a memo is checked by
 * its counter's incarnation before use, so a stale or overwritten one
 * costs a lookup, never a wrong count.
 *
 * Callers copy what they need from an entry at once: any catalog access
 * may process invalidations and free it.
 *
 * IDENTIFICATION
 *		src/cache/relinfo.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/guc.h"
#include "cache/citus.h"
#include "cache/citus_share.h"
#include "cache/relinfo.h"

/* the name of the extension, and of the schema it makes */
#define IG_SCHEMA_NAME "insider_guard"

static HTAB *relinfo_cache = NULL;

/* an entry is named like a Citus shard but none is listed: see the header */
static bool relinfo_unresolved_shard = false;

/* the entry found last: most statements read the table the last one did */
IgRelInfo  *ig_relinfo_last = NULL;

/* where the counters of recently used (user, relation) pairs are */
#define IG_REF_CACHE_SIZE 512

typedef struct IgRefCacheEntry
{
	Oid			userid;
	Oid			relid;
	IgCounterRef ref;
} IgRefCacheEntry;

static IgRefCacheEntry ref_cache[IG_REF_CACHE_SIZE];

/* Drops every entry. */
static void
flush_cache(void)
{
	ig_relinfo_last = NULL;
	relinfo_unresolved_shard = false;
	if (relinfo_cache != NULL)
	{
		hash_destroy(relinfo_cache);
		relinfo_cache = NULL;
		/* the shares go with the entries: limits are scaled again */
		if (++ig_citus_budget_gen == 0)
			ig_citus_budget_gen = 1;
	}
}

/* Relcache invalidation: drop what concerns the relation. */
static void
relinfo_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	IgRelInfo  *info;
	bool		affected = false;

	if (relinfo_cache == NULL)
		return;
	if (!OidIsValid(relid) || relinfo_unresolved_shard)
	{
		flush_cache();
		return;
	}

	/* an ancestor's change can change every descendant: flush on any hit */
	hash_seq_init(&status, relinfo_cache);
	while ((info = hash_seq_search(&status)) != NULL)
	{
		if (info->relid == relid)
			affected = true;
		for (int i = 0; i < info->nancestors && !affected; i++)
			if (info->ancestors[i] == relid)
				affected = true;
		if (affected)
		{
			hash_seq_term(&status);
			break;
		}
	}
	if (affected)
		flush_cache();
}

/*
 * Registers the invalidation callback; once per backend.
 */
void
ig_relinfo_init(void)
{
	CacheRegisterRelcacheCallback(relinfo_invalidate, (Datum) 0);
}

/* Appends a relation's direct parents (from pg_inherits) to the list. */
static void
add_parents(Relation inherits, Oid relid, Oid *ancestors, int *nancestors)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(inherits, InheritsRelidSeqnoIndexId, true,
							  NULL, 1, &key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Oid			parent = ((Form_pg_inherits) GETSTRUCT(tuple))->inhparent;
		bool		known = false;

		for (int i = 0; i < *nancestors; i++)
			if (ancestors[i] == parent)
				known = true;
		if (!known && *nancestors < IG_MAX_ANCESTORS)
			ancestors[(*nancestors)++] = parent;
	}
	systable_endscan(scan);
}

/*
 * Appends the Citus table a relation is a shard of, if any, to the list;
 * sets *unresolved if it is named like a shard none is listed for.
 */
static void
add_shard_table(Oid relid, Oid *ancestors, int *nancestors, bool *unresolved)
{
	bool		named_like_one;
	Oid			table = ig_citus_shard_table(relid, &named_like_one);

	if (named_like_one)
		*unresolved = true;
	if (!OidIsValid(table))
		return;
	for (int i = 0; i < *nancestors; i++)
		if (ancestors[i] == table)
			return;
	if (*nancestors < IG_MAX_ANCESTORS)
		ancestors[(*nancestors)++] = table;
}

/*
 * Is the relation, in schema nspid, one of insider_guard's own: a member
 * of the extension insider_guard of this database?  Only a schema named
 * insider_guard can hold them (asked first: no other relation costs a
 * lookup); a look-alike there is not.  Catalog access.
 */
bool
ig_relinfo_extension_table(Oid relid, Oid nspid)
{
	char	   *nspname = get_namespace_name(nspid);
	Oid			extoid;

	if (nspname == NULL || strcmp(nspname, IG_SCHEMA_NAME) != 0)
		return false;
	extoid = get_extension_oid(IG_SCHEMA_NAME, true);
	return OidIsValid(extoid) &&
		getExtensionOfObject(RelationRelationId, relid) == extoid;
}

/*
 * Builds an entry's contents from the catalogs; sets *unresolved if it
 * or an ancestor is named like a Citus shard that is not listed.
 */
static void
describe_relation(Oid relid, IgRelInfo *info, bool *unresolved)
{
	HeapTuple	tuple;
	Form_pg_class form;
	Oid			nspid;
	Relation	inherits;
	bool		has_inherits;

	info->relid = relid;
	info->countable = false;
	info->citus_table = false;
	info->share_state = IG_SHARE_UNKNOWN;
	info->share_local = info->share_total = 0;
	info->nancestors = 0;

	if (relid < FirstNormalObjectId)
		return;					/* catalogs and everything initdb made */

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return;
	form = (Form_pg_class) GETSTRUCT(tuple);
	info->countable =
		(form->relkind == RELKIND_RELATION ||
		 form->relkind == RELKIND_PARTITIONED_TABLE ||
		 form->relkind == RELKIND_MATVIEW ||
		 form->relkind == RELKIND_FOREIGN_TABLE) &&
		form->relpersistence != RELPERSISTENCE_TEMP &&
		!IsCatalogNamespace(form->relnamespace) &&
		!IsToastNamespace(form->relnamespace);
	nspid = form->relnamespace;
	ReleaseSysCache(tuple);
	if (info->countable && ig_relinfo_extension_table(relid, nspid))
		info->countable = false;

	if (!info->countable)
		return;
	info->citus_table = ig_citus_is_table(relid);

	/*
	 * Parents, grandparents, ...: a breadth-first walk up pg_inherits and,
	 * with Citus, from shards to their tables (a shard of a partition is a
	 * partition of the parent's shard; the tables are partitions too).  A
	 * database without partitions or inheritance has never written a page
	 * of pg_inherits: then there is nothing to look up (and no index to
	 * open).
	 */
	inherits = table_open(InheritsRelationId, AccessShareLock);
	has_inherits = RelationGetNumberOfBlocks(inherits) > 0;
	if (has_inherits)
		add_parents(inherits, relid, info->ancestors, &info->nancestors);
	add_shard_table(relid, info->ancestors, &info->nancestors, unresolved);
	for (int i = 0; i < info->nancestors; i++)
	{
		if (has_inherits)
			add_parents(inherits, info->ancestors[i], info->ancestors,
						&info->nancestors);
		add_shard_table(info->ancestors[i], info->ancestors,
						&info->nancestors, unresolved);
	}
	table_close(inherits, AccessShareLock);
}

/*
 * The entry for a relation that is not the one found last, built on
 * first use (see ig_relinfo_get).
 */
const IgRelInfo *
ig_relinfo_get_slow(Oid relid)
{
	IgRelInfo  *info;
	IgRelInfo	built;
	bool		found;
	bool		unresolved = false;

	if (relinfo_cache != NULL)
	{
		info = hash_search(relinfo_cache, &relid, HASH_FIND, NULL);
		if (info != NULL)
			return ig_relinfo_last = info;
	}

	/* catalog access first: it may process invalidations */
	describe_relation(relid, &built, &unresolved);

	if (relinfo_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(IgRelInfo);
		ctl.hcxt = CacheMemoryContext;
		relinfo_cache = hash_create("insider_guard relation cache", 256, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	info = hash_search(relinfo_cache, &relid, HASH_ENTER, &found);
	*info = built;
	/* now that it is cached: an earlier invalidation would have reset it */
	if (unresolved)
		relinfo_unresolved_shard = true;
	return ig_relinfo_last = info;
}

/*
 * The share of a Citus table's shard placements this node holds (see
 * citus_share.c): true with *local of *total, or false if the relation
 * has none (not a Citus table whose rows are split among shards, or not
 * counted).  Asked of the catalogs once per entry.  Catalog access.
 */
bool
ig_relinfo_share(Oid relid, int32 *local, int32 *total)
{
	const IgRelInfo *info = ig_relinfo_get(relid);
	IgRelInfo  *entry;
	int32		l = 0;
	int32		t = 0;
	bool		known;

	while (info->share_state == IG_SHARE_UNKNOWN)
	{
		uint32		gen = ig_citus_budget_gen;

		known = info->countable && info->citus_table &&
			ig_citus_placement_share(relid, &l, &t);
		/* the lookup may have dropped the entry: find it again */
		entry = (IgRelInfo *) ig_relinfo_get(relid);
		if (gen == ig_citus_budget_gen)
		{
			entry->share_state = known ? IG_SHARE_KNOWN : IG_SHARE_NONE;
			entry->share_local = l;
			entry->share_total = t;
		}
		/* else the placements may have changed meanwhile: ask again */
		info = entry;
	}
	*local = info->share_local;
	*total = info->share_total;
	return info->share_state == IG_SHARE_KNOWN;
}

static inline IgRefCacheEntry *
ref_cache_entry(Oid userid, Oid relid)
{
	uint32		h = (userid * 0x9E3779B1u) ^ (relid * 0x85EBCA77u);

	return &ref_cache[(h ^ (h >> 15)) & (IG_REF_CACHE_SIZE - 1)];
}

/*
 * Where the counter of (user, relation) was last seen, or an unknown memo.
 * relid InvalidOid is the user's all-tables counter.
 */
IgCounterRef
ig_ref_lookup(Oid userid, Oid relid)
{
	IgRefCacheEntry *entry = ref_cache_entry(userid, relid);
	IgCounterRef unknown = IG_COUNTER_REF_INIT;

	if (entry->userid == userid && entry->relid == relid)
		return entry->ref;
	return unknown;
}

/* Remembers where the counter of (user, relation) is. */
void
ig_ref_remember(Oid userid, Oid relid, const IgCounterRef *ref)
{
	IgRefCacheEntry *entry = ref_cache_entry(userid, relid);

	entry->userid = userid;
	entry->relid = relid;
	entry->ref = *ref;
}
