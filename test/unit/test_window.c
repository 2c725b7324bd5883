/*-------------------------------------------------------------------------
 *
 * test_window.c
 *		Unit tests of the rolling-window arithmetic in src/base/window.c.
 *
 * Drives the same functions the extension runs against an exact reference
 * (a list of every read with its time) and checks the contract: rows read
 * within the last L always count, rows read more than L + max(1 s, L/60)
 * ago never count.  Exits non-zero on the first failure.
 *
 * IDENTIFICATION
 *		test/unit/test_window.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#define UNIT_RNG_SEED UINT64CONST(0x9E3779B97F4A7C15)
#include "unit.h"

#include "base/window.h"

#define USEC	INT64CONST(1000000)
#define MINUTE	(60 * USEC)
#define HOUR	(60 * MINUTE)
#define DAY		(24 * HOUR)


static int64
rng_range(int64 lo, int64 hi)
{
	return lo + (int64) (rng() % (uint64) (hi - lo + 1));
}

typedef struct Read
{
	int64		at;
	uint64		rows;
} Read;

/* rows of the reference read at ages in [0, max_age] */
static uint64
reference_rows(const Read *reads, int nreads, int64 now, int64 max_age)
{
	uint64		total = 0;

	for (int i = 0; i < nreads; i++)
	{
		int64		age = now - reads[i].at;

		if (age >= 0 && age <= max_age)
			total += reads[i].rows;
	}
	return total;
}

/*
 * Random reads at increasing times; after each, ask every window length
 * in "lengths" (answered by a ring of ring_length) and compare.
 */
static void
random_walk(int64 ring_length, const int64 *lengths, int nlengths,
			int64 max_step, int steps, bool contract_slack)
{
	IgRing		ring;
	int64		width = ig_window_width(ring_length);
	Read	   *reads = malloc(sizeof(Read) * steps);
	int			nreads = 0;
	int64		now = rng_range(DAY, 400 * DAY);

	ig_ring_reset(&ring, 1);
	for (int s = 0; s < steps; s++)
	{
		now += rng_range(0, max_step);
		if (rng() % 3 != 0)
		{
			uint64		rows = (rng() % 5 == 0) ? rng() % 1000000 : rng() % 10;

			ig_ring_add(&ring, width, now, rows);
			reads[nreads].at = now;
			reads[nreads].rows = rows;
			nreads++;
		}
		for (int l = 0; l < nlengths; l++)
		{
			int64		length = lengths[l];
			/* the contract's precision, or the ring's when it is coarser */
			int64		slack = contract_slack ? Max(USEC, length / 60) : width;
			uint64		got = ig_ring_sum(&ring, width, length, now);
			uint64		must = reference_rows(reads, nreads, now, length);
			uint64		may = reference_rows(reads, nreads, now, length + slack);

			CHECK(got >= must && got <= may,
				  "ring %lld s, window %lld s, step %d: got %llu, want %llu..%llu",
				  (long long) (ring_length / USEC), (long long) (length / USEC),
				  s, (unsigned long long) got, (unsigned long long) must,
				  (unsigned long long) may);
		}
	}
	free(reads);
}

/*
 * The contract's precision for windows that have a ring of their own:
 * every length from 1 minute to 30 days, including odd ones.
 */
static void
test_precision(void)
{
	int64		lengths[] = {MINUTE, 61 * USEC, 90 * USEC, 2 * MINUTE + 1,
		7 * MINUTE, HOUR, 3 * HOUR + 17 * USEC, DAY, 7 * DAY, 30 * DAY};

	for (int i = 0; i < (int) lengthof(lengths); i++)
	{
		int64		length = lengths[i];
		int64		width = ig_window_width(length);

		/* the bucket width never exceeds max(1 s, length / 60) */
		CHECK(width <= Max(USEC, length / 60) && width >= USEC,
			  "width %lld for length %lld", (long long) width, (long long) length);
		/* steps from far below the width to far above the window */
		random_walk(length, &length, 1, width / 7 + 1, 3000, true);
		random_walk(length, &length, 1, length / 5, 600, true);
		random_walk(length, &length, 1, 3 * length, 100, true);
	}
}

/*
 * A ring asked for a shorter window than its own answers to its own
 * (coarser) precision, never less.
 */
static void
test_shorter_windows(void)
{
	int64		shorter[] = {MINUTE, 10 * MINUTE, HOUR, 5 * HOUR, DAY, 7 * DAY,
	30 * DAY};

	random_walk(30 * DAY, shorter, lengthof(shorter), 2 * HOUR, 3000, false);
	random_walk(DAY, shorter, 5, 10 * MINUTE, 3000, false);
}

