# A real Citus cluster: a coordinator and two workers on this machine,
# each preloading citus and insider_guard (Citus first), a 100,000-row
# table customers distributed in 32 shards, and a role terry with a
# 1,000-row-per-hour block threshold on customers (issue 14).
#
# What this file holds insider_guard to, for now: a read of a shard, on
# any node, counts for its distributed table, so a rule named on
# customers stops SELECT *, count(*), COPY TO, a pushed-down INSERT ...
# SELECT and a direct read of a shard on a worker, and leaves a router
# query by id alone.  The rule is set on every node by this test: rules
# set on the coordinator do not reach the workers yet, and each node
# keeps its own budget (the cluster-wide budget is still to come).
#
# Each statement runs after the role's windows are reset on every node;
# the rows each node counted for it are printed (diag), for the record.
#
# Needs Citus installed into the PostgreSQL under test
# (test/citus-build.sh PG_CONFIG; test.sh does it on 15); skipped without
# it, or with IG_CITUS=0.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
if (($ENV{IG_CITUS} // '1') eq '0')
{
	plan skip_all => 'IG_CITUS=0';
}
elsif (!-f "$pkglibdir/citus.so")
{
	plan skip_all =>
	  "Citus is not installed in $pkglibdir (test/citus-build.sh PG_CONFIG installs it)";
}

my $limit = 1000;
my $rows = 100000;

my @conf = (
	"shared_preload_libraries = 'citus,insider_guard'",
	"max_connections = 100",
	# no telemetry: the build has libcurl, this machine no network
	"citus.enable_statistics_collection = off",
	# unix sockets, trust: the workers are reached as terry himself
	"citus.node_conninfo = 'sslmode=prefer'",
	# what each worker is asked, by whom, from which application
	"log_statement = 'all'",
	"log_line_prefix = '%m [%p] user=%u app=%a '");

my %node;
for my $name (qw(coordinator worker1 worker2))
{
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	$n->append_conf('postgresql.conf', join("\n", @conf) . "\n");
	$n->start;
	$n->safe_psql('postgres',
		'CREATE EXTENSION citus; CREATE EXTENSION insider_guard;');
	$node{$name} = $n;
}
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);

$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_set_coordinator_host('%s', %d);
	SELECT citus_add_node('%s', %d);
	SELECT citus_add_node('%s', %d);
}, $coord->host, $coord->port, map { ($_->host, $_->port) } @workers));
is( $coord->safe_psql('postgres',
		q{SELECT count(*) FROM citus_get_active_worker_nodes()}),
	2, 'the coordinator sees two workers');

# roles and grants propagate to the workers; so do the tables
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
	CREATE ROLE auditor LOGIN;
	GRANT SELECT ON customers, countries TO auditor;
	GRANT SELECT, INSERT ON customers_copy TO terry;
	ANALYZE customers;
});
for my $w (@workers)
{
	is( $w->safe_psql('postgres', q{
			SELECT count(*) FROM pg_dist_shard
			WHERE logicalrelid = 'customers'::regclass}),
		32, $w->name . ': the shard metadata of customers is synced');
}

# where each shard of customers is, by worker
my %shards;
for my $w (@workers)
{
	$shards{ $w->name } = [
		split /\n/,
		$coord->safe_psql('postgres', sprintf(q{
			SELECT shard_name FROM citus_shards
			WHERE table_name = 'customers'::regclass AND nodeport = %d
			ORDER BY shardid}, $w->port)) ];
	is(scalar @{ $shards{ $w->name } }, 16, $w->name . ' holds 16 shards');
}

# the rule, on every node for now
for my $n (@all)
{
	$n->safe_psql('postgres', qq{
		SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'customers');
		SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'countries');
	});
}

# The rows terry read in the last hour on a node: from customers (as
# insider_guard counts them for it), from tables named like its shards,
# from all tables.
sub counts
{
	my ($n) = @_;
	my ($table, $shard_names, $total) = split /\|/, $n->safe_psql('postgres', q{
		SELECT insider_guard.rows_read('terry', '1 hour', 'customers'),
		       (SELECT coalesce(sum(rows_last_hour), 0)
		        FROM insider_guard.role_activity
		        WHERE role_name = 'terry' AND table_name ~ '(^|\.)customers_[0-9]+$'),
		       insider_guard.rows_read('terry', '1 hour')});
	return { table => $table, shards => $shard_names, total => $total };
}

# Runs $sql as terry on $on after a reset of terry on every node;
# returns the error (empty if none) and each node's counts.
sub as_terry
{
	my ($what, $on, $sql) = @_;
	my ($out, $err) = ('', '');

	$_->safe_psql('postgres', q{SELECT insider_guard.reset('terry')}) for @all;
	$on->psql('postgres', $sql,
		extra_params => [ '-U', 'terry' ],
		stdout => \$out, stderr => \$err);
	my %c = map { $_->name => counts($_) } @all;
	diag(sprintf("%-34s %s | %s", $what,
		join(' | ', map {
			sprintf('%s: customers %d, customers_* %d, all %d',
				$_->name, $c{$_->name}{table}, $c{$_->name}{shards}, $c{$_->name}{total})
		} @all),
		$err eq '' ? 'not blocked' : 'error: ' . (split /\n/, $err)[0]));
	return ($err, \%c);
}

