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
#include "utils/timestamp.h"

#include "compat.h"
#include IG_BACKEND_STATUS_HEADER

#include "functions.h"
#include "guc.h"
#include "names.h"
#include "violations.h"

#define IG_VIOLATIONS_DIR	"pg_insider_guard"
#define IG_VIOLATION_MAGIC	0x49475631	/* "IGV1" */
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
 * The length of the record at data[offset], or 0 if there is no whole,
 * valid record there.
 */
static uint32
record_at(const char *data, Size len, Size offset)
{
	IgRecordHeader header;
	pg_crc32c	crc;

	if (len - offset < sizeof(header))
		return 0;
	memcpy(&header, data + offset, sizeof(header));
	if (header.magic != IG_VIOLATION_MAGIC ||
		header.length < sizeof(header) + sizeof(IgRecordFixed) ||
		header.length > len - offset)
		return 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data + offset + sizeof(header), header.length - sizeof(header));
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, header.crc))
		return 0;
	return header.length;
}

/* Decodes a valid record (see record_at) into *v; strings palloc'd. */
static void
decode_record(const char *data, IgViolation *v)
{
	const char *p = data + sizeof(IgRecordHeader) + sizeof(IgRecordFixed);
	const char *end = data + ((const IgRecordHeader *) data)->length;
	char	  **strings[IG_NSTRINGS];

	memcpy(&v->facts, data + sizeof(IgRecordHeader), sizeof(v->facts));

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

/* Number and length of the whole records at the start of a segment. */
static Size
valid_prefix(const char *data, Size len, int64 *nrecords, int64 *last_id)
{
	Size		offset = 0;
	uint32		rlen;

	while ((rlen = record_at(data, len, offset)) > 0)
	{
		if (last_id)
		{
			IgRecordFixed fixed;

			memcpy(&fixed, data + offset + sizeof(IgRecordHeader), sizeof(fixed));
			*last_id = fixed.violation_id;
		}
		if (nrecords)
			(*nrecords)++;
		offset += rlen;
	}
	return offset;
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

	/* the newest segment that has records gives the last id */
	for (uint32 segment = igv->newest; any && segment >= igv->oldest; segment--)
	{
		data = read_segment(segment, &len);
		if (data == NULL)
			break;
		if (segment == igv->newest)
		{
			Size		valid = valid_prefix(data, len, NULL, &last_id);

			if (valid < len)
			{
				char		path[MAXPGPATH];

				segment_path(path, segment);
				ereport(LOG,
						(errmsg("insider_guard: cutting %zu bytes of an incomplete record off \"%s\"",
								len - valid, path)));
				if (truncate(path, valid) != 0)
					ereport(LOG,
							(errcode_for_file_access(),
							 errmsg("insider_guard: could not truncate \"%s\": %m", path)));
				igv->total_size -= len - valid;
			}
			igv->newest_size = valid;
		}
		else
			valid_prefix(data, len, NULL, &last_id);
		pfree(data);
		if (last_id > 0)
			break;
	}
	igv->next_id = last_id + 1;
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
 * Removes the oldest segments until "incoming" more bytes fit under the
 * cap, counting the records dropped.  Lock held.
 */
static void
make_room(uint64 incoming)
{
	uint64		cap = (uint64) ig_violations_max_size * 1024;
	int64		dropped = 0;

	while (igv->total_size + incoming > cap && igv->oldest < igv->newest)
	{
		char		path[MAXPGPATH];
		char	   *data;
		Size		len = 0;
		struct stat st;

		segment_path(path, igv->oldest);
		data = read_segment(igv->oldest, &len);
		if (data)
		{
			valid_prefix(data, len, &dropped, NULL);
			pfree(data);
		}
		if (stat(path, &st) == 0)
			igv->total_size -= Min((uint64) st.st_size, igv->total_size);
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not remove \"%s\": %m", path)));
		igv->oldest++;
	}
	if (dropped > 0)
	{
		igv->dropped += dropped;
		ereport(LOG,
				(errmsg("insider_guard: dropped the %lld oldest violation records to stay within insider_guard.violations_max_size",
						(long long) dropped),
				 errdetail("%llu records dropped since the server started.",
						   (unsigned long long) igv->dropped)));
	}
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

/*
 * Every record of a database, oldest first, palloc'd; *count set.
 */
IgViolation *
ig_violations_read(Oid dbid, int *count)
{
	int			allocated = 64;
	int			n = 0;
	IgViolation *result = palloc(sizeof(IgViolation) * allocated);

	LWLockAcquire(igv->lock, LW_SHARED);
	for (uint32 segment = igv->oldest; segment <= igv->newest; segment++)
	{
		Size		len;
		Size		offset = 0;
		uint32		rlen;
		char	   *data = read_segment(segment, &len);

		if (data == NULL)
			continue;
		if (segment == igv->newest)
			len = Min(len, igv->newest_size);
		while ((rlen = record_at(data, len, offset)) > 0)
		{
			IgRecordFixed fixed;

			memcpy(&fixed, data + offset + sizeof(IgRecordHeader), sizeof(fixed));
			if (fixed.dbid == dbid)
			{
				if (n == allocated)
				{
					allocated *= 2;
					result = repalloc(result, sizeof(IgViolation) * allocated);
				}
				decode_record(data + offset, &result[n++]);
			}
			offset += rlen;
		}
		pfree(data);
	}
	LWLockRelease(igv->lock);
	*count = n;
	return result;
}

/*
 * Removes a database's records that occurred before "before", rewriting
 * each segment that held any.  Returns how many were removed.
 */
int64
ig_violations_prune(Oid dbid, TimestampTz before)
{
	int64		removed = 0;

	LWLockAcquire(igv->lock, LW_EXCLUSIVE);
	for (uint32 segment = igv->oldest; segment <= igv->newest; segment++)
	{
		Size		len;
		Size		offset = 0;
		uint32		rlen;
		char	   *data = read_segment(segment, &len);
		StringInfoData kept;
		int64		here = 0;
		char		path[MAXPGPATH];
		char		tmp[MAXPGPATH];
		int			fd;

		if (data == NULL)
			continue;
		if (segment == igv->newest)
			len = Min(len, igv->newest_size);
		initStringInfo(&kept);
		while ((rlen = record_at(data, len, offset)) > 0)
		{
			IgRecordFixed fixed;

			memcpy(&fixed, data + offset + sizeof(IgRecordHeader), sizeof(fixed));
			if (fixed.dbid == dbid && fixed.occurred_at < before)
				here++;
			else
				appendBinaryStringInfo(&kept, data + offset, rlen);
			offset += rlen;
		}
		pfree(data);
		if (here == 0)
		{
			pfree(kept.data);
			continue;
		}

		/* write what is kept to a temporary file, then rename it over */
		segment_path(path, segment);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
		if (fd < 0 ||
			(kept.len > 0 && write(fd, kept.data, kept.len) != kept.len) ||
			pg_fsync(fd) != 0)
		{
			int			save_errno = errno;

			if (fd >= 0)
				CloseTransientFile(fd);
			unlink(tmp);
			LWLockRelease(igv->lock);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not write \"%s\": %m", tmp)));
		}
		CloseTransientFile(fd);
		if (durable_rename(tmp, path, LOG) != 0)
		{
			unlink(tmp);
			LWLockRelease(igv->lock);
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not replace \"%s\"", path)));
		}
		igv->total_size -= Min(igv->total_size, (uint64) (len - kept.len));
		if (segment == igv->newest)
			igv->newest_size = kept.len;
		removed += here;
		pfree(kept.data);
	}
	LWLockRelease(igv->lock);
	return removed;
}
