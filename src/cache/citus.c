/*-------------------------------------------------------------------------
 *
 * citus.c
 *		Which Citus table a shard belongs to, so that reading a shard
 *		counts for the table the DBA knows and names in rules.
 *
 * Citus keeps a distributed table's rows in shards: ordinary tables named
 * <table>_<shard id>, in the table's schema, on the workers (and, for
 * reference tables and Citus local tables, on the coordinator too).  Its
 * catalog table pg_catalog.pg_dist_shard maps each shard id to its table
 * (logicalrelid, this node's OID of it); Citus keeps it on the coordinator
 * and, with the metadata synced to the workers (the default since Citus
 * 11), on every worker, where the table itself exists as an empty shell.
 *
 * Citus is found at run time, by that catalog table: insider_guard has no
 * build or load dependency on it.  A relation is a shard of table T when
 * the database has pg_catalog.pg_dist_shard with the columns logicalrelid
 * (regclass) and shardid (bigint) and a B-tree index on shardid; the
 * relation's name ends in "_<digits>", the digits a shard id listed there
 * for T (written as Citus writes it: no leading zeros); and T is another
 * relation.  Neither what comes before the suffix nor the schema is
 * checked: the owner of T can rename T's shell, or move it to another
 * schema, on a worker alone (DDL propagation off), after which Citus --
 * which names shards after T's name and schema on the coordinator -- still
 * reads shards no name or schema check would tie to the shell.  A table
 * that only borrows a shard id counts for T as well as for itself: its
 * reads count more, never less.  A shard may not be renamed so that its
 * name loses the suffix (utility.c asks ig_citus_rename_keeps_shard);
 * Citus' own renames of shards keep it.
 *
 * Also: whether a relation is a Citus table itself (pg_dist_partition
 * lists it), whose rows are only ever read from its shards -- on the
 * workers, or on this node through Citus' own connections -- so that a
 * COPY of it is not counted here as well (copy.c).
 *
 * Nothing is cached here: relinfo.c asks once per relation and keeps the
 * answers until an invalidation concerns it (Citus invalidates a table
 * when its rows in pg_dist_partition or pg_dist_shard change).
 *
 * IDENTIFICATION
 *		src/cache/citus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type_d.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "cache/citus.h"

/*
 * The shard id a relation's name ends with ("customers_102008"), or 0 if
 * it does not end in "_<digits>".
 */
static int64
shard_id_of_name(const char *relname)
{
	const char *digits = strrchr(relname, '_');
	char	   *end;
	int64		shardid;

	if (digits == NULL || digits == relname)
		return 0;
	digits++;
	/* at most 18 digits: no overflow, and no sign or space strtoi64 takes */
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits) ||
		strlen(digits) > 18)
		return 0;
	errno = 0;
	shardid = strtoi64(digits, &end, 10);
	if (errno != 0 || *end != '\0' || shardid <= 0)
		return 0;
	return shardid;
}

/*
 * The number of a Citus catalog table's column of that name and one of
 * those types, or 0: Citus' catalogs are read without its headers, so
 * their layout is checked before use.
 */
AttrNumber
ig_citus_column(TupleDesc desc, const char *name, Oid type1, Oid type2)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return (att->atttypid == type1 || att->atttypid == type2) ?
				att->attnum : 0;
	}
	return 0;
}

/*
 * A Citus catalog table of pg_catalog, as this file reads it: looked up
 * by one key column through a unique B-tree index on it, for the
 * logicalrelid column of the row found.
 */
typedef struct IgCitusCatalog
{
	const char *table;
	const char *index;
	const char *key_column;
	Oid			key_type;		/* the column's, and the index opclass's */
	RegProcedure key_eq;
} IgCitusCatalog;

static const IgCitusCatalog dist_shard = {
	"pg_dist_shard", "pg_dist_shard_shardid_index", "shardid",
	INT8OID, F_INT8EQ
};

static const IgCitusCatalog dist_partition = {
	"pg_dist_partition", "pg_dist_partition_logical_relid_index",
	"logicalrelid", OIDOID, F_OIDEQ
};

