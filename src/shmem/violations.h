/*-------------------------------------------------------------------------
 *
 * violations.h
 *		Durable records of broken thresholds, on disk, and their log lines.
 *
 * src/shmem/violations.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_VIOLATIONS_H
#define IG_VIOLATIONS_H

#include "datatype/timestamp.h"

/* What the enforcement knows about a break; the rest is gathered here. */
typedef struct IgBreak
{
	Oid			roleid;			/* session user */
	Oid			table_oid;		/* the threshold's table, or the one read */
	int64		threshold_id;
	int64		max_rows;
	int64		per;			/* microseconds */
	int64		rows_in_window;
	int64		statement_rows;
	bool		block;
	bool		stopped;		/* a block that stopped the statement (else
								 * the statement had ended, see enforce.c) */
	bool		baseline;		/* a baseline rule: max_rows is its limit then */
	bool		novelty;		/* of those, a novelty rule */
	bool		catalog_ok;		/* names may be looked up (else: as last
								 * seen; the transaction is failing) */
	Oid			key_relid;		/* the rule's table (InvalidOid: all tables) */
	uint64		parallel_query; /* ig_parallel_query_key() of the statement */
	const char *client_application; /* or NULL: this backend's (a Citus */
	const char *client_query;	/* connection: the client's, see enforce.c) */
	bool		remote_record;	/* recorded by the node holding a Citus
								 * cluster's budget (exec/lease.c) */
} IgBreak;

/* The fixed part of a record, as stored. */
typedef struct IgViolationFacts
{
	int64		violation_id;
	TimestampTz occurred_at;
	Oid			dbid;
	Oid			table_oid;
	int64		threshold_id;
	int64		max_rows;
	int64		per;
	int64		rows_in_window;
	int64		statement_rows;
	int32		backend_pid;
	bool		block;
	uint8		rule_kind;		/* IG_RULE_KIND_*: since version 0.3.0, in
								 * what was padding (0 before) */
	/* records of version 0.2.0 ("IGV2") also have: */
	Oid			roleid;			/* the session user */
	Oid			key_relid;		/* the rule's table, InvalidOid: all */
} IgViolationFacts;

/* the fixed part of records written before (IGV1) */
#define IG_FACTS_V1_SIZE	offsetof(IgViolationFacts, roleid)

/*
 * The kind of rule a record is of.  Records that 0.2.0's library wrote
 * have 0 there (it zeroed the padding this byte took): unknown, the
 * violations view looks their rule up; 0.1.0's (IGV1) are thresholds.
 */
#define IG_RULE_KIND_UNKNOWN	0
#define IG_RULE_KIND_THRESHOLD	1
#define IG_RULE_KIND_BASELINE	2
#define IG_RULE_KIND_NOVELTY	3

/* A record as read back, with its incident's repeats. */
typedef struct IgViolation
{
	IgViolationFacts facts;
	int64		repeats;		/* later stops of the same incident */
	TimestampTz last_seen;		/* the latest of them (occurred_at if none) */
	char	   *role_name;
	char	   *current_role_name;
	char	   *table_name;
	char	   *query;
	char	   *application_name;
	char	   *client_addr;	/* "" if none (a Unix socket) */
} IgViolation;

struct IgIncidentChange;

extern Size ig_violations_shmem_size(void);
extern void ig_violations_shmem_init(bool recover);
extern int64 ig_violation_report(const IgBreak *brk);
extern bool ig_violation_claim(const IgBreak *brk, int64 *violation_id);
extern void ig_violation_claim_done(const IgBreak *brk, int64 violation_id);
extern void ig_violations_write_repeats(bool wait);
extern void ig_violations_shutdown(void);
extern void ig_violations_restore_counts(void);
extern void ig_violations_note_reset(Oid roleid);
extern uint64 ig_parallel_query_key(bool leader);
extern void ig_statement_context(char **query, char **client_addr,
								 char **application, int32 *pid);
extern void ig_violation_log(const IgViolation *v, const IgBreak *brk,
							 bool written);
extern void ig_violation_log_repeats(const struct IgIncidentChange *change);
extern IgViolation *ig_violations_read(Oid dbid, int *count);
extern int64 ig_violations_prune(Oid dbid, TimestampTz before);
extern void ig_violations_info(int64 *records, int64 *bytes, int64 *dropped);

#endif							/* IG_VIOLATIONS_H */
