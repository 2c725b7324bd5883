# test/bench/citus/budget.pl: the cluster-wide budget of a block rule on a
# real 3-node Citus cluster (a coordinator and two workers on this
# machine), for each value of insider_guard.citus_budget the build has
# (node, share, lease; issue 14).
#
# terry has a block threshold of 1,000 rows an hour on customers (100,000
# rows in 32 shards, 16 on each worker), set on the coordinator.  For each
# statement and each budget, BUDGET_RUNS times (default 3), after a reset
# of terry on every node: the rows counted for customers on each node,
# the rows read -- the workers' counts (with lease the coordinator also
# counts the rows it leased them) -- with overshoot = read - 1,000, and
# whether the statement was stopped.  Then the skew: terry reads, by router queries of one id each,
# only rows that live on worker1 ("one worker") -- or ids spread over both
# ("spread") -- until he is stopped: how many rows he got (he is entitled
# to 1,000).
#
# Run by test/bench/citus/budget.sh (which builds and installs what it
# needs and runs this as postgres, under prove for the TAP harness).
# Prints a markdown table (diag) at the end.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../../perl";

use List::Util qw(sum min max);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CitusCluster;

citus_skip_unless_available();

my $limit = 1000;
my $rows = 100000;
my $runs = $ENV{BUDGET_RUNS} // 3;

my %node = citus_nodes({});
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);
citus_join($coord, @workers);

$coord->safe_psql('postgres', qq{
	CREATE ROLE terry LOGIN;
	SET citus.shard_count = 32;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers', 'id');
	INSERT INTO customers
		SELECT g, 'user' || g || '\@example.com' FROM generate_series(1, $rows) g;
	CREATE TABLE customers_copy (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers_copy', 'id', colocate_with => 'customers');
	CREATE TABLE countries (code text PRIMARY KEY, name text);
	SELECT create_reference_table('countries');
	INSERT INTO countries SELECT 'c' || g, 'country ' || g FROM generate_series(1, 2000) g;
	GRANT SELECT ON customers, countries TO terry;
	GRANT SELECT, INSERT ON customers_copy TO terry;
	ANALYZE customers;
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'countries');
});
for my $w (@workers)
{
	is($w->safe_psql('postgres', q{
			SELECT count(*) FROM insider_guard.thresholds WHERE role_name::text = 'terry'}),
		2, $w->name . ': the rules reached it');
}

# a shard of customers on worker1, and ids that live on each worker
my $w1port = $workers[0]->port;
my $shard_w1 = $coord->safe_psql('postgres', qq{
	SELECT shard_name FROM citus_shards
	WHERE table_name = 'customers'::regclass AND nodeport = $w1port
	ORDER BY shardid LIMIT 1});
my @ids_w1 = split /\n/, $coord->safe_psql('postgres', qq{
	SELECT id FROM customers
	WHERE get_shard_id_for_distribution_column('customers', id) IN (
		SELECT p.shardid FROM pg_dist_placement p
		JOIN pg_dist_node n USING (groupid)
		JOIN pg_dist_shard s USING (shardid)
		WHERE s.logicalrelid = 'customers'::regclass AND n.nodeport = $w1port)
	ORDER BY id LIMIT 1500});
my @ids_spread = (1 .. 2500);

sub set_budget
{
	my ($budget) = @_;
	for my $n (@all)
	{
		$n->safe_psql('postgres', qq{
			ALTER SYSTEM SET insider_guard.citus_budget = '$budget';
			SELECT pg_reload_conf()});
	}
	# every node has it (a new session reads the file as reloaded)
	for my $n (@all)
	{
		$n->poll_query_until('postgres',
			"SELECT current_setting('insider_guard.citus_budget') = '$budget'")
		  or die "budget $budget not taken by " . $n->name;
	}
	# Citus' cached connections to the workers take the reload at their
	# next command; a second lets the signal arrive everywhere
	sleep 1;
	return;
}

sub reset_terry
{
	$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
	return;
}

sub counted
{
	my ($table) = @_;
	return [ map {
		$_->safe_psql('postgres',
			"SELECT insider_guard.rows_read('terry', '1 hour', '$table')")
	} @all ];
}

