# One budget for a Citus cluster, shared statically
# (insider_guard.citus_budget = share; issue 14): a coordinator and two
# workers on this machine, customers (100,000 rows) in 32 shards, 16 on
# each worker, and a block threshold of 1,000 rows an hour for terry on
# it, set on the coordinator.
#
# With share, each node applies ceil(1,000 x its placements of customers
# / all 32) = 500 rows, so a statement through the coordinator is stopped
# once one worker's part is read: every node counts at most its share,
# plus the row each process reading there counted and was refused (Citus
# opens up to citus.max_adaptive_executor_pool_size = 16 connections a
# worker), and the cluster at most 1,000 + 2 x 16.  With node (the
# default), every worker applies the whole 1,000, as before: the node
# that stops the statement counts 1,001.
#
# Also: the share follows a shard move in a running session; a reference
# table's limit is not shared (a statement reads it whole on one node);
# router queries of rows on one worker only are stopped at that worker's
# share (the price of a static share: a false early block); the setting is
# not a role's to change.
#
# Needs Citus installed into the PostgreSQL under test
# (test/citus-build.sh PG_CONFIG; test.sh does it on 15); skipped without
# it, or with IG_CITUS=0.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use List::Util qw(sum max);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CitusCluster;

citus_skip_unless_available();

my $limit = 1000;
my $share = 500;    # ceil(1,000 x 16 / 32)
my $per_node_slack = 16;    # one refused row per process reading there

my %node = citus_nodes({});
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);
citus_join($coord, @workers);

$coord->safe_psql('postgres', q{
	CREATE ROLE terry LOGIN;
	SET citus.shard_count = 32;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers', 'id');
	INSERT INTO customers
		SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 100000) g;
	CREATE TABLE customers_copy (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers_copy', 'id', colocate_with => 'customers');
	CREATE TABLE countries (code text PRIMARY KEY, name text);
	SELECT create_reference_table('countries');
	INSERT INTO countries SELECT 'c' || g, 'country ' || g FROM generate_series(1, 2000) g;
	GRANT SELECT ON customers, countries TO terry;
	GRANT SELECT, INSERT ON customers_copy TO terry;
	ANALYZE customers;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('terry', 2500, '1 hour', 'block', 'countries');
});

my %shards;
for my $w (@workers)
{
	$shards{ $w->name } = [
		split /\n/,
		$coord->safe_psql('postgres', sprintf(q{
			SELECT shard_name FROM citus_shards
			WHERE table_name = 'customers'::regclass AND nodeport = %d
			ORDER BY shardid}, $w->port)) ];
	is(scalar @{ $shards{ $w->name } }, 16, $w->name . ' holds 16 shards of customers');
	is($w->safe_psql('postgres', q{
			SELECT count(*) FROM insider_guard.thresholds WHERE role_name::text = 'terry'}),
		2, $w->name . ' has the coordinator\'s rules');
}

sub set_budget
{
	my ($budget) = @_;
	for my $n (@all)
	{
		$n->safe_psql('postgres', qq{
			ALTER SYSTEM SET insider_guard.citus_budget = '$budget';
			SELECT pg_reload_conf()});
	}
	for my $n (@all)
	{
		$n->poll_query_until('postgres',
			"SELECT current_setting('insider_guard.citus_budget') = '$budget'")
		  or die $n->name . " did not take citus_budget = $budget";
	}
	# Citus' cached connections to the workers take the reload at their
	# next command; they reread the file before it
	return;
}

# terry's rows counted for $table on each node
sub counted
{
	my ($table) = @_;
	return { map {
		$_->name => $_->safe_psql('postgres',
			"SELECT insider_guard.rows_read('terry', '1 hour', '$table')")
	} @all };
}

