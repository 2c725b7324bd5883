/*-------------------------------------------------------------------------
 *
 * violations_file.h
 *		The violations store's files, for the violations modules only: the
 *		record formats, the segments, a walk over the records, and the
 *		shared state (whose lock guards them all).
 *
 * src/shmem/violations_file.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_VIOLATIONS_FILE_H
#define IG_VIOLATIONS_FILE_H

#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/lwlock.h"

#include "shmem/violations.h"

#define IG_VIOLATIONS_DIR	"pg_insider_guard"
#define IG_VIOLATION_MAGIC	0x49475632	/* "IGV2": IgViolationFacts */
#define IG_VIOLATION_MAGIC_V1 0x49475631	/* "IGV1": IG_FACTS_V1_SIZE of it */
#define IG_REPEATS_MAGIC	0x49475231	/* "IGR1" */
#define IG_RESET_MAGIC		0x49475a31	/* "IGZ1" */
#define IG_NSTRINGS			6

/*
 * Ids are handed out in blocks of IG_ID_BLOCK: before the first id of a
 * block is used, the end of the block is written to IG_ID_MARK_FILE, so
 * that ids never repeat even if the segments holding the last records are
 * lost (ids may skip up to a block).
 */
#define IG_ID_MARK_FILE		IG_VIOLATIONS_DIR "/next_id"
#define IG_ID_BLOCK			1024

#define IG_RECENT_BLOCKS 64

/*
 * The header of every record.  A violation record is the header,
 * IgViolationFacts, then six length-prefixed strings.
 */typedef struct IgRecordHeader
{
	uint32		magic;
	uint32		length;			/* of the whole record, header included */
	pg_crc32c	crc;			/* of everything after the header */
	uint32		reserved;
} IgRecordHeader;

/*
 * A repeats record: the header, then this.  The latest repeat count of an
 * incident whose first stop is the violation record of that id; written
 * lazily (ig_violations_write_repeats), read with it.
 */
typedef struct IgRepeatsRecord
{
	int64		violation_id;
	int64		repeats;
	TimestampTz last_seen;
	Oid			dbid;
	uint32		pad;
} IgRepeatsRecord;

/*
 * A reset record: the header, then this.  An admin reset the counts of a
 * role (InvalidOid: every role) in a database: the block records made
 * before it no longer restore counts at start.
 */
typedef struct IgResetRecord
{
	TimestampTz at;
	Oid			dbid;
	Oid			roleid;
} IgResetRecord;

/*
 * A recent block record of a parallel query: its leader and workers may
 * each be stopped, and only the first to be records it.
 */
typedef struct IgRecentBlock
{
	int32		pid;			/* the leader's */
	uint64		parallel_query; /* which of its parallel queries */
	int64		threshold_id;
	int64		violation_id;
} IgRecentBlock;

typedef struct IgViolationsShared
{
	LWLock	   *lock;
	int64		next_id;
	int64		id_mark;		/* ids below it may have been handed out: it
								 * is on disk (IG_ID_MARK_FILE) */
	uint32		oldest;			/* oldest segment number */
	uint32		newest;			/* segment being appended to */
	uint64		newest_size;	/* its size */
	uint64		total_size;		/* of all segments */
	uint64		nrecords;		/* violation records in them (valid ones) */
	uint64		dropped;		/* records dropped to respect the cap, since
								 * the shared memory was made */
	int			next_recent;
	IgRecentBlock recent[IG_RECENT_BLOCKS];
	/* per PGPROC: number of its latest parallel query, see below */
	pg_atomic_uint64 parallel_queries[FLEXIBLE_ARRAY_MEMBER];
} IgViolationsShared;

/*
 * A walk over every valid record of the store, oldest first (damage is
 * skipped).  Lock held.
 */
typedef struct IgRecordScan
{
	uint32		segment;		/* the segment of the record returned */
	char	   *data;			/* that segment, read whole */
	Size		len;
	Size		offset;			/* of the record returned */
	uint32		rlen;			/* its length */
	Size		skipped;
} IgRecordScan;

typedef IgViolationFacts IgRecordFixed;

/* the layout on disk: rule_kind took padding, and nothing else moved */
StaticAssertDecl(offsetof(IgRecordFixed, block) == 68 &&
				 offsetof(IgRecordFixed, rule_kind) == 69 &&
				 IG_FACTS_V1_SIZE == 72 && sizeof(IgRecordFixed) == 80,
				 "the fixed part of violation records changed layout");

/* PGPROC slots: backends, auxiliary processes, prepared transactions */
#define IG_PROC_SLOTS (MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts)

extern IgViolationsShared *ig_vstate;

/* Is the valid record at data a violation (else a repeats record)? */
static inline bool
is_violation(const char *data)
{
	uint32		magic = ((const IgRecordHeader *) data)->magic;

	return magic == IG_VIOLATION_MAGIC || magic == IG_VIOLATION_MAGIC_V1;
}

/* Is the valid record at data a repeats record? */
static inline bool
is_repeats(const char *data)
{
	return ((const IgRecordHeader *) data)->magic == IG_REPEATS_MAGIC;
}

/* The size of the fixed part of a valid violation record. */
static inline Size
fixed_size(const char *data)
{
	return ((const IgRecordHeader *) data)->magic == IG_VIOLATION_MAGIC ?
		sizeof(IgRecordFixed) : IG_FACTS_V1_SIZE;
}

/* The fixed part of a valid violation record (an old one's, completed). */
static inline IgRecordFixed
record_fixed(const char *data)
{
	IgRecordFixed fixed;

	memset(&fixed, 0, sizeof(fixed));
	memcpy(&fixed, data + sizeof(IgRecordHeader), fixed_size(data));
	return fixed;
}

/* The body of a valid repeats record. */
static inline IgRepeatsRecord
record_repeats(const char *data)
{
	IgRepeatsRecord repeats;

	memcpy(&repeats, data + sizeof(IgRecordHeader), sizeof(repeats));
	return repeats;
}

extern void ig_vfile_path(char *path, uint32 segment);
extern char *ig_vfile_read(uint32 segment, Size *len);
extern bool ig_vfile_write(uint32 segment, const char *data, Size len,
						   int elevel);
extern uint32 ig_vfile_next_record(const char *data, Size len, Size *offset,
								   Size *skipped);
extern void ig_vfile_decode(const char *data, IgViolation *v);
extern void ig_vfile_scan_begin(IgRecordScan *scan);
extern const char *ig_vfile_scan_next(IgRecordScan *scan);
extern void ig_vfile_recover(void);
extern void ig_vfile_write_id_mark(int64 ahead);
extern int	ig_vfile_compare_ids(const void *a, const void *b);

extern void ig_vstore_make_room(uint64 incoming);
extern bool ig_vstore_append(const char *record, uint32 len);

#endif							/* IG_VIOLATIONS_FILE_H */
