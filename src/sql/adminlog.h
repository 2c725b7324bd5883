/*-------------------------------------------------------------------------
 *
 * adminlog.h
 *		The server log line of every admin action: the SQL functions that
 *		change rules, counts, history or violation records, and direct DML
 *		on the rules tables.
 *
 * src/sql/adminlog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_ADMINLOG_H
#define IG_ADMINLOG_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"

#include "base/event.h"

/* One admin log line as it is built: text, or a JSON event. */
typedef struct IgAdminLine
{
	bool		json;			/* insider_guard.log_format = json */
	StringInfoData text;
	const char *separator;		/* written before the next value */
	IgEvent		event;
	bool		in_arguments;	/* the event's "arguments" object is open */
} IgAdminLine;

/*
 * While an admin function changes a rules table through SPI (more than
 * zero), the tables' log triggers stay quiet: the function writes the one
 * line of the call.
 */
extern int	ig_admin_quiet;

extern void ig_admin_line_start(IgAdminLine *line, const char *action);
extern void ig_admin_line_value(IgAdminLine *line, const char *name,
								Datum value, Oid type, bool isnull);
extern void ig_admin_line_result(IgAdminLine *line, Datum value, Oid type,
								 bool isnull);
extern void ig_admin_line_emit(IgAdminLine *line);
extern void ig_admin_log_membership(Oid groupid, Oid member, bool granted);
extern void ig_admin_log_call(FunctionCallInfo fcinfo, const char *action,
							  const char *const *argnames,
							  const Oid *argtypes, int nargs,
							  Datum result, Oid result_type);

#endif							/* IG_ADMINLOG_H */
