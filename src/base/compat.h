/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Shims for the PostgreSQL major versions insider_guard builds on
 *		(13 to 17).  Only 15 is tested; everything version-specific lives
 *		here, nothing else.
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
 * tramp.c's sequential-scan fast path does what ExecSeqScan -> ExecScan ->
 * SeqNext do in PostgreSQL 13 to 17.  PostgreSQL 18 reorganized them.
 */
#if PG_VERSION_NUM < 180000
#define IG_SEQSCAN_FAST_PATH
#endif

/*
 * tramp.c's index-only scan fast path does what ExecIndexOnlyScan ->
 * ExecScan -> IndexOnlyNext do for a forward scan without ORDER BY
 * operators or name columns.  It is enabled only for the minor releases
 * whose nodeIndexonlyscan.c it was checked against (and, at run time, only
 * when the server is the release it was built for): a minor release may
 * change that file, or add fields to IndexOnlyScanState.  Check
 * IndexOnlyNext and StoreIndexTuple before adding a release here.
 */
#if PG_VERSION_NUM == 150020
#define IG_INDEXONLYSCAN_FAST_PATH
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
