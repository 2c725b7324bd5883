/*-------------------------------------------------------------------------
 *
 * bgw.h
 *		The background workers insider_guard registers, filled in one way
 *		(see bgw.c).
 *
 * src/base/bgw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_BGW_H
#define IG_BGW_H

#include "postmaster/bgworker.h"

extern void ig_bgw_init(BackgroundWorker *worker, const char *function,
						const char *name, Oid dbid, int restart_time);

#endif							/* IG_BGW_H */
