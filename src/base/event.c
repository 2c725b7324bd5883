/*-------------------------------------------------------------------------
 *
 * event.c
 *		insider_guard's event lines as JSON objects: with
 *		insider_guard.log_format = json, each line insider_guard writes to
 *		the server log at level LOG is one JSON object, after the prefix
 *		"insider_guard: ".
 *
 * A line is built field by field (ig_event_string, ig_event_int, ...,
 * nested objects and arrays) and written by ig_event_emit:
 *
 *	insider_guard: {"source":"insider_guard","event":"violation","time":...}
 *
 * Every event starts with source, event, time (UTC, RFC 3339, to the
 * microsecond) and pid (the process writing the line); docs/events.md has
 * every event's fields.  Strings are escaped by json.c into pure ASCII,
 * numbers are numbers, an unknown value is null: whatever a name or a
 * query holds, the line is one valid JSON object on one line.  No DETAIL,
 * HINT, STATEMENT or CONTEXT line follows it: the object says it all.
 *
 * When syslog is a log destination and PostgreSQL splits long syslog
 * messages, a line must fit in the room logroom.c computes, or its JSON
 * would arrive in pieces: then its strings are cut, the query first,
 * then the longest, each cut one followed by "<key>_truncated":true,
 * until it fits.  A line whose other fields alone do not fit (a
 * log_line_prefix that takes nearly all the room) is written whole: it
 * will arrive in pieces whatever is cut.
 *
 * Nothing here reads the catalogs: a line may be written while a
 * transaction aborts, and by the postmaster.  Lines are rare (a violation,
 * an admin action, an eviction), never per row.
 *
 * IDENTIFICATION
 *		src/base/event.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/timestamp.h"

#include "base/event.h"
#include "base/json.h"
#include "base/logroom.h"

/* kinds of IgEventField */
#define FIELD_STRING	's'
#define FIELD_LITERAL	'l'		/* a number, true, false or null, as is */
#define FIELD_OBJECT	'{'
#define FIELD_ARRAY		'['
#define FIELD_END		']'		/* of the innermost object or array */

/* the deepest nesting of objects and arrays in an event */
#define MAX_DEPTH		8

#define MESSAGE_PREFIX	"insider_guard: "

/* max_bytes of a string: whole, but may be cut; never cut */
#define WHOLE			-1
#define NEVER_CUT		-2

/* Appends a field (key copied, value palloc'd and taken over). */
static IgEventField *
add_field(IgEvent *ev, const char *key, char kind, char *value)
{
	IgEventField *field;

	if (ev->nfields == ev->allocated)
	{
		ev->allocated *= 2;
		ev->fields = repalloc(ev->fields, sizeof(IgEventField) * ev->allocated);
	}
	field = &ev->fields[ev->nfields++];
	field->key = key ? pstrdup(key) : NULL;
	field->kind = kind;
	field->cut_first = false;
	field->max_bytes = WHOLE;
	field->value = value;
	return field;
}

/*
 * Starts an event: its kind, the time it happened, and the process
 * writing it.
 */
void
ig_event_begin(IgEvent *ev, const char *event, TimestampTz time)
{
	ev->allocated = 32;
	ev->nfields = 0;
	ev->fields = palloc(sizeof(IgEventField) * ev->allocated);
	ev->encoding = GetDatabaseEncoding();
	add_field(ev, NULL, FIELD_OBJECT, NULL);
	ig_event_keyword(ev, "source", "insider_guard");
	ig_event_keyword(ev, "event", event);
	ig_event_time(ev, "time", time);
	ig_event_int(ev, "pid", MyProcPid);
}

/* A string field, which may be cut (see emit); NULL is null. */
void
ig_event_string(IgEvent *ev, const char *key, const char *value)
{
	if (value == NULL)
		ig_event_null(ev, key);
	else
		add_field(ev, key, FIELD_STRING, pstrdup(value));
}

/*
 * A string field that is never cut: a word from a fixed list (an event's
 * kind, an action), an address, a file's path, a time.
 */