/*
 * The logicalrelid of the row of the catalog whose key is key, or
 * InvalidOid if none.  Sets *present if the database has that catalog
 * table shaped as described (and its index): Citus is there.
 */
static Oid
catalog_logical_relid(const IgCitusCatalog *catalog, Datum key, bool *present)
{
	Oid			tableoid = get_relname_relid(catalog->table, PG_CATALOG_NAMESPACE);
	Oid			indexoid;
	Relation	table;
	Relation	index;
	AttrNumber	logical_att;
	AttrNumber	key_att;
	bool		usable;
	ScanKeyData scankey;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			logical = InvalidOid;

	*present = false;
	if (!OidIsValid(tableoid) || get_rel_relkind(tableoid) != RELKIND_RELATION)
		return InvalidOid;		/* no Citus in this database */
	indexoid = get_relname_relid(catalog->index, PG_CATALOG_NAMESPACE);
	if (!OidIsValid(indexoid) || get_rel_relkind(indexoid) != RELKIND_INDEX)
		return InvalidOid;

	table = table_open(tableoid, AccessShareLock);
	index = index_open(indexoid, AccessShareLock);
	logical_att = ig_citus_column(RelationGetDescr(table), "logicalrelid",
							REGCLASSOID, OIDOID);
	/* a regclass key is indexed with oid_ops */
	key_att = ig_citus_column(RelationGetDescr(table), catalog->key_column,
						catalog->key_type,
						catalog->key_type == OIDOID ? REGCLASSOID : catalog->key_type);
	usable = logical_att != 0 && key_att != 0 &&
		index->rd_index->indrelid == tableoid &&
		index->rd_rel->relam == BTREE_AM_OID &&
		index->rd_index->indnkeyatts >= 1 &&
		index->rd_index->indkey.values[0] == key_att &&
		index->rd_opcintype[0] == catalog->key_type;
	if (usable)
	{
		*present = true;
		/* in the table's numbering: systable_beginscan maps it to the index */
		ScanKeyInit(&scankey, key_att, BTEqualStrategyNumber, catalog->key_eq,
					key);
		scan = systable_beginscan(table, indexoid, true, NULL, 1, &scankey);
		while ((tuple = systable_getnext(scan)) != NULL)
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, logical_att,
										 RelationGetDescr(table), &isnull);

			if (!isnull)
				logical = DatumGetObjectId(d);
		}
		systable_endscan(scan);
	}
	index_close(index, AccessShareLock);
	table_close(table, AccessShareLock);
	return logical;
}

/*
 * True if the relation is a Citus table -- distributed, reference or
 * Citus local: pg_dist_partition lists it.  Its rows are read from its
 * shards, where they are counted, never from it.  Catalog access.
 */
bool
ig_citus_is_table(Oid relid)
{
	bool		present;

	return OidIsValid(catalog_logical_relid(&dist_partition,
											ObjectIdGetDatum(relid),
											&present));
}

/*
 * The Citus table (this node's OID of it) whose shard has that id, or
 * InvalidOid.  Catalog access.
 */
Oid
ig_citus_table_of_shard(int64 shardid)
{
	bool		present;

	return catalog_logical_relid(&dist_shard, Int64GetDatum(shardid),
								 &present);
}

/*
 * The least shard id of a Citus table, or 0: what names the table between
 * nodes whatever it is called on each (its owner can rename it on a worker
 * alone).  Catalog access.
 */
int64
ig_citus_table_shard(Oid relid)
{
	Oid			tableoid = get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE);
	Relation	table;
	TupleDesc	desc;
	AttrNumber	logical_att;
	AttrNumber	shard_att;
	SysScanDesc scan;
	HeapTuple	tuple;
	int64		least = 0;

	if (!OidIsValid(tableoid) || get_rel_relkind(tableoid) != RELKIND_RELATION)
		return 0;
	table = table_open(tableoid, AccessShareLock);
	desc = RelationGetDescr(table);
	logical_att = ig_citus_column(desc, "logicalrelid", REGCLASSOID, OIDOID);
	shard_att = ig_citus_column(desc, "shardid", INT8OID, INT8OID);
	if (logical_att != 0 && shard_att != 0)
	{
		scan = systable_beginscan(table, InvalidOid, false, NULL, 0, NULL);
		while ((tuple = systable_getnext(scan)) != NULL)
		{
			bool		null1;
			bool		null2;
			Datum		logical = heap_getattr(tuple, logical_att, desc, &null1);
			Datum		shard = heap_getattr(tuple, shard_att, desc, &null2);

			if (!null1 && !null2 && DatumGetObjectId(logical) == relid &&
				(least == 0 || DatumGetInt64(shard) < least))
				least = DatumGetInt64(shard);
		}
		systable_endscan(scan);
	}
	table_close(table, AccessShareLock);
	return least;
}

