/*-------------------------------------------------------------------------
 *
 * rules_read.c
 *		Reading the rows of insider_guard.thresholds and .baseline_rules
 *		into IgRule: those naming a role, through the role indexes or by
 *		scanning; and checking that the rule tables and their indexes are
 *		those the install scripts made.
 *
 * Rules come only from the extension: the rule tables are looked up in
 * the schema of the extension insider_guard of this database, and used
 * only if they are members of the extension, plain tables, and their
 * columns that are read have the types the install scripts gave them --
 * checked again each time a table is opened to be read, so that no row is
 * ever decoded with a type it does not have.  A schema insider_guard with
 * tables of those names, which any role with CREATEDB can make in its own
 * database, is never read.
 *
 * A row missing a value the rule needs is skipped (the tables' triggers
 * refuse such rows; a restore with triggers disabled might not).  A rule's
 * window is given its counter ring here, asking the counters once per
 * distinct length until the rules are read again.  Catalog access; no
 * state but the window lengths seen.
 *
 * IDENTIFICATION
 *		src/cache/rules_read.c
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
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "shmem/counters.h"
#include "shmem/history.h"
#include "base/logtext.h"
#include "cache/rules_read.h"
#include "shmem/violations.h"

/* a column insider_guard reads, and the type the install scripts gave it */
typedef struct IgRuleColumn
{
	AttrNumber	attnum;
	Oid			typid;
} IgRuleColumn;

static const IgRuleColumn threshold_columns[] = {
	{Anum_threshold_id, INT8OID},
	{Anum_threshold_role, REGROLEOID},
	{Anum_threshold_table, REGCLASSOID},
	{Anum_threshold_max_rows, INT8OID},
	{Anum_threshold_per, INTERVALOID},
	{Anum_threshold_action, TEXTOID}
};

static const IgRuleColumn exemption_columns[] = {
	{Anum_exemption_role, REGROLEOID}
};

static const IgRuleColumn baseline_columns[] = {
	{Anum_baseline_id, INT8OID},
	{Anum_baseline_role, REGROLEOID},
	{Anum_baseline_table, REGCLASSOID},
	{Anum_baseline_per, INTERVALOID},
	{Anum_baseline_factor, FLOAT8OID},
	{Anum_baseline_min_rows, INT8OID},
	{Anum_baseline_compare_to, TEXTOID},
	{Anum_baseline_action, TEXTOID},
	{Anum_baseline_created_at, TIMESTAMPTZOID}
};

static const IgRuleColumn peer_group_columns[] = {
	{Anum_peer_group_role, REGROLEOID}
};

/* each rule table: its name, and the columns read from it (by IgRuleTable) */
static const struct
{
	const char *name;
	const IgRuleColumn *columns;
	int			ncolumns;
}			rule_tables[] = {
	{"thresholds", threshold_columns, lengthof(threshold_columns)},
	{"exemptions", exemption_columns, lengthof(exemption_columns)},
	{"baseline_rules", baseline_columns, lengthof(baseline_columns)},
	{"peer_group_roles", peer_group_columns, lengthof(peer_group_columns)}
};

/* the counter ring of each window length seen since the rules were read */
static int64 window_lengths[IG_MAX_WINDOWS];
static int	window_rings[IG_MAX_WINDOWS];
static int	nwindow_lengths = 0;

/* Forgets the window lengths seen: the rules are being read again. */
void
ig_rules_windows_reset(void)
{
	nwindow_lengths = 0;
}

/* An interval as a window length in microseconds (months count 30 days). */
static int64
interval_length(Interval *per)
{
	return per->time + (int64) per->day * USECS_PER_DAY +
		(int64) per->month * 30 * USECS_PER_DAY;
}

/* The history kind a baseline rule's window length keeps (IG_HIST_*). */
static inline int
hist_kind_of(int64 per)
{
	return per >= 7 * USECS_PER_DAY ? IG_HIST_WEEK :
		per >= USECS_PER_DAY ? IG_HIST_DAY : IG_HIST_HOUR;
}

/*
 * The counter ring answering a window length; the few distinct lengths
 * are asked of the counters once each (until the rules are read again).
 */
