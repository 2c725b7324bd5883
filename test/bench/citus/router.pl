# test/bench/citus/router.pl: what insider_guard costs a router query on a
# real 3-node Citus cluster (a coordinator and two workers on this
# machine), against Citus alone (issue 14).
#
# pgbench on the coordinator, 2 clients, a custom script
#     \set id random(1, 100000)
#     SELECT * FROM customers WHERE id = :id;
# (customers: 100,000 rows in 32 shards), as role bench, for:
#   citus       insider_guard in no node's shared_preload_libraries
#   ig          citus,insider_guard preloaded everywhere, no rule
#   ig_other    a block rule on customers for another role (terry)
#   ig_covered  and a log and a block rule on customers covering bench
#               (10^12 rows an hour: never reached)
#   ig_share    the same with insider_guard.citus_budget = share
#   ig_lease    the same with insider_guard.citus_budget = lease (if the
#               build has it)
# ROUTER_ROUNDS rounds (default 3), each running every configuration in
# turn for ROUTER_SECONDS (default 30) after a 3-second warm-up: the
# configurations are interleaved, so that the machine's drift hits them
# alike.  Prints each run's tps and a table: the median tps of each
# configuration, its ratio to citus's median, the median of its ratios
# to citus in the same round, and the spread (min-max).
#
# Then (unless ROUTER_INSTR=0, or without valgrind) the instructions a
# router query costs on a worker, per configuration (callgrind on a
# single-user backend of worker1; ROUTER_ROUNDS=0 skips the throughput).
#
# Run by test/bench/citus/router.sh (through harness.sh, as postgres).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../../perl";

use IPC::Run;
use List::Util qw(min max);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CitusCluster;

citus_skip_unless_available();

my $rounds = $ENV{ROUTER_ROUNDS} // 3;
my $seconds = $ENV{ROUTER_SECONDS} // 30;
my $big = 1_000_000_000_000;

my %node = citus_nodes({});
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);
citus_join($coord, @workers);

$coord->safe_psql('postgres', q{
	CREATE ROLE terry LOGIN;
	CREATE ROLE bench LOGIN;
	SET citus.shard_count = 32;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers', 'id');
	INSERT INTO customers
		SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 100000) g;
	GRANT SELECT ON customers TO terry, bench;
	ANALYZE customers;
});

my $script = PostgreSQL::Test::Utils::tempdir() . '/router.sql';
PostgreSQL::Test::Utils::append_to_file($script,
	"\\set id random(1, 100000)\nSELECT * FROM customers WHERE id = :id;\n");

my $preloaded = 'citus,insider_guard';

# Restarts every node with this shared_preload_libraries.
sub preload
{
	my ($libs) = @_;
	return if $libs eq $preloaded;
	for my $n (@all)
	{
		$n->append_conf('postgresql.conf', "shared_preload_libraries = '$libs'\n");
		$n->restart;
	}
	$preloaded = $libs;
	return;
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
	return;
}

# The rules (set on the coordinator, pushed to the workers) of a
# configuration.
sub rules
{
	my ($config) = @_;
	my $sql = 'DELETE FROM insider_guard.thresholds;';
	$sql .= q{SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'customers');}
	  if $config ne 'ig';
	$sql .= qq{SELECT insider_guard.set_threshold('bench', $big, '1 hour', 'log', 'customers');
		SELECT insider_guard.set_threshold('bench', $big, '1 hour', 'block', 'customers');}
	  if $config eq 'ig_covered' || $config eq 'ig_share' || $config eq 'ig_lease';
	$coord->safe_psql('postgres', $sql);
	set_budget($config eq 'ig_share' ? 'share' : $config eq 'ig_lease' ? 'lease' : 'node');
	return;
}

# pgbench for $secs seconds as bench: tps.
sub pgbench
{
	my ($secs) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', $secs, '-f', $script,
			'-U', 'bench', '-h', $coord->host, '-p', $coord->port, 'postgres' ],
		'>', \$out, '2>', \$err) or die "pgbench failed: $err";
	$out =~ /tps = ([0-9.]+) \(without initial connection time\)/
	  or die "no tps in: $out";
	return $1;
}

