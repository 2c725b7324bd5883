/*-------------------------------------------------------------------------
 *
 * violations.c
 *		Durable records of broken thresholds, and their server log lines.
 *
 * Records are appended to segment files in $PGDATA/pg_insider_guard,
 * "violations.<8 hex digits>", never to a table: a hot standby must be
 * able to write them too.  Each record is framed by a magic number, its
 * length and a CRC-32C of its contents, and is written and fsynced before
 * the statement that broke the threshold returns (or raises its error),
 * so it is durable before the client hears of it.  A statement stopped
 * by a block rule is recorded once, even when several processes of a
 * parallel query are stopped.  A crash can tear at
 * most the record being appended; at startup the newest segment is cut
 * back to its last whole record, so the others stay readable.
 *
 * Disk use is capped by insider_guard.violations_max_size: segments are an
 * eighth of it, and when a new one would exceed the cap the oldest go
 * first, their records counted and logged.  prune_violations() rewrites
 * the segments that hold a database's old records without them.
 *
 * Locking: violations_lock EXCLUSIVE to append or prune (assigns ids,
 * moves the end), SHARED to read.  Appends are rare (a blocked statement,
 * a crossing), so one writer at a time, fsync included, is fine.
 *
 * Each record also goes to the server log as one line, LOG_SERVER_ONLY so
 * that no client sees it (a watched role can SET client_min_messages),
 * with every string quoted and its control characters escaped so that no
 * role, table, query or application name can start a new line.
 *
 * IDENTIFICATION
 *		src/violations.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/parallel.h"
#include "common/ip.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "access/twophase.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include IG_BACKEND_STATUS_HEADER

#include "counters.h"
#include "functions.h"
#include "window.h"
#include "guc.h"
#include "names.h"
#include "violations.h"

#define IG_VIOLATIONS_DIR	"pg_insider_guard"
#define IG_VIOLATION_MAGIC	0x49475632	/* "IGV2": IgViolationFacts */
#define IG_VIOLATION_MAGIC_V1 0x49475631	/* "IGV1": IG_FACTS_V1_SIZE of it */
#define IG_REPEATS_MAGIC	0x49475231	/* "IGR1" */
#define IG_RESET_MAGIC		0x49475a31	/* "IGZ1" */
#define IG_NSTRINGS			6

typedef struct IgRecordHeader
{
	uint32		magic;
	uint32		length;			/* of the whole record, header included */
	pg_crc32c	crc;			/* of everything after the header */
	uint32		reserved;
} IgRecordHeader;

/* a record: the header, IgViolationFacts, six length-prefixed strings */
typedef IgViolationFacts IgRecordFixed;

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

#define IG_RECENT_BLOCKS 64

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
	uint64		dropped;		/* records dropped to respect the cap */
	int			next_recent;
	IgRecentBlock recent[IG_RECENT_BLOCKS];
	/* per PGPROC: number of its latest parallel query, see below */
	pg_atomic_uint64 parallel_queries[FLEXIBLE_ARRAY_MEMBER];
} IgViolationsShared;

/* PGPROC slots: backends, auxiliary processes, prepared transactions */
#define IG_PROC_SLOTS (MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts)

static IgViolationsShared *igv = NULL;

/*
 * Ids are handed out in blocks of IG_ID_BLOCK: before the first id of a
 * block is used, the end of the block is written to IG_ID_MARK_FILE, so
 * that ids never repeat even if the segments holding the last records are
 * lost (ids may skip up to a block).
 */
#define IG_ID_MARK_FILE		IG_VIOLATIONS_DIR "/next_id"
#define IG_ID_BLOCK			1024

/* The id mark on disk, or 0 if there is none (or it does not check). */
static int64
read_id_mark(void)
{
	int			fd = OpenTransientFile(IG_ID_MARK_FILE, O_RDONLY | PG_BINARY);
	int64		mark[2];
	pg_crc32c	crc;

	if (fd < 0)
		return 0;
	if (read(fd, mark, sizeof(mark)) != sizeof(mark))
	{
		CloseTransientFile(fd);
		return 0;
	}
	CloseTransientFile(fd);
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &mark[0], sizeof(mark[0]));
	FIN_CRC32C(crc);
	if ((int64) crc != mark[1] || mark[0] < 0)
	{
		ereport(LOG,
				(errmsg("insider_guard: ignoring \"%s\": it does not check",
						IG_ID_MARK_FILE)));
		return 0;
	}
	return mark[0];
}

/*
 * Moves the id mark "ahead" ids past next_id, durably: a block ahead
 * before the first id of a block is handed out, none at a clean shutdown
 * (so that a restart goes on without a gap).  Lock held (or no other
 * process left).  A failure is logged; ids go on being handed out.
 */
static void
write_id_mark(int64 ahead)
{
	int64		mark[2];
	pg_crc32c	crc;
	int			fd;
	char		tmp[MAXPGPATH];

	mark[0] = igv->next_id + ahead;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &mark[0], sizeof(mark[0]));
	FIN_CRC32C(crc);
	mark[1] = (int64) crc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", IG_ID_MARK_FILE);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 || write(fd, mark, sizeof(mark)) != sizeof(mark) ||
		pg_fsync(fd) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not write \"%s\": %m", tmp)));
		if (fd >= 0)
			CloseTransientFile(fd);
		return;
	}
	CloseTransientFile(fd);
	if (durable_rename(tmp, IG_ID_MARK_FILE, LOG) == 0)
		igv->id_mark = mark[0];
}

/* Path of a segment file. */
static void
segment_path(char *path, uint32 segment)
{
	snprintf(path, MAXPGPATH, "%s/violations.%08X", IG_VIOLATIONS_DIR, segment);
}

/* Size of one segment: an eighth of the cap, 64 kB at least. */
static uint64
segment_limit(void)
{
	return Max((uint64) ig_violations_max_size * 1024 / 8, (uint64) 65536);
}

/*
 * A whole segment file, palloc'd, or NULL if it does not exist or cannot
 * be read (then logged).
 */
