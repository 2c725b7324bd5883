/*-------------------------------------------------------------------------
 *
 * unit.h
 *		What the unit tests of the pure modules share: a check that counts
 *		and reports failures, and a small deterministic generator.
 *
 * Each test program is one translation unit: define UNIT_RNG_SEED, then
 * include this once.
 *
 * IDENTIFICATION
 *		test/unit/unit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_UNIT_H
#define IG_UNIT_H

#include "postgres_fe.h"

static int	failures = 0;
static int	checks = 0;

/* counts a check; prints a failure; gives up after 20 */
#define CHECK(cond, ...) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			failures++; \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			if (failures > 20) \
				exit(1); \
		} \
	} while (0)

/* xorshift64*, seeded by the test */
static uint64 rng_state = UNIT_RNG_SEED;

static inline uint64
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64CONST(2685821657736338717);
}

/* The exit status of a test program, after a line that says how it went. */
static inline int
unit_finish(const char *name)
{
	if (failures > 0)
	{
		fprintf(stderr, "%s: %d of %d checks failed\n", name, failures, checks);
		return 1;
	}
	printf("%s: all %d checks passed\n", name, checks);
	return 0;
}

#endif							/* IG_UNIT_H */
