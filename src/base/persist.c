/*-------------------------------------------------------------------------
 *
 * persist.c
 *		Version-stamped, checksummed state files written atomically.
 *
 * A file is a header (magic, format version, PostgreSQL major version),
 * a body that the owning module writes and reads, and a CRC-32C of both.
 * A file of an earlier major version loads too (pg_upgrade carries it,
 * README "Upgrading"): no body holds a PostgreSQL structure, only
 * fixed-size fields (Oid, int64, TimestampTz, double and the like) whose
 * sizes each owner's head records and checks, so the layout is the same
 * on every major.  A later major's file is refused: there is no way back.
 * It is written to "<path>.tmp", flushed to disk and renamed over the old
 * file with durable_rename(), so a crash leaves either the old file or the
 * new one, never a mix; the old one is kept as "<path>.prev".  It is read
 * whole and checked before the owner sees a byte of it; a file that does
 * not check is logged and ignored, and the previous save is read instead.
 *
 * Errors are reported at LOG level and returned: these functions run in
 * the postmaster at shutdown and in the background worker, where an ERROR
 * must not escape.
 *
 * IDENTIFICATION
 *		src/base/persist.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "base/event.h"
#include "base/persist.h"

#define IG_FILE_FORMAT		1
#define IG_PG_MAJOR			(PG_VERSION_NUM / 100)
#define IG_FILE_MAX_SIZE	((Size) 1024 * 1024 * 1024)

typedef struct IgFileHeader
{
	uint32		magic;
	uint32		format;
	uint32		pg_major;
	uint32		reserved;
} IgFileHeader;

/*
 * Appends to a file being saved; the first failure sticks.
 */
void
ig_file_write(IgFileWriter *writer, const void *data, size_t len)
{
	if (writer->failed || len == 0)
		return;
	COMP_CRC32C(writer->crc, data, len);
	if (fwrite(data, len, 1, writer->file) != 1)
		writer->failed = true;
}

/*
 * Writes a state file atomically.  Returns false (after logging) on any
 * failure, leaving the previous file in place.
 */
bool
ig_file_save(const char *path, uint32 magic, IgFileBodyWriter body)
{
	char		tmp_path[MAXPGPATH];
	char		prev_path[MAXPGPATH];
	IgFileWriter writer;
	IgFileHeader header;
	pg_crc32c	crc;

	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path);
	writer.file = AllocateFile(tmp_path, PG_BINARY_W);
	if (writer.file == NULL)
	{
		ig_log_file_error(LOG, "create file", tmp_path, NULL, true);
		return false;
	}
	INIT_CRC32C(writer.crc);
	writer.failed = false;

	memset(&header, 0, sizeof(header));
	header.magic = magic;
	header.format = IG_FILE_FORMAT;
	header.pg_major = IG_PG_MAJOR;
	ig_file_write(&writer, &header, sizeof(header));
	body(&writer);

	crc = writer.crc;
	FIN_CRC32C(crc);
	if (!writer.failed && fwrite(&crc, sizeof(crc), 1, writer.file) != 1)
		writer.failed = true;
	if (!writer.failed && fflush(writer.file) != 0)
		writer.failed = true;
	if (!writer.failed && pg_fsync(fileno(writer.file)) != 0)
		writer.failed = true;
	if (FreeFile(writer.file) != 0)
		writer.failed = true;

	if (writer.failed)
	{
		ig_log_file_error(LOG, "write file", tmp_path, NULL, true);
		unlink(tmp_path);
		return false;
	}
	/* the previous save stays, should this one be damaged */
	snprintf(prev_path, sizeof(prev_path), "%s.prev", path);
	if (rename(path, prev_path) != 0 && errno != ENOENT)
		ig_log_file_error(LOG, "rename", path, prev_path, true);
	return durable_rename(tmp_path, path, LOG) == 0;
}

/*
 * Logs that "dropped" entries of a state file loaded at start did not fit
 * in shared memory, sized by the setting insider_guard.<setting> = max:
 * as text, or the event "event" ("counters_dropped", "history_dropped").
 */
void
ig_file_log_dropped(const char *path, const char *event, const char *what,
					const char *setting, int dropped, int max)
{
	IgEvent		ev;

	if (!ig_event_json())
	{
		ereport(LOG,
				(errmsg("insider_guard: %d saved %s did not fit in insider_guard.%s = %d and were dropped",
						dropped, what, setting, max),
				 errdetail("File \"%s\".", path)));
		return;
	}
	ig_event_begin(&ev, event, ig_now());
	ig_event_int(&ev, "dropped", dropped);
	ig_event_int(&ev, setting, max);
	ig_event_keyword(&ev, "file", path);
	ig_event_emit(&ev, LOG);
}

