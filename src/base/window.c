/*-------------------------------------------------------------------------
 *
 * window.c
 *		Rolling-window arithmetic on rings of time buckets.
 *
 * A ring for a window of length L keeps IG_RING_BUCKETS buckets of width
 * W = floor(L / 60) microseconds.  Bucket number b holds the rows read in
 * [b * W, (b + 1) * W); it lives at index b mod IG_RING_BUCKETS.  "head"
 * is the newest bucket number; the ring holds buckets head - 61 .. head.
 *
 * The rows read in (now - L, now] are those of buckets numbered
 * floor((now - L) / W) and later.  The oldest of them may hold rows up to
 * W older than now - L, never more: rows read within the last L always
 * count and rows read more than L + L/60 ago never do.
 *
 * Invariant: sum == the sum of all buckets.  An empty ring (sum == 0) may
 * move its head anywhere, which also makes an all-zero ring valid.
 *
 * Time that goes backwards (clock adjustments, a test clock) is clamped:
 * rows land in the newest bucket, so they count for at least as long as
 * they should.
 *
 * IDENTIFICATION
 *		src/base/window.c
 *
 *-------------------------------------------------------------------------
 */
#include "c.h"

#include "base/window.h"

/* Array index of bucket number b */
static inline int
bucket_index(int64 b)
{
	int64		r = b % IG_RING_BUCKETS;

	if (r < 0)
		r += IG_RING_BUCKETS;
	return (int) r;
}

static inline uint64
bucket_get(const IgRing *ring, int i)
{
	return ((uint64) ring->hi[i] << 32) | ring->lo[i];
}

static inline void
bucket_set(IgRing *ring, int i, uint64 value)
{
	ring->lo[i] = (uint32) value;
	ring->hi[i] = (uint8) (value >> 32);
}

/* Adds rows to bucket number b (which must be in the ring), saturating. */
static void
bucket_add(IgRing *ring, int64 b, uint64 rows)
{
	int			i = bucket_index(b);
	uint64		value = bucket_get(ring, i);

	if (rows > IG_BUCKET_MAX - value)
		rows = IG_BUCKET_MAX - value;
	bucket_set(ring, i, value + rows);
	ring->sum += rows;
}

/*
 * Bucket width for a window of the given length (both in microseconds).
 */
int64
ig_window_width(int64 length)
{
	return Max(length / 60, 1);
}

/*
 * Empties a ring and stamps it with the generation of its window.
 */
void
ig_ring_reset(IgRing *ring, uint32 gen)
{
	memset(ring, 0, sizeof(IgRing));
	ring->gen = gen;
}

/*
 * Moves the ring's head to bucket number "newest", emptying the buckets
 * that fall out of the ring.
 */
static void
advance_to(IgRing *ring, int64 newest)
{
	int64		b;

	if (ring->sum == 0)
	{
		/* all buckets are zero: nothing to expire, whatever the distance */
		ring->head = newest;
		return;
	}
	if (newest <= ring->head)
		return;
	if (newest - ring->head >= IG_RING_BUCKETS)
	{
		memset(ring->lo, 0, sizeof(ring->lo));
		memset(ring->hi, 0, sizeof(ring->hi));
		ring->sum = 0;
	}
	else
	{
		for (b = ring->head + 1; b <= newest; b++)
		{
			int			i = bucket_index(b);

			ring->sum -= bucket_get(ring, i);
			bucket_set(ring, i, 0);
		}
	}
	ring->head = newest;
}

/*
 * Moves the ring's head to the bucket holding "now".
 */
void
ig_ring_advance(IgRing *ring, int64 width, int64 now)
{
	advance_to(ring, ig_floor_div(now, width));
}

/*
 * Adds rows read at time "now".
 */
void
ig_ring_add(IgRing *ring, int64 width, int64 now, uint64 rows)
{
	ig_ring_add_bucket(ring, ig_floor_div(now, width), rows);
}

/*
 * Adds rows read in the past, in bucket number "bucket": in that bucket
 * if the ring still holds it, in the newest if it is newer (the ring
 * advances), nowhere if it is older than the ring reaches.
 */
void
ig_ring_add_past(IgRing *ring, int64 bucket, uint64 rows)
{
	if (rows == 0)
		return;
	if (ring->sum == 0 || bucket >= ring->head)
	{
		ig_ring_add_bucket(ring, bucket, rows);
		return;
	}
	if (ring->head - bucket < IG_RING_BUCKETS)
		bucket_add(ring, bucket, rows);
}

/*
 * Adds rows read in bucket number "bucket".  A bucket older than the
 * newest (a clock that went backwards) counts as the newest.
 */
void
ig_ring_add_bucket(IgRing *ring, int64 bucket, uint64 rows)
{
	if (rows == 0)
		return;
	if (bucket != ring->head)
		advance_to(ring, bucket);
	bucket_add(ring, ring->head, rows);
}

/*
 * Rows read in (now - length, now], to the precision of the ring's width.
 * length may be shorter than the ring's own window (a coarser answer for a
 * window no ring serves exactly) but not longer.
 */