# a worker's count of customers must stay within the limit plus one row
# per process that reads (the executor opens several connections)
my $slack = 32;

sub blocked_near_limit
{
	my ($what, $err, $c, @readers) = @_;

	like($err, qr/insider_guard: role "?terry"? may not read more rows from table "?public\.customers"?/,
		"$what: blocked, naming customers");
	my $sum = 0;
	for my $n (@readers)
	{
		my $got = $c->{ $n->name }{table};
		ok($got <= $limit + $slack,
			"$what: " . $n->name . " counted $got rows for customers, within the limit");
		$sum += $got;
	}
	ok($sum >= $limit, "$what: $sum rows counted for customers, the limit reached");
}

my ($err, $c);

# a router query by id reads one row on one worker
($err, $c) = as_terry('router query by id', $coord,
	'SELECT * FROM customers WHERE id = 42');
is($err, '', 'router query: not blocked');
is($c->{worker1}{table} + $c->{worker2}{table}, 1,
	'router query: one row counted for customers, on the workers');
is($c->{coordinator}{total}, 0, 'router query: the coordinator counts nothing');

($err, $c) = as_terry('SELECT *', $coord, 'SELECT * FROM customers');
blocked_near_limit('SELECT *', $err, $c, @workers);

($err, $c) = as_terry('count(*)', $coord, 'SELECT count(*) FROM customers');
blocked_near_limit('count(*)', $err, $c, @workers);

($err, $c) = as_terry('COPY TO STDOUT', $coord, 'COPY customers TO STDOUT');
blocked_near_limit('COPY TO STDOUT', $err, $c, @workers);

($err, $c) = as_terry('INSERT ... SELECT (pushed down)', $coord,
	'INSERT INTO customers_copy SELECT * FROM customers');
blocked_near_limit('INSERT ... SELECT', $err, $c, @workers);
is($coord->safe_psql('postgres', 'SELECT count(*) FROM customers_copy'), 0,
	'INSERT ... SELECT: nothing was inserted');

# terry connected straight to a worker, reading one of its shards
my $shard = $shards{worker1}[0];
($err, $c) = as_terry('direct shard read on worker1', $node{worker1},
	"SELECT count(*) FROM $shard");
blocked_near_limit('direct shard read', $err, $c, $node{worker1});
is($c->{worker2}{total}, 0, 'direct shard read: worker2 read nothing');

# a reference table: each read of its one shard (a copy on every node)
# counts for it
($err, $c) = as_terry('reference table', $coord, 'SELECT count(*) FROM countries');
like($err, qr/may not read more rows from table "?public\.countries"?/,
	'reference table: blocked, naming countries');

# A distributed partitioned table: a worker reads the shards of the
# partitions, each a partition of the parent's shard; they count for the
# partition's table and for the parent, whose rule stops them.
$coord->safe_psql('postgres', q{
	SET citus.shard_count = 4;
	CREATE TABLE events (id int, day date, payload text) PARTITION BY RANGE (day);
	CREATE TABLE events_jan PARTITION OF events
		FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
	CREATE TABLE events_feb PARTITION OF events
		FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
	SELECT create_distributed_table('events', 'id');
	INSERT INTO events
		SELECT g, date '2026-01-01' + (g % 59), 'x' FROM generate_series(1, 6000) g;
	GRANT SELECT ON events TO terry;
	CREATE TABLE notes (id int PRIMARY KEY, body text);
	SELECT citus_add_local_table_to_metadata('notes');
	INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 3000) g;
	GRANT SELECT ON notes TO terry;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'notes');
});
for my $n (@all)
{
	$n->safe_psql('postgres', q{
		SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'events');
	});
}
($err, $c) = as_terry('partitioned distributed table', $coord,
	'SELECT count(*) FROM events');
like($err, qr/may not read more rows from table "?public\.events"?/,
	'partitioned: blocked by the rule on the parent');
{
	my ($jan, $feb, $parent) = (0, 0, 0);
	for my $w (@workers)
	{
		my ($j, $f, $p) = split /\|/, $w->safe_psql('postgres', q{
			SELECT insider_guard.rows_read('terry', '1 hour', 'events_jan'),
			       insider_guard.rows_read('terry', '1 hour', 'events_feb'),
			       insider_guard.rows_read('terry', '1 hour', 'events')});
		($jan, $feb, $parent) = ($jan + $j, $feb + $f, $parent + $p);
	}
	diag("partitioned: the workers counted events_jan $jan, events_feb $feb, events $parent");
	ok($parent >= 1000, "partitioned: $parent rows counted for the parent");
	is($jan + $feb, $parent, 'partitioned: each for its partition too');
}