void
ig_event_keyword(IgEvent *ev, const char *key, const char *value)
{
	ig_event_string(ev, key, value);
	if (value != NULL)
		ev->fields[ev->nfields - 1].max_bytes = NEVER_CUT;
}

/*
 * A string field that is cut first when the line must be shortened (a
 * query: long, and the least needed to tell what happened).
 */
void
ig_event_string_cut_first(IgEvent *ev, const char *key, const char *value)
{
	ig_event_string(ev, key, value);
	if (value != NULL)
		ev->fields[ev->nfields - 1].cut_first = true;
}

/* A number field. */
void
ig_event_int(IgEvent *ev, const char *key, int64 value)
{
	add_field(ev, key, FIELD_LITERAL, psprintf(INT64_FORMAT, value));
}

/* A number field, of a counter that may not fit in int64's range. */
void
ig_event_uint(IgEvent *ev, const char *key, uint64 value)
{
	add_field(ev, key, FIELD_LITERAL, psprintf(UINT64_FORMAT, value));
}

/* A boolean field: true or false. */
void
ig_event_bool(IgEvent *ev, const char *key, bool value)
{
	add_field(ev, key, FIELD_LITERAL, pstrdup(value ? "true" : "false"));
}

/* A field whose value is unknown or does not apply: null. */
void
ig_event_null(IgEvent *ev, const char *key)
{
	add_field(ev, key, FIELD_LITERAL, pstrdup("null"));
}

/*
 * A number an output function wrote: as a number if JSON can write it so,
 * else ("NaN", "Infinity") as a string.
 */
void
ig_event_number_text(IgEvent *ev, const char *key, const char *text)
{
	if (text != NULL && ig_json_is_number(text))
		add_field(ev, key, FIELD_LITERAL, pstrdup(text));
	else
		ig_event_string(ev, key, text);
}

/*
 * A time as RFC 3339 in UTC to the microsecond, "2026-12-06T10:00:00.
 * 123456Z", whatever the session's DateStyle and TimeZone; NULL if not
 * finite.
 */
char *
ig_event_time_text(TimestampTz time)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(time) ||
		timestamp2tm(time, NULL, &tm, &fsec, NULL, NULL) != 0)
		return NULL;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/* A time (ig_event_time_text), or null; never cut. */
void
ig_event_time(IgEvent *ev, const char *key, TimestampTz time)
{
	ig_event_keyword(ev, key, ig_event_time_text(time));
}

/* Microseconds as seconds, as JSON writes numbers: "3600", "60.5". */
static char *
seconds_text(int64 usecs)
{
	uint64		magnitude = usecs < 0 ? -(uint64) usecs : (uint64) usecs;
	char	   *text = psprintf("%s" UINT64_FORMAT ".%06d", usecs < 0 ? "-" : "",
								magnitude / USECS_PER_SEC,
								(int) (magnitude % USECS_PER_SEC));
	int			len = strlen(text);

	while (text[len - 1] == '0')
		text[--len] = '\0';
	if (text[len - 1] == '.')
		text[--len] = '\0';
	return text;
}

/*
 * A window length as PostgreSQL writes an interval of days and time in its
 * default style: "01:00:00", "1 day", "7 days", "1 day 02:00:00", whatever
 * the session's IntervalStyle.
 */
char *
ig_event_interval_text(int64 usecs)
{
	int64		days = usecs / USECS_PER_DAY;
	int64		rest = usecs % USECS_PER_DAY;
	StringInfoData buf;

	initStringInfo(&buf);
	if (days != 0)
		appendStringInfo(&buf, INT64_FORMAT " day%s", days,
						 (days == 1 || days == -1) ? "" : "s");
	if (rest != 0 || days == 0)
	{
		int64		magnitude = rest < 0 ? -rest : rest;
		int64		seconds = magnitude / USECS_PER_SEC;
		char	   *fraction = seconds_text(magnitude % USECS_PER_SEC);

		appendStringInfo(&buf, "%s%s%02d:%02d:%02d%s",
						 days != 0 ? " " : "", rest < 0 ? "-" : "",
						 (int) (seconds / 3600), (int) (seconds / 60 % 60),
						 (int) (seconds % 60),
						 strcmp(fraction, "0") == 0 ? "" : fraction + 1);
	}
	return buf.data;
}

