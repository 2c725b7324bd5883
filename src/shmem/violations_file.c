/*-------------------------------------------------------------------------
 *
 * violations_file.c
 *		The violations store's files: the segments in $PGDATA/pg_insider_guard,
 *		"violations.<8 hex digits>", their records and their recovery.
 *
 * Each record is framed by a magic number, its length and a CRC-32C of
 * its contents.  Readers skip what is not a valid record (damage) and
 * resynchronise on the next one; at start every segment is read, what was
 * skipped is logged, and only the newest segment's tail that no valid
 * record follows (a write torn by a crash) is cut.  Violation ids never
 * repeat: they are handed out in blocks whose end is first written to
 * IG_ID_MARK_FILE.
 *
 * Locking: ig_vstate->lock (see violations.c) is held by the callers.
 *
 * IDENTIFICATION
 *		src/shmem/violations_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "base/event.h"
#include "shmem/violations_file.h"

/* the shared state of the violations store (violations.c makes it) */
IgViolationsShared *ig_vstate = NULL;

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
		if (ig_event_json())
		{
			IgEvent		ev;

			ig_event_begin(&ev, "file_ignored", ig_now());
			ig_event_keyword(&ev, "file", IG_ID_MARK_FILE);
			ig_event_keyword(&ev, "reason", "its checksum does not match");
			ig_event_emit(&ev, LOG);
		}
		else
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
void
ig_vfile_write_id_mark(int64 ahead)
{
	int64		mark[2];
	pg_crc32c	crc;
	int			fd;
	char		tmp[MAXPGPATH];

	mark[0] = ig_vstate->next_id + ahead;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &mark[0], sizeof(mark[0]));
	FIN_CRC32C(crc);
	mark[1] = (int64) crc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", IG_ID_MARK_FILE);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0 || write(fd, mark, sizeof(mark)) != sizeof(mark) ||
		pg_fsync(fd) != 0)
	{
		ig_log_file_error(LOG, "write", tmp, NULL, true);
		if (fd >= 0)
			CloseTransientFile(fd);
		return;
	}
	CloseTransientFile(fd);
	if (durable_rename(tmp, IG_ID_MARK_FILE, LOG) == 0)
		ig_vstate->id_mark = mark[0];
}

/* Path of a segment file. */
void
ig_vfile_path(char *path, uint32 segment)
{
	snprintf(path, MAXPGPATH, "%s/violations.%08X", IG_VIOLATIONS_DIR, segment);
}

/*
 * A whole segment file, palloc'd, or NULL if it does not exist or cannot
 * be read (then logged).
 */
