/*-------------------------------------------------------------------------
 *
 * rules_match.c
 *		Which rules cover a session user, filed by relation: the entry
 *		points of the rules cache (rules.h).
 *
 * A rule covers a user when it names the user; or, unless the user is a
 * superuser or exempt, when it names no role or a role the user is a
 * member of, through any chain of membership.  So the rules of a session
 * user are those naming it, those naming no role, and those naming one of
 * the roles it is a member of.  For the first few session users a backend
 * sees (IG_INDEX_MATCHES), they are read through the indexes on the
 * rules' role (thresholds_role_table_per, baseline_rules_role_table_per):
 * a session pays for the rules of its own user, not for everybody's.  A
 * backend that sees more users (or a database without usable indexes)
 * reads the whole tables once instead (rules_all.c), and matches each
 * further user from them, looking only at the user's own rules and at
 * those that can cover users they do not name.  Baseline rules are matched
 * like thresholds.  A user that belongs to a peer group also keeps its
 * history of every relation any baseline rule names, so that its peers
 * can be compared with it: those relations are filed with its rules once
 * the whole tables are read, or else learnt as the user's statements read
 * them (ig_rules_history_kinds).
 *
 * The covering rules are kept by relation, so that a statement finds the
 * rules of each table it reads with a binary search
 * (ig_rules_for_relation, on every statement).  Matching is redone when
 * the rules, or role memberships and attributes change: rules_load.c
 * finds the tables and follows the invalidations.
 *
 * IDENTIFICATION
 *		src/cache/rules_match.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "base/guc.h"
#include "shmem/history.h"
#include "cache/rules_internal.h"

/* users matched through the index before the whole table is read */
#define IG_INDEX_MATCHES 4

#define IG_MAX_USER_MATCHES 1024

/* The rules covering one session user, by relation. */
typedef struct IgUserMatch
{
	Oid			userid;			/* hash key */
	bool		covered;		/* some rule covers the user */
	int			nlists;
	IgRuleList *lists;			/* by relid, ascending */
	/* a member of peer groups matched before all rules were read: */
	int			npeer_groups;
	IgPeerGroup *peer_groups;
	HTAB	   *history_lists;	/* lists of relations no rule of its names,
								 * made as they are read (NULL if none) */
	int			nnovelty;		/* its novelty rules, which apply to every */
	IgRule	   *novelty;		/* table: copied into each list */
	int			ngroups;		/* its peer groups (peer_groups), for the
								 * novelty rules of lists made later */
} IgUserMatch;

/* an entry of IgUserMatch.history_lists */
typedef struct IgHistoryList
{
	Oid			relid;			/* hash key */
	IgRuleList *list;			/* NULL: no baseline rule names it */
} IgHistoryList;

/*
 * A dropped context of matches that statements still running may point
 * into: those that started, or rebuilt their keys, while ig_rules_gen was
 * between first_gen and last_gen.
 */
typedef struct IgRetiredMatches
{
	MemoryContext cxt;
	uint32		first_gen;
	uint32		last_gen;
} IgRetiredMatches;

/*
 * The rules covering each session user seen, by relation.  A backend's
 * session user rarely changes (SET SESSION AUTHORIZATION), but when it
 * does the match is kept, so switching back costs a lookup.  The matches
 * live in cxt and are dropped when the rules or roles change; while
 * statements that use them run, the old context is kept (retired).
 */
typedef struct IgUserMatches
{
	MemoryContext cxt;			/* the matches (and the peer groups'
								 * memberships read for them) */
	uint32		first_gen;		/* ig_rules_gen when cxt was made */
	HTAB	   *by_user;		/* IgUserMatch entries */
	IgUserMatch *current;		/* the last user asked about */
	int			index_matches;	/* users matched through the indexes */
	/* dropped contexts kept for running statements, oldest first */
	MemoryContext retired_parent;	/* their parent */
	IgRetiredMatches *retired;
	int			nretired;
	int			retired_allocated;
} IgUserMatches;

static IgUserMatches matches;

/* some dropped matches wait for the statements using them to end */
bool		ig_rules_have_retired = false;

/* ... and some were dropped since the statement layer last looked */
bool		ig_rules_retired_unswept = false;

