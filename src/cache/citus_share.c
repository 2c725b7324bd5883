/*-------------------------------------------------------------------------
 *
 * citus_share.c
 *		Which share of a distributed table's shard placements this Citus
 *		node holds: the part of a rule's limit it enforces when the limit
 *		is shared across the cluster (insider_guard.citus_budget = share).
 *
 * Read at run time from Citus' catalog tables, like citus.c, without its
 * headers or functions:
 *
 *	pg_dist_partition	(logicalrelid regclass, partmethod "char"), by its
 *						index pg_dist_partition_logical_relid_index: only a
 *						table whose rows are split among its shards (hash,
 *						range or append: partmethod 'h', 'r', 'a') has a
 *						share; reference tables, Citus local tables and
 *						single-shard tables ('n') are read whole on one
 *						node per statement
 *	pg_dist_local_group	(groupid int4): this node's group
 *	pg_dist_shard		(logicalrelid, shardid int8), by its index
 *						pg_dist_shard_logical_relid_index: the table's
 *						shards
 *	pg_dist_placement	(shardid int8, groupid int4), by its index
 *						pg_dist_placement_shardid_index: where each is
 *
 * A catalog table or index not laid out so is taken for no Citus: no
 * share.  Nothing is cached here: relinfo.c keeps the answer with the
 * table's entry, which Citus' invalidations drop when the table's shards
 * or placements change (a shard move, a rebalance, a split).
 *
 * IDENTIFICATION
 *		src/cache/citus_share.c
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

#include "cache/citus.h"
#include "cache/citus_share.h"

/*
 * A Citus catalog table of pg_catalog opened with a B-tree index whose
 * first column is key_column (of type key_type, or key_type2 stored with
 * key_type's opclass): false, with nothing open, if either is missing or
 * laid out otherwise.
 */
static bool
open_catalog(const char *tablename, const char *indexname,
			 const char *key_column, Oid key_type, Oid key_type2,
			 Relation *table, Relation *index, AttrNumber *key_att)
{
	Oid			tableoid = get_relname_relid(tablename, PG_CATALOG_NAMESPACE);
	Oid			indexoid;

	if (!OidIsValid(tableoid) || get_rel_relkind(tableoid) != RELKIND_RELATION)
		return false;
	indexoid = get_relname_relid(indexname, PG_CATALOG_NAMESPACE);
	if (!OidIsValid(indexoid) || get_rel_relkind(indexoid) != RELKIND_INDEX)
		return false;
	*table = table_open(tableoid, AccessShareLock);
	*index = index_open(indexoid, AccessShareLock);
	*key_att = ig_citus_column(RelationGetDescr(*table), key_column, key_type,
							 key_type2);
	if (*key_att != 0 &&
		(*index)->rd_index->indrelid == tableoid &&
		(*index)->rd_rel->relam == BTREE_AM_OID &&
		(*index)->rd_index->indnkeyatts >= 1 &&
		(*index)->rd_index->indkey.values[0] == *key_att &&
		(*index)->rd_opcintype[0] == key_type)
		return true;
	index_close(*index, AccessShareLock);
	table_close(*table, AccessShareLock);
	return false;
}

static void
close_catalog(Relation table, Relation index)
{
	index_close(index, AccessShareLock);
	table_close(table, AccessShareLock);
}

/*
 * Whether the rows of the Citus table are split among its shards: its
 * pg_dist_partition row has partmethod 'h', 'r' or 'a'.
 */
