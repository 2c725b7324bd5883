/*-------------------------------------------------------------------------
 *
 * violations.c
 *		Durable records of broken thresholds, and their server log lines.
 *
 * Records are appended to segment files (violations_file.c, within the
 * cap: violations_store.c), never to a table: a hot standby must be able
 * to write them too.  A record is written and fsynced before the
 * statement that broke the threshold returns (or raises its error), so it
 * is durable before the client hears of it.  A statement stopped by a
 * block rule is recorded once, even when several processes of a parallel
 * query are stopped; later stops of the same incident are repeats,
 * written lazily as repeats records.  At start, the block records still
 * in their window restore the counts they prove (a crash never hands a
 * stopped role fresh budget); a reset record ends that for a role.
 *
 * Locking (shmem/locks.h has the whole protocol): the violations' LWLock,
 * EXCLUSIVE to append or prune (assigns ids, moves the end), SHARED to
 * read.  Appends are rare (a blocked statement, a crossing), so one
 * writer at a time, fsync included, is fine.
 *
 * Each record also goes to the server log as one line, and so does each
 * incident whose repeats are written: violations_log.c.
 *
 * IDENTIFICATION
 *		src/shmem/violations.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/twophase.h"
#include "common/ip.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include IG_BACKEND_STATUS_HEADER

#include "shmem/counters.h"
#include "base/event.h"
#include "base/guc.h"
#include "base/names.h"
#include "shmem/locks.h"
#include "shmem/violations.h"
#include "shmem/violations_file.h"
#include "base/window.h"

Size
ig_violations_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(IgViolationsShared, parallel_queries),
							 mul_size(sizeof(pg_atomic_uint64), IG_PROC_SLOTS)));
}

/*
 * A number that the leader of a parallel query and its workers share, and
 * that differs between the leader's parallel queries: the leader takes a
 * new one when its executor starts (with leader), its workers read it.
 */
uint64
ig_parallel_query_key(bool leader)
{
	PGPROC	   *proc = leader ? MyProc : MyProc->lockGroupLeader;

	int			procno;

	if (proc == NULL)
		return 0;
	procno = ig_proc_number(proc);
	if (procno < 0 || procno >= IG_PROC_SLOTS)
		return 0;
	if (leader)
		return pg_atomic_add_fetch_u64(&ig_vstate->parallel_queries[procno], 1);
	return pg_atomic_read_u64(&ig_vstate->parallel_queries[procno]);
}

/*
 * Creates or attaches to the shared state; with "recover", also looks at
 * the files (postmaster only).
 */
void
ig_violations_shmem_init(bool recover)
{
	bool		found;

	ig_vstate = ShmemInitStruct("insider_guard violations",
						  ig_violations_shmem_size(), &found);
	if (!found)
	{
		memset(ig_vstate, 0, offsetof(IgViolationsShared, parallel_queries));
		for (int i = 0; i < IG_PROC_SLOTS; i++)
			pg_atomic_init_u64(&ig_vstate->parallel_queries[i], 0);
		ig_vstate->lock = ig_lwlock(IG_LWLOCK_VIOLATIONS);
		ig_vstate->next_id = 1;
		ig_vstate->oldest = ig_vstate->newest = 1;
	}
	if (recover)
		ig_vfile_recover();
}

/* Appends a length-prefixed string to a record being built. */
static void
append_string(StringInfo buf, const char *s)
{
	uint32		len = s ? strlen(s) : 0;

	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	if (len > 0)
		appendBinaryStringInfo(buf, s, len);
}

/*
 * The top-level statement's text, client address ("" if none: a Unix
 * socket) and application of this backend or, in a parallel worker, of
 * its leader, and the leader's pid.
 */
