/*-------------------------------------------------------------------------
 *
 * json.c
 *		JSON string values in pure ASCII, from text in any server encoding,
 *		cut to a length when asked: what the JSON event lines (event.c)
 *		are written with.
 *
 * A watched role chooses its role's, tables' and application's names and
 * its queries' text, and a database with encoding SQL_ASCII takes any
 * bytes at all.  Whatever they hold, the value written is a valid JSON
 * string on one line: quotes, backslashes and every control character
 * are escaped, every character beyond ASCII is written as a \uXXXX escape
 * (a surrogate pair beyond U+FFFF), and bytes that do not form a
 * character are written as U+FFFD.  So the line is plain ASCII, the same
 * in every destination and under every encoding: a log shipper, csvlog's
 * and jsonlog's own quoting and syslog's splitting at character
 * boundaries cannot change or break it.
 *
 * Text in UTF8 and SQL_ASCII databases is read as UTF-8; in LATIN1, a
 * byte is its code point; in other encodings, a character beyond ASCII is
 * written as U+FFFD (converting would take the catalogs, which a line
 * written while a transaction aborts may not read).
 *
 * Pure: no memory contexts, no catalogs, no errors; test/unit/test_json.c
 * runs it as a frontend program.
 *
 * IDENTIFICATION
 *		src/base/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "base/json.h"

#define REPLACEMENT_CHARACTER 0xFFFD

/*
 * The escaped form of one code point into out (at most 12 bytes and a
 * NUL); returns its length.
 */
static int
escape_code_point(pg_wchar c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	switch (c)
	{
		case '"':
			return snprintf(out, 13, "\\\"");
		case '\\':
			return snprintf(out, 13, "\\\\");
		case '\n':
			return snprintf(out, 13, "\\n");
		case '\r':
			return snprintf(out, 13, "\\r");
		case '\t':
			return snprintf(out, 13, "\\t");
		case '\b':
			return snprintf(out, 13, "\\b");
		case '\f':
			return snprintf(out, 13, "\\f");
	}
	if (c >= 0x20 && c < 0x7f)
	{
		out[0] = (char) c;
		out[1] = '\0';
		return 1;
	}
	if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		c = REPLACEMENT_CHARACTER;
	if (c > 0xFFFF)
	{
		pg_wchar	v = c - 0x10000;
		pg_wchar	high = 0xD800 + (v >> 10);
		pg_wchar	low = 0xDC00 + (v & 0x3FF);

		return snprintf(out, 13, "\\u%c%c%c%c\\u%c%c%c%c",
						hex[(high >> 12) & 0xF], hex[(high >> 8) & 0xF],
						hex[(high >> 4) & 0xF], hex[high & 0xF],
						hex[(low >> 12) & 0xF], hex[(low >> 8) & 0xF],
						hex[(low >> 4) & 0xF], hex[low & 0xF]);
	}
	return snprintf(out, 13, "\\u%c%c%c%c",
					hex[(c >> 12) & 0xF], hex[(c >> 8) & 0xF],
					hex[(c >> 4) & 0xF], hex[c & 0xF]);
}

/*
 * The code point of the character at s (len bytes left, len > 0) and its
 * length in bytes; U+FFFD for bytes that are not a character.
 */
static pg_wchar
next_code_point(const unsigned char *s, int len, int encoding, int *bytes)
{
	int			n;

	*bytes = 1;
	if (*s < 0x80)
		return *s;
	switch (encoding)
	{
		case PG_UTF8:
		case PG_SQL_ASCII:
			n = pg_utf_mblen(s);
			if (n < 2 || n > len || !pg_utf8_islegal(s, n))
				return REPLACEMENT_CHARACTER;
			*bytes = n;
			return utf8_to_unicode(s);
		case PG_LATIN1:
			return *s;
		default:
			/* one character, whatever its length, within the text */
			if (!PG_VALID_ENCODING(encoding))
				return REPLACEMENT_CHARACTER;
			n = pg_encoding_mblen(encoding, (const char *) s);
			*bytes = Max(1, Min(n, len));
			return REPLACEMENT_CHARACTER;
	}
}

/*
 * Appends s (NUL-terminated, in the given encoding) as a JSON string
 * value, in double quotes, to out (NULL: only measure).  With max_bytes
 * >= 0, what goes between the quotes is at most max_bytes long: the
 * value is cut before the first character whose escape would not fit,
 * and *cut says whether it was.  Returns the length between the quotes.
 */
int
ig_json_append_string(StringInfo out, const char *s, int encoding,
					  int max_bytes, bool *cut)
{
	const unsigned char *p = (const unsigned char *) (s ? s : "");
	int			left = (int) strlen((const char *) p);
	int			written = 0;

	if (cut)
		*cut = false;
	if (out)
		appendStringInfoChar(out, '"');
	while (left > 0)
	{
		char		escaped[13];
		int			bytes;
		int			n;

		n = escape_code_point(next_code_point(p, left, encoding, &bytes),
							  escaped);
		if (max_bytes >= 0 && written + n > max_bytes)
		{
			if (cut)
				*cut = true;
			break;
		}
		if (out)
			appendBinaryStringInfo(out, escaped, n);
		written += n;
		p += bytes;
		left -= bytes;
	}
	if (out)
		appendStringInfoChar(out, '"');
	return written;
}

/*
 * True if text is a number as JSON writes them (-?int frac? exp?): what
 * an output function wrote may go into the line unquoted ("NaN" and
 * "Infinity" may not).
 */
bool
ig_json_is_number(const char *text)
{
	const char *p = text;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.')
	{
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}