# a Citus local table: its one shard is on the coordinator, read there
($err, $c) = as_terry('Citus local table', $coord, 'SELECT count(*) FROM notes');
like($err, qr/may not read more rows from table "?public\.notes"?/,
	'Citus local table: blocked by its rule');
is($coord->safe_psql('postgres', q{SELECT insider_guard.rows_read('terry', '1 hour', 'notes')}),
	1001, 'Citus local table: counted on the coordinator');

# COPY of a Citus table, by a role no rule covers (so no node turns it
# into a query): counted once, where the shards are read -- not also by
# the coordinator's COPY hook for the rows it passes on
sub rows_read_by
{
	my ($n, $role, $table) = @_;
	return $n->safe_psql('postgres',
		"SELECT insider_guard.rows_read('$role', '1 hour', '$table')");
}
for my $t ([ 'customers', $rows ], [ 'countries', 2000 ])
{
	my ($table, $n_rows) = @$t;
	$_->safe_psql('postgres', q{SELECT insider_guard.reset('auditor')}) for @all;
	my $out = $coord->safe_psql('postgres', "COPY $table TO STDOUT",
		extra_params => [ '-U', 'auditor' ]);
	is(scalar(split /\n/, $out), $n_rows, "COPY $table as auditor: every row sent");
	my @c = map { rows_read_by($_, 'auditor', $table) } @all;
	diag(sprintf('COPY %s TO STDOUT as auditor: counted for %s: %s', $table, $table,
		join(' | ', map { $all[$_]->name . ' ' . $c[$_] } 0 .. $#all)));
	is($c[0] + $c[1] + $c[2], $n_rows, "COPY $table: each row counted once, on all nodes together");
}

# Tables only named like shards do not count for customers: one of a
# shard's name in another schema, one of a shard's id but another name.
my ($shard_id) = $shard =~ /_(\d+)$/;
# (local DDL on a worker: Citus would propagate it from the coordinator only)
$node{worker1}->safe_psql('postgres', qq{
	SET citus.enable_ddl_propagation = off;
	CREATE SCHEMA other;
	GRANT USAGE ON SCHEMA other TO terry;
	CREATE TABLE other.$shard AS SELECT g AS id FROM generate_series(1, 2000) g;
	CREATE TABLE public.orders_$shard_id AS SELECT g AS id FROM generate_series(1, 2000) g;
	GRANT SELECT ON other.$shard, public.orders_$shard_id TO terry;
});
for my $t ("other.$shard", "public.orders_$shard_id")
{
	($err, $c) = as_terry("look-alike $t", $node{worker1},
		"SELECT count(*) FROM $t");
	is($err, '', "$t: not blocked");
	is($c->{worker1}{table}, 0, "$t: nothing counted for customers");
	is($c->{worker1}{total}, 2000, "$t: its rows counted");
}

# A table named like a shard whose metadata arrives later, without an
# invalidation of its own: a session that read it before counts it for
# its table after.  (Written into pg_dist_shard by hand, as Citus' own
# metadata sync would.)
$node{worker1}->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	CREATE TABLE public.late (id int);
	CREATE TABLE public.late_9000001 AS SELECT g AS id FROM generate_series(1, 3000) g;
	GRANT SELECT ON public.late, public.late_9000001 TO terry;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'late');
});
my $session = $node{worker1}->background_psql('postgres',
	on_error_stop => 0, extra_params => [ '-U', 'terry' ]);
$session->query('SELECT count(*) FROM late_9000001');
is($session->{stderr}, '', 'a table named like a shard, not one: not blocked');
$node{worker1}->safe_psql('postgres', q{
	INSERT INTO pg_dist_shard (logicalrelid, shardid, shardstorage)
		VALUES ('public.late'::regclass, 9000001, 't');
	SELECT insider_guard.reset('terry');
});
$session->{stderr} = '';
$session->query('SELECT count(*) FROM late_9000001');
like($session->{stderr}, qr/may not read more rows from table "?public\.late"?/,
	'once listed as a shard of late, the same session counts it for late');
$session->quit;
$node{worker1}->safe_psql('postgres', q{
	DELETE FROM pg_dist_shard WHERE shardid = 9000001;
});

# what the workers were asked, as whom, from which application: one line
# of each form
for my $w (@workers)
{
	my (%seen, @forms);
	for my $line (split /\n/, slurp_file($w->logfile))
	{
		next unless $line =~ /user=terry app=(.*?) LOG:\s+(?:statement|execute [^:]*): (.*)/;
		(my $form = "[$1] $2") =~ s/\d+/N/g;
		push @forms, $form unless $seen{$form}++;
	}
	diag($w->name . " ran as terry:\n  " . join("\n  ", @forms));
}

done_testing();