/* Logs that a state file is not used, and why. */
static void
log_ignored(const char *path, const char *problem)
{
	IgEvent		ev;

	if (!ig_event_json())
	{
		ereport(LOG,
				(errmsg("insider_guard: ignoring file \"%s\": %s", path, problem)));
		return;
	}
	ig_event_begin(&ev, "file_ignored", ig_now());
	ig_event_keyword(&ev, "file", path);
	ig_event_keyword(&ev, "reason", problem);
	ig_event_emit(&ev, LOG);
}

/* Logs that a state file an earlier PostgreSQL major wrote was loaded. */
static void
log_older_major(const char *path, uint32 major)
{
	IgEvent		ev;

	if (!ig_event_json())
	{
		ereport(LOG,
				(errmsg("insider_guard: loaded file \"%s\", written by PostgreSQL %u",
						path, major)));
		return;
	}
	ig_event_begin(&ev, "file_from_older_major", ig_now());
	ig_event_keyword(&ev, "file", path);
	ig_event_int(&ev, "written_by_major", major);
	ig_event_emit(&ev, LOG);
}

/*
 * Reads a state file and hands its body to "body".  A missing file is not
 * an error.  Returns false if the file exists but could not be used.
 */
bool
ig_file_load(const char *path, uint32 magic, IgFileBodyReader body)
{
	FILE	   *file;
	struct stat st;
	char	   *data;
	IgFileHeader header = {0};
	pg_crc32c	crc;
	pg_crc32c	stored_crc;
	Size		body_len = 0;
	const char *problem = NULL;
	bool		ok;

	file = AllocateFile(path, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno == ENOENT)
			return true;
		ig_log_file_error(LOG, "open file", path, NULL, true);
		return false;
	}
	if (fstat(fileno(file), &st) != 0 || st.st_size > IG_FILE_MAX_SIZE)
	{
		FreeFile(file);
		log_ignored(path, "cannot read its size or too large");
		return false;
	}

	data = palloc_extended(Max(st.st_size, 1), MCXT_ALLOC_NO_OOM);
	if (data == NULL ||
		(st.st_size > 0 && fread(data, st.st_size, 1, file) != 1))
		problem = "could not read it";
	FreeFile(file);

	if (!problem && (Size) st.st_size < sizeof(header) + sizeof(crc))
		problem = "it is truncated";
	if (!problem)
	{
		memcpy(&header, data, sizeof(header));
		if (header.magic != magic || header.format != IG_FILE_FORMAT)
			problem = "it has an unknown format";
		else if (header.pg_major > IG_PG_MAJOR)
			problem = "it was written by a later PostgreSQL major version";
	}
	if (!problem)
	{
		body_len = st.st_size - sizeof(header) - sizeof(crc);
		INIT_CRC32C(crc);
		COMP_CRC32C(crc, data, sizeof(header) + body_len);
		FIN_CRC32C(crc);
		memcpy(&stored_crc, data + sizeof(header) + body_len, sizeof(crc));
		if (!EQ_CRC32C(crc, stored_crc))
			problem = "its checksum does not match";
	}
	if (!problem && !body(data + sizeof(header), body_len, path))
		problem = "its contents are malformed";

	ok = (problem == NULL);
	if (!ok)
		log_ignored(path, problem);
	else if (header.pg_major != IG_PG_MAJOR)
		log_older_major(path, header.pg_major / 100);
	if (data)
		pfree(data);
	return ok;
}

/*
 * Loads the state file at path, or, if it is missing or does not check,
 * the previous save ("<path>.prev", see ig_file_save): logged.  The owner's
 * reader must load nothing from a body it refuses.  Returns true if
 * either was loaded, or neither exists.
 */
bool
ig_file_load_or_previous(const char *path, uint32 magic, IgFileBodyReader body)
{
	char		prev_path[MAXPGPATH];
	struct stat st;
	bool		exists = (stat(path, &st) == 0);

	if (exists && ig_file_load(path, magic, body))
		return true;
	snprintf(prev_path, sizeof(prev_path), "%s.prev", path);
	if (stat(prev_path, &st) != 0)
		return !exists;
	if (!ig_file_load(prev_path, magic, body))
		return false;
	if (ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "previous_save_loaded", ig_now());
		ig_event_keyword(&ev, "file", prev_path);
		ig_event_keyword(&ev, "instead_of", path);
		ig_event_emit(&ev, LOG);
	}
	else
		ereport(LOG,
				(errmsg("insider_guard: loaded the previous save \"%s\" instead of \"%s\"",
						prev_path, path)));
	return true;
}