static char *
read_segment(uint32 segment, Size *len)
{
	char		path[MAXPGPATH];
	int			fd;
	struct stat st;
	char	   *data;

	segment_path(path, segment);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not open \"%s\": %m", path)));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
	{
		CloseTransientFile(fd);
		return NULL;
	}
	data = palloc(Max(st.st_size, 1));
	if (st.st_size > 0 && read(fd, data, st.st_size) != st.st_size)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not read \"%s\": %m", path)));
		CloseTransientFile(fd);
		pfree(data);
		return NULL;
	}
	CloseTransientFile(fd);
	*len = st.st_size;
	return data;
}

/*
 * The length of the record (a violation or a repeats record) at
 * data[offset], or 0 if there is no whole, valid record there.
 */
static uint32
record_at(const char *data, Size len, Size offset)
{
	IgRecordHeader header;
	pg_crc32c	crc;
	Size		least;

	if (len - offset < sizeof(header))
		return 0;
	memcpy(&header, data + offset, sizeof(header));
	if (header.magic == IG_VIOLATION_MAGIC)
		least = sizeof(header) + sizeof(IgRecordFixed);
	else if (header.magic == IG_VIOLATION_MAGIC_V1)
		least = sizeof(header) + IG_FACTS_V1_SIZE;
	else if (header.magic == IG_REPEATS_MAGIC)
		least = sizeof(header) + sizeof(IgRepeatsRecord);
	else if (header.magic == IG_RESET_MAGIC)
		least = sizeof(header) + sizeof(IgResetRecord);
	else
		return 0;
	if (header.length < least || header.length > len - offset)
		return 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data + offset + sizeof(header), header.length - sizeof(header));
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, header.crc))
		return 0;
	return header.length;
}

/*
 * The next valid record at or after *offset: sets *offset to it and
 * returns its length, or returns 0 if there is none.  Bytes that are not
 * a valid record (damage) are skipped -- resynchronising on the next
 * place where a record's magic number starts a record that checks -- and
 * added to *skipped, unless no valid record follows them (a tail).  No
 * record can hide in another's text: lengths hold zero bytes, which text
 * cannot.
 */
static uint32
next_record(const char *data, Size len, Size *offset, Size *skipped)
{
	for (Size at = *offset; at + sizeof(IgRecordHeader) <= len; at++)
	{
		uint32		magic;
		uint32		rlen;

		memcpy(&magic, data + at, sizeof(magic));
		if (magic != IG_VIOLATION_MAGIC && magic != IG_REPEATS_MAGIC &&
			magic != IG_VIOLATION_MAGIC_V1 && magic != IG_RESET_MAGIC)
			continue;
		rlen = record_at(data, len, at);
		if (rlen == 0)
			continue;
		*skipped += at - *offset;
		*offset = at;
		return rlen;
	}
	return 0;
}

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

/* Decodes a valid record (see record_at) into *v; strings palloc'd. */
static void
decode_record(const char *data, IgViolation *v)
{
	const char *p = data + sizeof(IgRecordHeader) + fixed_size(data);
	const char *end = data + ((const IgRecordHeader *) data)->length;
	char	  **strings[IG_NSTRINGS];

	v->facts = record_fixed(data);
	v->repeats = 0;
	v->last_seen = v->facts.occurred_at;

	strings[0] = &v->role_name;
	strings[1] = &v->current_role_name;
	strings[2] = &v->table_name;
	strings[3] = &v->query;
	strings[4] = &v->application_name;
	strings[5] = &v->client_addr;
	for (int i = 0; i < IG_NSTRINGS; i++)
	{
		uint32		slen = 0;

		if (end - p >= (ptrdiff_t) sizeof(slen))
		{
			memcpy(&slen, p, sizeof(slen));
			p += sizeof(slen);
			slen = Min(slen, (uint32) (end - p));
		}
		*strings[i] = pnstrdup(p, slen);
		p += slen;
	}
}

/*
 * Reads a segment's records, skipping damage: returns the end of its last
 * valid record (what follows is a tail, torn or damaged); the violation
 * records are counted, the highest id kept in *last_id, and the damaged
 * bytes before the last valid record given in *skipped.
 */
static Size
scan_segment(const char *data, Size len, int64 *nrecords, int64 *last_id,
			 Size *skipped)
{
	Size		offset = 0;
	Size		end = 0;
	uint32		rlen;

	*skipped = 0;
	while ((rlen = next_record(data, len, &offset, skipped)) > 0)
	{
		if (is_violation(data + offset))
		{
			if (last_id)
				*last_id = Max(*last_id, record_fixed(data + offset).violation_id);
			if (nrecords)
				(*nrecords)++;
		}
		offset += rlen;
		end = offset;
	}
	return end;
}

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

static void
scan_begin(IgRecordScan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->segment = igv->oldest;
}

/* The next valid record, or NULL at the end of the store. */
static const char *
scan_next(IgRecordScan *scan)
{
	for (;;)
	{
		if (scan->data != NULL)
		{
			if (scan->rlen > 0)
				scan->offset += scan->rlen;
			scan->rlen = next_record(scan->data, scan->len, &scan->offset,
									 &scan->skipped);
			if (scan->rlen > 0)
				return scan->data + scan->offset;
			pfree(scan->data);
			scan->data = NULL;
			scan->segment++;
		}
		while (scan->data == NULL && scan->segment <= igv->newest)
		{
			scan->data = read_segment(scan->segment, &scan->len);
			if (scan->data == NULL)
				scan->segment++;
		}
		if (scan->data == NULL)
			return NULL;
		if (scan->segment == igv->newest)
			scan->len = Min(scan->len, igv->newest_size);
		scan->offset = 0;
		scan->rlen = 0;
	}
}

Size
ig_violations_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(IgViolationsShared, parallel_queries),
							 mul_size(sizeof(pg_atomic_uint64), IG_PROC_SLOTS)));
}

/*
 * A number that the leader of a parallel query and its workers share, and
 * that differs between the leader's parallel queries: the leader takes a
 * new one when its executor starts (with leader), its workers read it.
 */