static bool
rows_are_split(Oid relid)
{
	Relation	table;
	Relation	index;
	AttrNumber	key_att;
	AttrNumber	method_att;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		split = false;

	if (!open_catalog("pg_dist_partition",
					  "pg_dist_partition_logical_relid_index", "logicalrelid",
					  OIDOID, REGCLASSOID, &table, &index, &key_att))
		return false;
	method_att = ig_citus_column(RelationGetDescr(table), "partmethod",
							   CHAROID, CHAROID);
	if (method_att != 0)
	{
		ScanKeyInit(&key, key_att, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(relid));
		scan = systable_beginscan(table, RelationGetRelid(index), true, NULL,
								  1, &key);
		while ((tuple = systable_getnext(scan)) != NULL)
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, method_att,
										 RelationGetDescr(table), &isnull);

			if (!isnull)
			{
				char		method = DatumGetChar(d);

				split = (method == 'h' || method == 'r' || method == 'a');
			}
		}
		systable_endscan(scan);
	}
	close_catalog(table, index);
	return split;
}

/* The table's shard ids (palloc'd), from pg_dist_shard; -1 if unreadable. */
static int
table_shards(Oid relid, int64 **shardids)
{
	Relation	table;
	Relation	index;
	AttrNumber	key_att;
	AttrNumber	shard_att;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			n = 0;
	int			allocated = 64;

	if (!open_catalog("pg_dist_shard", "pg_dist_shard_logical_relid_index",
					  "logicalrelid", OIDOID, REGCLASSOID,
					  &table, &index, &key_att))
		return -1;
	shard_att = ig_citus_column(RelationGetDescr(table), "shardid",
							  INT8OID, INT8OID);
	if (shard_att == 0)
	{
		close_catalog(table, index);
		return -1;
	}
	*shardids = palloc(sizeof(int64) * allocated);
	ScanKeyInit(&key, key_att, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(table, RelationGetRelid(index), true, NULL,
							  1, &key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, shard_att, RelationGetDescr(table),
									 &isnull);

		if (isnull)
			continue;
		if (n == allocated)
		{
			allocated *= 2;
			*shardids = repalloc(*shardids, sizeof(int64) * allocated);
		}
		(*shardids)[n++] = DatumGetInt64(d);
	}
	systable_endscan(scan);
	close_catalog(table, index);
	return n;
}

/*
 * The placements of the shards in pg_dist_placement: all of them
 * (*total), and those of the group (*local).  False if unreadable.
 */
static bool
count_placements(const int64 *shardids, int nshards, int32 group,
				 int32 *local, int32 *total)
{
	Relation	table;
	Relation	index;
	AttrNumber	key_att;
	AttrNumber	group_att;

	*local = *total = 0;
	if (!open_catalog("pg_dist_placement", "pg_dist_placement_shardid_index",
					  "shardid", INT8OID, INT8OID, &table, &index, &key_att))
		return false;
	group_att = ig_citus_column(RelationGetDescr(table), "groupid",
							  INT4OID, INT4OID);
	for (int i = 0; i < nshards && group_att != 0; i++)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tuple;

		ScanKeyInit(&key, key_att, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(shardids[i]));
		scan = systable_beginscan(table, RelationGetRelid(index), true, NULL,
								  1, &key);
		while ((tuple = systable_getnext(scan)) != NULL)
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, group_att,
										 RelationGetDescr(table), &isnull);

			if (isnull || *total == PG_INT32_MAX)
				continue;
			(*total)++;
			*local += (DatumGetInt32(d) == group);
		}
		systable_endscan(scan);
	}
	close_catalog(table, index);
	return group_att != 0;
}

/*
 * The share of a Citus table's shard placements this node holds: true,
 * with *local of *total placements here, if the relation is a Citus
 * table whose rows are split among its shards, this node knows its group,
 * and the table has placements; else false (no share: the whole limit).
 * Catalog access.
 */
bool
ig_citus_placement_share(Oid relid, int32 *local, int32 *total)
{
	int32		group;
	int64	   *shardids = NULL;
	int			nshards;
	bool		known;

	*local = *total = 0;
	if (!rows_are_split(relid) || (group = ig_citus_local_group()) < 0)
		return false;
	nshards = table_shards(relid, &shardids);
	if (nshards <= 0)
		return false;
	known = count_placements(shardids, nshards, group, local, total);
	pfree(shardids);
	return known && *total > 0;
}
