/*-------------------------------------------------------------------------
 *
 * selftest.c
 *		Checks of the engine's enforcement on a tiny organisation, run
 *		before the benchmark (detect --selftest): a block stops at the row
 *		that would exceed and stops every later statement of the window; a
 *		log rule records one alert per crossing; broken windows do not feed
 *		the history and unbroken ones do; "self" falls back to the pool of
 *		the other members (at least 5 usable); a break in a window holding
 *		exfiltrated rows detects the event and is not a false alert,
 *		and gets no credit where the clean run broke the same rule in the
 *		same window; a block rule with no usable limit applies min_rows; a
 *		membership younger than 14 days gives no peer limit; the 7-day rule
 *		sums the previous 6 days and today, alerts once per incident and
 *		feeds its series once a day; the novelty rule's limit and which
 *		tables count as read.  Expected limits come from src/base/stats.c
 *		itself.
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

#define T_NOW		HOUR_START(T_HOUR)

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
		torg->roles[r].leave_day = -1;
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
	int64		limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][0], 5, 0, T_NOW);
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
	int64		limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][1], 5, 0, T_NOW);
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
	int64		log_limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][2], 5, 0, T_NOW);
	int64		block_limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][2], 10, 0, T_NOW);
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


static void
test_cold_start(void)
{
	static const Deployment block = {"cold", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 300}}};
	static const Deployment logr = {"log", 1, {{K_HOUR_ALL, SRC_SELF, false, 5, 300}}};
	static const Deployment fallback = {"what-if", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 300}}, false, YF_PEERS};
	static const Deployment capped = {"what-if", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 300}}, false, YF_CAPPED};
	Inst		in;
	Ctx			c = ctx(6, -1);
	Stmt		s = stmt(1, 1000, -1);
	IgHistPool	pool;
	int64		peers;

	ig_pool_init(&pool);
	for (int r = 0; r < 6; r++)
		ig_pool_add(&pool, &tbase.hist[K_HOUR_ALL][r], s.t);
	peers = ig_limit_peers(&pool, 5, 300);

	/* role 6: no history, a membership of 3 days: neither side usable */
	c.young = true;
	inst_init(&in, &block, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == 300, "cold start: min_rows, not %lld",
		  (long long) in.win[K_HOUR_ALL][6].limit[0]);
	CHECK(in.win[K_HOUR_ALL][6].rows == 300, "a cold start stops at min_rows");
	inst_free(&in);

	inst_init(&in, &logr, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == IG_NO_LIMIT,
		  "a young membership gives a log rule no limit");
	inst_free(&in);

	/* the what-if: the young group applies while the own side is unusable */
	inst_init(&in, &fallback, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == peers,
		  "young fallback: the peers' limit %lld, not %lld", (long long) peers,
		  (long long) in.win[K_HOUR_ALL][6].limit[0]);
	inst_free(&in);
	inst_init(&in, &capped, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == 300,
		  "young group, capped: never above the cold-start limit");
	inst_free(&in);

	/* a membership of 14 days and more: the peers */
	c.young = false;
	inst_init(&in, &block, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_HOUR_ALL][6].limit[0] == peers && peers > 300,
		  "an old membership: the peers' limit");
	inst_free(&in);

	/* a cold start notes the p99 it stands for (min_rows / factor) */
	c.young = true;
	inst_init(&in, &block, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.hist[K_HOUR_ALL][6].rise.last[IG_RISE_OWN] == ig_hist_bin(300 / 5) + 1 &&
		  in.hist[K_HOUR_ALL][6].rise.last[IG_RISE_PEERS] == ig_hist_bin(300 / 5) + 1,
		  "a cold start notes min_rows / factor on both sides");
	inst_free(&in);

	/* computing a limit notes its p99 in force; not without the rise */
	{
		Deployment	quiet = logr;
		Ctx			c0 = ctx(0, -1);
		Stmt		q = stmt(1, 10, -1);

		for (int what_if = 0; what_if < 2; what_if++)
		{
			quiet.rise = what_if ? RISE_NONE : RISE_AS_IS;
			inst_init(&in, &quiet, 1);
			inst_role_hour(&in, &c0, &q, 1);
			CHECK((in.hist[K_HOUR_ALL][0].rise.last[IG_RISE_OWN] ==
				   ig_hist_bin(ig_hist_quantile(&tbase.hist[K_HOUR_ALL][0], IG_HIGH_QUANTILE)) + 1) == !what_if,
				  "the own p99 in force is %snoted", what_if ? "not " : "");
			inst_free(&in);
		}
	}
}

/* role 0 on day d at 10:00 */
static Ctx
day_ctx(int role, int d)
{
	Ctx			c = {role, d * 24 + 10, d, 0, CLS_STEADY, -1, false};

	return c;
}

static Stmt
day_stmt(int d, int64 rows, int slot)
{
	Stmt		s = {HOUR_START(d * 24 + 10) + 60 * USEC, rows, (int16) slot, -1};

	return s;
}