void
ig_statement_context(char **query, char **client_addr, char **application,
					 int32 *pid)
{
	const char *text = debug_query_string;
	char		host[NI_MAXHOST];
	SockAddr   *addr = MyBEEntry ? &MyBEEntry->st_clientaddr : NULL;
	PgBackendStatus *leader_status = NULL;

	*pid = MyProcPid;
	*application = pstrdup(application_name ? application_name : "");

	if (IsParallelWorker() && MyProc->lockGroupLeader != NULL)
	{
		int			pid_leader = MyProc->lockGroupLeader->pid;
		int			n = pgstat_fetch_stat_numbackends();

		*pid = pid_leader;
		for (int i = 1; i <= n; i++)
		{
			LocalPgBackendStatus *local = ig_local_beentry(i);

			if (local && local->backendStatus.st_procpid == pid_leader)
			{
				leader_status = &local->backendStatus;
				break;
			}
		}
		if (leader_status)
		{
			text = leader_status->st_activity_raw;
			addr = &leader_status->st_clientaddr;
			*application = pstrdup(leader_status->st_appname ? leader_status->st_appname : "");
		}
	}

	/* bounded like pg_stat_activity.query */
	if (text == NULL)
		text = "";
	*query = pnstrdup(text, pg_mbcliplen(text, strlen(text),
										 pgstat_track_activity_query_size - 1));

	*client_addr = pstrdup("");
	if (addr && (addr->addr.ss_family == AF_INET || addr->addr.ss_family == AF_INET6))
	{
		host[0] = '\0';
		if (pg_getnameinfo_all(&addr->addr, addr->salen, host, sizeof(host),
							   NULL, 0, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		{
			clean_ipv6_addr(addr->addr.ss_family, host);
			*client_addr = pstrdup(host);
		}
	}
}

/* The pid a parallel query's processes record under: the leader's. */
static int32
parallel_query_pid(void)
{
	if (IsParallelWorker() && MyProc->lockGroupLeader != NULL)
		return MyProc->lockGroupLeader->pid;
	return MyProcPid;
}

/* The entry of the recent blocks for a break of a parallel query, or NULL. */
static IgRecentBlock *
find_recent(const IgBreak *brk, int32 pid)
{
	for (int i = 0; i < IG_RECENT_BLOCKS; i++)
	{
		IgRecentBlock *recent = &ig_vstate->recent[i];

		if (recent->pid == pid && recent->parallel_query == brk->parallel_query &&
			recent->threshold_id == brk->threshold_id)
			return recent;
	}
	return NULL;
}

/*
 * A parallel query's leader and workers may each be stopped by a block
 * rule, but the query is one statement: one record, or one repeat.  True
 * if this process is the first of them to be stopped by the rule: it
 * records the break and hands the id to ig_violation_claim_done.  Else
 * *violation_id is the id the first one got, 0 until it has one.
 */
bool
ig_violation_claim(const IgBreak *brk, int64 *violation_id)
{
	int32		pid = parallel_query_pid();
	IgRecentBlock *recent;
	bool		first;

	LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	recent = find_recent(brk, pid);
	first = recent == NULL;
	if (first)
	{
		recent = &ig_vstate->recent[ig_vstate->next_recent];
		ig_vstate->next_recent = (ig_vstate->next_recent + 1) % IG_RECENT_BLOCKS;
		recent->pid = pid;
		recent->parallel_query = brk->parallel_query;
		recent->threshold_id = brk->threshold_id;
		recent->violation_id = 0;
	}
	*violation_id = recent->violation_id;
	LWLockRelease(ig_vstate->lock);
	return first;
}

/* The record or repeat of a break ig_violation_claim gave this process. */
void
ig_violation_claim_done(const IgBreak *brk, int64 violation_id)
{
	IgRecentBlock *recent;

	LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	recent = find_recent(brk, parallel_query_pid());
	if (recent != NULL)
		recent->violation_id = violation_id;
	LWLockRelease(ig_vstate->lock);
}

/*
 * Records a break: appends it to the violations log (flushed to disk) and
 * writes its server log line.  Returns its id, or 0 if it could not be
 * written (logged; the caller still blocks).  Without catalog_ok (a
 * transaction failing, the backend exiting) the names are those last seen
 * (names.c).
 */
int64
ig_violation_report(const IgBreak *brk)
{
	IgRecordHeader header;
	IgRecordFixed fixed;
	StringInfoData buf;
	char	   *role = ig_role_name(brk->roleid, brk->catalog_ok);
	char	   *current_role = ig_role_name(GetUserId(), brk->catalog_ok);
	char	   *table = OidIsValid(brk->table_oid) ?
		ig_table_name(brk->table_oid, brk->catalog_ok) : NULL;
	char	   *query;
	char	   *client_addr;
	char	   *application;
	int32		pid;
	bool		written = false;
	IgViolation logged;

	if (role == NULL)
		role = psprintf("%u", brk->roleid);
	if (current_role == NULL)
		current_role = psprintf("%u", GetUserId());
	if (table == NULL)
		table = OidIsValid(brk->table_oid) ? psprintf("%u", brk->table_oid) : pstrdup("");
	ig_statement_context(&query, &client_addr, &application, &pid);
	/* a Citus connection's: its client's (bounded as above) */
	if (brk->client_query != NULL)
		query = pnstrdup(brk->client_query,
						 pg_mbcliplen(brk->client_query, strlen(brk->client_query),
									  pgstat_track_activity_query_size - 1));
	if (brk->client_application != NULL)
		application = pstrdup(brk->client_application);

	memset(&fixed, 0, sizeof(fixed));
	fixed.occurred_at = ig_now();
	fixed.dbid = MyDatabaseId;
	fixed.table_oid = brk->table_oid;
	fixed.threshold_id = brk->threshold_id;
	fixed.max_rows = brk->max_rows;
	fixed.per = brk->per;
	fixed.rows_in_window = brk->rows_in_window;
	fixed.statement_rows = brk->statement_rows;
	fixed.backend_pid = pid;
	fixed.block = brk->block;
	fixed.rule_kind = brk->novelty ? IG_RULE_KIND_NOVELTY :
		brk->baseline ? IG_RULE_KIND_BASELINE : IG_RULE_KIND_THRESHOLD;
	fixed.roleid = brk->roleid;
	fixed.key_relid = brk->key_relid;

	LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	if (ig_vstate->next_id >= ig_vstate->id_mark)
		ig_vfile_write_id_mark(IG_ID_BLOCK);
	fixed.violation_id = ig_vstate->next_id++;

	initStringInfo(&buf);
	memset(&header, 0, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
	appendBinaryStringInfo(&buf, (const char *) &fixed, sizeof(fixed));
	append_string(&buf, role);
	append_string(&buf, current_role);
	append_string(&buf, table);
	append_string(&buf, query);
	append_string(&buf, application);
	append_string(&buf, client_addr);
	header.magic = IG_VIOLATION_MAGIC;
	header.length = buf.len;
	INIT_CRC32C(header.crc);
	COMP_CRC32C(header.crc, buf.data + sizeof(header), buf.len - sizeof(header));
	FIN_CRC32C(header.crc);
	memcpy(buf.data, &header, sizeof(header));

	written = ig_vstore_append(buf.data, buf.len);
	if (written)
		ig_vstate->nrecords++;
	LWLockRelease(ig_vstate->lock);

	memset(&logged, 0, sizeof(logged));
	memcpy(&logged.facts, &fixed, sizeof(fixed));
	logged.last_seen = fixed.occurred_at;
	logged.role_name = role;
	logged.current_role_name = current_role;
	logged.table_name = table;
	logged.query = query;
	logged.application_name = application;
	logged.client_addr = client_addr;
	ig_violation_log(&logged, brk, written);
	return written ? fixed.violation_id : 0;
}

/* The record of an id in a database's records, ordered by id, or NULL. */
static IgViolation *
find_record(IgViolation *records, int count, int64 violation_id)
{
	int			low = 0;
	int			high = count - 1;

	while (low <= high)
	{
		int			mid = (low + high) / 2;
		int64		id = records[mid].facts.violation_id;

		if (id == violation_id)
			return &records[mid];
		if (id < violation_id)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return NULL;
}

/*
 * Every record of a database, oldest first, palloc'd, with the repeats
 * of its incident as last written; *count set.
 */
IgViolation *
ig_violations_read(Oid dbid, int *count)
{
	int			allocated = 64;
	int			n = 0;
	IgViolation *result = palloc(sizeof(IgViolation) * allocated);
	int			repeats_allocated = 16;
	int			nrepeats = 0;
	IgRepeatsRecord *repeats = palloc(sizeof(IgRepeatsRecord) * repeats_allocated);
	IgRecordScan scan;
	const char *record;

	LWLockAcquire(ig_vstate->lock, LW_SHARED);
	ig_vfile_scan_begin(&scan);
	while ((record = ig_vfile_scan_next(&scan)) != NULL)
	{
		if (is_repeats(record))
		{
			IgRepeatsRecord r = record_repeats(record);

			if (r.dbid == dbid)
			{
				if (nrepeats == repeats_allocated)
				{
					repeats_allocated *= 2;
					repeats = repalloc(repeats, sizeof(IgRepeatsRecord) * repeats_allocated);
				}
				repeats[nrepeats++] = r;
			}
		}
		else if (is_violation(record) && record_fixed(record).dbid == dbid)
		{
			if (n == allocated)
			{
				allocated *= 2;
				result = repalloc(result, sizeof(IgViolation) * allocated);
			}
			ig_vfile_decode(record, &result[n++]);
		}
	}
	LWLockRelease(ig_vstate->lock);

	/* ids grow as records are appended: the latest repeats win */
	for (int i = 0; i < nrepeats; i++)
	{
		IgViolation *v = find_record(result, n, repeats[i].violation_id);

		if (v != NULL && repeats[i].repeats >= v->repeats)
		{
			v->repeats = repeats[i].repeats;
			v->last_seen = Max(v->last_seen, repeats[i].last_seen);
		}
	}
	pfree(repeats);
	*count = n;
	return result;
}


/* A block record whose window may still hold rows it proves were read. */
typedef struct IgProof
{
	int64		violation_id;
	IgRecordFixed fixed;
	TimestampTz last_seen;
} IgProof;
static int
compare_proofs(const void *a, const void *b)
{
	return ig_vfile_compare_ids(&((const IgProof *) a)->violation_id,
						 &((const IgProof *) b)->violation_id);
}

/*
 * At start, after the counts were loaded (the last save, which a crash
 * may have left behind): a block record says its role's count was over
 * the rule's limit when it was made, and again at its latest repeat, so
 * while that window lasts the role's counter is made to hold at least
 * max_rows + 1 rows read then.  A crash never hands a stopped role fresh
 * budget.  Records of version 0.1.0 (no role) are skipped.  And the
 * incidents saved with the counts whose records are gone (dropped, or a
 * segment lost) are forgotten.  Postmaster.
 */
void
ig_violations_restore_counts(void)
{
	TimestampTz now = ig_now();
	int			allocated = 64;
	int			n = 0;
	IgProof    *proofs = palloc(sizeof(IgProof) * allocated);
	int			restored = 0;
	int			resets_allocated = 16;
	int			nresets = 0;
	IgResetRecord *resets = palloc(sizeof(IgResetRecord) * resets_allocated);
	int			ids_allocated = 64;
	int			nids = 0;
	int64	   *ids = palloc(sizeof(int64) * ids_allocated);
	IgRecordScan scan;
	const char *record;

	ig_vfile_scan_begin(&scan);
	while ((record = ig_vfile_scan_next(&scan)) != NULL)
	{
		if (is_violation(record))
		{
			IgRecordFixed fixed = record_fixed(record);

			if (nids == ids_allocated)
			{
				ids_allocated *= 2;
				ids = repalloc(ids, sizeof(int64) * ids_allocated);
			}
			ids[nids++] = fixed.violation_id;
			if (fixed.block && OidIsValid(fixed.roleid) &&
				fixed.occurred_at + fixed.per > now - IG_WINDOW_MAX_US)
			{
				if (n == allocated)
				{
					allocated *= 2;
					proofs = repalloc(proofs, sizeof(IgProof) * allocated);
				}
				proofs[n].violation_id = fixed.violation_id;
				proofs[n].fixed = fixed;
				proofs[n].last_seen = fixed.occurred_at;
				n++;
			}
		}
		else if (!is_repeats(record))
		{
			if (nresets == resets_allocated)
			{
				resets_allocated *= 2;
				resets = repalloc(resets, sizeof(IgResetRecord) * resets_allocated);
			}
			memcpy(&resets[nresets++], record + sizeof(IgRecordHeader),
				   sizeof(IgResetRecord));
		}
		else
		{
			IgRepeatsRecord r = record_repeats(record);
			IgProof		key;
			IgProof    *proof;

			key.violation_id = r.violation_id;
			proof = bsearch(&key, proofs, n, sizeof(IgProof), compare_proofs);
			if (proof != NULL)
				proof->last_seen = Max(proof->last_seen, r.last_seen);
		}
	}

	for (int i = 0; i < n; i++)
	{
		IgRecordFixed *f = &proofs[i].fixed;
		TimestampTz at = proofs[i].last_seen;

		bool		reset = false;

		if (at + f->per <= now || at > now || f->max_rows < 0)
			continue;
		/* an admin reset the role's counts since: nothing to restore */
		for (int r = 0; r < nresets && !reset; r++)
			reset = resets[r].dbid == f->dbid && resets[r].at >= at &&
				(resets[r].roleid == f->roleid || !OidIsValid(resets[r].roleid));
		if (reset)
			continue;
		ig_counters_floor(f->dbid, f->roleid, f->key_relid, f->per,
						  (uint64) f->max_rows + 1, at, now);
		restored++;
	}
	if (restored > 0 && ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "counts_restored", now);
		ig_event_int(&ev, "records", restored);
		ig_event_emit(&ev, LOG);
	}
	else if (restored > 0)
		ereport(LOG,
				(errmsg("insider_guard: %d violation records still in their window: each role's count is at least what they prove",
						restored)));
	/* incidents saved with the counts whose records are gone end */
	qsort(ids, nids, sizeof(int64), ig_vfile_compare_ids);
	ig_counters_forget_incidents(ids, nids, true);
	pfree(ids);
	pfree(proofs);
	pfree(resets);
}

/*
 * What the info view shows of the store, all databases together: the
 * violation records it holds, the bytes its segments take (records,
 * repeats and reset records: what insider_guard.violations_max_size
 * caps), and the records dropped to stay within the cap since the shared
 * memory was made.
 */
void
ig_violations_info(int64 *records, int64 *bytes, int64 *dropped)
{
	LWLockAcquire(ig_vstate->lock, LW_SHARED);
	*records = (int64) ig_vstate->nrecords;
	*bytes = (int64) ig_vstate->total_size;
	*dropped = (int64) ig_vstate->dropped;
	LWLockRelease(ig_vstate->lock);
}

/*
 * An admin reset the counts of a role (InvalidOid: every role) in this
 * database: noted durably, so that the block records made before it do
 * not restore counts at the next start.
 */
void
ig_violations_note_reset(Oid roleid)
{
	IgRecordHeader header;
	IgResetRecord body;
	char		buf[sizeof(IgRecordHeader) + sizeof(IgResetRecord)];

	memset(&body, 0, sizeof(body));
	body.at = ig_now();
	body.dbid = MyDatabaseId;
	body.roleid = roleid;
	memset(&header, 0, sizeof(header));
	header.magic = IG_RESET_MAGIC;
	header.length = sizeof(buf);
	INIT_CRC32C(header.crc);
	COMP_CRC32C(header.crc, &body, sizeof(body));
	FIN_CRC32C(header.crc);
	memcpy(buf, &header, sizeof(header));
	memcpy(buf + sizeof(header), &body, sizeof(body));
	LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	(void) ig_vstore_append(buf, sizeof(buf));
	LWLockRelease(ig_vstate->lock);
}

/*
 * At a clean shutdown, when every other process has stopped: the next id
 * is the mark, so that ids go on without a gap.
 */
void
ig_violations_shutdown(void)
{
	if (ig_vstate != NULL && ig_vstate->id_mark > ig_vstate->next_id)
		ig_vfile_write_id_mark(0);
}

/*
 * Writes the repeat counts of incidents (counters_incidents.c) that changed since
 * they were last written, as repeats records, in one write and one fsync:
 * from the worker, before the view is read, and at a clean shutdown
 * (without "wait", and then only if no one holds the lock).
 */
void
ig_violations_write_repeats(bool wait)
{
	int			count;
	IgIncidentChange *changes = ig_counters_incident_changes(&count);
	StringInfoData buf;
	bool		written;

	if (count == 0)
	{
		pfree(changes);
		return;
	}
	initStringInfo(&buf);
	for (int i = 0; i < count; i++)
	{
		IgRecordHeader header;
		IgRepeatsRecord body;

		memset(&body, 0, sizeof(body));
		body.violation_id = changes[i].violation_id;
		body.repeats = changes[i].repeats;
		body.last_seen = changes[i].last_seen;
		body.dbid = changes[i].dbid;
		memset(&header, 0, sizeof(header));
		header.magic = IG_REPEATS_MAGIC;
		header.length = sizeof(header) + sizeof(body);
		INIT_CRC32C(header.crc);
		COMP_CRC32C(header.crc, &body, sizeof(body));
		FIN_CRC32C(header.crc);
		appendBinaryStringInfo(&buf, (const char *) &header, sizeof(header));
		appendBinaryStringInfo(&buf, (const char *) &body, sizeof(body));
	}
	/* (the postmaster, at shutdown, cannot wait: no PGPROC) */
	if (wait)
		LWLockAcquire(ig_vstate->lock, LW_EXCLUSIVE);
	else if (!LWLockConditionalAcquire(ig_vstate->lock, LW_EXCLUSIVE))
	{
		pfree(buf.data);
		pfree(changes);
		return;
	}
	written = ig_vstore_append(buf.data, buf.len);
	LWLockRelease(ig_vstate->lock);
	if (written)
	{
		ig_counters_incidents_written(changes, count);
		for (int i = 0; i < count; i++)
			ig_violation_log_repeats(&changes[i]);
	}
	pfree(buf.data);
	pfree(changes);
}