uint64
ig_ring_sum(IgRing *ring, int64 width, int64 length, int64 now)
{
	int64		first;
	int64		oldest;
	int64		b;
	uint64		total;

	ig_ring_advance(ring, width, now);
	if (ring->sum == 0)
		return 0;

	first = ig_floor_div(now - length, width);
	oldest = ring->head - (IG_RING_BUCKETS - 1);
	if (first <= oldest)
		return ring->sum;
	if (first > ring->head)
		return 0;

	if (first - oldest <= ring->head - first + 1)
	{
		/* fewer buckets to leave out than to add up */
		total = ring->sum;
		for (b = oldest; b < first; b++)
			total -= bucket_get(ring, bucket_index(b));
	}
	else
	{
		total = 0;
		for (b = first; b <= ring->head; b++)
			total += bucket_get(ring, bucket_index(b));
	}
	return total;
}

/*
 * Rows of the buckets numbered first .. last that the ring still holds
 * (those older than its oldest are gone); the ring is not moved.
 */
uint64
ig_ring_sum_buckets(const IgRing *ring, int64 first, int64 last)
{
	uint64		total = 0;

	if (ring->sum == 0)
		return 0;
	first = Max(first, ring->head - (IG_RING_BUCKETS - 1));
	last = Min(last, ring->head);
	for (int64 b = first; b <= last; b++)
		total += bucket_get(ring, bucket_index(b));
	return total;
}

/*
 * Builds a ring for a window from a ring of a longer (or equal) window,
 * for when a window is defined after rows were read.  The source's buckets
 * are coarser, so each one's rows are placed at the latest instant they
 * could have been read: they count for at most src_width longer than they
 * should, never shorter.
 */
void
ig_ring_rebuild(IgRing *dst, int64 dst_width, uint32 dst_gen,
				IgRing *src, int64 src_width, int64 now)
{
	int64		b;

	ig_ring_advance(src, src_width, now);
	ig_ring_reset(dst, dst_gen);
	dst->head = ig_floor_div(now, dst_width);
	if (src->sum == 0)
		return;

	for (b = src->head - (IG_RING_BUCKETS - 1); b <= src->head; b++)
	{
		uint64		rows = bucket_get(src, bucket_index(b));
		int64		latest;
		int64		target;

		if (rows == 0)
			continue;
		latest = Min((b + 1) * src_width - 1, now);
		target = Min(ig_floor_div(latest, dst_width), dst->head);
		if (target <= dst->head - IG_RING_BUCKETS)
			continue;			/* older than anything the window can see */
		bucket_add(dst, target, rows);
	}
}

/*
 * Writes a ring compactly into buf (at least IG_RING_ENCODED_MAX bytes):
 * int64 head, uint64 sum, uint32 gen, uint8 count, then count times
 * uint8 index, uint8 high byte, uint32 low word.  Returns the bytes used.
 */
Size
ig_ring_encode(const IgRing *ring, char *buf)
{
	char	   *p = buf + 8 + 8 + 4 + 1;
	uint8		count = 0;

	memcpy(buf, &ring->head, 8);
	memcpy(buf + 8, &ring->sum, 8);
	memcpy(buf + 16, &ring->gen, 4);
	if (ring->sum != 0)
	{
		/* two buckets at a time: most are zero */
		for (int i = 0; i < IG_RING_BUCKETS; i += 2)
		{
			uint64		lo2;
			uint16		hi2;

			memcpy(&lo2, &ring->lo[i], sizeof(lo2));
			memcpy(&hi2, &ring->hi[i], sizeof(hi2));
			if ((lo2 | hi2) == 0)
				continue;
			for (int j = i; j < i + 2; j++)
			{
				if ((ring->lo[j] | ring->hi[j]) == 0)
					continue;
				p[0] = (char) j;
				p[1] = (char) ring->hi[j];
				memcpy(p + 2, &ring->lo[j], 4);
				p += 6;
				count++;
			}
		}
	}
	buf[20] = (char) count;
	return p - buf;
}

/*
 * Reads a ring written by ig_ring_encode from data (len bytes available).
 * Returns the bytes read, or 0 if they do not make a valid ring (a bucket
 * out of range or twice, a sum that is not the buckets').
 */
Size
ig_ring_decode(IgRing *ring, const char *data, Size len)
{
	const char *p = data + 8 + 8 + 4 + 1;
	uint64		total = 0;
	uint8		count;
	uint32		gen;

	if (len < 8 + 8 + 4 + 1)
		return 0;
	count = (uint8) data[20];
	if (count > IG_RING_BUCKETS || len < (Size) (8 + 8 + 4 + 1 + count * 6))
		return 0;
	memcpy(&gen, data + 16, 4);
	ig_ring_reset(ring, gen);
	memcpy(&ring->head, data, 8);
	memcpy(&ring->sum, data + 8, 8);
	for (int k = 0; k < count; k++, p += 6)
	{
		int			i = (uint8) p[0];
		uint32		lo;

		memcpy(&lo, p + 2, 4);
		if (i >= IG_RING_BUCKETS || (ring->lo[i] | ring->hi[i]) != 0 ||
			(lo | (uint8) p[1]) == 0)
			return 0;
		ring->lo[i] = lo;
		ring->hi[i] = (uint8) p[1];
		total += bucket_get(ring, i);
	}
	if (total != ring->sum)
		return 0;
	return p - data;
}