static void
test_week(void)
{
	static const Deployment dep = {"7 days", 1, {{K_WEEK_ALL, SRC_SELF, false, 2, 0}}};
	IgHistogram *wh = &tbase.hist[K_WEEK_ALL][0];
	Inst		in;
	int64		limit;
	uint32		windows;
	Ctx			c;
	Stmt		s;

	/* 20 past 7-day totals of 10,000, and 1,500 a day on days 24-29 */
	ig_hist_init(wh);
	for (int d = 10; d < 30; d++)
		ig_hist_feed(wh, HOUR_START(d * 24 + 24), 10000, IG_NO_LIMIT, false);
	memset(tbase.week_ring[0], 0, sizeof(tbase.week_ring[0]));
	for (int d = 24; d < 30; d++)
		tbase.week_ring[0][d % 7] = 1500;
	limit = ig_limit_own(wh, 2, 0, HOUR_START(30 * 24 + 10));
	CHECK(limit > 9000, "a 7-day limit above the last 6 days: %lld", (long long) limit);

	inst_init(&in, &dep, 1);
	windows = in.hist[K_WEEK_ALL][0].windows;
	c = day_ctx(0, 30);
	s = day_stmt(30, limit - 9000, 0);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_WEEK_ALL][0].rows == limit, "the rolling sum: 6 days and today");
	CHECK(in.alerts[CLS_STEADY][0] == 0, "exactly the limit is no break");
	s = day_stmt(30, 9001, 0);
	s.t += USEC;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "the 7-day sum crossing alerts");
	inst_close(&in, false, HOUR_START(31 * 24), 30);
	CHECK(in.hist[K_WEEK_ALL][0].windows == windows, "a broken 7-day window feeds nothing");

	/* the next day, still above: the same incident */
	c = day_ctx(0, 31);
	s = day_stmt(31, 10, 0);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "one alert per incident, not one a day: %lld",
		  (long long) in.alerts[CLS_STEADY][0]);
	inst_close(&in, false, HOUR_START(32 * 24), 31);

	/*
	 * a crossing within 7 days of the one before, the sum having fallen
	 * under the limit meanwhile (as a risen limit would), is a repeat of
	 * the incident
	 */
	for (int d = 32; d < 36; d++)
		inst_close(&in, false, HOUR_START(d * 24 + 24), d);
	in.week_rows[0][30 % 7] = 0;
	in.incident[0][0] = 0;
	c = day_ctx(0, 36);
	s = day_stmt(36, 100 * limit, 0);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "a crossing within 7 days of the last: a repeat");
	inst_close(&in, false, HOUR_START(37 * 24), 36);

	/* quiet days: the sum drops out; then a new crossing is a new incident */
	windows = in.hist[K_WEEK_ALL][0].windows;
	for (int d = 37; d < 44; d++)
		inst_close(&in, false, HOUR_START(d * 24 + 24), d);
	CHECK(in.incident[0][0] == 0, "the incident ends once the sum is below the limit");
	CHECK(in.hist[K_WEEK_ALL][0].windows == windows,
		  "days the role did not read take no 7-day total");
	c = day_ctx(0, 44);
	s = day_stmt(44, 5, 0);
	inst_role_hour(&in, &c, &s, 1);
	s.t += USEC;
	inst_role_hour(&in, &c, &s, 1);
	inst_close(&in, false, HOUR_START(45 * 24), 44);
	CHECK(in.hist[K_WEEK_ALL][0].windows == windows + 1, "one window a day");
	c = day_ctx(0, 45);
	s = day_stmt(45, 100 * limit, 0);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 2, "a new incident alerts again");
	inst_free(&in);
	ig_hist_init(wh);
	memset(tbase.week_ring[0], 0, sizeof(tbase.week_ring[0]));
}

