/*-------------------------------------------------------------------------
 *
 * logroom.h
 *		How long a log message may be and still reach syslog in one piece.
 *
 * src/base/logroom.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_LOGROOM_H
#define IG_LOGROOM_H

extern int	ig_log_room(void);

#endif							/* IG_LOGROOM_H */
