/*-------------------------------------------------------------------------
 *
 * rules_internal.h
 *		The pieces of the rules cache, for its own files only: the state
 *		each keeps that the others read, and what they call of each other.
 *
 * The rest of insider_guard uses the cache through rules.h.  Its files
 * call each other one way only, each those below it:
 *
 *	rules_match.c	which rules cover a session user, by relation: the
 *					entry points of rules.h
 *	rules_roles.c	role memberships: the roles a user is a member of,
 *					which roles the rules name have members, the peer
 *					groups of a user and their other members
 *	rules_all.c		the rule tables read whole, by role, and the
 *					relations whose history baseline rules keep
 *	rules_load.c	finding the extension's rule tables; the
 *					invalidations that say to read them again, or to
 *					match the users again; the exemptions and the
 *					registered peer groups
 *	rules_read.c	decoding the rows of the rule tables (rules_read.h)
 *
 * Each struct below is changed by the file that defines it, except where
 * its comment says otherwise.
 *
 * src/cache/rules_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RULES_INTERNAL_H
#define IG_RULES_INTERNAL_H

#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "base/private.h"
#include "cache/rules.h"
#include "cache/rules_read.h"

/* ---- rules_load.c ---- */

/*
 * The rule tables of the extension insider_guard in this database, found
 * by ig_rules_load: InvalidOid where a table is absent, or bears the name
 * without being the extension's (it is not read then).  The rules
 * themselves are read per user (rules_match.c) or whole (rules_all.c).
 */
typedef struct IgRuleTables
{
	MemoryContext cxt;			/* what is read from the tables: reset when
								 * they are found again */
	Oid			thresholds;
	Oid			thresholds_role_index;	/* thresholds_role_table_per, or
										 * InvalidOid: scan the table */
	bool		thresholds_present; /* thresholds has ever had a row */
	bool		rules_present;	/* it, or baseline_rules, has: else no rule
								 * covers anybody */
	/* behavioural baselines: absent before version 0.2.0 of the extension */
	Oid			baseline_rules;
	Oid			baseline_role_index;	/* baseline_rules_role_table_per_kind
										 * (before 0.4.0 without _kind), or
										 * InvalidOid */
	Oid			peer_group_roles;
	bool		baselines_present;	/* baseline_rules has ever had a row (and
									 * peer_group_roles exists) */
} IgRuleTables;

/*
 * Whether the cache is up to date.  The invalidation callbacks clear the
 * flags and count what they saw; rules_match.c sets them again, and
 * repeats loading and matching until no invalidation arrived while they
 * ran (their catalog lookups may deliver some).
 */
typedef struct IgRulesFreshness
{
	bool		loaded;			/* the tables found are those in force */
	bool		matched;		/* the users' matches reflect the roles'
								 * memberships and attributes */
	bool		group_roles_pending;	/* matching began, but which roles
										 * have members is not known yet */
	uint64		table_changes;	/* invalidations of the rule tables (or of a
								 * schema) seen */
	uint64		role_changes;	/* invalidations of memberships and role
								 * attributes seen */
} IgRulesFreshness;

/* The registered peer groups (insider_guard.peer_group_roles), once read. */
typedef struct IgPeerGroupList
{
	bool		loaded;			/* read since the tables were found */
	int			count;
	Oid		   *roleids;		/* ordered, in IgRuleTables.cxt */
} IgPeerGroupList;

extern IG_PRIVATE IgRuleTables ig_rules_tables;
extern IG_PRIVATE IgRulesFreshness ig_rules_fresh;
extern IG_PRIVATE IgPeerGroupList ig_rules_peer_list;

extern IG_PRIVATE void ig_rules_load(void);
extern IG_PRIVATE Relation ig_rules_open_table(Oid relid, IgRuleTable which,
											   LOCKMODE lockmode);
extern IG_PRIVATE void ig_rules_read_peer_groups(void);
extern IG_PRIVATE bool ig_rules_is_exempt(Oid userid);

/* ---- rules_all.c ---- */

/*
 * A role the rules name (InvalidOid: rules naming no role), with its run
 * of rules, and whether any role is a member of it: only then can a rule
 * naming it cover a user it does not name.
 */
typedef struct IgRuleRole
{
	Oid			roleid;
	int			first;			/* index into IgAllRules.rules */
	int			count;
	bool		has_members;
} IgRuleRole;

/*
 * The rule tables read whole (ig_rules_all_load), in IgRuleTables.cxt.
 * Besides rules_all.c, rules_roles.c sets has_members and the shared runs
 * (ig_rules_find_group_roles) whenever memberships may have changed, and
 * rules_match.c sets "loaded" once both are done.
 */
typedef struct IgAllRules
{
	bool		loaded;			/* read, and the roles with members known */
	IgRule	   *rules;			/* by role, then id */
	int			nrules;
	IgRuleRole *roles;			/* the roles they name, ordered */
	int			nroles;
	int		   *shared;			/* indexes into roles of the runs that can
								 * cover users they do not name: rules for
								 * every role, rules naming a role with
								 * members */
	int			nshared;
} IgAllRules;

/*
 * A relation (InvalidOid: all tables) and the history kinds baseline rules
 * keep of it: a member of a peer group keeps history for each, so that its
 * peers can be compared with it.
 */
typedef struct IgHistKey
{
	Oid			relid;
	uint8		kinds;			/* bit k: history kind k (IG_HIST_*) */
} IgHistKey;

/* The history keys of all baseline rules, once the whole tables are read. */
typedef struct IgHistKeys
{
	IgHistKey  *keys;			/* by relid, one per relation */
	int			count;
	int			allocated;
} IgHistKeys;

extern IG_PRIVATE IgAllRules ig_rules_all;
extern IG_PRIVATE IgHistKeys ig_rules_hist_keys;

extern IG_PRIVATE void ig_rules_all_forget(void);
extern IG_PRIVATE void ig_rules_all_load(void);
extern IG_PRIVATE uint8 ig_rules_history_kinds(Oid relid, bool *known);

/* ---- rules_roles.c ---- */

extern IG_PRIVATE List *ig_rules_member_of(Oid userid);
extern IG_PRIVATE void ig_rules_find_group_roles(MemoryContext cxt);
extern IG_PRIVATE void ig_rules_forget_memberships(void);
extern IG_PRIVATE IgPeerGroup *ig_rules_find_peer_groups(Oid userid, MemoryContext cxt,
														 int *count);

/* A hash table in cxt of entries whose first field is an OID, the key. */
static inline HTAB *
ig_rules_oid_hash(const char *name, Size entrysize, long nelem,
				  MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

#endif							/* IG_RULES_INTERNAL_H */
