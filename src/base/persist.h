/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Version-stamped, checksummed state files written atomically.
 *
 * src/base/persist.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_PERSIST_H
#define IG_PERSIST_H

#include <stdio.h>

#include "port/pg_crc32c.h"

/* where the counters are saved, relative to the data directory */
#define IG_COUNTS_FILE		"pg_stat/insider_guard.counts"
#define IG_COUNTS_MAGIC		0x49474331	/* "IGC1" */
/* where the baselines' history series are saved */
#define IG_HISTORY_FILE		"pg_stat/insider_guard.history"
#define IG_HISTORY_MAGIC	0x49474831	/* "IGH1" */
/* when role memberships were granted (shmem/history_members.c) */
#define IG_MEMBERS_FILE		"pg_stat/insider_guard.members"
#define IG_MEMBERS_MAGIC	0x49474d31	/* "IGM1" */
/* the windows record_history seeded (shmem/history_seeds.c) */
#define IG_SEEDS_FILE		"pg_stat/insider_guard.seeds"
#define IG_SEEDS_MAGIC		0x49475331	/* "IGS1" */

typedef struct IgFileWriter
{
	FILE	   *file;
	pg_crc32c	crc;
	bool		failed;
} IgFileWriter;

typedef void (*IgFileBodyWriter) (IgFileWriter *writer);
typedef bool (*IgFileBodyReader) (const char *data, Size len, const char *path);

extern void ig_file_write(IgFileWriter *writer, const void *data, size_t len);
extern bool ig_file_save(const char *path, uint32 magic, IgFileBodyWriter body);
extern bool ig_file_load(const char *path, uint32 magic, IgFileBodyReader body);
extern bool ig_file_load_or_previous(const char *path, uint32 magic,
									 IgFileBodyReader body);
extern void ig_file_log_dropped(const char *path, const char *event,
								const char *what, const char *setting,
								int dropped, int max);

#endif							/* IG_PERSIST_H */