static void
test_novelty(void)
{
	static const Deployment logr = {"novelty", 1, {{K_DAY_TABLE, SRC_NOVELTY, false, 0, 50}}};
	static const Deployment block = {"novelty", 1, {{K_DAY_TABLE, SRC_NOVELTY, true, 0, 50}}};
	Inst		in;
	int64		p50 = (int64) ig_hist_quantile(&tbase.hist[K_HOUR_ALL][0], IG_TYPICAL_QUANTILE);
	Ctx			c = day_ctx(0, 30);
	Stmt		s;
	IgHistogram *peer1 = &tbase.hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, 1, 0)];
	IgHistogram *peer6 = &tbase.hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, 6, 0)];

	/* role 0 reads table 1 (slot 1) and table 2 (slot 2), new to it */
	torg->roles[0].nslots = 3;
	torg->roles[0].slot_table[1] = 1;
	torg->slot_of[0][1] = 1;
	torg->roles[0].slot_table[2] = 2;
	torg->slot_of[0][2] = 2;
	/* role 1 has a usable hourly series of table 0; role 6 one window of table 2 */
	for (int h = 0; h < 10 * 24; h += 12)
		ig_hist_feed(peer1, HOUR_START(h + 1), 500, IG_NO_LIMIT, false);
	torg->roles[6].slot_table[0] = 2;
	torg->slot_of[6][0] = -1;
	torg->slot_of[6][2] = 0;
	ig_hist_feed(peer6, HOUR_START(20 * 24), 500, IG_NO_LIMIT, false);
	CHECK(ig_hist_usable(peer1) && !ig_hist_usable(peer6), "the peers' series");

	inst_init(&in, &logr, 1);
	inst_day_start(&in, 30);
	s = day_stmt(30, 10, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(p50 > 50 && in.win[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 1)].limit[0] == p50,
		  "novelty: max(min_rows, own hourly p50) = %lld, not %lld", (long long) p50,
		  (long long) in.win[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 1)].limit[0]);
	s = day_stmt(30, p50, 1);
	s.t += USEC;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "reading more than it from a new table breaks");
	s = day_stmt(30, 100000, 0);
	s.t += 2 * USEC;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 0)].limit[0] == IG_NO_LIMIT &&
		  in.alerts[CLS_STEADY][0] == 1, "a table a peer's usable series holds is not new");
	s = day_stmt(30, 100000, 2);
	s.t += 3 * USEC;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 2, "a peer's series that is not usable does not vouch");
	inst_close(&in, true, HOUR_START(30 * 24 + 11), 30);
	inst_close(&in, false, HOUR_START(31 * 24), 30);
	CHECK(in.hist[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 1)].windows == 0 &&
		  in.hist[K_HOUR_TABLE][SERIES(K_HOUR_TABLE, 0, 1)].windows == 1,
		  "a broken day feeds the daily series nothing, the hourly one its hour");
	/* read on two more days (within the limit): known from then on */
	for (int d = 31; d < 34; d++)
	{
		c = day_ctx(0, d);
		s = day_stmt(d, 10, 1);
		inst_day_start(&in, d);
		inst_role_hour(&in, &c, &s, 1);
		CHECK((in.win[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 1)].limit[0] == IG_NO_LIMIT) == (d == 33),
			  "a table is the role's once its series hold it on 3 days (day %d)", d);
		inst_close(&in, true, HOUR_START(d * 24 + 11), d);
		inst_close(&in, false, HOUR_START(d * 24 + 24), d);
	}
	inst_free(&in);

	/* a member of less than 14 days is nobody's peer */
	torg->roles[1].hire_day = 25;
	inst_init(&in, &logr, 1);
	inst_day_start(&in, 30);
	c = day_ctx(0, 30);
	s = day_stmt(30, 100000, 0);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.alerts[CLS_STEADY][0] == 1, "a young member does not vouch");
	inst_free(&in);
	torg->roles[1].hire_day = 0;

	inst_init(&in, &block, 1);
	inst_day_start(&in, 30);
	s = day_stmt(30, 100000, 1);
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.win[K_DAY_TABLE][SERIES(K_DAY_TABLE, 0, 1)].rows == p50,
		  "a novelty block stops at its limit");
	inst_free(&in);

	/* back as it was */
	torg->roles[0].nslots = 1;
	torg->slot_of[0][1] = -1;
	torg->slot_of[0][2] = -1;
	torg->slot_of[6][2] = -1;
	torg->slot_of[6][0] = 0;
	torg->roles[6].slot_table[0] = 0;
	ig_hist_init(peer1);
	ig_hist_init(peer6);
}

static void
test_no_credit(void)
{
	static const Deployment dep = {"block", 1, {{K_HOUR_ALL, SRC_SELF, true, 5, 0}}};
	Inst		in;
	Ctx			c = ctx(3, 0);
	int64		limit = ig_limit_own(&tbase.hist[K_HOUR_ALL][3], 5, 0, T_NOW);
	Stmt		s = stmt(5, 10 * limit, 0);
	KeySet		ks = {0};

	keyset_add(&ks, break_key(3, 0, 0, T_HOUR));
	CHECK(keyset_has(&ks, break_key(3, 0, 0, T_HOUR)) &&
		  !keyset_has(&ks, break_key(3, 0, 0, T_HOUR + 1)), "the key set");
	inst_init(&in, &dep, 1);
	in.clean = &ks;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(!in.ev[0].detected && !in.ev[0].blocked && in.ev[0].stopped &&
		  in.ev[0].uncredited == 1,
		  "a break the clean run also had: stopped, but no credit");
	inst_free(&in);

	c.hour++;
	s.t += HOUR_US;
	inst_init(&in, &dep, 1);
	in.clean = &ks;
	inst_role_hour(&in, &c, &s, 1);
	CHECK(in.ev[0].detected && in.ev[0].blocked, "in another window: credited");
	inst_free(&in);
	pfree(ks.keys);
}

int
engine_selftest(void)
{
	setup();
	test_block();
	test_log();
	test_peers();
	test_event();
	test_cold_start();
	test_week();
	test_novelty();
	test_no_credit();
	if (failures == 0)
		fprintf(stderr, "selftest: engine checks passed\n");
	return failures;
}
