/*-------------------------------------------------------------------------
 *
 * rules_roles.c
 *		Role memberships, as the rules cache needs them: the roles a user
 *		is a member of, which roles the rules name have members, and the
 *		registered peer groups a user belongs to, with their other members.
 *
 * A rule naming a role covers its members, through any chain of
 * membership (INHERIT or not): ig_rules_member_of lists the roles of a
 * user whose rules are read through the role indexes.  Once the rule
 * tables are read whole (rules_all.c), one scan of pg_auth_members
 * (ig_rules_find_group_roles) tells which of the roles they name have
 * members -- only a rule naming one of those can cover a user it does not
 * name -- and who belongs to each peer group, so that matching many users
 * needs no further lookups; until then, a user's peer groups and their
 * members come from the catalog caches.
 *
 * The peers of a user are the other members of the registered peer
 * groups (insider_guard.peer_group_roles, read by rules_load.c) it belongs
 * to directly; each group notes when the user's membership of it is 14
 * days old, before which it raises no limit (shmem/history_members.c).
 *
 * IDENTIFICATION
 *		src/cache/rules_roles.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_auth_members.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/guc.h"
#include "cache/rules_internal.h"
#include "shmem/history.h"

/* A pair of roles: (member, group) or (group, member). */
typedef struct IgMembership
{
	Oid			first;
	Oid			second;
} IgMembership;

/*
 * The memberships of the peer groups, when ig_rules_find_group_roles read
 * them, until the matches are dropped (ig_rules_forget_memberships): in
 * the matches' memory context.
 */
typedef struct IgPeerMemberships
{
	bool		read;
	IgMembership *by_member;	/* (member, group), ordered */
	IgMembership *by_group;		/* the same as (group, member), ordered */
	int			count;
} IgPeerMemberships;

static IgPeerMemberships peer_memberships;

/*
 * The roles a user is a member of, through any chain of membership
 * (INHERIT or not), without the user itself.
 */
List *
ig_rules_member_of(Oid userid)
{
	List	   *roles = NIL;
	List	   *todo = list_make1_oid(userid);

	while (todo != NIL)
	{
		Oid			member = linitial_oid(todo);
		CatCList   *memlist;

		todo = list_delete_first(todo);
		memlist = SearchSysCacheList1(AUTHMEMMEMROLE, ObjectIdGetDatum(member));
		for (int i = 0; i < memlist->n_members; i++)
		{
			HeapTuple	tuple = &memlist->members[i]->tuple;
			Oid			role = ((Form_pg_auth_members) GETSTRUCT(tuple))->roleid;

			if (role != userid && !list_member_oid(roles, role))
			{
				roles = lappend_oid(roles, role);
				todo = lappend_oid(todo, role);
			}
		}
		ReleaseSysCacheList(memlist);
	}
	return roles;
}

static int
compare_memberships(const void *a, const void *b)
{
	const IgMembership *ma = (const IgMembership *) a;
	const IgMembership *mb = (const IgMembership *) b;

	if (ma->first != mb->first)
		return (ma->first > mb->first) - (ma->first < mb->first);
	return (ma->second > mb->second) - (ma->second < mb->second);
}

/*
 * Finds which of the roles the whole rule tables name have members
 * (ig_rules_all's has_members and shared runs), and who belongs to each
 * peer group, kept in cxt until ig_rules_forget_memberships: one scan of
 * pg_auth_members.  Catalog access: may deliver invalidations (the caller
 * checks).
 */
