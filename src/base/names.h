/*-------------------------------------------------------------------------
 *
 * names.h
 *		Names of roles and tables as last seen, for records written while
 *		a transaction is failing.
 *
 * src/base/names.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_NAMES_H
#define IG_NAMES_H

extern uint32 ig_names_gen;

extern void ig_names_init(void);
extern char *ig_role_name(Oid roleid, bool catalog_ok);
extern char *ig_table_name(Oid relid, bool catalog_ok);
extern void ig_names_remember(Oid roleid, Oid relid);
extern char *ig_qualified_name(Oid relid);
extern char *ig_database_name(bool catalog_ok);

#endif							/* IG_NAMES_H */