/* Keeps the dropped context of matches until no statement points into it. */
static void
retire_matches(void)
{
	IgRetiredMatches *r;

	if (matches.retired_parent == NULL)
		matches.retired_parent = AllocSetContextCreate(TopMemoryContext,
													   "insider_guard retired rules",
													   ALLOCSET_SMALL_SIZES);
	if (matches.nretired == matches.retired_allocated)
	{
		int			n = Max(8, matches.retired_allocated * 2);

		matches.retired = matches.retired == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(IgRetiredMatches) * n) :
			repalloc(matches.retired, sizeof(IgRetiredMatches) * n);
		matches.retired_allocated = n;
	}
	MemoryContextSetParent(matches.cxt, matches.retired_parent);
	r = &matches.retired[matches.nretired++];
	r->cxt = matches.cxt;
	r->first_gen = matches.first_gen;
	r->last_gen = ig_rules_gen;
	matches.cxt = NULL;
	matches.by_user = NULL;
	matches.current = NULL;
	ig_rules_have_retired = true;
	ig_rules_retired_unswept = true;
}

/*
 * Drops every user's match.  Statements still running may point into it,
 * so the context is retired: the statement layer frees it as soon as no
 * running statement can point into it (ig_rules_free_retired_slow).
 */
static void
drop_matches(void)
{
	MemoryContext cxt;

	if (matches.cxt != NULL)
		retire_matches();
	cxt = AllocSetContextCreate(TopMemoryContext,
								"insider_guard matched rules",
								ALLOCSET_SMALL_SIZES);
	ig_rules_gen++;
	matches.cxt = cxt;
	matches.first_gen = ig_rules_gen;
	matches.index_matches = 0;
	ig_rules_forget_memberships();
	matches.by_user = ig_rules_oid_hash("insider_guard rules by user",
										sizeof(IgUserMatch), 16, matches.cxt);
}

/*
 * Frees the dropped matches no running statement points into: those
 * in_use says no statement started (or rebuilt its keys) under one of
 * their generations; in_use NULL: none runs, so all of them.
 */
void
ig_rules_free_retired_slow(IgRulesGensInUse in_use)
{
	int			kept = 0;

	for (int i = 0; i < matches.nretired; i++)
	{
		IgRetiredMatches *r = &matches.retired[i];

		if (in_use != NULL && in_use(r->first_gen, r->last_gen))
			matches.retired[kept++] = *r;
		else
			MemoryContextDelete(r->cxt);
	}
	matches.nretired = kept;
	ig_rules_have_retired = kept > 0;
	ig_rules_retired_unswept = false;
}