uint64
ig_parallel_query_key(bool leader)
{
	PGPROC	   *proc = leader ? MyProc : MyProc->lockGroupLeader;

	if (proc == NULL || proc->pgprocno < 0 || proc->pgprocno >= IG_PROC_SLOTS)
		return 0;
	if (leader)
		return pg_atomic_add_fetch_u64(&igv->parallel_queries[proc->pgprocno], 1);
	return pg_atomic_read_u64(&igv->parallel_queries[proc->pgprocno]);
}

/*
 * Finds the segments, cuts a torn record off the newest, and sets the next
 * id.  Postmaster, at (re)initialization of shared memory.
 */
static void
recover_segments(void)
{
	DIR		   *dir;
	struct dirent *de;
	bool		any = false;
	char	   *data;
	Size		len;
	int64		last_id = 0;

	if (MakePGDirectory(IG_VIOLATIONS_DIR) < 0 && errno != EEXIST)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not create directory \"%s\": %m",
						IG_VIOLATIONS_DIR)));

	igv->oldest = igv->newest = 1;
	igv->total_size = 0;
	dir = AllocateDir(IG_VIOLATIONS_DIR);
	while (dir && (de = ReadDirExtended(dir, IG_VIOLATIONS_DIR, LOG)) != NULL)
	{
		unsigned int segment;
		char		path[MAXPGPATH];
		struct stat st;

		/* what a crash left of a rewrite or of the id mark's */
		if (strlen(de->d_name) > 4 &&
			strcmp(de->d_name + strlen(de->d_name) - 4, ".tmp") == 0)
		{
			snprintf(path, sizeof(path), "%s/%s", IG_VIOLATIONS_DIR, de->d_name);
			unlink(path);
			continue;
		}
		if (sscanf(de->d_name, "violations.%08X", &segment) != 1 ||
			strlen(de->d_name) != strlen("violations.") + 8)
			continue;
		segment_path(path, segment);
		if (stat(path, &st) != 0)
			continue;
		if (!any || segment < igv->oldest)
			igv->oldest = segment;
		if (!any || segment > igv->newest)
			igv->newest = segment;
		igv->total_size += st.st_size;
		any = true;
	}
	if (dir)
		FreeDir(dir);

	/*
	 * Every segment is read: damage is skipped and logged, never cut (the
	 * records after it are intact); only the newest segment's tail, which
	 * no valid record follows, is a torn write and is cut off.
	 */
	for (uint32 segment = igv->oldest; any && segment <= igv->newest; segment++)
	{
		char		path[MAXPGPATH];
		Size		skipped;
		Size		end;
		int64		nrecords = 0;

		data = read_segment(segment, &len);
		if (data == NULL)
			continue;
		segment_path(path, segment);
		end = scan_segment(data, len, &nrecords, &last_id, &skipped);
		if (skipped > 0)
			ereport(LOG,
					(errmsg("insider_guard: skipped %zu bytes of damaged records in \"%s\"; the %lld intact violation records around them are kept",
							skipped, path, (long long) nrecords)));
		if (segment == igv->newest && end < len)
		{
			ereport(LOG,
					(errmsg("insider_guard: cutting %zu bytes of an incomplete record off \"%s\"",
							len - end, path)));
			if (truncate(path, end) != 0)
				ereport(LOG,
						(errcode_for_file_access(),
						 errmsg("insider_guard: could not truncate \"%s\": %m", path)));
			igv->total_size -= len - end;
		}
		else if (end < len)
			ereport(LOG,
					(errmsg("insider_guard: skipped %zu bytes of damaged records at the end of \"%s\"",
							len - end, path)));
		if (segment == igv->newest)
			igv->newest_size = end;
		pfree(data);
	}

	/* ids never repeat: past the last record, and past every id handed out */
	igv->next_id = Max(last_id + 1, read_id_mark());
	igv->id_mark = igv->next_id;
}

/*
 * Creates or attaches to the shared state; with "recover", also looks at
 * the files (postmaster only).
 */
void
ig_violations_shmem_init(bool recover)
{
	bool		found;

	igv = ShmemInitStruct("insider_guard violations",
						  ig_violations_shmem_size(), &found);
	if (!found)
	{
		memset(igv, 0, offsetof(IgViolationsShared, parallel_queries));
		for (int i = 0; i < IG_PROC_SLOTS; i++)
			pg_atomic_init_u64(&igv->parallel_queries[i], 0);
		igv->lock = &(GetNamedLWLockTranche("insider_guard"))[1].lock;
		igv->next_id = 1;
		igv->oldest = igv->newest = 1;
	}
	if (recover)
		recover_segments();
}

/* Appends a length-prefixed string to a record being built. */
static void
append_string(StringInfo buf, const char *s)
{
	uint32		len = s ? strlen(s) : 0;

	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	if (len > 0)
		appendBinaryStringInfo(buf, s, len);
}

/*
 * Replaces a segment's contents (a temporary file fsynced and renamed
 * over it); an empty segment other than the newest is removed.  Lock
 * held.  Returns false, logged at "elevel" (ERROR raises), on failure.
 */
static bool
write_segment(uint32 segment, const char *data, Size len, int elevel)
{
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	int			fd;

	segment_path(path, segment);
	if (len == 0 && segment != igv->newest)
	{
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not remove \"%s\": %m", path)));
		return true;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 ||
		(len > 0 && write(fd, data, len) != len) ||
		pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		if (fd >= 0)
			CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		if (elevel >= ERROR)
			LWLockRelease(igv->lock);
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not write \"%s\": %m", tmp)));
		return false;
	}
	CloseTransientFile(fd);
	if (durable_rename(tmp, path, LOG) != 0)
	{
		unlink(tmp);
		if (elevel >= ERROR)
			LWLockRelease(igv->lock);
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not replace \"%s\"", path)));
		return false;
	}
	return true;
}

/* A record of the store, while room is made (make_room). */
typedef struct RoomRecord
{
	uint32		segment;
	uint32		offset;
	uint32		length;
	bool		violation;		/* else a repeats or a reset record */
	int			owner;			/* whose (index into the owners), -1: none
								 * (a reset record; a repeats record whose
								 * violation is gone) */
	int64		violation_id;
	int			repeats;		/* a violation's latest repeats record, or
								 * -1 */
	bool		drop;
} RoomRecord;