static int
window_ring(int64 per, TimestampTz now)
{
	for (int i = 0; i < nwindow_lengths; i++)
		if (window_lengths[i] == per)
			return window_rings[i];
	if (nwindow_lengths < IG_MAX_WINDOWS)
	{
		window_lengths[nwindow_lengths] = per;
		window_rings[nwindow_lengths] = ig_counters_window_ring(per, now);
		return window_rings[nwindow_lengths++];
	}
	return ig_counters_window_ring(per, now);
}

/*
 * The stamp of a rule as read (IgRule.stamp): its id and settings,
 * hashed.  A rule changed in place, or made anew with other settings and
 * an id that came back, is another version: its incidents start afresh.
 * Not created_at, which set_threshold moves even when it changes nothing
 * (a rule applied again on a schedule would start a record each time).
 */
static uint32
rule_stamp(const IgRule *rule)
{
	struct
	{
		int64		id;
		int64		max_rows;	/* a threshold's; a baseline rule's moves */
		int64		per;
		double		factor;
		int64		min_rows;
		Oid			roleid;
		Oid			relid;
		int32		compare_to;
		bool		block;
		bool		novelty;
	}			key;
	uint32		stamp;

	memset(&key, 0, sizeof(key));
	key.id = rule->id;
	key.max_rows = rule->baseline ? 0 : rule->max_rows;
	key.per = rule->per;
	key.factor = rule->factor;
	key.min_rows = rule->min_rows;
	key.roleid = rule->roleid;
	key.relid = rule->relid;
	key.compare_to = (int32) rule->compare_to;
	key.block = rule->block;
	key.novelty = rule->novelty;
	stamp = hash_bytes((const unsigned char *) &key, sizeof(key));
	return stamp != 0 ? stamp : 1;
}

/* Room for one more rule in buf. */
static IgRule *
buf_new_rule(IgRuleBuf *buf)
{
	IgRule	   *rule;

	if (buf->nrules == buf->allocated)
	{
		buf->allocated *= 2;
		buf->rules = repalloc(buf->rules, sizeof(IgRule) * buf->allocated);
	}
	rule = &buf->rules[buf->nrules++];
	memset(rule, 0, sizeof(IgRule));
	return rule;
}

/* Is a text column's value this word (a literal)?  Without copying it. */
#define text_is(value, word) text_equals((value), (word), sizeof(word) - 1)

static inline bool
text_equals(Datum value, const char *word, size_t len)
{
	struct varlena *t = (struct varlena *) DatumGetPointer(value);

	if (VARATT_IS_EXTENDED(t) && !VARATT_IS_SHORT(t))
		t = pg_detoast_datum_packed(t);
	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), word, len) == 0;
}

/*
 * Adds a thresholds row to buf if it names the role (InvalidOid: none;
 * IG_ANY_ROLE: any).
 */
static void
add_rule_row(TupleTableSlot *slot, Oid roleid, IgRuleBuf *buf)
{
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;
	IgRule	   *rule;
	Oid			role;

	slot_getsomeattrs(slot, Natts_threshold_min);
	role = nulls[Anum_threshold_role - 1] ? InvalidOid :
		DatumGetObjectId(values[Anum_threshold_role - 1]);
	if ((role != roleid && roleid != IG_ANY_ROLE) ||
		nulls[Anum_threshold_id - 1] || nulls[Anum_threshold_max_rows - 1] ||
		nulls[Anum_threshold_per - 1] || nulls[Anum_threshold_action - 1])
		return;

	rule = buf_new_rule(buf);
	rule->id = DatumGetInt64(values[Anum_threshold_id - 1]);
	rule->roleid = role;
	rule->relid = nulls[Anum_threshold_table - 1] ? InvalidOid :
		DatumGetObjectId(values[Anum_threshold_table - 1]);
	rule->max_rows = DatumGetInt64(values[Anum_threshold_max_rows - 1]);
	rule->set_rows = rule->max_rows;
	rule->per = interval_length(DatumGetIntervalP(values[Anum_threshold_per - 1]));
	rule->block = text_is(values[Anum_threshold_action - 1], "block");
	rule->window = window_ring(rule->per, buf->now);
	rule->stamp = rule_stamp(rule);
}

/*
 * Adds a baseline_rules row to buf if it names the role (as add_rule_row):
 * a threshold whose max_rows is set per user (baseline.c), inert until
 * then.  Returns it, or NULL.
 */