/*
 * The table of which the relation is a Citus shard -- a distributed,
 * reference or Citus local table -- or InvalidOid.  Sets *unresolved if
 * the relation could become one without an invalidation of its own: its
 * name ends in "_<digits>" in a database with Citus, and no shard of that
 * id is listed (yet).  Catalog access.
 */
Oid
ig_citus_shard_table(Oid relid, bool *unresolved)
{
	HeapTuple	tuple;
	char		relname[NAMEDATALEN];
	int64		shardid;
	bool		present;
	Oid			logical;
	char		suffix[32];

	*unresolved = false;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	strlcpy(relname, NameStr(((Form_pg_class) GETSTRUCT(tuple))->relname),
			NAMEDATALEN);
	ReleaseSysCache(tuple);

	if ((shardid = shard_id_of_name(relname)) == 0)
		return InvalidOid;
	logical = catalog_logical_relid(&dist_shard, Int64GetDatum(shardid),
									&present);
	if (!OidIsValid(logical))
	{
		*unresolved = present;
		return InvalidOid;
	}

	if (logical == relid)
		return InvalidOid;

	/*
	 * The suffix as Citus writes it (no leading zeros), whatever comes
	 * before it, in any schema: T's shell may carry another name, or be in
	 * another schema, here than on the coordinator, after which Citus
	 * names the shards.
	 */
	snprintf(suffix, sizeof(suffix), "_" INT64_FORMAT, shardid);
	if (strlen(relname) <= strlen(suffix) ||
		strcmp(relname + strlen(relname) - strlen(suffix), suffix) != 0)
		return InvalidOid;
	return logical;
}

/*
 * Whether the relation may be renamed to newname: not if it is a Citus
 * shard now and newname does not end in its "_<shardid>" -- the one thing
 * by which a shard is tied to its table here.  Catalog access.
 */
bool
ig_citus_rename_keeps_shard(Oid relid, const char *newname)
{
	bool		unresolved;
	char	   *relname;
	int64		shardid;
	char		suffix[32];

	if (!OidIsValid(ig_citus_shard_table(relid, &unresolved)) ||
		(relname = get_rel_name(relid)) == NULL)
		return true;
	shardid = shard_id_of_name(relname);
	pfree(relname);
	snprintf(suffix, sizeof(suffix), "_" INT64_FORMAT, shardid);
	return strlen(newname) > strlen(suffix) &&
		strcmp(newname + strlen(newname) - strlen(suffix), suffix) == 0;
}

/*
 * This node's Citus group, from pg_dist_local_group (read directly, no
 * Citus function called): 0 on the coordinator (and on a node not in a
 * cluster yet), another on a worker whose metadata Citus synced; -1 if
 * the database has no such table laid out as Citus' (no Citus).  Catalog
 * access.
 */
int32
ig_citus_local_group(void)
{
	Oid			relid = get_relname_relid("pg_dist_local_group",
										  PG_CATALOG_NAMESPACE);
	Relation	rel;
	TupleDesc	desc;
	int32		group = -1;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return -1;
	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	if (desc->natts >= 1 && !TupleDescAttr(desc, 0)->attisdropped &&
		TupleDescAttr(desc, 0)->atttypid == INT4OID)
	{
		SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL,
											  0, NULL);
		HeapTuple	tuple = systable_getnext(scan);

		if (HeapTupleIsValid(tuple))
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, 1, desc, &isnull);

			if (!isnull && DatumGetInt32(d) >= 0)
				group = DatumGetInt32(d);
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
	return group;
}