/* The run of rules naming a role, or NULL if none names it. */
static IgRuleRole *
find_rule_role(Oid roleid)
{
	int			lo = 0;
	int			hi = ig_rules_all.nroles - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		IgRuleRole *role = &ig_rules_all.roles[mid];

		if (role->roleid == roleid)
			return role;
		if (role->roleid < roleid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Appends a run of rules to buf. */
static void
add_run(IgRuleBuf *buf, const IgRuleRole *role)
{
	while (buf->nrules + role->count > buf->allocated)
	{
		buf->allocated *= 2;
		buf->rules = repalloc(buf->rules, sizeof(IgRule) * buf->allocated);
	}
	memcpy(&buf->rules[buf->nrules], &ig_rules_all.rules[role->first],
		   sizeof(IgRule) * role->count);
	buf->nrules += role->count;
}

/*
 * The rules covering the user, from the whole table: the user's own run,
 * and the shared runs that cover it -- not the rules of other users.
 */
static void
user_rules_from_all(Oid userid, bool unwatched, IgRuleBuf *buf)
{
	IgRuleRole *own = find_rule_role(userid);
	int			nown;

	if (own != NULL)
		add_run(buf, own);
	nown = buf->nrules;
	if (unwatched)
		return;
	for (int g = 0; g < ig_rules_all.nshared; g++)
	{
		IgRuleRole *role = &ig_rules_all.roles[ig_rules_all.shared[g]];

		if (role == own ||
			(OidIsValid(role->roleid) &&
			 !is_member_of_role_nosuper(userid, role->roleid)))
			continue;
		add_run(buf, role);
	}
	/* rules that do not name the user spare an exempt user */
	if (buf->nrules > nown && ig_rules_is_exempt(userid))
		buf->nrules = nown;
}

/*
 * The rules covering the user, through the role indexes: those naming it,
 * those naming no role, those naming a role it is a member of.
 */
static void
user_rules_from_index(Oid userid, bool unwatched, IgRuleBuf *buf)
{
	const IgRuleTables *tables = &ig_rules_tables;
	Snapshot	snapshot = RegisterSnapshot(GetCatalogSnapshot(tables->thresholds));
	List	   *roles = list_make1_oid(userid);
	int			nown = 0;

	if (!unwatched)
	{
		List	   *groups = ig_rules_member_of(userid);

		roles = list_concat(lappend_oid(roles, InvalidOid), groups);
		list_free(groups);
	}
	if (tables->thresholds_present)
		ig_rules_read_roles(tables->thresholds, tables->thresholds_role_index,
							false, snapshot, roles, buf);
	if (tables->baselines_present)
		ig_rules_read_roles(tables->baseline_rules, tables->baseline_role_index,
							true, snapshot, roles, buf);
	list_free(roles);
	UnregisterSnapshot(snapshot);

	/* rules that do not name the user spare an exempt user */
	for (int i = 0; i < buf->nrules; i++)
		nown += (buf->rules[i].roleid == userid);
	if (buf->nrules > nown && ig_rules_is_exempt(userid))
	{
		nown = 0;
		for (int i = 0; i < buf->nrules; i++)
			if (buf->rules[i].roleid == userid)
				buf->rules[nown++] = buf->rules[i];
		buf->nrules = nown;
	}
}

/*
 * Adds a rule to a list being made, whose arrays have room at the end; a
 * novelty rule is copied as the list's relation's own.
 */
static void
list_add_rule(IgRuleList *list, const IgRule *rule)
{
	int			i = list->nrules++;

	list->rules[i] = *rule;
	if (rule->novelty)
		list->rules[i].relid = list->relid;
	list->rings[i] = rule->window;
	list->lengths[i] = rule->per;
	list->maxes[i] = rule->max_rows;
	list->blocks[i] = rule->block;
	list->any_block |= rule->block;
	list->longest = Max(list->longest, rule->per);
	if (rule->baseline)
	{
		list->nbaseline++;
		list->hist_wanted |= (1 << rule->hist_kind);
	}
}

/* Orders a list's block rules as ig_live_rule_known looks them up. */
static int
compare_live(const void *a, const void *b)
{
	const IgLiveRule *ra = (const IgLiveRule *) a;
	const IgLiveRule *rb = (const IgLiveRule *) b;

	return ig_live_rule_cmp(ra->rule_id, ra->stamp, rb);
}

/* The rest of a list made for a user in these peer groups. */
static void
list_finish(IgRuleList *list, int ngroups, IgPeerGroup *groups)
{
	list->nlive = 0;
	list->live = NULL;
	if (list->any_block)
	{
		list->live = MemoryContextAlloc(matches.cxt,
										sizeof(IgLiveRule) * list->nrules);
		for (int i = 0; i < list->nrules; i++)
			if (list->rules[i].block)
			{
				list->live[list->nlive].rule_id = list->rules[i].id;
				list->live[list->nlive].stamp = list->rules[i].stamp;
				list->nlive++;
			}
		qsort(list->live, list->nlive, sizeof(IgLiveRule), compare_live);
	}
	list->pin_span = list->longest +
		Max(list->longest / 60, USECS_PER_SEC) + USECS_PER_SEC;
	list->memo.valid = false;
	list->hist_gen = 0;			/* baseline limits not computed yet */
	for (int k = 0; k < IG_HIST_KINDS; k++)
		list->hist_cap[k] = IG_NO_LIMIT;
	list->npeer_groups = ngroups;
	list->peer_groups = groups;
}

/* Orders rules by relation, then id. */
static int
compare_rules(const void *a, const void *b)
{
	const IgRule *ra = (const IgRule *) a;
	const IgRule *rb = (const IgRule *) b;

	if (ra->relid != rb->relid)
		return (ra->relid > rb->relid) - (ra->relid < rb->relid);
	return (ra->id > rb->id) - (ra->id < rb->id);
}

/*
 * Reads the rules that cover the user, and files them by relation, each
 * list with the counter ring and length of each rule's window.  A user in
 * a peer group also gets (maybe empty) lists that keep its history for
 * every relation baseline rules name.  Catalog access: may deliver
 * invalidations (the caller checks).
 */
static IgUserMatch *
match_rules(Oid userid)
{
	const IgRuleTables *tables = &ig_rules_tables;
	const IgHistKeys *hk = &ig_rules_hist_keys;
	bool		unwatched = superuser_arg(userid);
	IgRuleBuf	buf;
	IgUserMatch *match;
	IgRuleList *lists = NULL;
	int			nlists = 0;
	bool		found;
	IgPeerGroup *groups = NULL;
	int			ngroups = 0;
	int			nkeys;
	IgRule	   *novelty = NULL;
	int			nnovelty = 0;
	int			nkept;
	bool		need_all;

	/* a backend that saw very many users starts over */
	if (hash_get_num_entries(matches.by_user) >= IG_MAX_USER_MATCHES)
		drop_matches();

	buf.allocated = 8;
	buf.nrules = 0;
	buf.rules = palloc(sizeof(IgRule) * buf.allocated);
	buf.now = ig_now();

	/* the first few users through the indexes; then the whole tables, once */
	if (!ig_rules_all.loaded && matches.index_matches < IG_INDEX_MATCHES &&
		(!tables->thresholds_present || OidIsValid(tables->thresholds_role_index)) &&
		(!tables->baselines_present ||
		 (OidIsValid(tables->baseline_role_index) &&
		  OidIsValid(tables->baseline_table_index))))
	{
		user_rules_from_index(userid, unwatched, &buf);
		matches.index_matches++;
	}
	else
	{
		if (!ig_rules_all.loaded)
		{
			ig_rules_all_load();
			ig_rules_find_group_roles(matches.cxt);
			ig_rules_all.loaded = true;
		}
		user_rules_from_all(userid, unwatched, &buf);
	}

	/* novelty rules apply to every table: set aside, copied into each list */
	nkept = 0;
	for (int i = 0; i < buf.nrules; i++)
	{
		if (!buf.rules[i].novelty)
			buf.rules[nkept++] = buf.rules[i];
		else
		{
			if (novelty == NULL)
				novelty = MemoryContextAlloc(matches.cxt,
											 sizeof(IgRule) * buf.nrules);
			novelty[nnovelty++] = buf.rules[i];
		}
	}
	buf.nrules = nkept;

	/* one list per relation, by relid; in each, the rules by id */
	qsort(buf.rules, buf.nrules, sizeof(IgRule), compare_rules);
	for (int i = 0; i < buf.nrules; i++)
		nlists += (i == 0 || buf.rules[i].relid != buf.rules[i - 1].relid);
	/* a novelty rule's limit needs the user's all-tables hourly history */
	need_all = nnovelty > 0 &&
		(buf.nrules == 0 || OidIsValid(buf.rules[0].relid));
	nlists += need_all;
	if (tables->baselines_present)
	{
		ig_rules_read_peer_groups();
		groups = ig_rules_find_peer_groups(userid, matches.cxt, &ngroups);
	}

	/*
	 * A peer keeps the history its peers' rules compare with: from the
	 * history keys, once all rules are read; else looked up as relations
	 * are read (ig_rules_for_relation).
	 */
	nkeys = ngroups > 0 && ig_rules_all.loaded ? hk->count : 0;
	if (nlists > 0 || nkeys > 0)
	{
		/* room for each list's rules, and the novelty rules in each */
		int			nslots = buf.nrules + nnovelty * (nlists + nkeys) + 1;
		IgRule	   *copies = MemoryContextAlloc(matches.cxt, sizeof(IgRule) * nslots);
		int		   *rings = MemoryContextAlloc(matches.cxt, sizeof(int) * nslots);
		int64	   *lengths = MemoryContextAlloc(matches.cxt, sizeof(int64) * nslots);
		int64	   *maxes = MemoryContextAlloc(matches.cxt, sizeof(int64) * nslots);
		bool	   *blocks = MemoryContextAlloc(matches.cxt, sizeof(bool) * nslots);
		int			r = 0;
		int			h = 0;
		int			c = 0;

		/* the rules (by relid) and the history keys (by relid), merged */
		lists = MemoryContextAlloc(matches.cxt,
								   sizeof(IgRuleList) * (nlists + nkeys));
		nlists = 0;
		while (r < buf.nrules || h < nkeys || need_all)
		{
			IgRuleList *list = &lists[nlists++];
			Oid			relid;

			if (need_all)
				relid = InvalidOid;
			else if (h == nkeys ||
					 (r < buf.nrules && buf.rules[r].relid <= hk->keys[h].relid))
				relid = buf.rules[r].relid;
			else
				relid = hk->keys[h].relid;
			need_all = false;
			memset(list, 0, sizeof(IgRuleList));
			list->relid = relid;
			list->rules = &copies[c];
			list->rings = &rings[c];
			list->lengths = &lengths[c];
			list->maxes = &maxes[c];
			list->blocks = &blocks[c];
			for (; r < buf.nrules && buf.rules[r].relid == relid; r++)
				list_add_rule(list, &buf.rules[r]);
			if (OidIsValid(relid))
				for (int n = 0; n < nnovelty; n++)
					list_add_rule(list, &novelty[n]);
			else if (nnovelty > 0)
				list->hist_wanted |= (1 << IG_HIST_HOUR);
			c += list->nrules;
			if (h < nkeys && hk->keys[h].relid == relid)
				list->hist_wanted |= hk->keys[h++].kinds;
			list->history_known = ngroups == 0 || ig_rules_all.loaded;
			list_finish(list, ngroups, groups);
		}
	}
	pfree(buf.rules);

	match = hash_search(matches.by_user, &userid, HASH_ENTER, &found);
	match->nlists = nlists;
	match->lists = lists;
	match->npeer_groups = ig_rules_all.loaded ? 0 : ngroups;
	match->peer_groups = groups;
	match->history_lists = NULL;
	match->nnovelty = nnovelty;
	match->novelty = novelty;
	match->ngroups = ngroups;
	/* a peer's statements must look up the history of what they read */
	match->covered = nlists > 0 || match->npeer_groups > 0 || nnovelty > 0;
	return match;
}

/*
 * Brings the cache up to date and says whether any rule covers the user,
 * when ig_rules_cover cannot answer from its last answer.  Needs catalog
 * access (a transaction).
 */
bool
ig_rules_cover_slow(Oid userid)
{
	ig_rules_answer.valid = false;
	while (!ig_rules_fresh.loaded)
	{
		uint64		seen = ig_rules_fresh.table_changes;

		/* what was read from the tables found before goes with them */
		matches.current = NULL;
		ig_rules_all_forget();
		ig_rules_load();
		ig_rules_fresh.loaded = (seen == ig_rules_fresh.table_changes);
	}
	if (!ig_rules_tables.rules_present)
	{
		matches.current = NULL;
		ig_rules_answer.userid = userid;
		ig_rules_answer.covered = false;
		ig_rules_answer.valid = true;
		return false;
	}

	for (;;)
	{
		uint64		seen = ig_rules_fresh.role_changes;
		IgUserMatch *match;

		/*
		 * matched is set before the roles with members are looked up, so
		 * that an invalidation meanwhile clears it; group_roles_pending
		 * stays set if the lookup fails, so the next statement starts
		 * again rather than match users without the rules of their groups.
		 */
		if (!ig_rules_fresh.matched || matches.by_user == NULL ||
			ig_rules_fresh.group_roles_pending)
		{
			drop_matches();
			ig_rules_fresh.matched = true;
			if (ig_rules_all.loaded)
			{
				ig_rules_fresh.group_roles_pending = true;
				ig_rules_find_group_roles(matches.cxt);
				ig_rules_fresh.group_roles_pending = false;
			}
		}
		match = hash_search(matches.by_user, &userid, HASH_FIND, NULL);
		if (match == NULL)
			match = match_rules(userid);
		/* memberships read while matching may have changed meanwhile */
		if (ig_rules_fresh.matched && seen == ig_rules_fresh.role_changes)
		{
			matches.current = match;
			ig_rules_answer.userid = userid;
			ig_rules_answer.covered = match->covered;
			/* loading or matching may have seen an invalidation */
			ig_rules_answer.valid = ig_rules_fresh.loaded;
			return match->covered;
		}
	}
}

/*
 * The registered peer groups a user belongs to directly, with their other
 * members, palloc'd in the current memory context (for the baselines
 * view).  Needs catalog access.
 */
IgPeerGroup *
ig_rules_peer_groups(Oid userid, int *count)
{
	*count = 0;
	(void) ig_rules_cover(userid);
	ig_rules_read_peer_groups();
	return ig_rules_find_peer_groups(userid, CurrentMemoryContext, count);
}

/*
 * Is a role a registered peer group of this database (insider_guard's
 * peer_group_roles)?  Catalog access.
 */
bool
ig_rules_is_peer_group(Oid roleid)
{
	(void) ig_rules_cover(GetSessionUserId());
	ig_rules_read_peer_groups();
	return ig_rules_peer_list.count > 0 &&
		bsearch(&roleid, ig_rules_peer_list.roleids, ig_rules_peer_list.count,
				sizeof(Oid), oid_cmp) != NULL;
}

/*
 * A list for a relation no rule covering a peer-group member names, if
 * baseline rules (of its peers) want its history kept; made once.
 */
static IgRuleList *
history_list(IgUserMatch *match, Oid relid)
{
	IgHistoryList *entry;
	bool		found;
	bool		known;
	uint8		kinds;

	if (match->history_lists == NULL)
		match->history_lists = ig_rules_oid_hash("insider_guard history lists",
												 sizeof(IgHistoryList), 16,
												 matches.cxt);
	entry = hash_search(match->history_lists, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->list;

	kinds = ig_rules_history_kinds(relid, &known);
	if (!known)
		return NULL;			/* asked again by the next statement */
	entry = hash_search(match->history_lists, &relid, HASH_ENTER, &found);
	entry->list = NULL;
	if (kinds != 0 || match->nnovelty > 0)
	{
		IgRuleList *list = MemoryContextAllocZero(matches.cxt, sizeof(IgRuleList));
		int			n = match->nnovelty;

		list->relid = relid;
		/* the novelty rules, as if they named this relation */
		if (n > 0)
		{
			list->rules = MemoryContextAlloc(matches.cxt, sizeof(IgRule) * n);
			list->rings = MemoryContextAlloc(matches.cxt, sizeof(int) * n);
			list->lengths = MemoryContextAlloc(matches.cxt, sizeof(int64) * n);
			list->maxes = MemoryContextAlloc(matches.cxt, sizeof(int64) * n);
			list->blocks = MemoryContextAlloc(matches.cxt, sizeof(bool) * n);
			for (int i = 0; i < n; i++)
				list_add_rule(list, &match->novelty[i]);
		}
		list->hist_wanted |= kinds;
		list->history_known = true;
		list_finish(list, match->ngroups, match->peer_groups);
		entry->list = list;
	}
	return entry->list;
}

/*
 * The rules covering a user that ig_rules_cover matched for a relation, or
 * for all tables if relid is InvalidOid; NULL if none.  Valid while the
 * statement that asked runs.
 *
 * A member of peer groups matched before all rules were read learns here,
 * as it reads relations, which of them its peers' baseline rules want the
 * history of: catalog access, once per relation, that waits for no lock
 * and may deliver invalidations (the list returned stays valid meanwhile:
 * the callbacks free nothing).
 */
IgRuleList *
ig_rules_for_relation(Oid userid, Oid relid)
{
	IgUserMatch *match = matches.current;
	int			lo = 0;
	int			hi;

	if (match == NULL || match->userid != userid)
	{
		/* a statement run meanwhile under another session user */
		if (matches.by_user == NULL ||
			(match = hash_search(matches.by_user, &userid, HASH_FIND, NULL)) == NULL)
			return NULL;
	}
	hi = match->nlists - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		IgRuleList *list = &match->lists[mid];

		if (list->relid == relid)
		{
			if (unlikely(!list->history_known))
			{
				bool		known;

				list->hist_wanted |= ig_rules_history_kinds(relid, &known);
				list->history_known = known;
			}
			return list;
		}
		if (list->relid < relid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (match->npeer_groups > 0 || match->nnovelty > 0)
		return history_list(match, relid);
	return NULL;
}