char *
ig_vfile_read(uint32 segment, Size *len)
{
	char		path[MAXPGPATH];
	int			fd;
	struct stat st;
	char	   *data;

	ig_vfile_path(path, segment);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ig_log_file_error(LOG, "open", path, NULL, true);
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
		ig_log_file_error(LOG, "read", path, NULL, true);
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
uint32
ig_vfile_next_record(const char *data, Size len, Size *offset, Size *skipped)
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

/* Decodes a valid record (see record_at) into *v; strings palloc'd. */
void
ig_vfile_decode(const char *data, IgViolation *v)
{
	const char *p = data + sizeof(IgRecordHeader) + fixed_size(data);
	const char *end = data + ((const IgRecordHeader *) data)->length;
	char	  **strings[IG_NSTRINGS];

	v->facts = record_fixed(data);
	/* before 0.2.0 there were only thresholds */
	if (((const IgRecordHeader *) data)->magic == IG_VIOLATION_MAGIC_V1)
		v->facts.rule_kind = IG_RULE_KIND_THRESHOLD;
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
	while ((rlen = ig_vfile_next_record(data, len, &offset, skipped)) > 0)
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

void
ig_vfile_scan_begin(IgRecordScan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->segment = ig_vstate->oldest;
}

/* The next valid record, or NULL at the end of the store. */
const char *
ig_vfile_scan_next(IgRecordScan *scan)
{
	for (;;)
	{
		if (scan->data != NULL)
		{
			if (scan->rlen > 0)
				scan->offset += scan->rlen;
			scan->rlen = ig_vfile_next_record(scan->data, scan->len, &scan->offset,
									 &scan->skipped);
			if (scan->rlen > 0)
				return scan->data + scan->offset;
			pfree(scan->data);
			scan->data = NULL;
			scan->segment++;
		}
		while (scan->data == NULL && scan->segment <= ig_vstate->newest)
		{
			scan->data = ig_vfile_read(scan->segment, &scan->len);
			if (scan->data == NULL)
				scan->segment++;
		}
		if (scan->data == NULL)
			return NULL;
		if (scan->segment == ig_vstate->newest)
			scan->len = Min(scan->len, ig_vstate->newest_size);
		scan->offset = 0;
		scan->rlen = 0;
	}
}

/* What recovery found wrong in a segment (log_damage). */
typedef enum IgDamage
{
	DAMAGE_SKIPPED,				/* bytes between intact records */
	DAMAGE_CUT,					/* the newest segment's torn tail, cut off */
	DAMAGE_SKIPPED_AT_END		/* another segment's tail, left as it is */
} IgDamage;

/* Logs damage recovery found in a segment of nrecords intact records. */
static void
log_damage(IgDamage damage, Size bytes, const char *path, int64 nrecords)
{
	static const char *const kinds[] = {"skipped", "cut", "skipped_at_end"};
	IgEvent		ev;

	if (ig_event_json())
	{
		ig_event_begin(&ev, "damaged_records", ig_now());
		ig_event_keyword(&ev, "file", path);
		ig_event_keyword(&ev, "damage", kinds[damage]);
		ig_event_uint(&ev, "bytes", bytes);
		ig_event_int(&ev, "intact_records", nrecords);
		ig_event_emit(&ev, LOG);
	}
	else if (damage == DAMAGE_SKIPPED)
		ereport(LOG,
				(errmsg("insider_guard: skipped %zu bytes of damaged records in \"%s\"; the %lld intact violation records around them are kept",
						bytes, path, (long long) nrecords)));
	else if (damage == DAMAGE_CUT)
		ereport(LOG,
				(errmsg("insider_guard: cutting %zu bytes of an incomplete record off \"%s\"",
						bytes, path)));
	else
		ereport(LOG,
				(errmsg("insider_guard: skipped %zu bytes of damaged records at the end of \"%s\"",
						bytes, path)));
}

/*
 * Finds the segments, cuts a torn record off the newest, and sets the next
 * id.  Postmaster, at (re)initialization of shared memory.
 */
void
ig_vfile_recover(void)
{
	DIR		   *dir;
	struct dirent *de;
	bool		any = false;
	char	   *data;
	Size		len;
	int64		last_id = 0;

	if (MakePGDirectory(IG_VIOLATIONS_DIR) < 0 && errno != EEXIST)
		ig_log_file_error(LOG, "create directory", IG_VIOLATIONS_DIR, NULL, true);

	ig_vstate->oldest = ig_vstate->newest = 1;
	ig_vstate->total_size = 0;
	ig_vstate->nrecords = 0;
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
		ig_vfile_path(path, segment);
		if (stat(path, &st) != 0)
			continue;
		if (!any || segment < ig_vstate->oldest)
			ig_vstate->oldest = segment;
		if (!any || segment > ig_vstate->newest)
			ig_vstate->newest = segment;
		ig_vstate->total_size += st.st_size;
		any = true;
	}
	if (dir)
		FreeDir(dir);

	/*
	 * Every segment is read: damage is skipped and logged, never cut (the
	 * records after it are intact); only the newest segment's tail, which
	 * no valid record follows, is a torn write and is cut off.
	 */
	for (uint32 segment = ig_vstate->oldest; any && segment <= ig_vstate->newest; segment++)
	{
		char		path[MAXPGPATH];
		Size		skipped;
		Size		end;
		int64		nrecords = 0;

		data = ig_vfile_read(segment, &len);
		if (data == NULL)
			continue;
		ig_vfile_path(path, segment);
		end = scan_segment(data, len, &nrecords, &last_id, &skipped);
		ig_vstate->nrecords += nrecords;
		if (skipped > 0)
			log_damage(DAMAGE_SKIPPED, skipped, path, nrecords);
		if (segment == ig_vstate->newest && end < len)
		{
			log_damage(DAMAGE_CUT, len - end, path, nrecords);
			if (truncate(path, end) != 0)
				ig_log_file_error(LOG, "truncate", path, NULL, true);
			ig_vstate->total_size -= len - end;
		}
		else if (end < len)
			log_damage(DAMAGE_SKIPPED_AT_END, len - end, path, nrecords);
		if (segment == ig_vstate->newest)
			ig_vstate->newest_size = end;
		pfree(data);
	}

	/* ids never repeat: past the last record, and past every id handed out */
	ig_vstate->next_id = Max(last_id + 1, read_id_mark());
	ig_vstate->id_mark = ig_vstate->next_id;
}

/*
 * Replaces a segment's contents (a temporary file fsynced and renamed
 * over it); an empty segment other than the newest is removed.  Lock
 * held.  Returns false, logged at "elevel" (ERROR raises), on failure.
 */
bool
ig_vfile_write(uint32 segment, const char *data, Size len, int elevel)
{
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	int			fd;

	ig_vfile_path(path, segment);
	if (len == 0 && segment != ig_vstate->newest)
	{
		if (unlink(path) != 0 && errno != ENOENT)
			ig_log_file_error(LOG, "remove", path, NULL, true);
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
			LWLockRelease(ig_vstate->lock);
		ig_log_file_error(elevel, "write", tmp, NULL, true);
		return false;
	}
	CloseTransientFile(fd);
	if (durable_rename(tmp, path, LOG) != 0)
	{
		unlink(tmp);
		if (elevel >= ERROR)
			LWLockRelease(ig_vstate->lock);
		ig_log_file_error(elevel, "replace", path, NULL, false);
		return false;
	}
	return true;
}

int
ig_vfile_compare_ids(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}