/* The records of one role in one database, while room is made. */
typedef struct RoomOwner
{
	Oid			dbid;
	char	   *role;
	uint64		bytes;			/* its records' and their repeats' */
	int			next;			/* its oldest violation not dropped, or -1 */
	int64		dropped;
} RoomOwner;

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The index of the violation record of an id among the first n, or -1. */
static int
room_find(const RoomRecord *records, const int *violations, int n, int64 id)
{
	int			low = 0;
	int			high = n - 1;

	while (low <= high)
	{
		int			mid = (low + high) / 2;
		int64		at = records[violations[mid]].violation_id;

		if (at == id)
			return violations[mid];
		if (at < id)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return -1;
}

/* The owner of a record of a role in a database, added if new. */
static int
room_owner(RoomOwner **owners, int *nowners, int *allocated, Oid dbid,
		   const char *role, int first)
{
	int			o;

	for (o = 0; o < *nowners; o++)
		if ((*owners)[o].dbid == dbid && strcmp((*owners)[o].role, role) == 0)
			return o;
	if (*nowners == *allocated)
	{
		*allocated *= 2;
		*owners = repalloc(*owners, sizeof(RoomOwner) * *allocated);
	}
	(*owners)[o].dbid = dbid;
	(*owners)[o].role = pstrdup(role);
	(*owners)[o].bytes = 0;
	(*owners)[o].next = first;
	(*owners)[o].dropped = 0;
	(*nowners)++;
	return o;
}

/* The role a violation record names, without decoding the rest. */
static const char *
record_role(const char *data, char *buf, Size bufsize)
{
	const char *p = data + sizeof(IgRecordHeader) + fixed_size(data);
	const char *end = data + ((const IgRecordHeader *) data)->length;
	uint32		slen = 0;

	buf[0] = '\0';
	if (end - p >= (ptrdiff_t) sizeof(slen))
	{
		memcpy(&slen, p, sizeof(slen));
		p += sizeof(slen);
		slen = Min(slen, (uint32) (end - p));
		slen = Min(slen, (uint32) bufsize - 1);
		memcpy(buf, p, slen);
		buf[slen] = '\0';
	}
	return buf;
}

/*
 * Makes room for "incoming" more bytes under the cap, when the store is
 * full, and a little more (an eighth of the cap) so that this is rare.
 * First what nobody needs goes: repeats records that a later one of the
 * same incident supersedes, and those whose violation is gone.  Then one
 * violation record at a time, with its repeats, the oldest of the role
 * (in a database) whose records and repeats take the most space: so no
 * role's flood of records can push another role's out.  The segments
 * that lose records are rewritten; the incidents of the records dropped
 * are forgotten (the next stop makes a record).  Counted and logged.
 * Lock held.
 */
static void
make_room(uint64 incoming)
{
	uint64		cap = (uint64) ig_violations_max_size * 1024;
	uint64		need;
	uint64		freed = 0;
	MemoryContext cxt;
	MemoryContext old;
	RoomRecord *records;
	int			nrecords = 0;
	int			allocated = 256;
	int		   *violations;		/* the violation records, by id */
	int			nviolations = 0;
	RoomOwner  *owners;
	int			nowners = 0;
	int			owners_allocated = 16;
	int64	   *dropped_ids;
	int			ndropped = 0;
	int64		total_dropped = 0;
	StringInfoData whose;
	IgRecordScan scan;
	const char *record;

	if (igv->total_size + incoming <= cap)
		return;
	need = igv->total_size + incoming - (cap - Min(cap / 8, cap / 2));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "insider_guard make_room",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	/* every record, and whose it is */
	records = palloc(sizeof(RoomRecord) * allocated);
	violations = palloc(sizeof(int) * allocated);
	owners = palloc(sizeof(RoomOwner) * owners_allocated);
	scan_begin(&scan);
	while ((record = scan_next(&scan)) != NULL)
	{
		RoomRecord *r;
		int			i = nrecords;

		if (nrecords == allocated)
		{
			allocated *= 2;
			records = repalloc(records, sizeof(RoomRecord) * allocated);
			violations = repalloc(violations, sizeof(int) * allocated);
		}
		r = &records[nrecords++];
		r->segment = scan.segment;
		r->offset = scan.offset;
		r->length = scan.rlen;
		r->drop = false;
		r->owner = -1;
		r->repeats = -1;
		r->violation = is_violation(record);
		r->violation_id = 0;
		if (r->violation)
		{
			char		role[NAMEDATALEN * 4];
			IgRecordFixed fixed = record_fixed(record);

			r->violation_id = fixed.violation_id;
			r->owner = room_owner(&owners, &nowners, &owners_allocated,
								  fixed.dbid, record_role(record, role, sizeof(role)),
								  i);
			owners[r->owner].bytes += r->length;
			violations[nviolations++] = i;
		}
		else if (is_repeats(record))
		{
			int			v;

			r->violation_id = record_repeats(record).violation_id;
			v = room_find(records, violations, nviolations, r->violation_id);
			if (v < 0)
			{
				/* its violation is gone: nobody needs it */
				r->drop = true;
				freed += r->length;
			}
			else
			{
				if (records[v].repeats >= 0)
				{
					/* superseded by this one */
					RoomRecord *older = &records[records[v].repeats];

					older->drop = true;
					freed += older->length;
					owners[records[v].owner].bytes -= older->length;
				}
				records[v].repeats = i;
				r->owner = records[v].owner;
				owners[r->owner].bytes += r->length;
			}
		}
	}

	/* the oldest record of whoever holds most, until enough is free */
	dropped_ids = palloc(sizeof(int64) * Max(nrecords, 1));
	while (freed < need)
	{
		int			top = -1;
		RoomRecord *r;

		for (int o = 0; o < nowners; o++)
			if (owners[o].next >= 0 &&
				(top < 0 || owners[o].bytes > owners[top].bytes))
				top = o;
		if (top < 0)
			break;
		r = &records[owners[top].next];
		r->drop = true;
		owners[top].bytes -= r->length;
		owners[top].dropped++;
		freed += r->length;
		dropped_ids[ndropped++] = r->violation_id;
		if (r->repeats >= 0)
		{
			records[r->repeats].drop = true;
			owners[top].bytes -= records[r->repeats].length;
			freed += records[r->repeats].length;
		}
		/* its next one */
		owners[top].next = -1;
		for (int i = (int) (r - records) + 1; i < nrecords; i++)
			if (records[i].violation && records[i].owner == top && !records[i].drop)
			{
				owners[top].next = i;
				break;
			}
	}

	/* rewrite the segments that lost records */
	for (int i = 0; i < nrecords;)
	{
		uint32		segment = records[i].segment;
		int			end = i;
		bool		any = false;

		while (end < nrecords && records[end].segment == segment)
			any |= records[end++].drop;
		if (any)
		{
			Size		len;
			char	   *data = read_segment(segment, &len);
			StringInfoData kept;

			if (data != NULL)
			{
				uint64		before = 0;

				initStringInfo(&kept);
				for (int j = i; j < end; j++)
				{
					before += records[j].length;
					if (!records[j].drop)
						appendBinaryStringInfo(&kept, data + records[j].offset,
											   records[j].length);
				}
				if (write_segment(segment, kept.data, kept.len, LOG))
				{
					igv->total_size -= Min(igv->total_size,
										   before - (uint64) kept.len);
					if (segment == igv->newest)
						igv->newest_size = kept.len;
				}
			}
		}
		i = end;
	}
	while (igv->oldest < igv->newest)
	{
		char		path[MAXPGPATH];
		struct stat st;

		segment_path(path, igv->oldest);
		if (stat(path, &st) == 0)
			break;
		igv->oldest++;
	}

	/* the incidents of the records dropped end with them */
	if (ndropped > 0)
	{
		qsort(dropped_ids, ndropped, sizeof(int64), compare_int64);
		ig_counters_forget_incidents(dropped_ids, ndropped, false);
	}

	/* whose records went, and how many */
	initStringInfo(&whose);
	for (int o = 0; o < nowners; o++)
	{
		if (owners[o].dropped == 0)
			continue;
		total_dropped += owners[o].dropped;
		appendStringInfo(&whose, "%s%lld of role %s in database %u",
						 whose.len > 0 ? ", " : "",
						 (long long) owners[o].dropped,
						 ig_log_quote(owners[o].role), owners[o].dbid);
	}
	if (total_dropped > 0)
	{
		igv->dropped += total_dropped;
		ereport(LOG,
				(errmsg("insider_guard: dropped %lld violation records to stay within insider_guard.violations_max_size: the oldest of the role holding the most space",
						(long long) total_dropped),
				 errdetail("Dropped %s; %llu records dropped since the server started.",
						   whose.data, (unsigned long long) igv->dropped),
				 errhidestmt(true)));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Writes a record at the end of the newest segment and flushes it.  Lock
 * held.  Returns false (logged) on failure; the end does not move then, so
 * the next record overwrites whatever was partly written.
 */
static bool
append_record(const char *record, uint32 len)
{
	char		path[MAXPGPATH];
	int			fd;
	bool		created = false;

	if (igv->newest_size > 0 && igv->newest_size + len > segment_limit())
	{
		igv->newest++;
		igv->newest_size = 0;
	}
	make_room(len);

	segment_path(path, igv->newest);
	fd = OpenTransientFile(path, O_WRONLY | PG_BINARY);
	if (fd < 0 && errno == ENOENT)
	{
		fd = OpenTransientFile(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY);
		created = true;
	}
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not open \"%s\": %m", path)));
		return false;
	}
	errno = 0;
	if (pg_pwrite(fd, record, len, igv->newest_size) != len ||
		pg_fsync(fd) != 0)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not write a violation record to \"%s\": %m",
						path)));
		CloseTransientFile(fd);
		return false;
	}
	CloseTransientFile(fd);
	if (created)
		fsync_fname_ext(IG_VIOLATIONS_DIR, true, false, LOG);
	igv->newest_size += len;
	igv->total_size += len;
	return true;
}

