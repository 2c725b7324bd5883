/*-------------------------------------------------------------------------
 *
 * args.h
 *		Argument checks and helpers shared by insider_guard's SQL
 *		functions and triggers.
 *
 * src/sql/args.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_ARGS_H
#define IG_ARGS_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/tuplestore.h"

extern void ig_require_preloaded(void);
extern int64 ig_window_arg(Interval *per, const char *argname);
extern void ig_check_table_arg(Oid relid, const char *argname);
extern void ig_check_role_arg(Oid roleid, const char *argname);
extern void ig_check_stored_role(bool isnull, Datum role);
extern void ig_require_view_privilege(const char *view);
extern TupleDesc ig_materialize_result(FunctionCallInfo fcinfo,
									   Tuplestorestate **store);
extern Interval *ig_length_interval(int64 length);
extern void ig_check_threshold(bool max_rows_null, int64 max_rows,
							   Interval *per, const char *action,
							   bool table_null, Oid relid);
extern bool ig_baselines_installed(void);
extern bool ig_novelty_installed(void);
extern int	ig_baseline_per_arg(Interval *per);
extern void ig_check_min_rows_arg(bool min_rows_null, int64 min_rows);
extern void ig_check_action_arg(const char *action);
extern void ig_check_baseline_rule(bool factor_null, double factor,
								   Interval *per, bool min_rows_null,
								   int64 min_rows, const char *compare_to,
								   const char *action, bool table_null,
								   Oid relid, bool novelty_allowed);

#endif							/* IG_ARGS_H */
