/*-------------------------------------------------------------------------
 *
 * violations_store.c
 *		Appending to the violations store, within its cap, and pruning it.
 *
 * Disk use is capped by insider_guard.violations_max_size: segments are
 * an eighth of it.  When the store is full, what nobody needs goes first
 * (superseded and orphaned repeats records), then one violation record at
 * a time, with its repeats, the oldest of the role (in a database) whose
 * records take the most space: no role's flood can push another role's
 * records out.  prune_violations() rewrites the segments that hold a
 * database's old records without them.  The incidents of the records that
 * go are forgotten (counters_incidents.c).
 *
 * Locking: ig_vstate->lock EXCLUSIVE, held by the callers.
 *
 * IDENTIFICATION
 *		src/shmem/violations_store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "shmem/counters.h"
#include "base/event.h"
#include "base/guc.h"
#include "base/logtext.h"
#include "shmem/violations.h"
#include "shmem/violations_file.h"

/* Size of one segment: an eighth of the cap, 64 kB at least. */
static uint64
segment_limit(void)
{
	return Max((uint64) ig_violations_max_size * 1024 / 8, (uint64) 65536);
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
 * Logs how many records make_room dropped, whose, and how many since the
 * server started.
 */
static void
log_dropped(const RoomOwner *owners, int nowners, int64 total_dropped)
{
	StringInfoData whose;
	IgEvent		ev;

	if (!ig_event_json())
	{
		initStringInfo(&whose);
		for (int o = 0; o < nowners; o++)
			if (owners[o].dropped > 0)
				appendStringInfo(&whose, "%s%lld of role %s in database %u",
								 whose.len > 0 ? ", " : "",
								 (long long) owners[o].dropped,
								 ig_log_quote(owners[o].role), owners[o].dbid);
		ereport(LOG,
				(errmsg("insider_guard: dropped %lld violation records to stay within insider_guard.violations_max_size: the oldest of the role holding the most space",
						(long long) total_dropped),
				 errdetail("Dropped %s; %llu records dropped since the server started.",
						   whose.data, (unsigned long long) ig_vstate->dropped),
				 errhidestmt(true)));
		return;
	}
	ig_event_begin(&ev, "records_dropped", ig_now());
	ig_event_int(&ev, "dropped", total_dropped);
	ig_event_uint(&ev, "dropped_total", ig_vstate->dropped);
	ig_event_int(&ev, "violations_max_size_kb", ig_violations_max_size);
	ig_event_array(&ev, "roles");
	for (int o = 0; o < nowners; o++)
	{
		if (owners[o].dropped == 0)
			continue;
		ig_event_object(&ev, NULL);
		ig_event_string(&ev, "role", owners[o].role);
		ig_event_int(&ev, "database_oid", owners[o].dbid);
		ig_event_int(&ev, "dropped", owners[o].dropped);
		ig_event_end(&ev);
	}
	ig_event_end(&ev);
	ig_event_emit(&ev, LOG);
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
void
ig_vstore_make_room(uint64 incoming)
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
	IgRecordScan scan;
	const char *record;

	if (ig_vstate->total_size + incoming <= cap)
		return;
	need = ig_vstate->total_size + incoming - (cap - Min(cap / 8, cap / 2));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "insider_guard make_room",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	/* every record, and whose it is */
	records = palloc(sizeof(RoomRecord) * allocated);
	violations = palloc(sizeof(int) * allocated);
	owners = palloc(sizeof(RoomOwner) * owners_allocated);
	ig_vfile_scan_begin(&scan);
	while ((record = ig_vfile_scan_next(&scan)) != NULL)
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
			char	   *data = ig_vfile_read(segment, &len);
			StringInfoData kept;

			if (data != NULL)
			{
				uint64		before = 0;
				uint64		gone = 0;

				initStringInfo(&kept);
				for (int j = i; j < end; j++)
				{
					before += records[j].length;
					if (!records[j].drop)
						appendBinaryStringInfo(&kept, data + records[j].offset,
											   records[j].length);
					else if (records[j].violation)
						gone++;
				}
				if (ig_vfile_write(segment, kept.data, kept.len, LOG))
				{
					ig_vstate->total_size -= Min(ig_vstate->total_size,
										   before - (uint64) kept.len);
					ig_vstate->nrecords -= Min(ig_vstate->nrecords, gone);
					if (segment == ig_vstate->newest)
						ig_vstate->newest_size = kept.len;
				}
			}
		}
		i = end;
	}
	while (ig_vstate->oldest < ig_vstate->newest)
	{
		char		path[MAXPGPATH];
		struct stat st;

		ig_vfile_path(path, ig_vstate->oldest);
		if (stat(path, &st) == 0)
			break;
		ig_vstate->oldest++;
	}

	/* the incidents of the records dropped end with them */
	if (ndropped > 0)
	{
		qsort(dropped_ids, ndropped, sizeof(int64), ig_vfile_compare_ids);
		ig_counters_forget_incidents(dropped_ids, ndropped, false);
	}

	/* whose records went, and how many */
	for (int o = 0; o < nowners; o++)
		total_dropped += owners[o].dropped;
	if (total_dropped > 0)
	{
		ig_vstate->dropped += total_dropped;
		log_dropped(owners, nowners, total_dropped);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Writes a record at the end of the newest segment and flushes it.  Lock
 * held.  Returns false (logged) on failure; the end does not move then, so
 * the next record overwrites whatever was partly written.
 */
bool
ig_vstore_append(const char *record, uint32 len)
{
	char		path[MAXPGPATH];
	int			fd;
	bool		created = false;

	if (ig_vstate->newest_size > 0 && ig_vstate->newest_size + len > segment_limit())
	{
		ig_vstate->newest++;
		ig_vstate->newest_size = 0;
	}
	ig_vstore_make_room(len);

	ig_vfile_path(path, ig_vstate->newest);
	fd = OpenTransientFile(path, O_WRONLY | PG_BINARY);
	if (fd < 0 && errno == ENOENT)
	{
		fd = OpenTransientFile(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY);
		created = true;
	}
	if (fd < 0)
	{
		ig_log_file_error(LOG, "open", path, NULL, true);
		return false;
	}
	errno = 0;
	if (pg_pwrite(fd, record, len, ig_vstate->newest_size) != len ||
		pg_fsync(fd) != 0)
	{
		if (errno == 0)
			errno = ENOSPC;
		ig_log_file_error(LOG, "write a violation record to", path, NULL, true);
		CloseTransientFile(fd);
		return false;
	}
	CloseTransientFile(fd);
	if (created)
		fsync_fname_ext(IG_VIOLATIONS_DIR, true, false, LOG);
	ig_vstate->newest_size += len;
	ig_vstate->total_size += len;
	return true;
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

	LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	for (uint32 segment = ig_vstate->oldest; segment <= ig_vstate->newest; segment++)
	{
		Size		len;
		Size		offset = 0;
		Size		skipped = 0;
		uint32		rlen;
		char	   *data = ig_vfile_read(segment, &len);
		StringInfoData kept;
		int64		here = 0;

		if (data == NULL)
			continue;
		if (segment == ig_vstate->newest)
			len = Min(len, ig_vstate->newest_size);
		initStringInfo(&kept);
		while ((rlen = ig_vfile_next_record(data, len, &offset, &skipped)) > 0)
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
							sizeof(int64), ig_vfile_compare_ids) != NULL;
			}
			if (!drop)
				appendBinaryStringInfo(&kept, data + offset, rlen);
			offset += rlen;
		}
		pfree(data);
		if (kept.len < (int) len)
		{
			(void) ig_vfile_write(segment, kept.data, kept.len, ERROR);
			ig_vstate->total_size -= Min(ig_vstate->total_size, (uint64) (len - kept.len));
			ig_vstate->nrecords -= Min(ig_vstate->nrecords, (uint64) here);
			if (segment == ig_vstate->newest)
				ig_vstate->newest_size = kept.len;
		}
		removed += here;
		pfree(kept.data);
	}
	/* the incidents of the records removed end with them */
	if (removed > 0)
		ig_counters_forget_incidents(removed_ids, removed, false);
	LWLockRelease(ig_vstate->lock);
	if (removed_ids != NULL)
		pfree(removed_ids);
	return removed;
}