/* Exact boundaries: a read exactly L ago counts; one L + W + 1 ago not. */
static void
test_boundaries(void)
{
	IgRing		ring;
	int64		length = HOUR;
	int64		width = ig_window_width(length);
	int64		t0 = 1000 * DAY + 17;

	ig_ring_reset(&ring, 0);
	ig_ring_add(&ring, width, t0, 5);
	CHECK(ig_ring_sum(&ring, width, length, t0) == 5, "same instant");
	CHECK(ig_ring_sum(&ring, width, length, t0 + length) == 5,
		  "read exactly one window ago still counts");
	CHECK(ig_ring_sum(&ring, width, length, t0 + length + width + 1) == 0,
		  "read more than L + L/60 ago no longer counts");
	CHECK(ring.sum == 0 || ig_ring_sum(&ring, width, 30 * DAY, t0 + 200 * DAY) == 0,
		  "an idle ring empties");
	CHECK(ring.sum == 0, "sum invariant after expiry: %llu",
		  (unsigned long long) ring.sum);
}

/* Saturation, clocks that go backwards, the all-zero ring. */
static void
test_edges(void)
{
	IgRing		ring;
	int64		width = ig_window_width(MINUTE);
	int64		t0 = 5000 * DAY;

	memset(&ring, 0, sizeof(ring));
	CHECK(ig_ring_sum(&ring, width, MINUTE, t0) == 0, "all-zero ring is empty");

	CHECK(IG_BUCKET_MAX == INT64CONST(1099511627775), "a bucket holds 40 bits");
	CHECK(sizeof(IgRing) == 336, "a ring takes 336 bytes");
	ig_ring_add(&ring, width, t0, IG_BUCKET_MAX - 1);
	ig_ring_add(&ring, width, t0, 10);
	CHECK(ig_ring_sum(&ring, width, MINUTE, t0) == IG_BUCKET_MAX,
		  "a bucket saturates at 40 bits");

	ig_ring_reset(&ring, 0);
	ig_ring_add(&ring, width, t0, 3);
	ig_ring_add(&ring, width, t0 - 10 * MINUTE, 4);	/* clock went back */
	CHECK(ig_ring_sum(&ring, width, MINUTE, t0) == 7,
		  "a read from a clock that went back lands in the newest bucket");
	CHECK(ig_ring_sum(&ring, width, MINUTE, t0 + MINUTE) == 7,
		  "and counts for a full window from there");
	CHECK(ig_ring_sum(&ring, width, MINUTE, t0 + MINUTE + 2 * width) == 0,
		  "then expires");

	/* times before the epoch (negative) work the same */
	ig_ring_reset(&ring, 0);
	ig_ring_add(&ring, width, -3 * DAY, 9);
	CHECK(ig_ring_sum(&ring, width, MINUTE, -3 * DAY + 30 * USEC) == 9,
		  "negative times");
}

/*
 * Rows added in the past (ig_ring_add_past: counts restored from records
 * at start) land in their own bucket while the ring holds it, and age out
 * from there.
 */
static void
test_add_past(void)
{
	IgRing		ring;
	int64		width = ig_window_width(HOUR);
	int64		t0 = 5000 * DAY;

	memset(&ring, 0, sizeof(ring));
	ig_ring_add(&ring, width, t0, 2);
	ig_ring_add_past(&ring, ig_window_bucket(width, t0 - 30 * MINUTE), 5);
	CHECK(ig_ring_sum(&ring, width, HOUR, t0) == 7, "a past bucket still held counts");
	CHECK(ig_ring_sum(&ring, width, HOUR, t0 + 31 * MINUTE) == 2,
		  "and ages out from its own time, not the newest's: %llu",
		  (unsigned long long) ig_ring_sum(&ring, width, HOUR, t0 + 31 * MINUTE));
	ig_ring_add_past(&ring, ig_window_bucket(width, t0 - 3 * HOUR), 100);
	CHECK(ig_ring_sum(&ring, width, HOUR, t0) == 7 && ring.sum == 7,
		  "a bucket older than the ring is dropped");
	ig_ring_add_past(&ring, ig_window_bucket(width, t0 + 10 * MINUTE), 1);
	CHECK(ig_ring_sum(&ring, width, HOUR, t0 + 10 * MINUTE) == 8,
		  "a newer bucket advances the ring");
	memset(&ring, 0, sizeof(ring));
	ig_ring_add_past(&ring, ig_window_bucket(width, t0 - 10 * MINUTE), 4);
	CHECK(ig_ring_sum(&ring, width, HOUR, t0) == 4, "into an empty ring");
}

/*
 * A ring rebuilt from a coarser one never loses rows that are inside its
 * window, and keeps nothing older than its window plus the source width.
 */
