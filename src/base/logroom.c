/*-------------------------------------------------------------------------
 *
 * logroom.c
 *		How long a log message may be and still reach syslog in one
 *		piece: the room the JSON event lines (event.c) must fit in.
 *
 * PostgreSQL hands syslog the whole line -- log_line_prefix, severity,
 * message -- and, with syslog_split_messages on (its default), splits a
 * line longer than PG_SYSLOG_LIMIT (900 bytes) into several syslog
 * messages tagged [n-1], [n-2] ... (elog.c, write_syslog).  A JSON object
 * split so is not parseable as it arrives.  So when syslog is a log
 * destination and messages are split, an event line is kept within 900
 * bytes less what can come before the message on its line: the prefix's
 * expansion, bounded here from the escapes of log_line_prefix and the
 * values this process would write for them (application_name, which a
 * client chooses freely; user and database names, at most NAMEDATALEN
 * bytes; the client's host), the severity, and the SQLSTATE that
 * log_error_verbosity = verbose adds.
 * The bound is never short: a line within it is one syslog message.  Without syslog, or with syslog_split_messages off, there is
 * no bound.
 *
 * IDENTIFICATION
 *		src/base/logroom.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"
#include "pgtime.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/ps_status.h"

#include "base/compat.h"
#include IG_BACKEND_STATUS_HEADER

#include "base/logroom.h"

/* elog.c's PG_SYSLOG_LIMIT: the longest line syslog gets in one piece */
#define IG_SYSLOG_LIMIT 900

/* room for the severity ("LOG", or its translation) and ":  " after it */
#define IG_SEVERITY_MAX 32

/* room for "[unknown]", translated, that a missing name is written as */
#define IG_UNKNOWN_MAX 32

/* the longest host name a resolver hands back (NI_MAXHOST - 1) */
#define IG_HOST_NAME_MAX 1024

/* the longest address as text, an IPv6 scope included */
#define IG_ADDRESS_MAX 64

/* the longest backend type (a background worker's bgw_type) */
#define IG_BACKEND_TYPE_MAX 96

/*
 * The client's host as the prefix writes it: an address, "[local]" or,
 * with log_hostname, its name -- which the backend status keeps up to
 * NAMEDATALEN - 1 bytes: a name that long may be longer.
 */
static int
host_length(void)
{
	int			n;

	if (!log_hostname || MyBEEntry == NULL ||
		MyBEEntry->st_clienthostname == NULL)
		return log_hostname ? IG_HOST_NAME_MAX : IG_ADDRESS_MAX;
	n = strlen(MyBEEntry->st_clienthostname);
	return n >= NAMEDATALEN - 1 ? IG_HOST_NAME_MAX : Max(n, IG_ADDRESS_MAX);
}

/* The time zone's abbreviation that log times are written with, now. */
static int
zone_length(void)
{
	pg_time_t	now = (pg_time_t) time(NULL);
	struct pg_tm *tm = log_timezone ? pg_localtime(&now, log_timezone) : NULL;

	return (tm != NULL && tm->tm_zone != NULL) ? strlen(tm->tm_zone) : 0;
}

/* The longest expansion of one log_line_prefix escape in this process. */
static int
escape_length(char escape)
{
	int			n;

	/* the client's values are written only in a session */
	if (MyProcPort == NULL && strchr("auhdri", escape) != NULL)
		return 0;
	switch (escape)
	{
		case 'a':
			n = application_name ? strlen(application_name) : 0;
			return Max(n, IG_UNKNOWN_MAX);
		case 'u':
		case 'd':
			return Max(NAMEDATALEN - 1, IG_UNKNOWN_MAX);
		case 'h':
			return host_length();
		case 'r':
			return host_length() + strlen("(65535)");
		case 'L':
			return IG_ADDRESS_MAX;
		case 'i':
			(void) get_ps_display(&n);
			return n;
		case 'b':
			return IG_BACKEND_TYPE_MAX;
		case 'm':
			/* 2026-12-06 10:00:00.123 UTC */
			return 24 + zone_length();
		case 't':
		case 's':
			/* 2026-12-06 10:00:00 UTC */
			return 20 + zone_length();
		case 'n':
			/* seconds since 1970, milliseconds */
			return 21 + 4;
		case 'c':
			/* start time and pid in hex */
			return 16 + 1 + 8;
		case 'p':
		case 'P':
		case 'x':
			return 11;
		case 'l':
		case 'Q':
			return 21;
		case 'v':
			return 11 + 1 + 10;
		case 'e':
			return 5;
		default:
			/* unknown escapes write nothing */
			return 0;
	}
}

/* The longest log_line_prefix this process can write. */
static int
prefix_length(void)
{
	int			total = 0;

	if (Log_line_prefix == NULL)
		return 0;
	for (const char *p = Log_line_prefix; *p != '\0'; p++)
	{
		int			padding = 0;

		if (*p != '%')
		{
			total++;
			continue;
		}
		p++;
		if (*p == '\0')
			break;
		if (*p == '%')
		{
			total++;
			continue;
		}
		/* padding, as elog.c reads it: an optional '-', then digits */
		if (*p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
		{
			padding = Min(padding * 10 + (*p - '0'), 1000000);
			p++;
		}
		if (*p == '\0')
			break;
		total += Max(escape_length(*p), padding);
	}
	return total;
}

/*
 * The most bytes a log message may take so that its line reaches syslog
 * in one piece; -1 if any length does (no syslog, or no splitting).  May
 * be 0 or less: then nothing fits.
 */
int
ig_log_room(void)
{
	int			room;

	if ((Log_destination & LOG_DESTINATION_SYSLOG) == 0 ||
		!syslog_split_messages)
		return -1;
	room = IG_SYSLOG_LIMIT - prefix_length() - IG_SEVERITY_MAX;
	if (Log_error_verbosity >= PGERROR_VERBOSE)
		room -= 7;				/* "00000: " */
	return room;
}
