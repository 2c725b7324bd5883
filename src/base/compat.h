/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Shims for the PostgreSQL major versions insider_guard builds on.
 *		Everything version-specific lives here, nothing else.
 *
 * Built and tested on 15 and 18 (README, "Supported versions", says how),
 * and on 17.12 and 19rc1 against Debian's builds of them (test/README.md);
 * the shims for 13, 14 and 16 follow those versions' headers.
 *
 * src/base/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_COMPAT_H
#define IG_COMPAT_H

#if PG_VERSION_NUM < 130000
#error "insider_guard needs PostgreSQL 13 or later"
#endif

/* PostgreSQL 18 dropped ExecutorRun's execute_once */
#if PG_VERSION_NUM >= 180000
#define IG_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define IG_EXECUTOR_RUN_PASS queryDesc, direction, count
#else
#define IG_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, \
	bool execute_once
#define IG_EXECUTOR_RUN_PASS queryDesc, direction, count, execute_once
#endif

/*
 * PostgreSQL 18 gave index_beginscan an instrumentation argument, 19 the
 * scan flags table_beginscan takes too
 */
#if PG_VERSION_NUM >= 190000
#define ig_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys, SO_NONE)
#elif PG_VERSION_NUM >= 180000
#define ig_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys)
#else
#define ig_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan(heap, index, snapshot, nkeys, norderbys)
#endif

/* PostgreSQL 19 gave table_beginscan flags (none wanted: SO_NONE) */
#if PG_VERSION_NUM >= 190000
#define ig_table_beginscan(rel, snapshot, nkeys, key) \
	table_beginscan(rel, snapshot, nkeys, key, SO_NONE)
#else
#define ig_table_beginscan(rel, snapshot, nkeys, key) \
	table_beginscan(rel, snapshot, nkeys, key)
#endif

/*
 * PostgreSQL 19 gave ShmemInitHash one size where it took an initial and a
 * maximum one (insider_guard passed the same twice)
 */
#if PG_VERSION_NUM >= 190000
#define ig_shmem_init_hash(name, size, info, flags) \
	ShmemInitHash(name, size, info, flags)
#else
#define ig_shmem_init_hash(name, size, info, flags) \
	ShmemInitHash(name, size, size, info, flags)
#endif

/* PostgreSQL 19 passes the planner hook an ExplainState */
#if PG_VERSION_NUM >= 190000
#define IG_PLANNER_ARGS \
	Query *parse, const char *query_string, int cursorOptions, \
	ParamListInfo boundParams, ExplainState *es
#define IG_PLANNER_PASS parse, query_string, cursorOptions, boundParams, es
#else
#define IG_PLANNER_ARGS \
	Query *parse, const char *query_string, int cursorOptions, \
	ParamListInfo boundParams
#define IG_PLANNER_PASS parse, query_string, cursorOptions, boundParams
#endif

/*
 * PostgreSQL 19 renamed OnConflictSetState OnConflictActionState: it also
 * serves the new ON CONFLICT DO SELECT, whose rows returned from the
 * table are not counted yet (only DO UPDATE's are)
 */
#if PG_VERSION_NUM >= 190000
#define IgOnConflictState OnConflictActionState
#else
#define IgOnConflictState OnConflictSetState
#endif

/*
 * PostgreSQL 18 can also name a deferrable primary key; as before, only an
 * immediate one is wanted.
 */
#if PG_VERSION_NUM >= 180000
#define ig_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel, false)
#else
#define ig_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * PostgreSQL 17 numbers processes with GetNumberFromPGProc, keeps the local
 * transaction id in vxid, renamed IsAutoVacuumWorkerProcess and
 * pgstat_fetch_stat_local_beentry.
 */
#if PG_VERSION_NUM >= 170000
#define ig_proc_number(proc) ((int) GetNumberFromPGProc(proc))
#define ig_proc_lxid(proc) ((proc)->vxid.lxid)
#define ig_am_autovacuum_worker() AmAutoVacuumWorkerProcess()
#define ig_local_beentry(i) pgstat_get_local_beentry_by_index(i)
#else
#define ig_proc_number(proc) ((proc)->pgprocno)
#define ig_proc_lxid(proc) ((proc)->lxid)
#define ig_am_autovacuum_worker() IsAutoVacuumWorkerProcess()
#define ig_local_beentry(i) pgstat_fetch_stat_local_beentry(i)
#endif

/* PostgreSQL 15 added MarkGUCPrefixReserved */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* PostgreSQL 15 added shmem_request_hook */
#if PG_VERSION_NUM >= 150000
#define IG_HAVE_SHMEM_REQUEST_HOOK
#endif

/* PostgreSQL 14 added the readOnlyTree argument to ProcessUtility */
#if PG_VERSION_NUM >= 140000
#define IG_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define IG_PROCESS_UTILITY_REST \
	queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define IG_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define IG_PROCESS_UTILITY_REST \
	queryString, context, params, queryEnv, dest, qc
#endif

/* PostgreSQL 14 moved backend status out of pgstat.h */
#if PG_VERSION_NUM >= 140000
#define IG_BACKEND_STATUS_HEADER "utils/backend_status.h"
#else
#define IG_BACKEND_STATUS_HEADER "pgstat.h"
#endif

/* PostgreSQL 16 typed the planstate_tree_walker callback */
#if PG_VERSION_NUM >= 160000
#define IG_PLANSTATE_WALKER(fn) (fn)
#else
#define IG_PLANSTATE_WALKER(fn) ((bool (*) ()) (fn))
#endif

/*
 * The fast paths: fastscan_seq.c and fastscan_ios.c stand in for core's
 * ExecSeqScan and ExecIndexOnlyScan, repeating what those do in the minor
 * releases listed here, whose core code each was checked against (the
 * file's header says how).  A fast path is built only against the headers
 * of a listed release, and used only when the server runs a listed release
 * (server_version_num, compared when the library loads): a minor release
 * may change the code it repeats, or the structs it reads.  Anywhere else
 * insider_guard wraps core's own functions, and says so once in the log.
 * Before adding a release, check the functions each file names in it.
 *
 * 15.18 and 15.20: nodeSeqscan.c and execScan.c are the same code.
 */
#if PG_VERSION_NUM == 150018 || PG_VERSION_NUM == 150020
#define IG_SEQSCAN_FAST_PATH
#define IG_SEQSCAN_CHECKED {150018, 150020}
#endif

/*
 * 15.20 only: its IndexOnlyNext stores a heap-format index tuple (GiST,
 * SP-GiST) differently from 15.18's.
 */
#if PG_VERSION_NUM == 150020
#define IG_INDEXONLYSCAN_FAST_PATH
#define IG_INDEXONLYSCAN_CHECKED {150020}
#endif

/* PostgreSQL 14 added TID range scans */
#if PG_VERSION_NUM >= 140000
#define IG_CASE_TID_RANGE_SCAN case T_TidRangeScanState:
#else
#define IG_CASE_TID_RANGE_SCAN
#endif

/* Is this process a logical replication apply or sync worker? */
#if PG_VERSION_NUM >= 150000
#include "replication/logicalworker.h"
#define ig_is_logical_worker() IsLogicalWorker()
#else
#include "postmaster/bgworker.h"
static inline bool
ig_is_logical_worker(void)
{
	return MyBgworkerEntry != NULL &&
		strcmp(MyBgworkerEntry->bgw_library_name, "postgres") == 0 &&
		strcmp(MyBgworkerEntry->bgw_function_name, "ApplyWorkerMain") == 0;
}
#endif

#endif							/* IG_COMPAT_H */