# Runs $sql as terry on $on after a reset of terry on every node;
# returns the error (empty if none) and the counts for $table.
sub as_terry
{
	my ($what, $on, $sql, $table) = @_;
	my ($out, $err) = ('', '');

	$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
	$on->psql('postgres', $sql,
		extra_params => [ '-U', 'terry' ],
		stdout => \$out, stderr => \$err);
	my $c = counted($table // 'customers');
	diag(sprintf('%-40s %s | %s', $what,
		join(' / ', map { $_->name . ' ' . $c->{ $_->name } } @all),
		$err eq '' ? 'not blocked' : 'error: ' . (split /\n/, $err)[0]));
	return ($err, $c);
}

# stopped, naming customers; each node within its share (plus a refused
# row a process), the one that stopped it at its share, and the cluster
# within the limit plus those rows
sub shared_stop
{
	my ($what, $err, $c) = @_;

	like($err,
		qr/insider_guard: role "?terry"? may not read more rows from table "?public\.customers"?/,
		"share, $what: blocked, naming customers");
	is($c->{coordinator}, 0, "share, $what: the coordinator counts nothing");
	for my $w (@workers)
	{
		my $got = $c->{ $w->name };
		ok($got <= $share + $per_node_slack,
			"share, $what: " . $w->name . " counted $got rows, within its share of $share");
	}
	my $top = max(map { $c->{ $_->name } } @workers);
	ok($top > $share, "share, $what: a worker read past its share ($top rows) and stopped it");
	my $sum = sum(values %$c);
	ok($sum <= $limit + 2 * $per_node_slack,
		"share, $what: $sum rows counted over the cluster, within the limit");
	return;
}

my ($err, $c);

# a role may not move the setting
($err, $c) = as_terry('SET citus_budget', $coord,
	q{SET insider_guard.citus_budget = 'node'});
like($err, qr/cannot be changed now|permission denied/,
	'terry cannot change insider_guard.citus_budget');

set_budget('share');

($err, $c) = as_terry('router query by id', $coord,
	'SELECT * FROM customers WHERE id = 42');
is($err, '', 'share, router query: not blocked');
is(sum(values %$c), 1, 'share, router query: one row counted');

for my $s (
	[ 'SELECT *', 'SELECT * FROM customers' ],
	[ 'count(*)', 'SELECT count(*) FROM customers' ],
	[ 'COPY TO STDOUT', 'COPY customers TO STDOUT' ],
	[ 'INSERT ... SELECT (pushed down)',
		'INSERT INTO customers_copy SELECT * FROM customers' ],
	[ 'repartition join',
		'SET citus.enable_repartition_joins = on; '
		  . 'SELECT count(*) FROM customers a JOIN customers b ON a.email = b.email' ])
{
	($err, $c) = as_terry("share, $s->[0]", $coord, $s->[1]);
	shared_stop($s->[0], $err, $c);
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM customers_copy'), 0,
	'share, INSERT ... SELECT: nothing was inserted');

# the record on the worker that stopped it gives the limit it applied
like(
	join(',', map {
		$_->safe_psql('postgres', q{
			SELECT string_agg(DISTINCT max_rows::text, ',') FROM insider_guard.violations
			WHERE role_name::text = 'terry'})
	} @workers),
	qr/^(500,500|500,|,500)$/,
	'share: the workers\' violation records give the limit they applied, 500');

# terry connected straight to worker1: one process, its share exactly
my $shard = $shards{worker1}[0];
($err, $c) = as_terry('share, direct shard read on worker1', $workers[0],
	"SELECT count(*) FROM $shard");
like($err, qr/may not read more rows from table "?public\.customers"?/,
	'share, direct shard read: blocked');
is($c->{worker1}, $share + 1,
	'share, direct shard read: worker1 stopped at its share (and the refused row)');

# A shard moved from worker2 to worker1: worker1 now holds 17 of 32 and
# applies ceil(1,000 x 17 / 32) = 532 -- also in a session that read
# before the move (Citus' invalidation of the table reaches it).
my $session = $workers[0]->background_psql('postgres',
	extra_params => [ '-U', 'terry' ], on_error_stop => 0);
$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
$session->query(qq{SELECT count(*) FROM $shard});
is(counted('customers')->{worker1}, $share + 1,
	'share, a session on worker1 is stopped at 500 before the move');
$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
my $moved = $shards{worker2}[0];
(my $moved_id = $moved) =~ s/.*_//;
# (the coordinator reaches itself as citus.local_hostname: its socket)
$coord->safe_psql('postgres', sprintf(q{ALTER SYSTEM SET citus.local_hostname = '%s'}, $coord->host));
$coord->reload;
$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_move_shard_placement(%d, '%s', %d, '%s', %d,
		shard_transfer_mode => 'block_writes')},
	$moved_id, $workers[1]->host, $workers[1]->port, $workers[0]->host, $workers[0]->port));
is($workers[0]->safe_psql('postgres', sprintf(q{
		SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
		WHERE s.logicalrelid = 'customers'::regclass
		  AND p.groupid = (SELECT groupid FROM pg_dist_local_group)})),
	17, 'worker1 holds 17 placements of customers after the move');
$session->query(qq{SELECT count(*) FROM $shard});
is(counted('customers')->{worker1}, 533,
	'share, the same session is stopped at 532 after the move');
$session->quit;

# a reference table is read whole on one node: its 2,500 rows are not
# shared (a third, 834, would stop this read of 2,000)
($err, $c) = as_terry('share, reference table', $coord,
	'SELECT count(*) FROM countries', 'countries');
is($err, '', 'share, reference table: 2,000 rows read under a 2,500 limit, not blocked');
is($c->{coordinator}, 2000, 'share, reference table: counted on the coordinator');

# Router queries of ids that live on worker1 only: stopped at worker1's
# share, 532 now (he is entitled to 1,000: a false early block, the
# price of a static share).
my $w1port = $workers[0]->port;
my @ids = split /\n/, $coord->safe_psql('postgres', qq{
	SELECT id FROM customers
	WHERE get_shard_id_for_distribution_column('customers', id) IN (
		SELECT p.shardid FROM pg_dist_placement p
		JOIN pg_dist_node n USING (groupid)
		JOIN pg_dist_shard s USING (shardid)
		WHERE s.logicalrelid = 'customers'::regclass AND n.nodeport = $w1port)
	ORDER BY id LIMIT 700});
my ($out, $rerr) = ('', '');
$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
$coord->psql('postgres',
	"\\set ON_ERROR_STOP 1\n"
	  . join('', map { "SELECT id FROM customers WHERE id = $_;\n" } @ids),
	extra_params => [ '-U', 'terry', '-At' ],
	stdout => \$out, stderr => \$rerr);
my $got = () = $out =~ /^\d+$/mg;
like($rerr, qr/may not read more rows/, 'share, router queries on worker1 only: blocked');
is($got, 532, 'share, router queries on worker1 only: stopped after worker1\'s share');

# node: every worker applies the whole limit, as before
set_budget('node');
($err, $c) = as_terry('node, count(*)', $coord, 'SELECT count(*) FROM customers');
like($err, qr/may not read more rows from table "?public\.customers"?/,
	'node, count(*): blocked');
my $top = max(map { $c->{ $_->name } } @workers);
ok($top > $limit && $top <= $limit + $per_node_slack,
	"node, count(*): the worker that stopped it read the whole limit ($top rows)");
($err, $c) = as_terry('node, direct shard read on worker1', $workers[0],
	"SELECT count(*) FROM $shard");
is($c->{worker1}, $limit + 1, 'node, direct shard read: worker1 stopped at the whole limit');

done_testing();
