/*-------------------------------------------------------------------------
 *
 * window.h
 *		Rolling-window arithmetic: rings of time buckets that answer "how
 *		many rows in the last N" to the precision the contract asks for.
 *
 * A ring serves one window length L.  Its buckets are W = L / 60 wide and
 * aligned to multiples of W since the PostgreSQL epoch, so the bucket
 * straddling "now - L" is never wider than L / 60: rows read within the
 * last L always count, rows read more than L + L/60 ago never do.
 *
 * Pure functions on caller-owned memory: no locks, no allocation, no
 * PostgreSQL state, so that a test program can drive them directly.
 *
 * src/base/window.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_WINDOW_H
#define IG_WINDOW_H

#include "c.h"

/*
 * Buckets per ring.  A window of length L with width W = floor(L / 60)
 * overlaps at most ceil(L / W) + 1 <= 62 aligned buckets.
 */
#define IG_RING_BUCKETS 62

/*
 * Largest value a bucket can hold (40 bits, 1.1 trillion rows); adds
 * saturate there.  A saturated bucket still exceeds any threshold a DBA
 * would set, so enforcement is unaffected; 40 bits rather than 48 keep a
 * counter within 2 KiB of shared memory.
 */
#define IG_BUCKET_MAX	((UINT64CONST(1) << 40) - 1)

/* Shortest and longest windows, in microseconds. */
#define IG_WINDOW_MIN_US	(INT64CONST(60) * 1000000)
#define IG_WINDOW_MAX_US	(INT64CONST(30) * 86400 * 1000000)

/*
 * One ring.  Bucket values are 40-bit, split in two arrays to keep the
 * ring at 336 bytes.  An all-zero ring is a valid empty ring.
 */
typedef struct IgRing
{
	int64		head;			/* number (time / width) of newest bucket */
	uint64		sum;			/* rows in all buckets of the ring */
	uint32		gen;			/* generation of the window it was built for */
	uint32		lo[IG_RING_BUCKETS];	/* low 32 bits of each bucket */
	uint8		hi[IG_RING_BUCKETS];	/* high 8 bits of each bucket */
} IgRing;

/* floor(a / b) for b > 0, also for negative a */
static inline int64
ig_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b < 0)
		q--;
	return q;
}

/* Number of the bucket holding time "now" in a ring of the given width */
static inline int64
ig_window_bucket(int64 width, int64 now)
{
	return ig_floor_div(now, width);
}

extern int64 ig_window_width(int64 length);
extern void ig_ring_reset(IgRing *ring, uint32 gen);
extern void ig_ring_advance(IgRing *ring, int64 width, int64 now);
extern void ig_ring_add(IgRing *ring, int64 width, int64 now, uint64 rows);
extern void ig_ring_add_bucket(IgRing *ring, int64 bucket, uint64 rows);
extern void ig_ring_add_past(IgRing *ring, int64 bucket, uint64 rows);
extern uint64 ig_ring_sum(IgRing *ring, int64 width, int64 length, int64 now);
extern uint64 ig_ring_sum_buckets(const IgRing *ring, int64 first, int64 last);
extern void ig_ring_rebuild(IgRing *dst, int64 dst_width, uint32 dst_gen,
							IgRing *src, int64 src_width, int64 now);

/*
 * A ring written compactly (to the counts file): head, sum, generation,
 * then only the buckets that hold rows, each as its index and value.  A
 * counter's rings are mostly zeros, so this is a tenth of the bytes.
 */
#define IG_RING_ENCODED_MAX (8 + 8 + 4 + 1 + IG_RING_BUCKETS * 6)

extern Size ig_ring_encode(const IgRing *ring, char *buf);
extern Size ig_ring_decode(IgRing *ring, const char *data, Size len);

#endif							/* IG_WINDOW_H */
