/*-------------------------------------------------------------------------
 *
 * lease.h
 *		Rows of a Citus connection's block-ruled keys leased from the node
 *		of its session (see lease.c).
 *
 * src/exec/lease.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_LEASE_H
#define IG_LEASE_H

#include "base/guc.h"
#include "cache/citus_session.h"
#include "exec/enforce.h"

extern bool ig_lease_applies(void);
extern int64 ig_lease_record(Oid userid, Oid relid);
extern void ig_lease_note_slow(Oid userid, Oid relid, uint64 added);
extern bool ig_lease_log_elsewhere(Oid userid, Oid relid);
extern void ig_lease_cap(IgKeyRules *kr, IgTally *tally, Oid userid,
						 uint64 added, bool may_raise);

/*
 * True on a Citus worker whose block-ruled reads lease their rows (a
 * compare on any other node).
 */
static inline bool
ig_lease_worker(void)
{
	return unlikely(ig_citus_on_worker) &&
		ig_citus_budget == IG_CITUS_BUDGET_LEASE && ig_lease_applies();
}

/*
 * After a key's reservation was exchanged: with citus_budget = lease, on
 * a Citus worker, cuts its pool to what the coordinator leases.  One
 * compare on any other node (the default is lease: every server).
 */
static inline void
ig_lease_pool(IgKeyRules *kr, IgTally *tally, Oid userid, uint64 added,
			  bool may_raise)
{
	if (unlikely(ig_citus_on_worker) &&
		ig_citus_budget == IG_CITUS_BUDGET_LEASE && ig_lease_applies())
		ig_lease_cap(kr, tally, userid, added, may_raise);
}

/*
 * After a settle of a key with rules but no reservation (log rules only):
 * on a Citus worker that leases, its reads go to the node holding the
 * cluster's budget with the next give-back, so that the log rules hold
 * for the reads of all nodes together.  A compare on any other node.
 */
static inline void
ig_lease_note(const IgKeyRules *kr, const IgTally *tally, Oid userid,
			  uint64 added)
{
	if (unlikely(ig_citus_on_worker) && kr != NULL && kr->query.res == NULL &&
		added > 0 && ig_citus_budget == IG_CITUS_BUDGET_LEASE &&
		ig_lease_applies())
		ig_lease_note_slow(userid, tally->relid, added);
}

#endif							/* IG_LEASE_H */