void
ig_rules_find_group_roles(MemoryContext cxt)
{
	IgAllRules *all = &ig_rules_all;
	IgPeerMemberships *pm = &peer_memberships;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid		   *groups;
	int			ngroups = 0;
	int			allocated = 64;
	int			peers_allocated = 64;

	all->nshared = 0;
	if (all->nroles == 0)
		return;
	groups = palloc(sizeof(Oid) * allocated);
	pm->by_member = MemoryContextAlloc(cxt, sizeof(IgMembership) * peers_allocated);
	pm->count = 0;
	rel = table_open(AuthMemRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Form_pg_auth_members form = (Form_pg_auth_members) GETSTRUCT(tuple);

		if (ngroups == allocated)
		{
			allocated *= 2;
			groups = repalloc(groups, sizeof(Oid) * allocated);
		}
		groups[ngroups++] = form->roleid;
		if (ig_rules_peer_list.count > 0 &&
			bsearch(&form->roleid, ig_rules_peer_list.roleids,
					ig_rules_peer_list.count, sizeof(Oid), oid_cmp) != NULL)
		{
			if (pm->count == peers_allocated)
			{
				peers_allocated *= 2;
				pm->by_member = repalloc(pm->by_member,
										 sizeof(IgMembership) * peers_allocated);
			}
			pm->by_member[pm->count].first = form->member;
			pm->by_member[pm->count].second = form->roleid;
			pm->count++;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(groups, ngroups, sizeof(Oid), oid_cmp);

	/* (member, group) and (group, member), each ordered */
	qsort(pm->by_member, pm->count, sizeof(IgMembership), compare_memberships);
	pm->by_group = MemoryContextAlloc(cxt,
									  sizeof(IgMembership) * Max(pm->count, 1));
	for (int i = 0; i < pm->count; i++)
	{
		pm->by_group[i].first = pm->by_member[i].second;
		pm->by_group[i].second = pm->by_member[i].first;
	}
	qsort(pm->by_group, pm->count, sizeof(IgMembership), compare_memberships);
	pm->read = true;

	for (int r = 0; r < all->nroles; r++)
	{
		IgRuleRole *role = &all->roles[r];

		role->has_members = OidIsValid(role->roleid) &&
			bsearch(&role->roleid, groups, ngroups, sizeof(Oid),
					oid_cmp) != NULL;
		if (!OidIsValid(role->roleid) || role->has_members)
			all->shared[all->nshared++] = r;
	}
	pfree(groups);
}

/*
 * Forgets the peer groups' memberships read by ig_rules_find_group_roles:
 * the matches, in whose context they are, are being dropped.
 */
void
ig_rules_forget_memberships(void)
{
	peer_memberships.read = false;
	peer_memberships.by_member = peer_memberships.by_group = NULL;
	peer_memberships.count = 0;
}

/*
 * Orders OIDs and drops repeats (a membership granted by several
 * grantors is one); returns how many are left.
 */
static int
sort_unique_oids(Oid *oids, int n)
{
	int			unique = 0;

	qsort(oids, n, sizeof(Oid), oid_cmp);
	for (int i = 0; i < n; i++)
		if (unique == 0 || oids[i] != oids[unique - 1])
			oids[unique++] = oids[i];
	return unique;
}

/* The first of the pairs whose first is "first", or npairs if none. */
static int
first_pair(const IgMembership *pairs, int npairs, Oid first)
{
	int			lo = 0;
	int			hi = npairs;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (pairs[mid].first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < npairs && pairs[lo].first == first) ? lo : npairs;
}

/*
 * The registered peer groups a user is a direct member of, ordered, each
 * once; palloc'd.
 * Catalog access, unless ig_rules_find_group_roles read the memberships.
 */
static Oid *
user_peer_groups(Oid userid, int *count)
{
	const IgPeerMemberships *pm = &peer_memberships;
	Oid		   *mine;
	int			nmine = 0;

	if (pm->read)
	{
		int			i = first_pair(pm->by_member, pm->count, userid);

		mine = palloc(sizeof(Oid) * Max(pm->count - i, 1));
		for (; i < pm->count && pm->by_member[i].first == userid; i++)
			mine[nmine++] = pm->by_member[i].second;
	}
	else
	{
		CatCList   *memberships = SearchSysCacheList1(AUTHMEMMEMROLE,
													  ObjectIdGetDatum(userid));

		mine = palloc(sizeof(Oid) * Max(memberships->n_members, 1));
		for (int i = 0; i < memberships->n_members; i++)
		{
			Oid			group = ((Form_pg_auth_members)
								 GETSTRUCT(&memberships->members[i]->tuple))->roleid;

			if (bsearch(&group, ig_rules_peer_list.roleids,
						ig_rules_peer_list.count, sizeof(Oid),
						oid_cmp) != NULL)
				mine[nmine++] = group;
		}
		ReleaseSysCacheList(memberships);
	}
	*count = sort_unique_oids(mine, nmine);
	return mine;
}

/*
 * The members of a peer group but the user, ordered, each once, in cxt,
 * but for those whose membership is younger than 14 days: they are no
 * one's peers yet (*members_from: when the first of them counts; 0 if
 * none).  Catalog access, unless ig_rules_find_group_roles read the
 * memberships.
 */
static Oid *
peer_group_others(Oid groupid, Oid userid, MemoryContext cxt, int *count,
				  TimestampTz *members_from)
{
	const IgPeerMemberships *pm = &peer_memberships;
	Oid		   *others;
	int			nothers = 0;

	if (pm->read)
	{
		int			i = first_pair(pm->by_group, pm->count, groupid);

		others = MemoryContextAlloc(cxt, sizeof(Oid) * Max(pm->count - i, 1));
		for (; i < pm->count && pm->by_group[i].first == groupid; i++)
			if (pm->by_group[i].second != userid)
				others[nothers++] = pm->by_group[i].second;
	}
	else
	{
		CatCList   *members = SearchSysCacheList1(AUTHMEMROLEMEM,
												  ObjectIdGetDatum(groupid));

		others = MemoryContextAlloc(cxt, sizeof(Oid) * Max(members->n_members, 1));
		for (int i = 0; i < members->n_members; i++)
		{
			Oid			member = ((Form_pg_auth_members)
								  GETSTRUCT(&members->members[i]->tuple))->member;

			if (member != userid)
				others[nothers++] = member;
		}
		ReleaseSysCacheList(members);
	}
	*count = sort_unique_oids(others, nothers);

	/* a member joined less than 14 days ago raises no one's limit */
	*members_from = 0;
	{
		TimestampTz now = ig_now();
		int			kept = 0;

		for (int i = 0; i < *count; i++)
		{
			TimestampTz from = ig_history_membership_counts_from(groupid,
																 others[i], now);

			if (from == 0)
				others[kept++] = others[i];
			else if (*members_from == 0 || from < *members_from)
				*members_from = from;
		}
		*count = kept;
	}
	return others;
}

/*
 * The registered peer groups a user belongs to directly, each with its
 * other members, allocated in cxt, ordered by group (the registered ones
 * must have been read: ig_rules_read_peer_groups).  Catalog access
 * (unless ig_rules_find_group_roles read the memberships): may deliver
 * invalidations (the caller checks).
 */
IgPeerGroup *
ig_rules_find_peer_groups(Oid userid, MemoryContext cxt, int *count)
{
	Oid		   *mine;
	int			nmine;
	IgPeerGroup *groups = NULL;

	*count = 0;
	if (ig_rules_peer_list.count == 0)
		return NULL;
	mine = user_peer_groups(userid, &nmine);
	if (nmine > 0)
		groups = MemoryContextAlloc(cxt, sizeof(IgPeerGroup) * nmine);
	for (int g = 0; g < nmine; g++)
	{
		groups[g].groupid = mine[g];
		groups[g].members = peer_group_others(mine[g], userid, cxt,
											  &groups[g].nmembers,
											  &groups[g].members_from);
		groups[g].counts_from = ig_history_membership_counts_from(mine[g], userid,
																  ig_now());
	}
	pfree(mine);
	*count = nmine;
	return groups;
}
