/*-------------------------------------------------------------------------
 *
 * test_json.c
 *		Unit tests of the JSON string values of src/base/json.c, which the
 *		JSON event lines are written with.
 *
 * Checks the contract: whatever bytes a name or a query holds, the value
 * written is pure printable ASCII between double quotes, with no raw
 * quote, backslash or control character, that decodes (by a small JSON
 * string decoder here) to the text's characters -- invalid bytes as
 * U+FFFD -- and, when cut, to a prefix of them that fits its room.
 * Random byte strings are run through it too.  Exits non-zero on failure.
 *
 * IDENTIFICATION
 *		test/unit/test_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#define UNIT_RNG_SEED UINT64CONST(0x2545F4914F6CDD1D)
#include "unit.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "base/json.h"

/* s (a C string) as the JSON value json.c writes */
static char *
value(const char *s, int encoding, int max_bytes, bool *cut)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ig_json_append_string(&buf, s, encoding, max_bytes, cut);
	return buf.data;
}

static bool
equals(const char *s, int encoding, const char *expected)
{
	char	   *got = value(s, encoding, -1, NULL);
	bool		ok = strcmp(got, expected) == 0;

	if (!ok)
		fprintf(stderr, "got %s, expected %s\n", got, expected);
	pfree(got);
	return ok;
}

/*
 * Decodes a JSON string value (in quotes) into code points; returns their
 * number, or -1 if it is not a valid JSON string of printable ASCII.
 */
