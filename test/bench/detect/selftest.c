/*-------------------------------------------------------------------------
 *
 * selftest.c
 *		Checks of the engine's enforcement on a tiny organisation, run
 *		before the benchmark (detect --selftest): a block stops at the row
 *		that would exceed and stops every later statement of the window; a
 *		log rule records one alert per crossing; broken windows do not feed
 *		the history and unbroken ones do; "self" falls back to the pool of
 *		the other members (at least 5 usable); a break in a window holding
 *		exfiltrated rows detects the event and is not a false alert.
 *		Expected limits come from src/base/stats.c itself.
 *
 * IDENTIFICATION
 *		test/bench/detect/selftest.c
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

static int	failures = 0;

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			failures++; \
			fprintf(stderr, "selftest FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
		} \
	} while (0)

#define T_HOUR		(30 * 24 + 10)	/* 10:00 on day 30 */
#define T_DAY		30
#define N_TEST_ROLES 7

static Org *torg;
static Base tbase;

/* role r: 20 days of 24 hourly windows of "rows" rows (r < 6), role 6 none */
static void
setup(void)
{
	torg = palloc0(sizeof(Org));
	memset(torg->slot_of, -1, sizeof(torg->slot_of));
	torg->nroles = N_TEST_ROLES;
	for (int r = 0; r < N_TEST_ROLES; r++)
	{
		torg->roles[r].change_day = -1;
		torg->roles[r].nslots = 1;
		torg->roles[r].slot_table[0] = 0;
		torg->slot_of[r][0] = 0;
	}
	memset(&tbase, 0, sizeof(tbase));
	for (int k = 0; k < N_KINDS; k++)
		tbase.hist[k] = palloc0(N_SERIES(k) * sizeof(IgHistogram));
	for (int k = 0; k < 2; k++)
		tbase.exact[k] = palloc0(MAX_ROLES * sizeof(Exact));
	for (int r = 0; r < 6; r++)
		for (int h = 0; h < 20 * 24; h++)
			ig_hist_feed(&tbase.hist[K_HOUR_ALL][r], HOUR_START(h + 1),
						 100 * (r + 1), IG_NO_LIMIT, false);
	world.org = torg;
	world.base = &tbase;
	world.nmembers[0] = 0;
	for (int r = 0; r < N_TEST_ROLES; r++)
		world.members[0][world.nmembers[0]++] = r;
}

static Ctx
ctx(int role, int event)
{
	Ctx			c = {role, T_HOUR, T_DAY, 0, CLS_STEADY, event};

	return c;
}

static Stmt
stmt(int minute, int64 rows, int event)
{
	Stmt		s = {HOUR_START(T_HOUR) + minute * 60 * USEC, rows, 0, (int16) event};

	return s;
}

static void
test_block(void)
{
	static const Deployment dep = {"block", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 0}}};
	Inst		in;
	Ctx			c = ctx(0, -1);
	int64		limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][0], 5, 0);
	Stmt		s[3] = {stmt(1, limit - 10, -1), stmt(2, 1000, -1), stmt(3, 5, -1)};
	uint32		windows = tbase.hist[K_HOUR_ALL][0].windows;

	inst_init(&in, &dep, 1);
	inst_role_hour(&in, &c, s, 3);
	CHECK(in.win[K_HOUR_ALL][0].rows == limit,
		  "a block reads up to the limit: %lld of %lld",
		  (long long) in.win[K_HOUR_ALL][0].rows, (long long) limit);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "one false block: %lld",
		  (long long) in.alerts[CLS_STEADY][0]);
	CHECK(in.blocked_stmts[CLS_STEADY] == 2, "two statements stopped: %lld",
		  (long long) in.blocked_stmts[CLS_STEADY]);
	inst_close(&in, true, HOUR_START(T_HOUR + 1), T_DAY);
	CHECK(in.hist[K_HOUR_ALL][0].windows == windows, "a broken window feeds nothing");
	inst_free(&in);
}