/*
 * A window length: as text (ig_event_interval_text) under key, and as a
 * number of seconds under seconds_key.
 */
void
ig_event_interval(IgEvent *ev, const char *key, const char *seconds_key,
				  int64 usecs)
{
	ig_event_keyword(ev, key, ig_event_interval_text(usecs));
	add_field(ev, seconds_key, FIELD_LITERAL, seconds_text(usecs));
}

/* Opens an object (key NULL: in an array); ig_event_end closes it. */
void
ig_event_object(IgEvent *ev, const char *key)
{
	add_field(ev, key, FIELD_OBJECT, NULL);
}

/* Opens an array; ig_event_end closes it. */
void
ig_event_array(IgEvent *ev, const char *key)
{
	add_field(ev, key, FIELD_ARRAY, NULL);
}

/* Closes the innermost object or array opened. */
void
ig_event_end(IgEvent *ev)
{
	add_field(ev, NULL, FIELD_END, NULL);
}

/* The line's JSON text, with each string cut to its room. */
static void
serialize(const IgEvent *ev, StringInfo out)
{
	bool		first[MAX_DEPTH + 1];
	char		closer[MAX_DEPTH + 1];
	int			depth = 0;

	resetStringInfo(out);
	first[0] = true;
	for (int i = 0; i < ev->nfields; i++)
	{
		const IgEventField *field = &ev->fields[i];
		bool		cut = false;

		if (field->kind == FIELD_END)
		{
			if (depth > 0)
				appendStringInfoChar(out, closer[depth--]);
			continue;
		}
		if (!first[depth])
			appendStringInfoChar(out, ',');
		first[depth] = false;
		if (field->key != NULL)
		{
			ig_json_append_string(out, field->key, ev->encoding, -1, NULL);
			appendStringInfoChar(out, ':');
		}
		switch (field->kind)
		{
			case FIELD_STRING:
				ig_json_append_string(out, field->value, ev->encoding,
									  Max(field->max_bytes, WHOLE), &cut);
				if (cut && field->key != NULL)
				{
					appendStringInfoChar(out, ',');
					ig_json_append_string(out, psprintf("%s_truncated", field->key),
										  ev->encoding, -1, NULL);
					appendStringInfoString(out, ":true");
				}
				break;
			case FIELD_LITERAL:
				appendStringInfoString(out, field->value);
				break;
			default:
				appendStringInfoChar(out, field->kind);
				if (depth < MAX_DEPTH)
				{
					depth++;
					first[depth] = true;
					closer[depth] = field->kind == FIELD_OBJECT ? '}' : ']';
				}
				break;
		}
	}
	/* objects and arrays left open, the event's own first */
	while (depth > 0)
		appendStringInfoChar(out, closer[depth--]);
}

/*
 * The next string to cut so that the line fits: a cut_first one, else the
 * longest; NULL if none is left.  *length is its escaped length.
 */
static IgEventField *
next_to_cut(IgEvent *ev, int *length)
{
	IgEventField *best = NULL;
	int			best_length = 0;

	for (int i = 0; i < ev->nfields; i++)
	{
		IgEventField *field = &ev->fields[i];
		int			n;

		if (field->kind != FIELD_STRING || field->max_bytes != WHOLE ||
			field->key == NULL)
			continue;
		n = ig_json_append_string(NULL, field->value, ev->encoding, WHOLE, NULL);
		if (n == 0)
			continue;
		if (best == NULL || (field->cut_first && !best->cut_first) ||
			(field->cut_first == best->cut_first && n > best_length))
		{
			best = field;
			best_length = n;
		}
	}
	*length = best_length;
	return best;
}

/*
 * Whether the line fits within limit once every string it may cut is cut
 * to nothing (line is left as that would be).
 */
