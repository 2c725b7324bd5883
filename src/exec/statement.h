/*-------------------------------------------------------------------------
 *
 * statement.h
 *		The state insider_guard keeps for a running statement: the tables
 *		it reads, the counted nodes, their grants.  Kept by statement.c
 *		(its lifecycle), grant.c (grants, reservations, settling) and
 *		statement_keys.c (keys and nodes), which share
 *		statement_internal.h.
 *
 * src/exec/statement.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_STATEMENT_H
#define IG_STATEMENT_H

#include "nodes/execnodes.h"

#include "shmem/counters.h"
#include "exec/enforce.h"
#include "cache/relinfo.h"
#include "exec/tramp.h"

/* a grant that never runs out */
#define IG_UNLIMITED	(PG_INT64_MAX / 2)

/* the all-tables key is always the first */
#define IG_ALL_TABLES_KEY 0

typedef enum IgCountedKind
{
	IG_COUNTED_SCAN,				/* counts rows a scan node hands out */
	IG_COUNTED_PROJECT,			/* counts rows a scan node projects */
	IG_COUNTED_FILTER,				/* counts rows a leaky filter sees */
	IG_COUNTED_CONFLICT			/* counts rows ON CONFLICT DO UPDATE reaches */
} IgCountedKind;

struct IgStmt;

/* One counted node or expression. */
typedef struct IgCountedNode
{
	struct IgStmt *stmt;
	IgTramp	   *tramp;
	IgCountedKind kind;
	int64		granted;		/* rows granted: tramp->left when last set */
	Oid			relid;			/* the relation it reads (first of them) */
	int			nkeys;
	int16		keys[IG_MAX_ANCESTORS + 2]; /* indexes into stmt->keys */
} IgCountedNode;

/* keys and nodes most statements need fit in the statement itself */
#define IG_INLINE_KEYS	6
#define IG_INLINE_NODES 3
#define IG_INLINE_RULES 8		/* rules per key whose counts fit inline */

/*
 * A running statement: one executor state.  Kept for reuse when it ends:
 * its inline keys then still describe the last statement's tables, for
 * the same session user and rules (see stmt_key).
 */
typedef struct IgStmt
{
	EState	   *estate;
	struct IgStmt *next;		/* this backend's running statements */
	MemoryContextCallback callback;
	Oid			userid;			/* session user when the statement started */
	bool		in_worker;		/* a parallel worker's part of a query */
	bool		counts_statements;	/* its first rows count a statement */
	bool		covered;		/* rules cover the session user */
	bool		enforcing;		/* some key has rules */
	bool		reserving;		/* some key has a block rule: its rows are
								 * reserved in shared memory */
	bool		has_pending;	/* keys have pending rows (ON CONFLICT) */
	uint32		rules_gen;		/* ig_rules_gen when it started, or last
								 * matched all its keys (ig_stmt_match_rules) */
	uint32		rules_gen_last; /* ig_rules_gen when it last took a key's
								 * rules: it points into the rules cache of
								 * generations rules_gen to this */
	bool		has_baselines;	/* some key has baseline rules ... */
	uint32		hist_gen;		/* ... whose limits are of this history */
	uint64		parallel_query; /* shared by a parallel query's processes */
	int			nkeys;
	int			maxkeys;
	IgTally    *keys;			/* one per table read, and all tables */
	IgKeyRules **key_rules;		/* the rules of each key, or NULL */
	int			nnodes;
	int			maxnodes;
	IgCountedNode **nodes;
	/* inline keys [0, nbuilt) are valid for built_userid and built_gen */
	int			nbuilt;
	Oid			built_userid;
	uint32		built_gen;
	/* the last statement was a lone scan of this relation, or InvalidOid */
	Oid			simple_relid;
	bool		simple;			/* this one is (ig_stmt_simple) */
	IgRuleList *inline_lists[IG_INLINE_KEYS];	/* their rules, or NULL */
	IgTally		inline_keys[IG_INLINE_KEYS];
	IgKeyRules *inline_key_rules[IG_INLINE_KEYS];
	IgKeyRules	inline_rules[IG_INLINE_KEYS];
	uint64		inline_sums[IG_INLINE_KEYS][IG_INLINE_RULES];
	IgCountedNode *inline_node_list[IG_INLINE_NODES];
	IgCountedNode inline_nodes[IG_INLINE_NODES];
} IgStmt;

/* statement.c */
extern IgStmt *ig_stmt_start(EState *estate, Oid userid, bool covered);
extern IgCountedNode *ig_stmt_scan(IgStmt **stmtp, EState *estate, Oid userid,
								   bool covered, const Oid *relids, int nrelids);
extern IgCountedNode *ig_stmt_simple(EState *estate, Oid userid, Oid relid);
extern IgStmt *ig_stmt_find(EState *estate);
extern bool ig_stmt_running(void);
extern void ig_stmt_free_retired_rules(void);
extern void ig_stmt_settle_run(EState *estate, IgStmt *stmt);
extern void ig_stmt_refresh_run(EState *estate, IgStmt *stmt);

/* statement_keys.c */
extern IgCountedNode *ig_stmt_node(IgStmt *stmt, IgCountedKind kind);

/* grant.c */
extern void ig_stmt_begin_enforcing(IgStmt *stmt);
extern void ig_tramp_exhausted(IgTramp *tramp, ExprContext *econtext);

#endif							/* IG_STATEMENT_H */
