/*-------------------------------------------------------------------------
 *
 * statement_keys.c
 *		A running statement's keys -- each table it reads, the table's
 *		ancestors, and all tables -- with the rules covering the session
 *		user for each; and its counted nodes, with the keys each counts
 *		towards.
 *
 * A key is a tally (the counter it adds to, the rows pending for it) and,
 * if rules cover it, their per-statement state (IgKeyRules: the window
 * counts read for them, the rows left).  The all-tables key is always the
 * first.  Most statements need few keys and nodes: they live in the
 * IgStmt's inline arrays, which grow into es_query_cxt when a statement
 * needs more.
 *
 * An inline key left by the last statement run in the same IgStmt, for
 * the same session user and rules, is taken over with its counter memo
 * and its rules (stmt_key): consecutive statements mostly read the same
 * tables.
 *
 * IDENTIFICATION
 *		src/exec/statement_keys.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "exec/statement_internal.h"

/* Per-statement rule state for a key: inline if it fits. */
static IgKeyRules *
key_rules_new(IgStmt *stmt, IgRuleList *list, int key)
{
	MemoryContext cxt = stmt->estate->es_query_cxt;
	IgKeyRules *kr;

	if (key < IG_INLINE_KEYS)
		kr = &stmt->inline_rules[key];
	else
		kr = MemoryContextAlloc(cxt, sizeof(IgKeyRules));
	ig_enforce_init(kr, list,
					key < IG_INLINE_KEYS && list->nrules <= IG_INLINE_RULES ?
					stmt->inline_sums[key] :
					MemoryContextAlloc(cxt, sizeof(uint64) * list->nrules));
	return kr;
}

/*
 * Frees what key_rules_new allocated for a key whose rules were matched
 * again: a cursor's statement is matched again at each FETCH after a
 * change of rules or roles, and lives as long as the cursor.
 */
static void
key_rules_free(IgStmt *stmt, IgKeyRules *kr, int key)
{
	if (kr == NULL)
		return;
	if (key >= IG_INLINE_KEYS || kr->query.sum != stmt->inline_sums[key])
		pfree(kr->query.sum);
	if (key >= IG_INLINE_KEYS)
		pfree(kr);
}

/* Doubles a statement's key arrays. */
static pg_noinline void
grow_keys(IgStmt *stmt)
{
	MemoryContext cxt = stmt->estate->es_query_cxt;
	IgTally    *keys = MemoryContextAlloc(cxt, sizeof(IgTally) * stmt->maxkeys * 2);
	IgKeyRules **rules = MemoryContextAlloc(cxt, sizeof(IgKeyRules *) * stmt->maxkeys * 2);

	memcpy(keys, stmt->keys, sizeof(IgTally) * stmt->nkeys);
	memcpy(rules, stmt->key_rules, sizeof(IgKeyRules *) * stmt->nkeys);
	if (stmt->keys != stmt->inline_keys)
	{
		pfree(stmt->keys);
		pfree(stmt->key_rules);
	}
	stmt->keys = keys;
	stmt->key_rules = rules;
	stmt->maxkeys *= 2;
}

/*
 * The part of stmt_key that looks things up: a key not taken over from
 * the last statement (see stmt_key), or one with rules.
 */
static pg_noinline int
stmt_key_slow(IgStmt *stmt, Oid relid, int k)
{
	IgTally    *tally;
	IgRuleList *list = NULL;
	IgKeyRules *kr = NULL;

	if (unlikely(k == stmt->maxkeys))
		grow_keys(stmt);
	tally = &stmt->keys[k];
	if (k < stmt->nbuilt && tally->relid == relid)
		list = stmt->inline_lists[k];
	else
	{
		ig_tally_init(tally, stmt->userid, relid);
		if (stmt->covered)
		{
			list = ig_rules_for_relation(stmt->userid, relid);
			stmt->rules_gen_last = ig_rules_gen;
		}
		if (k < IG_INLINE_KEYS)
		{
			stmt->inline_lists[k] = list;
			stmt->nbuilt = Max(stmt->nbuilt, k + 1);
		}
	}
	ig_tally_reset(tally);

	if (list != NULL && key_list_setup(stmt, tally, list))
	{
		kr = key_rules_new(stmt, list, k);
		stmt->enforcing = true;
		ig_enforce_begin(kr, tally, stmt->userid);
	}
	stmt->key_rules[k] = kr;
	return stmt->nkeys++;
}