my @configs = qw(citus ig ig_other ig_covered ig_share);
push @configs, 'ig_lease'
  if $coord->safe_psql('postgres', q{
	SELECT count(*) FROM pg_settings
	WHERE name = 'insider_guard.citus_budget' AND 'lease' = ANY (enumvals)}) == 1;
my %tps;
for my $round (1 .. $rounds)
{
	for my $config (@configs)
	{
		preload($config eq 'citus' ? 'citus' : 'citus,insider_guard');
		rules($config) if $config ne 'citus';
		pgbench(3);
		my $t = pgbench($seconds);
		push @{ $tps{$config} }, $t;
		diag(sprintf('run round %d %-10s %8.1f tps', $round, $config, $t));
	}
}

# the bench role's reads were counted (and nothing stopped them)
preload('citus,insider_guard');
if ($rounds > 0)
{
	my $counted = 0;
	$counted += $_->safe_psql('postgres',
		q{SELECT insider_guard.rows_read('bench', '1 hour', 'customers')}) for @workers;
	ok($counted > 0, "bench's router queries were counted on the workers ($counted rows)");
}

# The cost of one lease round trip, as a worker pays it per batch: on the
# coordinator, as bench (covered by the ig_lease rules), over its unix
# socket, pgbench with 1 client calling _citus_lease(0, 'public',
# 'customers', 0, 0, 1) for ROUTER_LEASE_SECONDS (default 10; 0 skips),
# and SELECT 1 the same way for the bare round trip: mean latencies.
my %lease_ms;
my $lease_secs = $ENV{ROUTER_LEASE_SECONDS} // 10;
if ($lease_secs > 0 && grep { $_ eq 'ig_lease' } @configs)
{
	rules('ig_lease');
	my $dir = PostgreSQL::Test::Utils::tempdir();
	for my $c ([ 'lease', "SELECT insider_guard._citus_lease(0, 'public', 'customers', 0, 0, 1);\n" ],
		[ 'select1', "SELECT 1;\n" ])
	{
		my ($what, $sql) = @$c;
		PostgreSQL::Test::Utils::append_to_file("$dir/$what.sql", $sql);
		my ($out, $err) = ('', '');
		IPC::Run::run(
			[ 'pgbench', '-n', '-c', '1', '-T', $lease_secs, '-f', "$dir/$what.sql",
				'-U', 'bench', '-h', $coord->host, '-p', $coord->port, 'postgres' ],
			'>', \$out, '2>', \$err) or die "pgbench failed: $err";
		$out =~ /latency average = ([0-9.]+) ms/ or die "no latency in: $out";
		$lease_ms{$what} = $1;
		my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
		diag(sprintf('run round trip %-8s %.4f ms mean (%d calls, 1 client, unix socket %s)',
			$what, $lease_ms{$what}, $n // 0, $coord->host));
	}
}

# Instructions per router query on a worker (callgrind on a single-user
# backend of worker1, stopped, as bench): the shard query Citus sends,
# 4,000 minus 2,000 of them, / 2,000 -- without one-time costs.  Repeatable
# where throughput is not.
my %instr;
my $valgrind = `which valgrind 2>/dev/null`;
chomp $valgrind;
if (($ENV{ROUTER_INSTR} // '1') ne '0' && $valgrind ne '')
{
	my $w = $workers[0];
	my $w1port = $w->port;
	my ($shard_name, $shardid) = split /\|/, $coord->safe_psql('postgres', qq{
		SELECT shard_name, shardid FROM citus_shards
		WHERE table_name = 'customers'::regclass AND nodeport = $w1port
		ORDER BY shardid LIMIT 1});
	my @ids = split /\n/, $coord->safe_psql('postgres', qq{
		SELECT id FROM customers
		WHERE get_shard_id_for_distribution_column('customers', id) = $shardid
		ORDER BY id LIMIT 500});
	my $dir = PostgreSQL::Test::Utils::tempdir();
	for my $n (2000, 4000)
	{
		PostgreSQL::Test::Utils::append_to_file("$dir/in$n.sql",
			"SET SESSION AUTHORIZATION bench;\n" . join('', map {
				"SELECT id, email FROM public.$shard_name customers "
				  . "WHERE (id OPERATOR(pg_catalog.=) $ids[$_ % @ids]);\n"
			} 0 .. $n - 1));
	}
	my $instructions = sub {
		my ($n, @opts) = @_;
		my $out = "$dir/cg.out";
		unlink $out;
		system("$valgrind --tool=callgrind --callgrind-out-file=$out "
			  . "postgres --single -D " . $w->data_dir
			  . " -c jit=off " . join(' ', map { "-c $_" } @opts)
			  . " postgres < $dir/in$n.sql > /dev/null 2>&1");
		my $total = `callgrind_annotate $out 2>/dev/null | grep 'PROGRAM TOTALS'`;
		$total =~ s/,//g;
		$total =~ /([0-9]+)/ or die "no callgrind total";
		return $1;
	};
	my $per_query = sub {
		my (@opts) = @_;
		return ($instructions->(4000, @opts) - $instructions->(2000, @opts)) / 2000;
	};
	my @instr_configs = (
		[ 'ig_covered', undef, "shared_preload_libraries=citus,insider_guard",
			"insider_guard.citus_budget=node" ],
		[ 'ig_share', undef, "shared_preload_libraries=citus,insider_guard",
			"insider_guard.citus_budget=share" ],
		[ 'citus', undef, "shared_preload_libraries=citus" ],
		[ 'ig', 'ig', "shared_preload_libraries=citus,insider_guard" ],
		[ 'ig_other', 'ig_other', "shared_preload_libraries=citus,insider_guard" ]);
	rules('ig_covered');
	for my $c (@instr_configs)
	{
		my ($config, $rules, @opts) = @$c;
		rules($rules) if defined $rules;
		$w->stop;
		$instr{$config} = $per_query->(@opts);
		$w->start;
		diag(sprintf('run instructions %-10s %.0f per router query on worker1',
			$config, $instr{$config}));
	}
}

sub median
{
	my @s = sort { $a <=> $b } @_;
	return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my @lines;
if ($rounds > 0)
{
my $base = median(@{ $tps{citus} });
@lines = (
	"| configuration | tps, each round | median | ratio of medians to citus | ratio to citus in the same round: median (min-max) | spread of tps (min-max)/median |",
	'|---|---|---|---|---|---|');
for my $config (@configs)
{
	my @t = @{ $tps{$config} };
	my $m = median(@t);
	my @r = map { $t[$_] / $tps{citus}[$_] } 0 .. $#t;
	push @lines, sprintf('| %s | %s | %.0f | %.3f | %.3f (%.2f-%.2f) | %.0f%% |', $config,
		join(', ', map { sprintf('%.0f', $_) } @t), $m, $m / $base,
		median(@r), min(@r), max(@r), 100 * (max(@t) - min(@t)) / $m);
}
}
if (%instr)
{
	push @lines, '' if @lines;
	push @lines,
	  '| configuration | instructions per router query on worker1 (callgrind, single-user) | more than citus |',
	  '|---|---|---|';
	push @lines, sprintf('| %s | %.0f | %+.0f (%+.1f%%) |', $_, $instr{$_},
		$instr{$_} - $instr{citus}, 100 * ($instr{$_} - $instr{citus}) / $instr{citus})
	  for grep { exists $instr{$_} } @configs;
	ok($instr{ig_covered} > $instr{citus}, 'insider_guard counts on the worker');
}
if (%lease_ms)
{
	push @lines, '' if @lines;
	push @lines, '| one call as bench on the coordinator (pgbench, 1 client, unix socket) | mean latency |', '|---|---|';
	push @lines, sprintf('| %s | %.4f ms |', $_ eq 'lease' ? "_citus_lease(0, 'public', 'customers', 0, 0, 1)" : 'SELECT 1', $lease_ms{$_})
	  for grep { exists $lease_ms{$_} } qw(lease select1);
}
diag("\n" . join("\n", @lines) . "\n");
if ($ENV{BENCH_TABLE})
{
	open(my $fh, '>', $ENV{BENCH_TABLE}) or die "$ENV{BENCH_TABLE}: $!";
	print $fh join("\n", @lines), "\n";
	close $fh;
}

done_testing();
