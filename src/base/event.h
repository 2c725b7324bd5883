/*-------------------------------------------------------------------------
 *
 * event.h
 *		insider_guard's event lines as JSON objects, for
 *		insider_guard.log_format = json.
 *
 * src/base/event.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_EVENT_H
#define IG_EVENT_H

#include "datatype/timestamp.h"

#include "base/guc.h"

/* One field of an event, or the start or end of an object or array. */
typedef struct IgEventField
{
	const char *key;			/* NULL in an array, and for an end */
	char		kind;			/* see event.c */
	bool		cut_first;		/* a string cut before the others */
	int			max_bytes;		/* a string once cut: its room; else -1 */
	char	   *value;			/* a string's text, a number's digits */
} IgEventField;

/* An event line as it is built. */
typedef struct IgEvent
{
	IgEventField *fields;
	int			nfields;
	int			allocated;
	int			encoding;		/* of the strings: the database's */
} IgEvent;

/* Whether event lines are written as JSON (insider_guard.log_format). */
static inline bool
ig_event_json(void)
{
	return ig_log_format == IG_LOG_FORMAT_JSON;
}

extern void ig_event_begin(IgEvent *ev, const char *event, TimestampTz time);
extern void ig_event_string(IgEvent *ev, const char *key, const char *value);
extern void ig_event_keyword(IgEvent *ev, const char *key, const char *value);
extern void ig_event_string_cut_first(IgEvent *ev, const char *key,
									  const char *value);
extern void ig_event_int(IgEvent *ev, const char *key, int64 value);
extern void ig_event_uint(IgEvent *ev, const char *key, uint64 value);
extern void ig_event_bool(IgEvent *ev, const char *key, bool value);
extern void ig_event_null(IgEvent *ev, const char *key);
extern void ig_event_number_text(IgEvent *ev, const char *key,
								 const char *text);
extern void ig_event_time(IgEvent *ev, const char *key, TimestampTz time);
extern void ig_event_interval(IgEvent *ev, const char *key,
							  const char *seconds_key, int64 usecs);
extern void ig_event_object(IgEvent *ev, const char *key);
extern void ig_event_array(IgEvent *ev, const char *key);
extern void ig_event_end(IgEvent *ev);
extern void ig_event_emit(IgEvent *ev, int elevel);

extern char *ig_event_time_text(TimestampTz time);
extern char *ig_event_interval_text(int64 usecs);
extern void ig_log_file_error(int elevel, const char *operation,
							  const char *file, const char *to_file,
							  bool has_errno);

#endif							/* IG_EVENT_H */