IgRule *
ig_rules_baseline_row(TupleTableSlot *slot, Oid roleid, IgRuleBuf *buf)
{
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;
	IgRule	   *rule;
	Datum		compare_to;
	Oid			role;
	int64		per;

	slot_getsomeattrs(slot, Natts_baseline_min);
	for (int i = 0; i < Natts_baseline_min; i++)
		if (nulls[i] && i + 1 != Anum_baseline_role && i + 1 != Anum_baseline_table)
			return NULL;
	role = nulls[Anum_baseline_role - 1] ? InvalidOid :
		DatumGetObjectId(values[Anum_baseline_role - 1]);
	if (role != roleid && roleid != IG_ANY_ROLE)
		return NULL;

	rule = buf_new_rule(buf);
	rule->id = DatumGetInt64(values[Anum_baseline_id - 1]);
	rule->roleid = role;
	rule->relid = nulls[Anum_baseline_table - 1] ? InvalidOid :
		DatumGetObjectId(values[Anum_baseline_table - 1]);
	per = interval_length(DatumGetIntervalP(values[Anum_baseline_per - 1]));
	rule->hist_kind = hist_kind_of(per);
	rule->per = ig_hist_kind_span(rule->hist_kind);
	rule->factor = DatumGetFloat8(values[Anum_baseline_factor - 1]);
	rule->min_rows = DatumGetInt64(values[Anum_baseline_min_rows - 1]);
	compare_to = values[Anum_baseline_compare_to - 1];
	rule->compare_to = text_is(compare_to, "peers") ? IG_COMPARE_PEERS :
		text_is(compare_to, "both") ? IG_COMPARE_BOTH : IG_COMPARE_SELF;
	/* a novelty rule: per day, on every table (matching copies it) */
	rule->novelty = text_is(compare_to, "novelty");
	if (rule->novelty)
	{
		rule->since = DatumGetTimestampTz(values[Anum_baseline_created_at - 1]);
		rule->relid = InvalidOid;
		rule->hist_kind = IG_HIST_DAY;
		rule->per = USECS_PER_DAY;
	}
	rule->block = text_is(values[Anum_baseline_action - 1], "block");
	rule->baseline = true;
	rule->max_rows = IG_RULE_INERT;
	rule->cold_start = false;
	rule->window = window_ring(rule->per, buf->now);
	rule->stamp = rule_stamp(rule);
	return rule;
}

/*
 * The relation and history kind a row of the baseline rules keeps history
 * of, as ig_rules_baseline_row reads it and a relation's rules are then
 * told from its relid: false for a row it skips, and for a novelty rule
 * naming a table (its relid is read as all tables'); a novelty rule of all
 * tables keeps daily history.  Decodes no more than that: for the scan of
 * every rule that finds the history kinds of each relation.
 */
bool
ig_rules_baseline_row_kind(TupleTableSlot *slot, Oid *relid, int *kind)
{
	Datum		table;
	Datum		per;
	Datum		compare_to;
	bool		no_table;
	bool		novelty;
	bool		should_free;
	HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);

	if (!HeapTupleHasNulls(tuple) &&
		HeapTupleHeaderGetNatts(tuple->t_data) >= Natts_baseline_min)
	{
		/* nothing missing: three columns at their cached offsets */
		TupleDesc	desc = slot->tts_tupleDescriptor;
		bool		isnull;

		table = fastgetattr(tuple, Anum_baseline_table, desc, &isnull);
		no_table = false;
		per = fastgetattr(tuple, Anum_baseline_per, desc, &isnull);
		compare_to = fastgetattr(tuple, Anum_baseline_compare_to, desc, &isnull);
	}
	else
	{
		Datum	   *values = slot->tts_values;
		bool	   *nulls = slot->tts_isnull;

		/* as ig_rules_baseline_row reads it */
		slot_getsomeattrs(slot, Natts_baseline_min);
		for (int i = 0; i < Natts_baseline_min; i++)
			if (nulls[i] && i + 1 != Anum_baseline_role && i + 1 != Anum_baseline_table)
			{
				if (should_free)
					heap_freetuple(tuple);
				return false;
			}
		table = values[Anum_baseline_table - 1];
		no_table = nulls[Anum_baseline_table - 1];
		per = values[Anum_baseline_per - 1];
		compare_to = values[Anum_baseline_compare_to - 1];
	}
	*relid = no_table ? InvalidOid : DatumGetObjectId(table);
	novelty = text_is(compare_to, "novelty");
	*kind = novelty ? IG_HIST_DAY :
		hist_kind_of(interval_length(DatumGetIntervalP(per)));
	if (should_free)
		heap_freetuple(tuple);
	/* a novelty rule's relid is read as all tables' */
	return !novelty || no_table;
}