/*
 * The top-level statement's text, client address and application of this
 * backend or, in a parallel worker, of its leader.
 */
static void
statement_context(char **query, char **client_addr, char **application,
				  int32 *pid)
{
	const char *text = debug_query_string;
	char		host[NI_MAXHOST];
	SockAddr   *addr = MyBEEntry ? &MyBEEntry->st_clientaddr : NULL;
	PgBackendStatus *leader_status = NULL;

	*pid = MyProcPid;
	*application = pstrdup(application_name ? application_name : "");

	if (IsParallelWorker() && MyProc->lockGroupLeader != NULL)
	{
		int			pid_leader = MyProc->lockGroupLeader->pid;
		int			n = pgstat_fetch_stat_numbackends();

		*pid = pid_leader;
		for (int i = 1; i <= n; i++)
		{
			LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);

			if (local && local->backendStatus.st_procpid == pid_leader)
			{
				leader_status = &local->backendStatus;
				break;
			}
		}
		if (leader_status)
		{
			text = leader_status->st_activity_raw;
			addr = &leader_status->st_clientaddr;
			*application = pstrdup(leader_status->st_appname ? leader_status->st_appname : "");
		}
	}

	/* bounded like pg_stat_activity.query */
	if (text == NULL)
		text = "";
	*query = pnstrdup(text, pg_mbcliplen(text, strlen(text),
										 pgstat_track_activity_query_size - 1));

	*client_addr = pstrdup("");
	if (addr && (addr->addr.ss_family == AF_INET || addr->addr.ss_family == AF_INET6))
	{
		host[0] = '\0';
		if (pg_getnameinfo_all(&addr->addr, addr->salen, host, sizeof(host),
							   NULL, 0, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		{
			clean_ipv6_addr(addr->addr.ss_family, host);
			*client_addr = pstrdup(host);
		}
	}
}

/*
 * A string for the log: in double quotes, with quotes, backslashes and
 * every control character escaped, so that it stays on one line.
 */
char *
ig_log_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
	{
		switch (*p)
		{
			case '"':
				appendStringInfoString(&buf, "\\\"");
				break;
			case '\\':
				appendStringInfoString(&buf, "\\\\");
				break;
			case '\n':
				appendStringInfoString(&buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(&buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(&buf, "\\t");
				break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					appendStringInfo(&buf, "\\x%02x", *p);
				else
					appendStringInfoChar(&buf, *p);
		}
	}
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

/* A window length for people, as interval_out writes it: "01:00:00", "1 day". */
static char *
window_text(int64 per)
{
	Interval	interval;

	interval.month = 0;
	interval.day = per / USECS_PER_DAY;
	interval.time = per % USECS_PER_DAY;
	return DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(&interval)));
}

/*
 * The record another process of the same parallel query made for the same
 * block rule, or 0: its leader and workers may each be stopped, and make
 * one record (not repeats).
 */
int64
ig_violation_recent(const IgBreak *brk)
{
	int64		id = 0;
	int32		pid = MyProcPid;

	if (!brk->block || brk->parallel_query == 0)
		return 0;
	if (IsParallelWorker() && MyProc->lockGroupLeader != NULL)
		pid = MyProc->lockGroupLeader->pid;
	LWLockAcquire(igv->lock, LW_SHARED);
	for (int i = 0; i < IG_RECENT_BLOCKS && id == 0; i++)
	{
		IgRecentBlock *recent = &igv->recent[i];

		if (recent->pid == pid && recent->parallel_query == brk->parallel_query &&
			recent->threshold_id == brk->threshold_id)
			id = recent->violation_id;
	}
	LWLockRelease(igv->lock);
	return id;
}

/*
 * Records a break: appends it to the violations log (flushed to disk) and
 * writes its server log line.  Returns its id, or 0 if it could not be
 * written (logged; the caller still blocks).  Without catalog_ok (a
 * transaction failing, the backend exiting) the names are those last seen
 * (names.c).
 */
int64
ig_violation_report(const IgBreak *brk)
{
	IgRecordHeader header;
	IgRecordFixed fixed;
	StringInfoData buf;
	char	   *role = ig_role_name(brk->roleid, brk->catalog_ok);
	char	   *current_role = ig_role_name(GetUserId(), brk->catalog_ok);
	char	   *table = OidIsValid(brk->table_oid) ?
		ig_table_name(brk->table_oid, brk->catalog_ok) : NULL;
	char	   *query;
	char	   *client_addr;
	char	   *application;
	int32		pid;
	bool		written = false;

	if (role == NULL)
		role = psprintf("%u", brk->roleid);
	if (current_role == NULL)
		current_role = psprintf("%u", GetUserId());
	if (table == NULL)
		table = OidIsValid(brk->table_oid) ? psprintf("%u", brk->table_oid) : pstrdup("");
	statement_context(&query, &client_addr, &application, &pid);

	memset(&fixed, 0, sizeof(fixed));
	fixed.occurred_at = ig_now();
	fixed.dbid = MyDatabaseId;
	fixed.table_oid = brk->table_oid;
	fixed.threshold_id = brk->threshold_id;
	fixed.max_rows = brk->max_rows;
	fixed.per = brk->per;
	fixed.rows_in_window = brk->rows_in_window;
	fixed.statement_rows = brk->statement_rows;
	fixed.backend_pid = pid;
	fixed.block = brk->block;
	fixed.roleid = brk->roleid;
	fixed.key_relid = brk->key_relid;

	LWLockAcquire(igv->lock, LW_EXCLUSIVE);
	if (brk->block && brk->parallel_query != 0)
	{
		for (int i = 0; i < IG_RECENT_BLOCKS; i++)
		{
			IgRecentBlock *recent = &igv->recent[i];

			if (recent->pid == pid && recent->parallel_query == brk->parallel_query &&
				recent->threshold_id == brk->threshold_id)
			{
				/* another process of the same parallel query recorded it */
				LWLockRelease(igv->lock);
				return recent->violation_id;
			}
		}
		igv->recent[igv->next_recent].pid = pid;
		igv->recent[igv->next_recent].parallel_query = brk->parallel_query;
		igv->recent[igv->next_recent].threshold_id = brk->threshold_id;
		igv->recent[igv->next_recent].violation_id = igv->next_id;
		igv->next_recent = (igv->next_recent + 1) % IG_RECENT_BLOCKS;
	}
	if (igv->next_id >= igv->id_mark)
		write_id_mark(IG_ID_BLOCK);
	fixed.violation_id = igv->next_id++;

	initStringInfo(&buf);
	memset(&header, 0, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) &fixed, sizeof(fixed));
	append_string(&buf, role);
	append_string(&buf, current_role);
	append_string(&buf, table);
	append_string(&buf, query);
	append_string(&buf, application);
	append_string(&buf, client_addr);
	header.magic = IG_VIOLATION_MAGIC;
	header.length = buf.len;
	INIT_CRC32C(header.crc);
	COMP_CRC32C(header.crc, buf.data + sizeof(header), buf.len - sizeof(header));
	FIN_CRC32C(header.crc);
	memcpy(buf.data, &header, sizeof(header));

	written = append_record(buf.data, buf.len);
	LWLockRelease(igv->lock);

	ereport(LOG_SERVER_ONLY,
			(errmsg("insider_guard: violation %lld%s: role %s (current role %s) %s table %s: %s %lld allows %lld rows per %s%s (%s); %lld rows in the window, %lld read by the statement; pid %d, application %s, client %s, query %s",
					(long long) fixed.violation_id,
					written ? "" : " (not written to disk)",
					ig_log_quote(role), ig_log_quote(current_role),
					brk->stopped ? "was stopped reading" :
					brk->block ? "read past the block limit on" :
					brk->baseline ? "read past its baseline on" : "read past its threshold on",
					ig_log_quote(table),
					brk->baseline ? "baseline rule" : "threshold",
					(long long) brk->threshold_id,
					(long long) brk->max_rows, window_text(brk->per),
					brk->baseline ? " now" : "",
					brk->block ? "block" : "log",
					(long long) brk->rows_in_window, (long long) brk->statement_rows,
					pid, ig_log_quote(application),
					client_addr[0] ? client_addr : "local",
					ig_log_quote(query)),
			 errhidestmt(true), errhidecontext(true)));
	return written ? fixed.violation_id : 0;
}

