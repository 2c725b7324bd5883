# Concurrent sessions of one role and a parallel query share a block
# threshold through shared memory: rows are reserved there, in batches of
# at most insider_guard.batch_rows, before they are read, so together
# they read past it by at most one row per process of the role, and every
# one of them is stopped.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $batch = 500;
my $max = 50000;
my $sessions = 4;
my $node = new_node('overshoot', "insider_guard.batch_rows = $batch",
	'max_worker_processes = 8', 'max_parallel_workers = 4');
setup_reader($node, 1000000);
$node->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', $max, '1 hour', 'block', 'customers')");

# the parallel query: check first that it does run with 2 workers
my $force = 'SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; '
  . 'SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;';
my $plan = $node->safe_psql('postgres',
	"$force EXPLAIN (COSTS OFF) SELECT count(*) FROM customers WHERE email LIKE 'user%'");
like($plan, qr/Workers Planned: 2/, 'the parallel query plans 2 workers');

my @psql;
for my $i (1 .. $sessions + 1)
{
	push @psql, $node->background_psql('postgres',
		extra_params => [ '-U', 'alice' ], on_error_stop => 0);
}
$psql[$sessions]->query_safe($force);
# the others plainly: a count(*) of this size would go parallel too, and
# each worker is a process that may read one row past
$psql[$_]->query_safe('SET max_parallel_workers_per_gather = 0') for (0 .. $sessions - 1);

# start every statement before waiting for any
for my $i (0 .. $sessions - 1)
{
	$psql[$i]->{stdin} .= "SELECT count(*) FROM customers WHERE email LIKE 'user%';\n\\echo done\n";
}
$psql[$sessions]->{stdin} .=
  "SELECT count(*) FROM customers WHERE email LIKE 'user%';\n\\echo done\n";
for my $p (@psql)
{
	$p->{run}->pump_nb;
}
for my $p (@psql)
{
	$p->{run}->pump until $p->{stdout} =~ /done/ || $p->{timeout}->is_expired;
}

my $stopped = grep { $_->{stderr} =~ /may not read more rows/ } @psql;
is($stopped, $sessions + 1, 'every session was stopped');

# processes of alice: the sessions, the parallel leader and its 2 workers
my $processes = $sessions + 1 + 2;
my $count = reads($node, 'alice', 'customers');
my $overshoot = $count - $max;
ok($count > $max, "the threshold was reached ($count rows read)");
ok($overshoot <= $processes, "overshoot $overshoot <= $processes processes");
note "overshoot: $overshoot rows, bound $processes";

# one incident: the first stopped statement is recorded, each other one
# (the parallel one once, whose leader and workers may all be stopped) is
# a repeat of it, under its sessions' pids
my $records = $node->safe_psql('postgres',
	"SELECT count(*) || ' ' || sum(repeats) FROM insider_guard.violations WHERE action = 'block'");
is($records, "1 $sessions", 'one record, a repeat for each other stopped statement');
$_->{stderr} = $_->{stdout} = '' for @psql;
my $pids = join(',', map { $_->query_safe('SELECT pg_backend_pid()') } @psql);
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.violations WHERE backend_pid NOT IN ($pids)"),
	0, "every record names a session's pid (the leader's for workers)");

$_->quit for @psql;
$node->stop;
done_testing();
