/*-------------------------------------------------------------------------
 *
 * logtext.h
 *		Text for the server log that no value can break.
 *
 * src/base/logtext.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_LOGTEXT_H
#define IG_LOGTEXT_H

extern char *ig_log_quote(const char *s);

#endif							/* IG_LOGTEXT_H */