/* Adds a row of the thresholds or (baseline) of the baseline rules. */
static inline void
add_row(TupleTableSlot *slot, Oid roleid, bool baseline, IgRuleBuf *buf)
{
	if (baseline)
		(void) ig_rules_baseline_row(slot, roleid, buf);
	else
		add_rule_row(slot, roleid, buf);
}

/*
 * Reads the rules naming a role (InvalidOid: naming no role) into buf:
 * through the role index if there is one, else by scanning the table.
 * Of the thresholds, or (baseline) of the baseline rules.
 */
void
ig_rules_read_role(Relation heap, Relation index, Snapshot snapshot,
				   Oid roleid, bool baseline, IgRuleBuf *buf)
{
	TupleTableSlot *slot = table_slot_create(heap, NULL);

	if (index != NULL)
	{
		ScanKeyData key;
		IndexScanDesc scan;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(roleid));
		scan = ig_index_beginscan(heap, index, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
			add_row(slot, roleid, baseline, buf);
		index_endscan(scan);
	}
	else
	{
		TableScanDesc scan = table_beginscan_strat(heap, snapshot, 0, NULL,
												   true, false);

		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
			add_row(slot, roleid, baseline, buf);
		table_endscan(scan);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* Strips binary-compatible casts. */
static Node *
strip_relabel(Node *node)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/*
 * An index of the install script, if it is as the script made it: a
 * valid btree on heap whose first column is COALESCE(column::oid, 0::oid)
 * -- so that looking up an OID (or 0) finds exactly the rows naming it
 * (or NULL).  InvalidOid otherwise.
 */
Oid
ig_rules_find_index(Relation heap, Oid nspid, const char *name,
					AttrNumber column)
{
	Oid			indexoid = get_relname_relid(name, nspid);
	Relation	index;
	bool		usable = false;

	if (!OidIsValid(indexoid) || get_rel_relkind(indexoid) != RELKIND_INDEX)
		return InvalidOid;
	index = index_open(indexoid, AccessShareLock);
	if (index->rd_index->indrelid == RelationGetRelid(heap) &&
		index->rd_index->indisvalid &&
		index->rd_rel->relam == BTREE_AM_OID &&
		index->rd_index->indnkeyatts >= 1 &&
		index->rd_index->indkey.values[0] == 0 &&
		index->rd_opfamily[0] == OID_BTREE_FAM_OID)
	{
		List	   *exprs = RelationGetIndexExpressions(index);
		CoalesceExpr *coalesce = exprs != NIL ? (CoalesceExpr *) linitial(exprs) : NULL;

		if (coalesce != NULL && IsA(coalesce, CoalesceExpr) &&
			coalesce->coalescetype == OIDOID &&
			list_length(coalesce->args) == 2)
		{
			Var		   *var = (Var *) strip_relabel(linitial(coalesce->args));
			Const	   *zero = (Const *) strip_relabel(lsecond(coalesce->args));

			usable = var != NULL && IsA(var, Var) &&
				var->varattno == column &&
				zero != NULL && IsA(zero, Const) &&
				zero->consttype == OIDOID && !zero->constisnull &&
				DatumGetObjectId(zero->constvalue) == InvalidOid;
		}
	}
	index_close(index, AccessShareLock);
	return usable ? indexoid : InvalidOid;
}

/* Reads the rules naming each of the roles through a role index. */
void
ig_rules_read_roles(Oid heapoid, Oid indexoid, bool baseline,
					Snapshot snapshot, List *roles, IgRuleBuf *buf)
{
	Relation	heap = table_open(heapoid, AccessShareLock);
	Relation	index = index_open(indexoid, AccessShareLock);
	ListCell   *lc;

	/* (changed since it was checked: the rules are read again) */
	if (ig_rules_table_problem(heap, baseline ? IG_TABLE_BASELINE_RULES :
							   IG_TABLE_THRESHOLDS) == NULL)
		foreach(lc, roles)
			ig_rules_read_role(heap, index, snapshot, lfirst_oid(lc), baseline,
							   buf);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
}

/*
 * The tables whose contents the extension's scripts registered with
 * pg_extension_config_dump (pg_extension.extconfig), which accepts only
 * members of the extension: all its rule tables are.  A proof of
 * membership that needs no scan of pg_depend.
 */
static Oid *config_tables = NULL;
static int	nconfig_tables = 0;
static int	config_tables_allocated = 0;

/* Remembers the OIDs of an extconfig array. */
static void
remember_config_tables(ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) != 1 || ARR_ELEMTYPE(array) != OIDOID)
		return;
	deconstruct_array(array, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n > config_tables_allocated)
	{
		config_tables_allocated = Max(n, 8);
		config_tables = config_tables == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * config_tables_allocated) :
			repalloc(config_tables, sizeof(Oid) * config_tables_allocated);
	}
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			config_tables[nconfig_tables++] = DatumGetObjectId(elems[i]);
	pfree(elems);
	pfree(nulls);
}