/* The record of an id in a database's records, ordered by id, or NULL. */
static IgViolation *
find_record(IgViolation *records, int count, int64 violation_id)
{
	int			low = 0;
	int			high = count - 1;

	while (low <= high)
	{
		int			mid = (low + high) / 2;
		int64		id = records[mid].facts.violation_id;

		if (id == violation_id)
			return &records[mid];
		if (id < violation_id)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return NULL;
}

/*
 * Every record of a database, oldest first, palloc'd, with the repeats
 * of its incident as last written; *count set.
 */
IgViolation *
ig_violations_read(Oid dbid, int *count)
{
	int			allocated = 64;
	int			n = 0;
	IgViolation *result = palloc(sizeof(IgViolation) * allocated);
	int			repeats_allocated = 16;
	int			nrepeats = 0;
	IgRepeatsRecord *repeats = palloc(sizeof(IgRepeatsRecord) * repeats_allocated);
	IgRecordScan scan;
	const char *record;

	LWLockAcquire(igv->lock, LW_SHARED);
	scan_begin(&scan);
	while ((record = scan_next(&scan)) != NULL)
	{
		if (is_repeats(record))
		{
			IgRepeatsRecord r = record_repeats(record);

			if (r.dbid == dbid)
			{
				if (nrepeats == repeats_allocated)
				{
					repeats_allocated *= 2;
					repeats = repalloc(repeats, sizeof(IgRepeatsRecord) * repeats_allocated);
				}
				repeats[nrepeats++] = r;
			}
		}
		else if (is_violation(record) && record_fixed(record).dbid == dbid)
		{
			if (n == allocated)
			{
				allocated *= 2;
				result = repalloc(result, sizeof(IgViolation) * allocated);
			}
			decode_record(record, &result[n++]);
		}
	}
	LWLockRelease(igv->lock);

	/* ids grow as records are appended: the latest repeats win */
	for (int i = 0; i < nrepeats; i++)
	{
		IgViolation *v = find_record(result, n, repeats[i].violation_id);

		if (v != NULL && repeats[i].repeats >= v->repeats)
		{
			v->repeats = repeats[i].repeats;
			v->last_seen = Max(v->last_seen, repeats[i].last_seen);
		}
	}
	pfree(repeats);
	*count = n;
	return result;
}

/* A block record whose window may still hold rows it proves were read. */
typedef struct IgProof
{
	int64		violation_id;
	IgRecordFixed fixed;
	TimestampTz last_seen;
} IgProof;

static int
compare_proofs(const void *a, const void *b)
{
	return compare_int64(&((const IgProof *) a)->violation_id,
						 &((const IgProof *) b)->violation_id);
}

/*
 * At start, after the counts were loaded (the last save, which a crash
 * may have left behind): a block record says its role's count was over
 * the rule's limit when it was made, and again at its latest repeat, so
 * while that window lasts the role's counter is made to hold at least
 * max_rows + 1 rows read then.  A crash never hands a stopped role fresh
 * budget.  Records of version 0.1.0 (no role) are skipped.  And the
 * incidents saved with the counts whose records are gone (dropped, or a
 * segment lost) are forgotten.  Postmaster.
 */
void
ig_violations_restore_counts(void)
{
	TimestampTz now = ig_now();
	int			allocated = 64;
	int			n = 0;
	IgProof    *proofs = palloc(sizeof(IgProof) * allocated);
	int			restored = 0;
	int			resets_allocated = 16;
	int			nresets = 0;
	IgResetRecord *resets = palloc(sizeof(IgResetRecord) * resets_allocated);
	int			ids_allocated = 64;
	int			nids = 0;
	int64	   *ids = palloc(sizeof(int64) * ids_allocated);
	IgRecordScan scan;
	const char *record;

	scan_begin(&scan);
	while ((record = scan_next(&scan)) != NULL)
	{
		if (is_violation(record))
		{
			IgRecordFixed fixed = record_fixed(record);

			if (nids == ids_allocated)
			{
				ids_allocated *= 2;
				ids = repalloc(ids, sizeof(int64) * ids_allocated);
			}
			ids[nids++] = fixed.violation_id;
			if (fixed.block && OidIsValid(fixed.roleid) &&
				fixed.occurred_at + fixed.per > now - IG_WINDOW_MAX_US)
			{
				if (n == allocated)
				{
					allocated *= 2;
					proofs = repalloc(proofs, sizeof(IgProof) * allocated);
				}
				proofs[n].violation_id = fixed.violation_id;
				proofs[n].fixed = fixed;
				proofs[n].last_seen = fixed.occurred_at;
				n++;
			}
		}
		else if (!is_repeats(record))
		{
			if (nresets == resets_allocated)
			{
				resets_allocated *= 2;
				resets = repalloc(resets, sizeof(IgResetRecord) * resets_allocated);
			}
			memcpy(&resets[nresets++], record + sizeof(IgRecordHeader),
				   sizeof(IgResetRecord));
		}
		else
		{
			IgRepeatsRecord r = record_repeats(record);
			IgProof		key;
			IgProof    *proof;

			key.violation_id = r.violation_id;
			proof = bsearch(&key, proofs, n, sizeof(IgProof), compare_proofs);
			if (proof != NULL)
				proof->last_seen = Max(proof->last_seen, r.last_seen);
		}
	}

	for (int i = 0; i < n; i++)
	{
		IgRecordFixed *f = &proofs[i].fixed;
		TimestampTz at = proofs[i].last_seen;

		bool		reset = false;

		if (at + f->per <= now || at > now || f->max_rows < 0)
			continue;
		/* an admin reset the role's counts since: nothing to restore */
		for (int r = 0; r < nresets && !reset; r++)
			reset = resets[r].dbid == f->dbid && resets[r].at >= at &&
				(resets[r].roleid == f->roleid || !OidIsValid(resets[r].roleid));
		if (reset)
			continue;
		ig_counters_floor(f->dbid, f->roleid, f->key_relid, f->per,
						  (uint64) f->max_rows + 1, at, now);
		restored++;
	}
	if (restored > 0)
		ereport(LOG,
				(errmsg("insider_guard: %d violation records still in their window: each role's count is at least what they prove",
						restored)));
	/* incidents saved with the counts whose records are gone end */
	qsort(ids, nids, sizeof(int64), compare_int64);
	ig_counters_forget_incidents(ids, nids, true);
	pfree(ids);
	pfree(proofs);
	pfree(resets);
}

/*
 * An admin reset the counts of a role (InvalidOid: every role) in this
 * database: noted durably, so that the block records made before it do
 * not restore counts at the next start.
 */
void
ig_violations_note_reset(Oid roleid)
{
	IgRecordHeader header;
	IgResetRecord body;
	char		buf[sizeof(IgRecordHeader) + sizeof(IgResetRecord)];

	memset(&body, 0, sizeof(body));
	body.at = ig_now();
	body.dbid = MyDatabaseId;
	body.roleid = roleid;
	memset(&header, 0, sizeof(header));
	header.magic = IG_RESET_MAGIC;
	header.length = sizeof(buf);
	INIT_CRC32C(header.crc);
	COMP_CRC32C(header.crc, &body, sizeof(body));
	FIN_CRC32C(header.crc);
	memcpy(buf, &header, sizeof(header));
	memcpy(buf + sizeof(header), &body, sizeof(body));
	LWLockAcquire(igv->lock, LW_EXCLUSIVE);
	(void) append_record(buf, sizeof(buf));
	LWLockRelease(igv->lock);
}

/*
 * At a clean shutdown, when every other process has stopped: the next id
 * is the mark, so that ids go on without a gap.
 */
void
ig_violations_shutdown(void)
{
	if (igv != NULL && igv->id_mark > igv->next_id)
		write_id_mark(0);
}

/*
 * Writes the repeat counts of incidents (counters.c) that changed since
 * they were last written, as repeats records, in one write and one fsync:
 * from the worker, before the view is read, and at a clean shutdown
 * (without "wait", and then only if no one holds the lock).
 */
void
ig_violations_write_repeats(bool wait)
{
	int			count;
	IgIncidentChange *changes = ig_counters_incident_changes(&count);
	StringInfoData buf;
	bool		written;

	if (count == 0)
	{
		pfree(changes);
		return;
	}
	initStringInfo(&buf);
	for (int i = 0; i < count; i++)
	{
		IgRecordHeader header;
		IgRepeatsRecord body;

		memset(&body, 0, sizeof(body));
		body.violation_id = changes[i].violation_id;
		body.repeats = changes[i].repeats;
		body.last_seen = changes[i].last_seen;
		body.dbid = changes[i].dbid;
		memset(&header, 0, sizeof(header));
		header.magic = IG_REPEATS_MAGIC;
		header.length = sizeof(header) + sizeof(body);
		INIT_CRC32C(header.crc);
		COMP_CRC32C(header.crc, &body, sizeof(body));
		FIN_CRC32C(header.crc);
		appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
		appendBinaryStringInfo(&buf, (const char *) &body, sizeof(body));
	}
	/* (the postmaster, at shutdown, cannot wait: no PGPROC) */
	if (wait)
		LWLockAcquire(igv->lock, LW_EXCLUSIVE);
	else if (!LWLockConditionalAcquire(igv->lock, LW_EXCLUSIVE))
	{
		pfree(buf.data);
		pfree(changes);
		return;
	}
	written = append_record(buf.data, buf.len);
	LWLockRelease(igv->lock);
	if (written)
		ig_counters_incidents_written(changes, count);
	pfree(buf.data);
	pfree(changes);
}

/*
 * Removes a database's records that occurred before "before", rewriting
 * each segment that held any.  Returns how many were removed.
 */
int64
ig_violations_prune(Oid dbid, TimestampTz before)
{
	int64		removed = 0;
	int64	   *removed_ids = NULL;	/* in order: their repeats go too */
	int			allocated = 0;

	LWLockAcquire(igv->lock, LW_EXCLUSIVE);
	for (uint32 segment = igv->oldest; segment <= igv->newest; segment++)
	{
		Size		len;
		Size		offset = 0;
		Size		skipped = 0;
		uint32		rlen;
		char	   *data = read_segment(segment, &len);
		StringInfoData kept;
		int64		here = 0;

		if (data == NULL)
			continue;
		if (segment == igv->newest)
			len = Min(len, igv->newest_size);
		initStringInfo(&kept);
		while ((rlen = next_record(data, len, &offset, &skipped)) > 0)
		{
			bool		drop;

			if (is_violation(data + offset))
			{
				IgRecordFixed fixed = record_fixed(data + offset);

				drop = fixed.dbid == dbid && fixed.occurred_at < before;
				if (drop)
				{
					if (removed + here == allocated)
					{
						allocated = Max(allocated * 2, 64);
						removed_ids = removed_ids == NULL ?
							palloc(sizeof(int64) * allocated) :
							repalloc(removed_ids, sizeof(int64) * allocated);
					}
					removed_ids[removed + here] = fixed.violation_id;
					here++;
				}
			}
			else if (!is_repeats(data + offset))
				drop = false;	/* a reset record */
			else
			{
				IgRepeatsRecord r = record_repeats(data + offset);

				/* after its record, which ids are appended in the order of */
				drop = r.dbid == dbid && removed + here > 0 &&
					bsearch(&r.violation_id, removed_ids, removed + here,
							sizeof(int64), compare_int64) != NULL;
			}
			if (!drop)
				appendBinaryStringInfo(&kept, data + offset, rlen);
			offset += rlen;
		}
		pfree(data);
		if (kept.len < (int) len)
		{
			(void) write_segment(segment, kept.data, kept.len, ERROR);
			igv->total_size -= Min(igv->total_size, (uint64) (len - kept.len));
			if (segment == igv->newest)
				igv->newest_size = kept.len;
		}
		removed += here;
		pfree(kept.data);
	}
	/* the incidents of the records removed end with them */
	if (removed > 0)
		ig_counters_forget_incidents(removed_ids, removed, false);
	LWLockRelease(igv->lock);
	if (removed_ids != NULL)
		pfree(removed_ids);
	return removed;
}
