/*-------------------------------------------------------------------------
 *
 * tramp_pool.c
 *		What the pool of plan-node trampolines shares with the fast paths:
 *		the budgets, the callback for an exhausted budget, the way back to
 *		core's own function, and the checks a fast path makes before it
 *		stands in for core (whose function a node has, which release the
 *		server runs).
 *
 * tramp.c (the trampolines that wrap) and fastscan_seq.c, fastscan_ios.c
 * (those that stand in for core) both use these; tramp.c alone hands out
 * pool indexes and asks the fast paths for their trampolines.  Kept apart
 * so that those files call down to this one and never each other both
 * ways.
 *
 * IDENTIFICATION
 *		src/exec/tramp_pool.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>

#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "base/event.h"
#include "exec/tramp_pool.h"

IgTramp		ig_exec_tramps[IG_POOL_SIZE];
IgExhaustedFn ig_exhausted = NULL;

/*
 * A fast path's way back to core: calls the function the trampoline
 * stands in for and counts the row it returns.  Off the hot path.
 */
pg_noinline TupleTableSlot *
ig_tramp_slow(IgTramp *tramp, PlanState *ps)
{
	TupleTableSlot *result = tramp->real.exec(ps);

	if (!TupIsNull(result) && --tramp->left < 0)
		ig_exhausted(tramp, NULL);
	return result;
}

/*
 * True if fn is core's own function for the node type "core" records:
 * it lives in the postgres executable itself, not in an extension that
 * wrapped it.  The first function seen for the type decides.
 */
bool
ig_is_core_fn(IgCoreFn *core, ExecProcNodeMtd fn)
{
	Dl_info		fn_info;
	Dl_info		core_info;

	if (fn == core->fn)
		return true;
	if (core->checked)
		return false;
	core->checked = true;
	if (dladdr((void *) fn, &fn_info) == 0 ||
		dladdr((void *) ExecScan, &core_info) == 0 ||
		fn_info.dli_fbase != core_info.dli_fbase)
		return false;
	core->fn = fn;
	return true;
}

/* A release number (server_version_num) as text: 150020 is "15.20". */
static void
release_text(int num, char *buf, size_t size)
{
	snprintf(buf, size, "%d.%d", num / 10000, num % 10000);
}

/*
 * True if the server runs one of the checked releases of a fast path
 * ("what"); else logs once why the fast path is off (checked is NULL when
 * this build has none).  From _PG_init: in the postmaster, whose children
 * inherit the answer, the log line is written once per server start.
 */
bool
ig_fastscan_release_checked(const char *what, const int *checked, int nchecked)
{
	const char *version = GetConfigOption("server_version_num", true, false);
	int			server = version != NULL ? atoi(version) : 0;
	char		list[128] = "";
	char		text[16];

	for (int i = 0; i < nchecked; i++)
	{
		if (checked[i] == server)
			return true;
		release_text(checked[i], text, sizeof(text));
		if (i > 0)
			strlcat(list, ", ", sizeof(list));
		strlcat(list, text, sizeof(list));
	}
	release_text(server, text, sizeof(text));
	if (ig_event_json() && !IsUnderPostmaster)
	{
		IgEvent		ev;

		ig_event_begin(&ev, "fast_path_off", ig_now());
		ig_event_keyword(&ev, "scan", what);
		ig_event_keyword(&ev, "server_version", text);
		ig_event_array(&ev, "checked_versions");
		for (int i = 0; i < nchecked; i++)
		{
			release_text(checked[i], text, sizeof(text));
			ig_event_keyword(&ev, NULL, text);
		}
		ig_event_end(&ev);
		ig_event_emit(&ev, LOG);
		return false;
	}
	ereport(IsUnderPostmaster ? DEBUG1 : LOG,
			(errmsg("insider_guard: the %s fast path is off on PostgreSQL %s",
					what, text),
			 checked == NULL ?
			 errdetail("This build of insider_guard (for PostgreSQL %s) has none.",
					   PG_VERSION) :
			 errdetail("It was checked against PostgreSQL %s only.", list),
			 errhint("Such scans are counted around PostgreSQL's own function, at a few more instructions per row.")));
	return false;
}