static void
test_rebuild(void)
{
	for (int round = 0; round < 200; round++)
	{
		IgRing		src;
		IgRing		dst;
		int64		src_length = (round % 2) ? 30 * DAY : DAY;
		int64		dst_length = rng_range(MINUTE, src_length);
		int64		src_width = ig_window_width(src_length);
		int64		dst_width = ig_window_width(dst_length);
		int64		now = rng_range(100 * DAY, 900 * DAY);
		Read		reads[300];
		int			nreads = 0;

		ig_ring_reset(&src, 0);
		for (int i = 0; i < (int) lengthof(reads); i++)
		{
			now += rng_range(0, src_length / 100);
			reads[nreads].at = now;
			reads[nreads].rows = rng() % 100;
			ig_ring_add(&src, src_width, now, reads[nreads].rows);
			nreads++;
		}
		ig_ring_rebuild(&dst, dst_width, 42, &src, src_width, now);
		CHECK(dst.gen == 42, "rebuilt ring carries its generation");

		for (int q = 0; q < 50; q++)
		{
			int64		later = now + rng_range(0, dst_length);
			uint64		got = ig_ring_sum(&dst, dst_width, dst_length, later);
			uint64		must = reference_rows(reads, nreads, later, dst_length);
			uint64		may = reference_rows(reads, nreads, later,
											 dst_length + dst_width + src_width);

			CHECK(got >= must && got <= may,
				  "rebuild %lld->%lld s: got %llu, want %llu..%llu",
				  (long long) (src_length / USEC), (long long) (dst_length / USEC),
				  (unsigned long long) got, (unsigned long long) must,
				  (unsigned long long) may);
			now = later;
		}
	}
}

/* A ring written compactly reads back as the same ring; damage is refused. */
static void
test_encode(void)
{
	for (int round = 0; round < 200; round++)
	{
		IgRing		ring;
		IgRing		back;
		char		buf[IG_RING_ENCODED_MAX];
		int64		length = (round % 3 == 0) ? MINUTE : (round % 3 == 1) ? HOUR : 30 * DAY;
		int64		width = ig_window_width(length);
		int64		now = rng_range(100 * DAY, 900 * DAY);
		int			nreads = round % 7 == 0 ? 0 : rng_range(1, 300);
		Size		len;

		ig_ring_reset(&ring, (uint32) round);
		for (int i = 0; i < nreads; i++)
		{
			now += rng_range(0, length / 30);
			ig_ring_add(&ring, width, now,
						i % 50 == 0 ? IG_BUCKET_MAX : rng() % 1000);
		}
		len = ig_ring_encode(&ring, buf);
		CHECK(len <= sizeof(buf), "encoding fits");
		CHECK(ig_ring_decode(&back, buf, len) == len, "encoding reads back");
		CHECK(memcmp(&ring, &back, sizeof(IgRing)) == 0, "the same ring");
		CHECK(ig_ring_decode(&back, buf, len - 1) == 0 || len == 21,
			  "a short encoding is refused");
		if (len > 21)
		{
			buf[len - 1] ^= 0x40;
			CHECK(ig_ring_decode(&back, buf, len) == 0, "a damaged bucket is refused");
		}
	}
}

/*
 * The rows of whole days from a 30-day ring (a 7-day total as a counter
 * takes it when a day closes): exact, as its 12-hour buckets fall on
 * days, for days the ring still holds, whatever was read after them.
 */
static void
test_sum_buckets(void)
{
	int64		length = 30 * DAY;
	int64		width = ig_window_width(length);

	CHECK(DAY % width == 0, "the 30-day ring's buckets fall on days");
	for (int round = 0; round < 300; round++)
	{
		IgRing		ring;
		Read		reads[400];
		int			nreads = (int) rng_range(0, 400);
		int64		now = rng_range(100 * DAY, 900 * DAY);
		int64		day_end;
		int64		later;
		uint64		expected = 0;

		ig_ring_reset(&ring, 1);
		for (int i = 0; i < nreads; i++)
		{
			now += rng_range(0, 3 * HOUR);
			reads[i].at = now;
			reads[i].rows = rng() % 1000;
			ig_ring_add(&ring, width, now, reads[i].rows);
		}
		/* a day that ended at most 20 days before the last read */
		day_end = (now / DAY - rng_range(0, 20)) * DAY;
		for (int i = 0; i < nreads; i++)
			if (reads[i].at >= day_end - 7 * DAY && reads[i].at < day_end)
				expected += reads[i].rows;
		CHECK(ig_ring_sum_buckets(&ring, (day_end - 7 * DAY) / width,
								  day_end / width - 1) == expected,
			  "a 7-day total from the ring");
		/* a day the ring no longer holds at all reads as nothing */
		later = now + 40 * DAY;
		ig_ring_add(&ring, width, later, 1);
		CHECK(ig_ring_sum_buckets(&ring, (day_end - 7 * DAY) / width,
								  day_end / width - 1) == 0,
			  "days gone from the ring read as nothing");
	}
}

int
main(void)
{
	test_precision();
	test_shorter_windows();
	test_boundaries();
	test_edges();
	test_add_past();
	test_rebuild();
	test_encode();
	test_sum_buckets();

	return unit_finish("test_window");
}