static bool
fits_when_cut(IgEvent *ev, int limit, StringInfo line)
{
	bool		fits;

	for (int i = 0; i < ev->nfields; i++)
		if (ev->fields[i].kind == FIELD_STRING && ev->fields[i].max_bytes == WHOLE &&
			ev->fields[i].key != NULL)
			ev->fields[i].max_bytes = 0;
	serialize(ev, line);
	fits = line->len <= limit;
	for (int i = 0; i < ev->nfields; i++)
		if (ev->fields[i].kind == FIELD_STRING && ev->fields[i].max_bytes == 0)
			ev->fields[i].max_bytes = WHOLE;
	serialize(ev, line);
	return fits;
}

/*
 * Writes the event to the server log, "insider_guard: " and its object,
 * at elevel (LOG_SERVER_ONLY or LOG), cut to fit syslog's room if need be;
 * with file_errno >= 0, the SQLSTATE of that errno's file access error.
 * Frees the event.
 */
static void
emit(IgEvent *ev, int elevel, int file_errno)
{
	int			room = ig_log_room();
	int			limit = room < 0 ? -1 : Max(room - (int) strlen(MESSAGE_PREFIX), 0);
	StringInfoData line;

	initStringInfo(&line);
	serialize(ev, &line);
	if (limit >= 0 && line.len > limit && !fits_when_cut(ev, limit, &line))
		limit = -1;				/* it will arrive in pieces: whole, then */
	while (limit >= 0 && line.len > limit)
	{
		int			length;
		IgEventField *field = next_to_cut(ev, &length);
		int			flag = strlen(field ? field->key : "") + strlen(",\"_truncated\":true");

		if (field == NULL)
			break;
		field->max_bytes = Max(length - (line.len - limit) - flag, 0);
		serialize(ev, &line);
	}
	if (file_errno >= 0)
		errno = file_errno;
	ereport(elevel,
			(file_errno >= 0 ? errcode_for_file_access() : 0,
			 errmsg_internal(MESSAGE_PREFIX "%s", line.data),
			 errhidestmt(true), errhidecontext(true)));
	pfree(line.data);
	for (int i = 0; i < ev->nfields; i++)
	{
		if (ev->fields[i].key != NULL)
			pfree((char *) ev->fields[i].key);
		if (ev->fields[i].value != NULL)
			pfree(ev->fields[i].value);
	}
	pfree(ev->fields);
	ev->fields = NULL;
}

/*
 * Writes the event to the server log at elevel (LOG_SERVER_ONLY, or LOG),
 * and frees it.
 */
void
ig_event_emit(IgEvent *ev, int elevel)
{
	emit(ev, elevel, -1);
}

/*
 * Logs that a file could not be opened, written, renamed...: the text line
 * 'insider_guard: could not OPERATION "FILE"[ to "TO_FILE"]: ERROR', or
 * the event file_error.  Call right after the failing call: errno (if
 * has_errno) is its error.
 */
void
ig_log_file_error(int elevel, const char *operation, const char *file,
				  const char *to_file, bool has_errno)
{
	int			saved_errno = errno;
	IgEvent		ev;

	/* an ERROR's text is the client's */
	if (!ig_event_json() || elevel >= ERROR)
	{
		errno = saved_errno;
		if (!has_errno)
			ereport(elevel,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not %s \"%s\"",
							operation, file)));
		else if (to_file != NULL)
			ereport(elevel,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not %s \"%s\" to \"%s\": %m",
							operation, file, to_file)));
		else
			ereport(elevel,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not %s \"%s\": %m",
							operation, file)));
		return;
	}
	ig_event_begin(&ev, "file_error", ig_now());
	ig_event_keyword(&ev, "operation", operation);
	ig_event_keyword(&ev, "file", file);
	if (to_file != NULL)
		ig_event_keyword(&ev, "to_file", to_file);
	ig_event_keyword(&ev, "error", has_errno ? strerror(saved_errno) : NULL);
	emit(&ev, elevel, saved_errno);
}