/*
 * The index of a key in the statement, added if new.  A new key gets the
 * rules covering the session user for it, whose counts are read now.
 *
 * An inline key left by the last statement run in this IgStmt, for the
 * same session user and rules, is taken over with its counter memo and
 * its rules: consecutive statements mostly read the same tables.
 */
static inline int
stmt_key(IgStmt *stmt, Oid relid)
{
	int			k;
	IgTally    *tally;

	for (k = 0; k < stmt->nkeys; k++)
		if (stmt->keys[k].relid == relid)
			return k;

	/* the last statement's key: nothing to look up */
	if (likely(k < stmt->nbuilt) &&
		likely((tally = &stmt->inline_keys[k])->relid == relid))
	{
		IgRuleList *list = stmt->inline_lists[k];
		IgKeyRules *kr = NULL;

		ig_tally_reset(tally);
		if (list != NULL && key_list_setup(stmt, tally, list))
		{
			kr = &stmt->inline_rules[k];
			ig_enforce_init(kr, list,
							list->nrules <= IG_INLINE_RULES ?
							stmt->inline_sums[k] :
							MemoryContextAlloc(stmt->estate->es_query_cxt,
											   sizeof(uint64) * list->nrules));
			stmt->enforcing = true;
			ig_enforce_begin(kr, tally, stmt->userid);
		}
		stmt->key_rules[k] = kr;
		return stmt->nkeys++;
	}
	return stmt_key_slow(stmt, relid, k);
}

/* As stmt_key, for the statement's lifecycle (statement.c). */
int
ig_stmt_key(IgStmt *stmt, Oid relid)
{
	return stmt_key(stmt, relid);
}

/*
 * Matches a running statement's keys to the rules in force now, with
 * baseline limits from the history as it is now (see
 * stmt_refresh_rules), and reads their counts.  No key is to be taken
 * over by the next statement.
 */
void
ig_stmt_match_rules(IgStmt *stmt)
{
	uint32		gen;

	stmt->covered = ig_rules_cover(stmt->userid);
	gen = ig_rules_gen;
	stmt->enforcing = false;
	stmt->has_baselines = false;
	for (int i = 0; i < stmt->nkeys; i++)
	{
		IgTally    *tally = &stmt->keys[i];
		IgRuleList *list = NULL;
		IgKeyRules *kr = NULL;
		IgKeyRules *old_kr = stmt->key_rules[i];

		tally->query = NULL;
		tally->hist_wanted = 0;
		if (stmt->covered)
		{
			list = ig_rules_for_relation(stmt->userid, tally->relid);
			stmt->rules_gen_last = ig_rules_gen;
		}
		if (i < IG_INLINE_KEYS && stmt->keys == stmt->inline_keys)
			stmt->inline_lists[i] = list;
		stmt->key_rules[i] = NULL;
		key_rules_free(stmt, old_kr, i);
		if (list != NULL && key_list_setup(stmt, tally, list))
			kr = key_rules_new(stmt, list, i);
		stmt->key_rules[i] = kr;
		if (kr != NULL)
		{
			stmt->enforcing = true;
			ig_enforce_begin(kr, tally, stmt->userid);
		}
	}
	/*
	 * Every key now has rules of generation gen or later (if rules changed
	 * meanwhile, the statement is matched again at its next settling).
	 */
	stmt->rules_gen = gen;
	stmt->nbuilt = 0;			/* not to be taken over by the next one */
}