static void
test_log(void)
{
	static const Deployment dep = {"log", 1, {{K_HOUR_ALL, SRC_SELF, false, 5, 0}}};
	Inst		in;
	Ctx			c = ctx(1, -1);
	int64		limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][1], 5, 0);
	Stmt		s[3] = {stmt(1, limit, -1), stmt(2, 1, -1), stmt(3, 1000, -1)};
	Stmt		quiet = stmt(1, limit, -1);
	uint32		windows = tbase.hist[K_HOUR_ALL][1].windows;

	inst_init(&in, &dep, 1);
	/* exactly the limit is allowed; the next row crosses, once */
	inst_role_hour(&in, &c, s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 0, "reading exactly the limit is no break");
	inst_role_hour(&in, &c, s + 1, 2);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "one alert per crossing: %lld",
		  (long long) in.alerts[CLS_STEADY][0]);
	CHECK(in.win[K_HOUR_ALL][1].rows == limit + 1001, "log does not stop reads");
	inst_close(&in, true, HOUR_START(T_HOUR + 1), T_DAY);
	CHECK(in.hist[K_HOUR_ALL][1].windows == windows, "a crossed window feeds nothing");

	/* the next hour, at the limit: fed, in full */
	c.hour++;
	quiet.t += HOUR_US;
	inst_role_hour(&in, &c, &quiet, 1);
	inst_close(&in, true, HOUR_START(T_HOUR + 2), T_DAY);
	CHECK(in.hist[K_HOUR_ALL][1].windows == windows + 1, "an unbroken window is fed");
	CHECK(in.alerts[CLS_STEADY][0] == 1, "and alerts nothing");
	inst_free(&in);
}

static void
test_peers(void)
{
	static const Deployment dep = {"self", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 0}}};
	Inst		in;
	Ctx			c = ctx(6, -1);
	IgHistPool	pool;
	int64		expect;
	Stmt		s = stmt(1, INT64CONST(1000000000), -1);

	/* role 6 has no history: the others' pool decides */
	ig_pool_init(&pool);
	for (int r = 0; r < 6; r++)
		ig_pool_add(&pool, &tbase.hist[K_HOUR_ALL][r], s.t);
	expect = ig_limit_combine(IG_COMPARE_SELF, IG_NO_LIMIT,
							  ig_limit_peers(&pool, 5, 0));
	CHECK(expect > 0, "six usable peers give a limit");
	inst_init(&in, &dep, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == expect,
		  "self falls back to the peers: %lld, expected %lld",
		  (long long) in.win[K_HOUR_ALL][6].limit[0], (long long) expect);
	inst_free(&in);

	/* role 0's pool without itself: five peers, still a limit */
	c = ctx(0, -1);
	inst_init(&in, &(Deployment) {"peers", 1, {{K_HOUR_ALL, SRC_PEERS, false, 5, 0}}}, 1);
	inst_role_hour(&in, &c, &s, 1);
	ig_pool_init(&pool);
	for (int r = 1; r < 6; r++)
		ig_pool_add(&pool, &tbase.hist[K_HOUR_ALL][r], s.t);
	CHECK(in.win[K_HOUR_ALL][0].limit[0] == ig_limit_peers(&pool, 5, 0),
		  "peers: the others, not the role itself");
	inst_free(&in);

	/* four usable peers are too few */
	world.nmembers[0] = 5;		/* roles 0..4 */
	inst_init(&in, &(Deployment) {"peers", 1, {{K_HOUR_ALL, SRC_PEERS, false, 5, 0}}}, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][0].limit[0] == IG_NO_LIMIT, "four peers give no limit");
	CHECK(in.alerts[CLS_STEADY][0] == 0, "and no alert");
	inst_free(&in);
	world.nmembers[0] = N_TEST_ROLES;
}

static void
test_event(void)
{
	static const Deployment dep = {"both", 2, {
			{K_HOUR_ALL, SRC_SELF, false, 5, 0},
	{K_HOUR_ALL, SRC_SELF, true, 10, 0}}};
	Inst		in;
	Ctx			c = ctx(2, 0);
	int64		log_limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][2], 5, 0);
	int64		block_limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][2], 10, 0);
	Stmt		s[3] = {stmt(1, 50, -1), stmt(5, 100 * block_limit, 0), stmt(9, 10, 0)};

	inst_init(&in, &dep, 1);
	inst_role_hour(&in, &c, s, 3);
	CHECK(in.ev[0].detected && in.ev[0].blocked, "the exfiltration is detected and blocked");
	CHECK(in.ev[0].t_detect == s[1].t, "at its first statement");
	CHECK(in.ev[0].leak == block_limit - 50 && in.ev[0].limit == block_limit,
		  "it leaks the limit less what the window had read: %lld",
		  (long long) in.ev[0].leak);
	CHECK(in.alerts[CLS_STEADY][0] == 0 && in.alerts[CLS_STEADY][1] == 0,
		  "no false alert");
	CHECK(log_limit < block_limit, "the log limit is the lower");
	inst_free(&in);
}

int
engine_selftest(void)
{
	setup();
	test_block();
	test_log();
	test_peers();
	test_event();
	if (failures == 0)
		fprintf(stderr, "selftest: engine checks passed\n");
	return failures;
}