/* Is a relation one of the extension's config tables? */
static bool
is_config_table(Oid relid)
{
	for (int i = 0; i < nconfig_tables; i++)
		if (config_tables[i] == relid)
			return true;
	return false;
}

/*
 * The extension insider_guard of this database, and its schema in
 * *nspid; InvalidOid (both) if it is not installed.  One lookup in
 * pg_extension.
 */
Oid
ig_rules_find_extension(Oid *nspid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			extoid = InvalidOid;

	*nspid = InvalidOid;
	nconfig_tables = 0;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("insider_guard"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tuple);

		bool		isnull;
		Datum		config;

		extoid = form->oid;
		*nspid = form->extnamespace;
		config = heap_getattr(tuple, Anum_pg_extension_extconfig,
							  RelationGetDescr(rel), &isnull);
		if (!isnull)
			remember_config_tables(DatumGetArrayTypeP(config));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return extoid;
}

/* The name of a rule table, as the install scripts call it. */
const char *
ig_rules_table_name(IgRuleTable which)
{
	return rule_tables[which].name;
}

/*
 * A rule table of the extension extoid, found by its name in the
 * extension's schema nspid, if it is a member of the extension and a
 * plain table; InvalidOid otherwise.  Its columns are checked when it is
 * opened (ig_rules_table_problem).  *named is the relation of that name,
 * member or not (InvalidOid if there is none); *problem says why it is not
 * used when one was found (else NULL).  Catalog access, but no lock: a
 * relation that is not the extension's is never opened.
 */
Oid
ig_rules_find_table(Oid extoid, Oid nspid, IgRuleTable which, Oid *named,
					const char **problem)
{
	Oid			relid = get_relname_relid(rule_tables[which].name, nspid);

	*named = relid;
	*problem = NULL;
	if (!OidIsValid(relid))
		return InvalidOid;
	if (!is_config_table(relid))
		*problem = "CREATE EXTENSION insider_guard did not make it";
	else if (get_rel_relkind(relid) != RELKIND_RELATION)
		*problem = "it is not a table, unlike the one CREATE EXTENSION insider_guard makes";
	return *problem == NULL ? relid : InvalidOid;
}

/*
 * Why an opened rule table cannot be read (palloc'd), or NULL if it can:
 * each column insider_guard reads from it must be there, not dropped,
 * and of the type the install scripts gave it.
 */
const char *
ig_rules_table_problem(Relation rel, IgRuleTable which)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < rule_tables[which].ncolumns; i++)
	{
		const IgRuleColumn *column = &rule_tables[which].columns[i];
		Form_pg_attribute attr;

		if (column->attnum > desc->natts ||
			(attr = TupleDescAttr(desc, column->attnum - 1))->attisdropped)
			return psprintf("its column %d is missing, unlike in the table CREATE EXTENSION insider_guard makes",
							column->attnum);
		if (attr->atttypid != column->typid)
			return psprintf("its column %s is of type %s, not %s as in the table CREATE EXTENSION insider_guard makes",
							ig_log_quote(NameStr(attr->attname)),
							ig_log_quote(format_type_be(attr->atttypid)),
							format_type_be(column->typid));
	}
	return NULL;
}

