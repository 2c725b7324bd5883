/*-------------------------------------------------------------------------
 *
 * enforce.h
 *		Thresholds applied to one table (or all tables) of a statement.
 *
 * src/exec/enforce.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_ENFORCE_H
#define IG_ENFORCE_H

#include "shmem/counters.h"
#include "cache/rules.h"

/*
 * The rules covering the session user for one key of a statement, with
 * the window counts last read for them.  The rule list belongs to the
 * rules cache, which keeps it while the statement runs.
 */
typedef struct IgKeyRules
{
	IgRuleList *list;
	IgWindowQuery query;		/* window i answers rule i */
	bool		limiting;		/* some rule limits the rows left */
	int64		limit;			/* rows that may still be read before a block
								 * rule is broken or a log rule crossed */
	bool		blocked;		/* a block rule is broken */
	int			stop_rule;		/* the broken rule to stop the statement
								 * for (ig_enforce_stop), or -1 */
	int64		block_violation;	/* the block record made for the
									 * statement, or 0: one per statement */
	uint64		log_noted;		/* bit i: log rule i read over was noted
								 * for the statement (record_log): once */
	/* with a block rule: rows reserved in shared memory (counters.h) */
	IgReservation res;
	int64		pool;			/* reserved, not yet granted to a node */
	int64		res_size;		/* rows to reserve next (0: none yet) ... */
	TimestampTz res_at;			/* ... sized on how fast those reserved
								 * at this time were read */
} IgKeyRules;

extern IgKeyRules *ig_enforce_copy(Oid userid, Oid relid, MemoryContext cxt);
extern void ig_enforce_begin_slow(IgKeyRules *kr, IgTally *tally, Oid userid);
extern void ig_enforce_reserve(IgKeyRules *kr, IgTally *tally, Oid userid,
							   TimestampTz now);
extern void ig_enforce_stop(IgKeyRules *kr, IgTally *tally, Oid userid,
							Oid read_relid, uint64 parallel_query);
extern void ig_enforce_record_stop(IgKeyRules *kr, IgTally *tally, Oid userid,
								   Oid read_relid, uint64 parallel_query);
extern void ig_enforce_crowded(IgKeyRules *kr, IgTally *tally, Oid userid,
							   Oid read_relid, uint64 parallel_query);
extern void ig_enforce_check_slow(IgKeyRules *kr, IgTally *tally, Oid userid,
								  uint64 added, Oid read_relid,
								  uint64 parallel_query, bool catalog_ok,
								  bool may_raise);

/*
 * Prepares a key's rules for a statement; sums has room for one count per
 * rule.  Nothing may be read before the counts are.
 */
static inline void
ig_enforce_init(IgKeyRules *kr, IgRuleList *list, uint64 *sums)
{
	kr->list = list;
	kr->query.pin_span = list->pin_span;
	kr->query.nwindows = list->nrules;
	kr->query.ring = list->rings;
	kr->query.length = list->lengths;
	kr->query.max = list->maxes;
	kr->query.block = list->blocks;
	kr->query.live = list->live;
	kr->query.nlive = list->nlive;
	kr->query.rules_at = ig_statement_start();
	kr->query.memo = &list->memo;
	kr->query.res = list->any_block ? &kr->res : NULL;
	kr->query.sum = sums;
	kr->query.headroom = 0;
	kr->query.valid = false;
	kr->query.over = false;
	kr->limiting = true;
	kr->limit = 0;
	kr->blocked = false;
	kr->stop_rule = -1;
	kr->block_violation = 0;
	kr->log_noted = 0;
	memset(&kr->res, 0, sizeof(kr->res));
	kr->pool = 0;
	kr->res_size = 0;
	kr->res_at = 0;
}

/*
 * Rows left when no count is over its max: every rule limits them, and
 * the nearest max is the limit.
 */
static inline void
ig_enforce_limit_within(IgKeyRules *kr)
{
	kr->limiting = true;
	kr->blocked = false;
	kr->limit = kr->query.headroom;
}

/*
 * At statement start: reads the window counts of a key's rules (creating
 * and pinning its counter) and attaches the query to the tally, so that
 * every settle refreshes them.  An unchanged counter is answered from the
 * backend's memo, without a lock; it is pinned when the statement settles.
 * A key with a block rule is read when its rows are reserved, once every
 * node is known (ig_stmt_begin_enforcing): until then it has none to
 * grant.
 */
static inline void
ig_enforce_begin(IgKeyRules *kr, IgTally *tally, Oid userid)
{
	tally->query = &kr->query;
	/* the rules are those in force now (a FETCH's: matched again if not) */
	kr->query.rules_at = ig_statement_start();
	if (kr->query.res != NULL)
	{
		kr->limiting = true;
		kr->limit = 0;
		kr->blocked = false;
		kr->pool = 0;
	}
	else if (likely(ig_counters_query_memo(&kr->query)))
		ig_enforce_limit_within(kr);
	else
		ig_enforce_begin_slow(kr, tally, userid);
}

/*
 * After a settle that added "added" rows to the tally (and refreshed its
 * counts): records each log rule the addition crossed and, with
 * may_raise, notes in kr->stop_rule a broken block rule, for which the
 * caller stops the statement (ig_enforce_stop) once every key has
 * recorded its crossings.  Crossings are
 * recorded also while the transaction is failing (the rows of a failing
 * statement count): then, without catalog_ok, with the names last seen.
 * Blocks only happen in the middle of execution.  With every count within
 * its max, nothing is crossed or broken.
 */
static inline void
ig_enforce_check(IgKeyRules *kr, IgTally *tally, Oid userid, uint64 added,
				 Oid read_relid, uint64 parallel_query, bool catalog_ok,
				 bool may_raise)
{
	if (likely(kr->query.valid && !kr->query.over))
		ig_enforce_limit_within(kr);
	else
		ig_enforce_check_slow(kr, tally, userid, added, read_relid,
							  parallel_query, catalog_ok, may_raise);
}

#endif							/* IG_ENFORCE_H */
