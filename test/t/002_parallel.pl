# Rows read by parallel workers count exactly once, for the leader's
# session user, whether or not the leader takes part.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('parallel', 'max_worker_processes = 8',
	'max_parallel_workers = 4');
setup_reader($node, 200000);

my $force = q{
	SET max_parallel_workers_per_gather = 2;
	SET parallel_setup_cost = 0;
	SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0;
	SET min_parallel_index_scan_size = 0;
};

foreach my $leader ('on', 'off')
{
	$node->safe_psql('postgres', 'SELECT insider_guard.reset()');
	my $plan = $node->safe_psql(
		'postgres', qq{
		SET SESSION AUTHORIZATION alice;
		$force
		SET parallel_leader_participation = $leader;
		EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
			SELECT count(*) FROM customers WHERE email LIKE 'user%';
	});
	like($plan, qr/Workers Launched: 2/,
		"the plan ran with 2 workers (leader participation $leader)");
	is(reads($node, 'alice', 'customers'), 200000,
		"every row counted once (leader participation $leader)");
}

# a parallel count(*) with a filter on a leaky function: each row the
# workers' filters looked at counts once
$node->safe_psql('postgres', q{
	CREATE FUNCTION leak(t text) RETURNS boolean LANGUAGE plpgsql PARALLEL SAFE
		AS 'BEGIN RETURN t IS NULL; END';
	SELECT insider_guard.reset();
});
my $plan = $node->safe_psql(
	'postgres', qq{
	SET SESSION AUTHORIZATION alice;
	$force
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
		SELECT count(*) FROM customers WHERE leak(email);
});
like($plan, qr/Workers Launched: 2/, 'leaky filter: the plan ran in parallel');
is(reads($node, 'alice', 'customers'), 200000,
	'leaky filter: every row the workers looked at counted once');

# a parallel query counts as one statement, by its leader
$node->safe_psql('postgres', 'SELECT insider_guard.reset()');
$node->safe_psql(
	'postgres', qq{
	SET SESSION AUTHORIZATION alice;
	$force
	SELECT count(*) FROM customers;
});
is( $node->safe_psql(
		'postgres',
		"SELECT statements || ' ' || rows_last_hour FROM insider_guard.role_activity WHERE role_name = 'alice' AND table_name = 'public.customers'"
	),
	'1 200000',
	'one statement, all rows');

$node->stop;
done_testing();