# Runs $sql as terry on $on after a reset; returns (stopped?, [per node]).
sub run_as_terry
{
	my ($on, $sql, $table) = @_;
	my ($out, $err) = ('', '');

	reset_terry();
	$on->psql('postgres', $sql,
		extra_params => [ '-U', 'terry' ],
		stdout => \$out, stderr => \$err);
	my $stopped = $err =~ /may not read more rows/ ? 1 : 0;
	diag("unexpected error: $err") if $err ne '' && !$stopped;
	return ($stopped, counted($table // 'customers'));
}

my @statements = (
	[ 'SELECT *', $coord, 'SELECT * FROM customers' ],
	[ 'count(*)', $coord, 'SELECT count(*) FROM customers' ],
	[ 'COPY customers TO STDOUT', $coord, 'COPY customers TO STDOUT' ],
	[ 'repartition join (email = email)', $coord,
		'SET citus.enable_repartition_joins = on; '
		  . 'SELECT count(*) FROM customers a JOIN customers b ON a.email = b.email' ],
	[ 'INSERT ... SELECT (pushed down)', $coord,
		'INSERT INTO customers_copy SELECT * FROM customers' ],
	[ "direct read of shard $shard_w1 on worker1", $workers[0],
		"SELECT count(*) FROM $shard_w1" ],
	[ 'reference table countries (2,000 rows)', $coord,
		'SELECT count(*) FROM countries', 'countries' ],
);

# Router queries of one id each, as terry, in one session: the rows he
# got before he was stopped (psql stops at the first error), and the
# counts.
sub router_run
{
	my (@ids) = @_;
	my ($out, $err) = ('', '');
	my $script = "\\set ON_ERROR_STOP 1\n"
	  . join('', map { "SELECT id FROM customers WHERE id = $_;\n" } @ids);

	reset_terry();
	$coord->psql('postgres', $script,
		extra_params => [ '-U', 'terry', '-At' ],
		stdout => \$out, stderr => \$err);
	my $got = () = $out =~ /^\d+$/mg;
	my $stopped = $err =~ /may not read more rows/ ? 1 : 0;
	diag("unexpected error: $err") if $err ne '' && !$stopped;
	return ($got, $stopped, counted('customers'));
}

# The rows read: counted where the table's rows are -- the workers for
# customers (with lease the coordinator counts the rows leased to them
# too: the same rows again), every node for the reference table (read on
# one node).
sub rows_read
{
	my ($table, $c) = @_;
	return ($table // 'customers') eq 'countries' ? sum(@$c) : $c->[1] + $c->[2];
}

my %result;
# the settings this build has (lease since 0.6.0)
my @budgets = grep {
	my $b = $_;
	$coord->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_settings
		WHERE name = 'insider_guard.citus_budget' AND '$b' = ANY (enumvals)}) == 1
} qw(node share lease);

for my $budget (@budgets)
{
	set_budget($budget);
	for my $s (@statements)
	{
		my ($what, $on, $sql, $table) = @$s;
		for my $r (1 .. $runs)
		{
			my ($stopped, $c) = run_as_terry($on, $sql, $table);
			push @{ $result{$budget}{$what} }, { stopped => $stopped, c => $c };
			diag(sprintf('%-5s %-45s run %d: %s, counted %s (read %d)',
				$budget, $what, $r, $stopped ? 'stopped' : 'NOT stopped',
				join(' / ', @$c), rows_read($table, $c)));
		}
	}
	for my $skew ([ 'router, ids on worker1 only', \@ids_w1 ],
		[ 'router, ids spread (1..)', \@ids_spread ])
	{
		my ($what, $ids) = @$skew;
		my ($got, $stopped, $c) = router_run(@$ids);
		push @{ $result{$budget}{$what} },
		  { stopped => $stopped, c => $c, got => $got };
		diag(sprintf('%-5s %-45s: got %d rows, %s, counted %s',
			$budget, $what, $got, $stopped ? 'stopped' : 'NOT stopped',
			join(' / ', @$c)));
	}
}

# the table
my @lines = (
	'| statement (as terry, block 1,000/hour) | budget | stopped | counted coordinator / worker1 / worker2 (each run) | rows read (workers; all nodes for the reference table): min-max | overshoot (max read - 1,000) |',
	'|---|---|---|---|---|---|');
for my $st (@statements)
{
	my ($s, $table) = ($st->[0], $st->[3]);
	for my $budget (@budgets)
	{
		my @r = @{ $result{$budget}{$s} };
		my @sums = map { rows_read($table, $_->{c}) } @r;
		push @lines, sprintf('| %s | %s | %d/%d | %s | %d-%d | %+d |',
			$s, $budget, sum(map { $_->{stopped} } @r), scalar @r,
			join('; ', map { join(' / ', @{ $_->{c} }) } @r),
			min(@sums), max(@sums), max(@sums) - $limit);
	}
}
push @lines, '', '| skew: router queries, one id each | budget | rows got before the stop (entitled: 1,000) | counted coordinator / worker1 / worker2 |', '|---|---|---|---|';
for my $s ('router, ids on worker1 only', 'router, ids spread (1..)')
{
	for my $budget (@budgets)
	{
		my $r = $result{$budget}{$s}[0];
		push @lines, sprintf('| %s | %s | %d%s | %s |', $s, $budget, $r->{got},
			$r->{stopped} ? '' : ' (not stopped)', join(' / ', @{ $r->{c} }));
	}
}
diag("\n" . join("\n", @lines) . "\n");
if ($ENV{BENCH_TABLE})
{
	open(my $fh, '>', $ENV{BENCH_TABLE}) or die "$ENV{BENCH_TABLE}: $!";
	print $fh join("\n", @lines), "\n";
	close $fh;
}

done_testing();