static int
decode(const char *json, uint32 *out, int max)
{
	const char *p = json;
	int			n = 0;

	if (*p++ != '"')
		return -1;
	while (*p != '"')
	{
		uint32		c;

		if (*p == '\0' || (unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
			return -1;
		if (*p != '\\')
			c = (unsigned char) *p++;
		else
		{
			p++;
			switch (*p++)
			{
				case '"':
					c = '"';
					break;
				case '\\':
					c = '\\';
					break;
				case '/':
					c = '/';
					break;
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'u':
					{
						char		hex[5];

						for (int i = 0; i < 4; i++)
							if (!isxdigit((unsigned char) p[i]))
								return -1;
						memcpy(hex, p, 4);
						hex[4] = '\0';
						c = strtoul(hex, NULL, 16);
						p += 4;
						if (c >= 0xD800 && c <= 0xDBFF)
						{
							uint32		low;

							if (p[0] != '\\' || p[1] != 'u')
								return -1;
							memcpy(hex, p + 2, 4);
							low = strtoul(hex, NULL, 16);
							if (low < 0xDC00 || low > 0xDFFF)
								return -1;
							c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
							p += 6;
						}
						else if (c >= 0xDC00 && c <= 0xDFFF)
							return -1;
						break;
					}
				default:
					return -1;
			}
		}
		if (n == max)
			return -1;
		out[n++] = c;
	}
	return p[1] == '\0' ? n : -1;
}

/* Escapes of every kind, and the characters that must stay as they are. */
static void
test_escapes(void)
{
	CHECK(equals("plain text 123", PG_UTF8, "\"plain text 123\""), "plain ASCII");
	CHECK(equals("", PG_UTF8, "\"\""), "empty");
	CHECK(equals(NULL, PG_UTF8, "\"\""), "NULL is empty");
	CHECK(equals("a\"b\\c", PG_UTF8, "\"a\\\"b\\\\c\""), "quote, backslash");
	CHECK(equals("\n\r\t\b\f", PG_UTF8, "\"\\n\\r\\t\\b\\f\""), "short escapes");
	CHECK(equals("\x01\x1f\x7f", PG_UTF8, "\"\\u0001\\u001f\\u007f\""),
		  "other control characters");
	CHECK(equals("\"}\n{\"event\":\"admin\"", PG_UTF8,
				 "\"\\\"}\\n{\\\"event\\\":\\\"admin\\\"\""),
		  "a forged object stays inside the string");
	CHECK(equals("caf\xc3\xa9", PG_UTF8, "\"caf\\u00e9\""), "two-byte UTF-8");
	CHECK(equals("\xe2\x82\xac", PG_UTF8, "\"\\u20ac\""), "three-byte UTF-8");
	CHECK(equals("\xf0\x9f\x98\x80", PG_UTF8, "\"\\ud83d\\ude00\""),
		  "beyond U+FFFF: a surrogate pair");
	CHECK(equals("\xe2\x80\xa8", PG_UTF8, "\"\\u2028\""), "U+2028 escaped");
}

/* Bytes that are not a character, in each kind of encoding. */
static void
test_invalid(void)
{
	CHECK(equals("a\xff" "b", PG_UTF8, "\"a\\ufffdb\""), "a byte UTF-8 never has");
	CHECK(equals("\xc3", PG_UTF8, "\"\\ufffd\""), "a sequence cut short at the end");
	CHECK(equals("\xc3(", PG_UTF8, "\"\\ufffd(\""), "a lead byte without its continuation");
	CHECK(equals("\x80\x80", PG_UTF8, "\"\\ufffd\\ufffd\""), "lone continuation bytes");
	CHECK(equals("\xed\xa0\x80", PG_UTF8, "\"\\ufffd\\ufffd\\ufffd\""),
		  "an encoded surrogate is not a character");
	CHECK(equals("\xc0\xaf", PG_UTF8, "\"\\ufffd\\ufffd\""), "an overlong form");
	CHECK(equals("caf\xc3\xa9\xff", PG_SQL_ASCII, "\"caf\\u00e9\\ufffd\""),
		  "SQL_ASCII: UTF-8 where it is, U+FFFD where not");
	CHECK(equals("caf\xe9", PG_LATIN1, "\"caf\\u00e9\""), "LATIN1: a byte is its code point");
	CHECK(equals("\x82\xa0" "a", PG_SJIS, "\"\\ufffda\""),
		  "another encoding: a character beyond ASCII is U+FFFD, whole");
	CHECK(equals("\x82\\", PG_SJIS, "\"\\ufffd\""),
		  "a second byte that looks like a backslash is not one");
}

/* Cut values: a prefix of whole escapes, within the room, flagged. */
static void
test_cut(void)
{
	bool		cut;
	char	   *v;

	v = value("abcdef", PG_UTF8, 3, &cut);
	CHECK(strcmp(v, "\"abc\"") == 0 && cut, "cut to 3: %s", v);
	v = value("abc", PG_UTF8, 3, &cut);
	CHECK(strcmp(v, "\"abc\"") == 0 && !cut, "exactly fits: not cut");
	v = value("a\nb", PG_UTF8, 2, &cut);
	CHECK(strcmp(v, "\"a\"") == 0 && cut, "an escape is not split: %s", v);
	v = value("\xc3\xa9\xc3\xa9", PG_UTF8, 11, &cut);
	CHECK(strcmp(v, "\"\\u00e9\"") == 0 && cut, "nor a \\u escape: %s", v);
	v = value("\xf0\x9f\x98\x80", PG_UTF8, 6, &cut);
	CHECK(strcmp(v, "\"\"") == 0 && cut, "nor a surrogate pair: %s", v);
	v = value("abc", PG_UTF8, 0, &cut);
	CHECK(strcmp(v, "\"\"") == 0 && cut, "cut to nothing");
	CHECK(ig_json_append_string(NULL, "a\"\xc3\xa9", PG_UTF8, -1, NULL) == 1 + 2 + 6,
		  "measured without writing");
}

/*
 * Random bytes of every value, in each encoding: always a valid JSON
 * string of printable ASCII, and cut ones decode to a prefix of the whole.
 */
static void
test_random(void)
{
	static const int encodings[] = {PG_UTF8, PG_SQL_ASCII, PG_LATIN1, PG_SJIS, PG_EUC_JP};

	for (int round = 0; round < 20000; round++)
	{
		char		text[41];
		int			len = (int) (rng() % 40);
		int			encoding = encodings[rng() % lengthof(encodings)];
		uint32		whole[40 * 2];
		uint32		part[40 * 2];
		int			nwhole;
		int			npart;
		int			room;
		bool		cut;
		char	   *v;

		for (int i = 0; i < len; i++)
		{
			/* mostly the bytes that matter: controls, quotes, high bytes */
			uint64		r = rng();

			text[i] = (char) ((r % 4 == 0) ? "\"\\\n\x01{}"[r / 4 % 6] : 1 + (r / 4) % 255);
		}
		text[len] = '\0';
		v = value(text, encoding, -1, NULL);
		nwhole = decode(v, whole, lengthof(whole));
		CHECK(nwhole >= 0, "random bytes, encoding %d: not a valid JSON string: %s",
			  encoding, v);
		CHECK(strlen(v) - 2 == (size_t) ig_json_append_string(NULL, text, encoding, -1, NULL),
			  "the length returned is the length written");
		room = (int) (rng() % 60);
		pfree(v);
		v = value(text, encoding, room, &cut);
		npart = decode(v, part, lengthof(part));
		CHECK(npart >= 0 && (int) strlen(v) - 2 <= room,
			  "a cut value is valid and within its room (%d): %s", room, v);
		CHECK(npart <= nwhole && memcmp(part, whole, npart * sizeof(uint32)) == 0,
			  "a cut value is a prefix of the whole: %s", v);
		CHECK(cut == (npart < nwhole), "cut says whether it was");
		pfree(v);
	}
}

/* Numbers an output function writes, as JSON may or may not write them. */
static void
test_numbers(void)
{
	CHECK(ig_json_is_number("0"), "0");
	CHECK(ig_json_is_number("-12"), "-12");
	CHECK(ig_json_is_number("1.5"), "1.5");
	CHECK(ig_json_is_number("1e+100"), "1e+100");
	CHECK(ig_json_is_number("-2.5E-3"), "-2.5E-3");
	CHECK(!ig_json_is_number("NaN"), "NaN");
	CHECK(!ig_json_is_number("Infinity"), "Infinity");
	CHECK(!ig_json_is_number("-Infinity"), "-Infinity");
	CHECK(!ig_json_is_number("01"), "a leading zero");
	CHECK(!ig_json_is_number("1."), "a bare point");
	CHECK(!ig_json_is_number(".5"), "no integer part");
	CHECK(!ig_json_is_number(""), "empty");
	CHECK(!ig_json_is_number("1 "), "trailing space");
}

int
main(void)
{
	test_escapes();
	test_invalid();
	test_cut();
	test_random();
	test_numbers();
	return unit_finish("test_json");
}