/* Doubles a statement's node list. */
static pg_noinline void
grow_nodes(IgStmt *stmt)
{
	IgCountedNode **nodes;

	nodes = MemoryContextAlloc(stmt->estate->es_query_cxt,
							   sizeof(IgCountedNode *) * stmt->maxnodes * 2);
	memcpy(nodes, stmt->nodes, sizeof(IgCountedNode *) * stmt->nnodes);
	if (stmt->nodes != stmt->inline_node_list)
		pfree(stmt->nodes);
	stmt->nodes = nodes;
	stmt->maxnodes *= 2;
}

/* A new counted node of the statement, counting towards all tables. */
static inline IgCountedNode *
stmt_node(IgStmt *stmt, IgCountedKind kind)
{
	IgCountedNode *node;

	if (unlikely(stmt->nnodes == stmt->maxnodes))
		grow_nodes(stmt);
	if (likely(stmt->nnodes < IG_INLINE_NODES))
		node = &stmt->inline_nodes[stmt->nnodes];
	else
		node = MemoryContextAlloc(stmt->estate->es_query_cxt, sizeof(IgCountedNode));
	stmt->nodes[stmt->nnodes++] = node;

	node->stmt = stmt;
	node->tramp = NULL;
	node->kind = kind;
	node->granted = IG_UNLIMITED;
	node->relid = InvalidOid;
	node->nkeys = 1;
	node->keys[0] = IG_ALL_TABLES_KEY;
	return node;
}

/* As stmt_node, for callers outside this file. */
IgCountedNode *
ig_stmt_node(IgStmt *stmt, IgCountedKind kind)
{
	return stmt_node(stmt, kind);
}

/* Adds a key index to a node, once. */
static inline void
node_add_key(IgCountedNode *node, int key)
{
	for (int i = 0; i < node->nkeys; i++)
		if (node->keys[i] == key)
			return;
	if (node->nkeys < (int) lengthof(node->keys))
		node->keys[node->nkeys++] = key;
}

/* node_add_counted for a relation with ancestors. */
static pg_noinline void
node_add_relation_ancestors(IgCountedNode *node, Oid relid, const IgRelInfo *info)
{
	Oid			ancestors[IG_MAX_ANCESTORS];
	int			nancestors;

	/* copy first: catalog access may free the entry */
	nancestors = info->nancestors;
	memcpy(ancestors, info->ancestors, sizeof(Oid) * nancestors);
	node_add_key(node, stmt_key(node->stmt, relid));
	for (int i = 0; i < nancestors; i++)
		node_add_key(node, stmt_key(node->stmt, ancestors[i]));
}

/*
 * Adds the keys reading a counted relation counts towards (it and its
 * ancestors) to a node.
 */
static inline void
node_add_counted(IgCountedNode *node, Oid relid, const IgRelInfo *info)
{
	if (!OidIsValid(node->relid))
		node->relid = relid;
	if (likely(info->nancestors == 0))
		node_add_key(node, stmt_key(node->stmt, relid));
	else
		node_add_relation_ancestors(node, relid, info);
}

/*
 * Adds the keys reading relid counts towards (it and its ancestors) to a
 * node.  Returns false if the relation is not counted.
 */
bool
ig_node_add_relation(IgCountedNode *node, Oid relid)
{
	const IgRelInfo *info = ig_relinfo_get(relid);

	if (!info->countable)
		return false;
	node_add_counted(node, relid, info);
	return true;
}

/*
 * A new scan node of the statement, counting towards a counted relation
 * (info is its ig_relinfo_get entry) and its ancestors.
 */
IgCountedNode *
ig_stmt_scan_node(IgStmt *stmt, Oid relid, const IgRelInfo *info)
{
	IgCountedNode *node = stmt_node(stmt, IG_COUNTED_SCAN);

	node_add_counted(node, relid, info);
	return node;
}
