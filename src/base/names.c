/*-------------------------------------------------------------------------
 *
 * names.c
 *		Names of roles and tables as last seen, so that a violation can be
 *		recorded while a transaction is failing.
 *
 * A log threshold can be crossed by the rows a failing statement read:
 * they are settled while the transaction aborts, when the catalogs may
 * not be read.  The record must still be written, with names: they come
 * from this cache, filled whenever a name is looked up in a transaction
 * and when a statement starts reading a table a rule of the user names
 * (the user and the table), and emptied by the invalidations that may
 * rename them.  A name never seen is written as its OID.
 *
 * IDENTIFICATION
 *		src/base/names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/names.h"

#define IG_NAME_SLOTS	32

typedef struct IgCachedName
{
	Oid			oid;
	char	   *name;			/* in TopMemoryContext */
} IgCachedName;

/*
 * Changes whenever an invalidation makes a name be forgotten, so that the
 * names are looked up again.  Not when the oldest is replaced to make
 * room: a backend whose statements read more than IG_NAME_SLOTS ruled
 * tables (or run as that many roles) would look names up on every
 * statement; such records may name an OID instead.
 */
uint32		ig_names_gen = 1;

static IgCachedName role_names[IG_NAME_SLOTS];
static IgCachedName table_names[IG_NAME_SLOTS];
static int	next_role_slot = 0;
static int	next_table_slot = 0;

/* Empties a cache (or the entry of one OID). */
static void
forget(IgCachedName *cache, Oid oid)
{
	for (int i = 0; i < IG_NAME_SLOTS; i++)
	{
		if (cache[i].name != NULL && (!OidIsValid(oid) || cache[i].oid == oid))
		{
			pfree(cache[i].name);
			cache[i].name = NULL;
			cache[i].oid = InvalidOid;
			ig_names_gen++;
		}
	}
}

static void
names_relcache_callback(Datum arg, Oid relid)
{
	forget(table_names, relid);
}

/* A schema was renamed or dropped: any qualified name may be stale. */
static void
names_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	forget(table_names, InvalidOid);
}

static void
names_role_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	forget(role_names, InvalidOid);
}

/*
 * Registers the invalidation callbacks; once per backend.
 */
void
ig_names_init(void)
{
	CacheRegisterRelcacheCallback(names_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, names_namespace_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, names_role_callback, (Datum) 0);
}

static const char *
cached(const IgCachedName *cache, Oid oid)
{
	for (int i = 0; i < IG_NAME_SLOTS; i++)
		if (cache[i].name != NULL && cache[i].oid == oid)
			return cache[i].name;
	return NULL;
}

static void
remember(IgCachedName *cache, int *next, Oid oid, const char *name)
{
	IgCachedName *slot = &cache[*next];

	if (cached(cache, oid) != NULL)
		return;
	if (slot->name != NULL)
		pfree(slot->name);
	slot->oid = oid;
	slot->name = MemoryContextStrdup(TopMemoryContext, name);
	*next = (*next + 1) % IG_NAME_SLOTS;
}

/*
 * A role's name, palloc'd: looked up (and remembered) if the catalogs may
 * be read (catalog_ok, in a transaction), else as last seen, else its OID.
 */
char *
ig_role_name(Oid roleid, bool catalog_ok)
{
	const char *name;

	if (catalog_ok && IsTransactionState())
	{
		char	   *found = GetUserNameFromId(roleid, true);

		if (found != NULL)
		{
			remember(role_names, &next_role_slot, roleid, found);
			return found;
		}
	}
	else if ((name = cached(role_names, roleid)) != NULL)
		return pstrdup(name);
	return psprintf("%u", roleid);
}

/*
 * A table's qualified name, palloc'd, as ig_role_name does for roles;
 * NULL if the table is gone.
 */
char *
ig_table_name(Oid relid, bool catalog_ok)
{
	const char *name;

	if (catalog_ok && IsTransactionState())
	{
		char	   *found = ig_qualified_name(relid);

		if (found != NULL)
			remember(table_names, &next_table_slot, relid, found);
		return found;
	}
	if ((name = cached(table_names, relid)) != NULL)
		return pstrdup(name);
	return psprintf("%u", relid);
}

/*
 * Looks up and remembers the names a record about this user and table
 * would need; in a transaction.
 */
void
ig_names_remember(Oid roleid, Oid relid)
{
	if (!IsTransactionState())
		return;
	if (OidIsValid(roleid) && cached(role_names, roleid) == NULL)
		pfree(ig_role_name(roleid, true));
	if (OidIsValid(relid) && cached(table_names, relid) == NULL)
	{
		char	   *name = ig_table_name(relid, true);

		if (name != NULL)
			pfree(name);
	}
}

/* "schema.table", quoted as needed, or NULL if the relation is gone. */
char *
ig_qualified_name(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		return NULL;
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		return NULL;
	return quote_qualified_identifier(nspname, relname);
}

/*
 * This database's name, looked up once (a database cannot be renamed
 * while anyone is connected to it); NULL if it was never looked up and
 * the catalogs may not be read now, or outside a database.
 */
char *
ig_database_name(bool catalog_ok)
{
	static char *database_name = NULL;

	if (database_name == NULL && catalog_ok && OidIsValid(MyDatabaseId))
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name != NULL)
			database_name = MemoryContextStrdup(TopMemoryContext, name);
	}
	return database_name ? pstrdup(database_name) : NULL;
}
