/*-------------------------------------------------------------------------
 *
 * logtext.c
 *		Text for the server log that no value can break: every string
 *		insider_guard writes to the log (role, table, query, application
 *		names) goes through ig_log_quote.
 *
 * A watched role chooses its role's, tables' and application's names and
 * its queries' text; with a newline in one it could start a log line of
 * its own that looks like insider_guard's.  Quoted, every line stays one
 * line.
 *
 * IDENTIFICATION
 *		src/base/logtext.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "base/logtext.h"

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
