/*-------------------------------------------------------------------------
 *
 * json.h
 *		JSON string values in pure ASCII, from text in any server encoding.
 *
 * src/base/json.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_JSON_H
#define IG_JSON_H

#include "lib/stringinfo.h"

extern int	ig_json_append_string(StringInfo out, const char *s, int encoding,
								  int max_bytes, bool *cut);
extern bool ig_json_is_number(const char *text);

#endif							/* IG_JSON_H */
