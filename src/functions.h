/*-------------------------------------------------------------------------
 *
 * functions.h
 *		Argument checks shared by insider_guard's SQL functions.
 *
 * src/functions.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_FUNCTIONS_H
#define IG_FUNCTIONS_H

#include "datatype/timestamp.h"

extern void ig_require_preloaded(void);
extern int64 ig_window_arg(Interval *per, const char *argname);
extern void ig_check_table_arg(Oid relid, const char *argname);
extern char *ig_qualified_name(Oid relid);
extern void ig_check_threshold(bool max_rows_null, int64 max_rows,
							   Interval *per, const char *action,
							   bool table_null, Oid relid);

#endif							/* IG_FUNCTIONS_H */
