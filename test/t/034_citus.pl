# A real Citus cluster: a coordinator and two workers on this machine,
# each preloading citus and insider_guard (Citus first), a 100,000-row
# table customers distributed in 32 shards, and a role terry with a
# 1,000-row-per-hour block threshold on customers (issue 14).
#
# What this file holds insider_guard to, for now: a read of a shard, on
# any node, counts for its distributed table, so a rule named on
# customers stops SELECT *, count(*), COPY TO, a pushed-down INSERT ...
# SELECT and a direct read of a shard on a worker, and leaves a router
# query by id alone.  The rules are set on the coordinator only: they
# reach the workers (by name, with the coordinator's ids), where nobody
# but the coordinator can change them; a worker that was down or is added
# later gets them from sync_rules(), or from the background check
# (insider_guard.citus_sync_interval) within its interval.  Each node keeps its own budget
# (the cluster-wide budget is still to come).
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
use CitusCluster;

citus_skip_unless_available();

my $limit = 1000;
my $rows = 100000;

# what each worker is asked, by whom, from which application; no
# background check of the workers' rules until the last steps, which
# turn it on: the steps before show a worker behind
my @log_conf = ("log_statement = 'all'", "log_line_prefix = '%m [%p] user=%u app=%a '",
	'insider_guard.citus_sync_interval = 0');
my @conf = (citus_conf(), @log_conf);    # for a node added later
my %node = citus_nodes({}, @log_conf);
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);

# a Citus node with no worker yet changes its rules as any server does
is( $coord->safe_psql('postgres', q{
		SELECT insider_guard.drop_threshold(
			insider_guard.set_threshold(NULL, 1000000, '1 day', 'log'))}),
	't', 'a Citus node without workers sets and drops a rule');

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

# The rules of a node, as names and the coordinator's ids: what must be
# the same on every node.  (Not those on late and notes, tables only
# some nodes have: a node without one skips its rule, as shown below.)
sub rules_of
{
	my ($n) = @_;
	return $n->safe_psql('postgres', q{
		SELECT coalesce(string_agg(format('%s %s %s %s %s %s %s', threshold_id,
		           coalesce(role_name::text, 'all'), coalesce(table_name::text, 'all'),
		           max_rows, per, action, extract(epoch FROM created_at)),
		         '; ' ORDER BY threshold_id), 'none')
		FROM insider_guard.thresholds
		WHERE coalesce(table_name::text, '') NOT IN ('late', 'notes')
		UNION ALL
		SELECT coalesce(string_agg(role_name::text, ' ' ORDER BY role_name::text), 'none')
		FROM insider_guard.exemptions
		UNION ALL
		SELECT coalesce(string_agg(format('%s %s %s %s %s', rule_id, role_name,
		           coalesce(table_name::text, 'all'), factor, compare_to),
		         '; ' ORDER BY rule_id), 'none')
		FROM insider_guard.baseline_rules
		UNION ALL
		SELECT coalesce(string_agg(group_role::text, ' ' ORDER BY group_role::text), 'none')
		FROM insider_guard.peer_group_roles});
}

# the rules, set on the coordinator only (an exemption, a peer group and
# a baseline rule too, to show every rules table travels)
$coord->safe_psql('postgres', qq{
	CREATE ROLE support NOLOGIN;
	CREATE ROLE nightly_etl NOLOGIN;
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'countries');
	SELECT insider_guard.exempt('nightly_etl');
	SELECT insider_guard.add_peer_group('support');
	SELECT insider_guard.set_baseline_rule('support', 5, '1 hour', 100000, 'self', 'log', 'customers');
});
my $coord_rules = rules_of($coord);
like($coord_rules, qr/terry customers 1000 01:00:00 block/,
	'the coordinator has the rule on customers');
for my $w (@workers)
{
	is(rules_of($w), $coord_rules,
		$w->name . ': the coordinator\'s rules, by name, with its ids and times');
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
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'events');
});
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

# Tables only named like shards count for customers too: one of a
# shard's name in another schema, one of customers' schema that borrows a
# shard id.  Their reads count more, never less: shards are matched on
# their id alone, since the owner of a table can change its shell's name
# and schema on a worker alone (shown further down).
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
	($err, $c) = as_terry("borrowed id $t", $node{worker1}, "SELECT count(*) FROM $t");
	like($err, qr/may not read more rows from table "?public\.customers"?/,
		"$t: a shard id of customers counts for customers");
}

# A table named like a shard whose metadata arrives later, without an
# invalidation of its own: a session that read it before counts it for
# its table after.  (Written into pg_dist_shard by hand, as Citus' own
# metadata sync would.)
# The rule on late is set on the coordinator, where late is a local
# table: worker1 has a table of that name, worker2 none -- so worker2
# skips that rule (a WARNING there, counted by the push and by
# sync_rules()) and takes the others.
$node{worker1}->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	CREATE TABLE public.late (id int);
	CREATE TABLE public.late_9000001 AS SELECT g AS id FROM generate_series(1, 3000) g;
	GRANT SELECT ON public.late, public.late_9000001 TO terry;
});
{
	my ($out, $err);
	$coord->psql('postgres', q{
		SET citus.enable_ddl_propagation = off;
		CREATE TABLE public.late (id int);
		SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'late');
	}, stdout => \$out, stderr => \$err, on_error_die => 1);
	like($err, qr/WARNING:  insider_guard: 1 rules were not applied on Citus worker [^\n]*:${\ $node{worker2}->port}/,
		'a rule naming a table worker2 lacks: the coordinator warns, naming worker2');
	unlike($err, qr/worker [^\n]*:${\ $node{worker1}->port}/, '... and not worker1');
	like($node{worker1}->safe_psql('postgres', 'SELECT string_agg(table_name::text, \' \') FROM insider_guard.thresholds'),
		qr/\blate\b/, 'worker1 has the rule on late');
	unlike($node{worker2}->safe_psql('postgres', 'SELECT string_agg(table_name::text, \' \') FROM insider_guard.thresholds'),
		qr/\blate\b/, 'worker2 skipped it');
	like(slurp_file($node{worker2}->logfile),
		qr/WARNING:  insider_guard: threshold \d+ \(role terry, table public\.late\) of the coordinator's rules is not applied here/,
		'worker2 says which rule it skipped');
	is($coord->safe_psql('postgres', q{
			SELECT string_agg(format('%s %s %s', node_port, success, skipped), ', ' ORDER BY node_port)
			FROM insider_guard.sync_rules()}),
		join(', ', map { sprintf('%d t %d', $_->port, $_ == $node{worker2} ? 1 : 0) }
			sort { $a->port <=> $b->port } @workers),
		'sync_rules(): both workers took the set; worker2 skipped one rule');
}
# a table renamed on the coordinator only while a push goes out (an
# owner hiding it from the workers' rules): worker1 cannot name it, and
# keeps its rule on late rather than deleting it
$coord->psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	ALTER TABLE public.late RENAME TO late_renamed;
}, on_error_die => 1);
$coord->psql('postgres', 'SELECT * FROM insider_guard.sync_rules()', on_error_die => 1);
$coord->psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	ALTER TABLE public.late_renamed RENAME TO late;
}, on_error_die => 1);
like($node{worker1}->safe_psql('postgres', 'SELECT string_agg(table_name::text, \' \') FROM insider_guard.thresholds'),
	qr/\blate\b/, 'worker1 keeps its rule on late through a push that could not name the table');
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

# Nobody changes the rules on a worker: not a superuser there (the
# coordinator's rules come back with the next push anyway), nor a rules
# administrator with every grant, nor an ordinary role.
$coord->safe_psql('postgres', q{
	CREATE ROLE ruleadmin LOGIN;
});
$_->safe_psql('postgres', q{
	GRANT EXECUTE ON FUNCTION insider_guard.drop_threshold(bigint),
		insider_guard.set_threshold(regrole, bigint, interval, text, regclass),
		insider_guard._apply_rules(jsonb) TO ruleadmin;
	GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON insider_guard.thresholds TO ruleadmin;
}) for @workers;
my $rules_before = rules_of($node{worker1});
my ($customers_rule) = $coord->safe_psql('postgres', q{
	SELECT threshold_id FROM insider_guard.thresholds WHERE table_name = 'customers'::regclass});
my $empty_set = q{'{"thresholds": [], "baseline_rules": [], "exemptions": [], "peer_group_roles": []}'};
for my $try (
	[ 'superuser', 'drop_threshold', "SELECT insider_guard.drop_threshold($customers_rule)",
		qr/ERROR:  insider_guard: rules cannot be changed on a Citus worker.*HINT:  Set rules on the coordinator/s ],
	[ 'superuser', 'DELETE', 'DELETE FROM insider_guard.thresholds',
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'superuser', 'TRUNCATE', 'TRUNCATE insider_guard.thresholds',
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'superuser', 'set_threshold', "SELECT insider_guard.set_threshold('terry', 1000000, '1 hour', 'block', 'customers')",
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'ruleadmin', 'drop_threshold', "SELECT insider_guard.drop_threshold($customers_rule)",
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'ruleadmin', 'UPDATE', 'UPDATE insider_guard.thresholds SET max_rows = 1000000',
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'ruleadmin', 'DELETE', 'DELETE FROM insider_guard.thresholds',
		qr/rules cannot be changed on a Citus worker/ ],
	[ 'ruleadmin', '_apply_rules', "SELECT insider_guard._apply_rules($empty_set)",
		qr/only a superuser may apply a rule set/ ],
	[ 'terry', '_apply_rules', "SELECT insider_guard._apply_rules($empty_set)",
		qr/permission denied for function _apply_rules/ ],
	[ 'terry', 'drop_threshold', "SELECT insider_guard.drop_threshold($customers_rule)",
		qr/permission denied for function drop_threshold/ ],
	[ 'terry', 'DELETE', 'DELETE FROM insider_guard.thresholds',
		qr/permission denied for table thresholds/ ])
{
	my ($who, $what, $sql, $expect) = @$try;
	my ($out, $err) = ('', '');
	my $ret = $node{worker1}->psql('postgres', $sql,
		extra_params => $who eq 'superuser' ? [] : [ '-U', $who ],
		stdout => \$out, stderr => \$err);
	isnt($ret, 0, "worker1: $what as $who fails");
	like($err, $expect, "worker1: $what as $who: refused, saying why");
}
is(rules_of($node{worker1}), $rules_before, 'worker1: its rules are unchanged');
is(rules_of($node{worker1}), rules_of($coord), 'worker1: still the coordinator\'s rules');

# a superuser may apply a set by hand (it is what the coordinator does);
# the next push puts the coordinator's back
$node{worker2}->safe_psql('postgres', "SELECT insider_guard._apply_rules($empty_set)");
is($node{worker2}->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.thresholds'), 0,
	'worker2: a superuser\'s _apply_rules replaced its rules');
$coord->safe_psql('postgres', 'SELECT * FROM insider_guard.sync_rules()');
isnt($node{worker2}->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.thresholds'), 0,
	'worker2: sync_rules() put the coordinator\'s back');

# a drop on the coordinator reaches the workers
my ($countries_rule) = $coord->safe_psql('postgres', q{
	SELECT threshold_id FROM insider_guard.thresholds WHERE table_name = 'countries'::regclass});
$coord->safe_psql('postgres', "SELECT insider_guard.drop_threshold($countries_rule)");
for my $w (@workers)
{
	is($w->safe_psql('postgres',
			"SELECT count(*) FROM insider_guard.thresholds WHERE threshold_id = $countries_rule"),
		0, $w->name . ': the rule dropped on the coordinator is gone');
}
($err, $c) = as_terry('reference table, its rule dropped', $coord,
	'SELECT count(*) FROM countries');
is($err, '', 'reference table: no longer blocked once its rule is dropped');

# a change rolled back on the coordinator reaches nobody
$coord->safe_psql('postgres', q{
	BEGIN;
	SELECT insider_guard.set_threshold('terry', 5, '1 hour', 'block');
	ROLLBACK;
});
is($node{worker1}->safe_psql('postgres',
		q{SELECT count(*) FROM insider_guard.thresholds WHERE max_rows = 5}),
	0, 'a rule rolled back on the coordinator does not reach the workers');

# direct DML on the coordinator travels like the functions
$coord->safe_psql('postgres', q{
	UPDATE insider_guard.thresholds SET max_rows = 1500
	WHERE table_name = 'customers'::regclass;
});
for my $w (@workers)
{
	is($w->safe_psql('postgres',
			q{SELECT max_rows FROM insider_guard.thresholds WHERE table_name = 'customers'::regclass}),
		1500, $w->name . ': an UPDATE of the rules table on the coordinator reached it');
}
$coord->safe_psql('postgres', qq{
	UPDATE insider_guard.thresholds SET max_rows = $limit
	WHERE table_name = 'customers'::regclass;
});

# The owner of a distributed table, not a rules administrator, tries to
# shed terry's rule on it (an attacker's findings 1 and 3).
$coord->safe_psql('postgres', q{
	CREATE ROLE tabowner LOGIN;
	GRANT CREATE ON DATABASE postgres TO tabowner;
	CREATE SCHEMA vault AUTHORIZATION tabowner;
	GRANT USAGE ON SCHEMA vault TO terry;
	SET citus.shard_count = 4;
	CREATE TABLE vault.secrets (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('vault.secrets', 'id', colocate_with => 'none');
	INSERT INTO vault.secrets SELECT g, 'secret ' || g FROM generate_series(1, 6000) g;
	ALTER TABLE vault.secrets OWNER TO tabowner;
	GRANT SELECT ON vault.secrets TO terry;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'vault.secrets');
});
sub secrets_rules
{
	my ($n) = @_;
	return $n->safe_psql('postgres', q{
		SELECT count(*) FROM insider_guard.thresholds
		WHERE table_name = to_regclass('vault.secrets')});
}
is(secrets_rules($_), 1, $_->name . ': the rule on vault.secrets') for @all;
my ($secrets_shard) = $coord->safe_psql('postgres', sprintf(q{
	SELECT 'vault.secrets_' || s.shardid FROM pg_dist_shard s
	JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'vault.secrets'::regclass AND n.nodeport = %d
	ORDER BY s.shardid LIMIT 1}, $node{worker1}->port));

# 1. It renames the table's shell on the workers only: the shards keep
# the names Citus gave them, which no longer start with the shell's.
sub as_owner_on_workers
{
	my ($sql) = @_;
	return $coord->safe_psql('postgres', qq{
		SELECT string_agg(success::text, ' ' ORDER BY nodeport)
		FROM run_command_on_workers(\$cmd\$SET citus.enable_ddl_propagation = off; $sql\$cmd\$)},
		extra_params => [ '-U', 'tabowner' ]);
}
is(as_owner_on_workers('ALTER TABLE vault.secrets RENAME TO hidden'), 'true true',
	'the owner renamed the shell of vault.secrets on both workers');
is($node{worker1}->safe_psql('postgres', q{SELECT to_regclass('vault.hidden') IS NOT NULL}),
	't', 'worker1: the shell is vault.hidden now');
($err, $c) = as_terry('vault.secrets, its shells renamed', $coord,
	'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?vault\.(secrets|hidden)"?/,
	'shell renamed on the workers: terry\'s read through the coordinator is still blocked');
($err, $c) = as_terry("direct read of $secrets_shard", $node{worker1},
	"SELECT count(*) FROM $secrets_shard");
like($err, qr/may not read more rows from table "?vault\.hidden"?/,
	'shell renamed on the workers: a direct read of a shard on worker1 is still blocked');
is(as_owner_on_workers('ALTER TABLE vault.hidden RENAME TO secrets'), 'true true',
	'the owner renamed the shells back');
# ... or moves the shell to a schema of its own on the workers only
is(as_owner_on_workers('CREATE SCHEMA stash; GRANT USAGE ON SCHEMA stash TO terry; ALTER TABLE vault.secrets SET SCHEMA stash'),
	'true true', 'the owner moved the shell of vault.secrets to stash on both workers');
($err, $c) = as_terry('vault.secrets, its shells moved', $coord,
	'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?stash\.secrets"?/,
	'shell moved on the workers: terry\'s read through the coordinator is still blocked');
is(as_owner_on_workers('ALTER TABLE stash.secrets SET SCHEMA vault'), 'true true',
	'the owner moved the shells back');
# ... or moves a shard itself to another schema: still a shard of it
is(as_owner_on_workers("ALTER TABLE IF EXISTS $secrets_shard SET SCHEMA stash"), 'true true',
	'the owner moved a shard to stash on worker1');
($err, $c) = as_terry("stash shard, direct", $node{worker1},
	'SELECT count(*) FROM stash.' . ($secrets_shard =~ s/^vault\.//r));
like($err, qr/may not read more rows from table "?vault\.secrets"?/,
	'a shard moved to another schema: a direct read on worker1 is still blocked');
is(as_owner_on_workers('ALTER TABLE IF EXISTS stash.' . ($secrets_shard =~ s/^vault\.//r)
		. ' SET SCHEMA vault; DROP SCHEMA stash'), 'true true', 'the owner put the shard back');
# ... or renames a shard so that it loses its id: refused
{
	my ($out, $err) = ('', '');
	$node{worker1}->psql('postgres', qq{
		SET citus.enable_ddl_propagation = off;
		ALTER TABLE $secrets_shard RENAME TO loot;
	}, extra_params => [ '-U', 'tabowner' ], stdout => \$out, stderr => \$err);
	like($err, qr/ERROR:  insider_guard: Citus shard "secrets_\d+" must keep its shard id at the end of its name/,
		'renaming a shard without its id on worker1: refused');
	is($node{worker1}->safe_psql('postgres',
			"SELECT to_regclass('vault.loot') IS NULL AND to_regclass('$secrets_shard') IS NOT NULL"),
		't', '... the shard keeps its name');
	$node{worker1}->psql('postgres', qq{
		SET citus.enable_ddl_propagation = off;
		ALTER TABLE $secrets_shard RENAME TO ${\ ($secrets_shard =~ s/^vault\.(\w+)_(\d+)$/other_name_$2/r) };
		ALTER TABLE vault.${\ ($secrets_shard =~ s/^vault\.(\w+)_(\d+)$/other_name_$2/r) } RENAME TO ${\ ($secrets_shard =~ s/^vault\.//r) };
	}, extra_params => [ '-U', 'tabowner' ], stdout => \$out, stderr => \$err, on_error_die => 1);
}
# Citus' own renames keep the id: renaming the table on the coordinator
# renames its shards, and undistributing a Citus local table works
$coord->safe_psql('postgres', q{
	ALTER TABLE vault.secrets RENAME TO secrets_renamed;
	ALTER TABLE vault.secrets_renamed RENAME TO secrets;
}, extra_params => [ '-U', 'tabowner' ]);
($err, $c) = as_terry('vault.secrets, renamed and back', $coord, 'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?vault\.secrets"?/,
	'a distributed table renamed on the coordinator, and back: its rule still applies');
$coord->safe_psql('postgres', q{
	CREATE TABLE vault.memo (id int PRIMARY KEY);
	SELECT citus_add_local_table_to_metadata('vault.memo');
	INSERT INTO vault.memo SELECT generate_series(1, 2000);
	GRANT SELECT ON vault.memo TO terry;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'vault.memo');
	SELECT undistribute_table('vault.memo');
});
($err, $c) = as_terry('vault.memo, undistributed', $coord, 'SELECT count(*) FROM vault.memo');
like($err, qr/may not read more rows from table "?vault\.memo"?/,
	'a Citus local table undistributed: its rule still applies');
$coord->safe_psql('postgres', 'DROP TABLE vault.memo');

# 3. It rebuilds the table (a new OID, the same name): the rule follows
# the name, on every node, and still stops terry.
$coord->safe_psql('postgres',
	q{SELECT alter_distributed_table('vault.secrets', shard_count => 6)},
	extra_params => [ '-U', 'tabowner' ]);
is(secrets_rules($_), 1, $_->name . ': alter_distributed_table kept the rule on vault.secrets')
  for @all;
($err, $c) = as_terry('vault.secrets, rebuilt', $coord, 'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?vault\.secrets"?/,
	'alter_distributed_table: terry is still blocked');
$coord->safe_psql('postgres', q{SELECT undistribute_table('vault.secrets')},
	extra_params => [ '-U', 'tabowner' ]);
is(secrets_rules($coord), 1, 'undistribute_table kept the rule on vault.secrets');
($err, $c) = as_terry('vault.secrets, undistributed', $coord, 'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?vault\.secrets"?/,
	'undistribute_table: terry is still blocked on the coordinator');
# a table dropped for good takes its rule with it, everywhere
$coord->safe_psql('postgres', 'DROP TABLE vault.secrets', extra_params => [ '-U', 'tabowner' ]);
for my $n (@all)
{
	is($n->safe_psql('postgres', q{
			SELECT count(*) FROM insider_guard.thresholds t
			LEFT JOIN pg_class c ON c.oid = t.table_name
			WHERE t.table_name IS NOT NULL AND c.oid IS NULL}),
		0, $n->name . ': DROP TABLE deleted the rule on vault.secrets');
}

# A table dropped and made again in one transaction on the coordinator
# (what Citus' rebuilds do): its rules go to the new one, but for those
# the new one already has a rule of the same role and window for.
$coord->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	CREATE TABLE public.swap (id int);
	SELECT insider_guard.set_threshold('terry', 100, '1 hour', 'block', 'swap');
	SELECT insider_guard.set_threshold('terry', 200, '1 day', 'block', 'swap');
	BEGIN;
	DROP TABLE public.swap;
	CREATE TABLE public.swap (id int);
	SELECT insider_guard.set_threshold('terry', 300, '1 hour', 'block', 'swap');
	COMMIT;
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s', max_rows, per), ', ' ORDER BY max_rows)
	FROM insider_guard.thresholds WHERE table_name = 'public.swap'::regclass;
}), "200 1 day, 300 01:00:00",
	'dropped and made again: its rule of another window follows, the new one of the same window stays');
$coord->safe_psql('postgres', 'DROP TABLE public.swap');

# 4. A rule change in a prepared transaction would reach the workers at
# PREPARE and stay there after ROLLBACK PREPARED: it is refused.
{
	my ($out, $err) = ('', '');
	my $ret = $coord->psql('postgres', qq{
		BEGIN;
		SELECT insider_guard.drop_threshold($customers_rule);
		PREPARE TRANSACTION 'ig_rules';
	}, stdout => \$out, stderr => \$err);
	like($err, qr/ERROR:  insider_guard: cannot PREPARE a transaction that changed the rules on a Citus coordinator/,
		'PREPARE TRANSACTION of a rule change on the coordinator: refused');
	$coord->psql('postgres', q{ROLLBACK PREPARED 'ig_rules'});
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), 0,
		'... nothing is left prepared');
	is(rules_of($_), rules_of($coord), $_->name . ': still the coordinator\'s rules')
	  for @workers;
}

# A commit that fails after the push (here Citus' commit of a write on a
# worker, refused there by a deferred trigger): the workers had the
# change; a background worker sends them the committed rules again.
$coord->safe_psql('postgres', q{
	SET citus.shard_count = 1;
	CREATE TABLE refused_at_commit (id int);
	SELECT create_distributed_table('refused_at_commit', 'id', colocate_with => 'none');
});
my ($refused_shard, $refused_port) = split /\|/, $coord->safe_psql('postgres', q{
	SELECT shard_name, nodeport FROM citus_shards
	WHERE table_name = 'refused_at_commit'::regclass});
my ($refusing) = grep { $_->port == $refused_port } @workers;
$refusing->safe_psql('postgres', qq{
	SET citus.enable_ddl_propagation = off;
	CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql
		AS \$\$BEGIN RAISE EXCEPTION 'refused at commit'; END\$\$;
	CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON public.$refused_shard
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse();
});
{
	my ($out, $err) = ('', '');
	$coord->psql('postgres', q{
		BEGIN;
		SELECT insider_guard.set_threshold('terry', 3, '1 hour', 'block');
		INSERT INTO refused_at_commit VALUES (1);
		COMMIT;
	}, stdout => \$out, stderr => \$err);
	like($err, qr/refused at commit.*could not commit transaction/s, 'a commit failing after the push: it fails');
	is($coord->safe_psql('postgres',
			'SELECT count(*) FROM insider_guard.thresholds WHERE max_rows = 3'),
		0, '... the coordinator has no such rule');
	for my $w (@workers)
	{
		ok($w->poll_query_until('postgres',
				'SELECT count(*) = 0 FROM insider_guard.thresholds WHERE max_rows = 3'),
			$w->name . ': the rule of the failed commit is taken back');
		is(rules_of($w), rules_of($coord), $w->name . ': the coordinator\'s rules');
	}
}
$coord->safe_psql('postgres', 'DROP TABLE refused_at_commit');

# A worker that is down keeps its rules: the change commits on the
# coordinator with a WARNING; sync_rules() brings the worker in line.
$node{worker2}->stop;
{
	my ($out, $err);
	$coord->psql('postgres', q{
		SELECT insider_guard.set_threshold('terry', 4000, '1 day', 'block', 'customers');
	}, stdout => \$out, stderr => \$err, on_error_die => 1);
	like($err, qr/WARNING:  insider_guard: the rules were not sent to Citus worker [^\n]*:${\ $node{worker2}->port}.*HINT:  .*sync_rules/s,
		'a worker down: the change commits, with a WARNING naming it');
}
$node{worker2}->start;
my $coord_now = rules_of($coord);
isnt(rules_of($node{worker2}), $coord_now, 'worker2, back: its rules are behind');
is(rules_of($node{worker1}), $coord_now, 'worker1 has the change');
$coord->safe_psql('postgres', 'SELECT * FROM insider_guard.sync_rules()');
is(rules_of($node{worker2}), $coord_now, 'worker2, after sync_rules(): the coordinator\'s rules');

# A worker added after the rules gets them from sync_rules().
my $worker3 = PostgreSQL::Test::Cluster->new('worker3');
$worker3->init;
$worker3->append_conf('postgresql.conf', join("\n", @conf) . "\n");
$worker3->start;
$worker3->safe_psql('postgres', 'CREATE EXTENSION citus; CREATE EXTENSION insider_guard;');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)},
	$worker3->host, $worker3->port));
is($worker3->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.thresholds'), 0,
	'worker3, just added: no rules yet');
is($coord->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s', node_port, success), ', ' ORDER BY node_port)
		FROM insider_guard.sync_rules()}),
	join(', ', map { $_->port . ' t' } sort { $a->port <=> $b->port } (@workers, $worker3)),
	'sync_rules(): three workers took the set');
is(rules_of($worker3), $coord_now, 'worker3: the coordinator\'s rules, by name');
my ($w3_out, $w3_err) = ('', '');
$worker3->psql('postgres', "SELECT insider_guard.drop_threshold($customers_rule)",
	stdout => \$w3_out, stderr => \$w3_err);
like($w3_err, qr/rules cannot be changed on a Citus worker/, 'worker3: tamper-proof too');
# a shard of customers moved to worker3 is stopped there by the rule it got
# (reference tables first: Citus copies them from the coordinator, which
# it reaches as citus.local_hostname)
$coord->safe_psql('postgres', sprintf(q{ALTER SYSTEM SET citus.local_hostname = '%s'}, $coord->host));
$coord->reload;
$coord->safe_psql('postgres', sprintf(q{
	SELECT replicate_reference_tables('block_writes');
	SELECT citus_move_shard_placement(%d, '%s', %d, '%s', %d, shard_transfer_mode => 'block_writes');},
	($shard =~ /_(\d+)$/)[0], $node{worker1}->host, $node{worker1}->port,
	$worker3->host, $worker3->port));
($err, $c) = as_terry('direct shard read on worker3', $worker3, "SELECT count(*) FROM $shard");
like($err, qr/may not read more rows from table "?public\.customers"?/,
	'worker3: a direct read of a shard moved there is stopped by the rule it got');

# The background check (insider_guard.citus_sync_interval, 1 second here):
# it brings a worker whose rules were replaced, one that was down during
# a change and one added later in line without sync_rules(), and sends
# nothing while nothing changes -- not even to worker2, which never holds
# the rule on late (a table it lacks).
my $sent_re = qr/LOG:  insider_guard: sent the rules to the Citus workers; new or behind: ([^\n]*)/;
sub sent_lines
{
	my ($from) = @_;
	return [ substr(slurp_file($coord->logfile), $from) =~ /$sent_re/g ];
}
# waits for a condition, up to the tests' timeout
sub poll_until
{
	my ($cond) = @_;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		return 1 if $cond->();
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
# the digest queries a worker was asked (log_statement = all)
sub checks_seen
{
	my ($w) = @_;
	my @checks = slurp_file($w->logfile) =~ /statement: SELECT pg_catalog\.md5\(\(SELECT/g;
	return scalar @checks;
}
my $log_from = -s $coord->logfile;
$coord->append_conf('postgresql.conf', 'insider_guard.citus_sync_interval = 1');
$coord->reload;
$coord->wait_for_log($sent_re, $log_from);
like(join(' ', @{ sent_lines($log_from) }), qr/:$_\b/,
	"background check on: its first round sends the rules to every worker (port $_), none sent yet")
  for map { $_->port } (@workers, $worker3);

$node{worker2}->safe_psql('postgres', "SELECT insider_guard._apply_rules($empty_set)");
ok($node{worker2}->poll_query_until('postgres',
		'SELECT count(*) > 0 FROM insider_guard.thresholds'),
	'worker2, its rules replaced by hand: the background check puts them back');
$coord_now = rules_of($coord);
is(rules_of($node{worker2}), $coord_now, 'worker2: the coordinator\'s rules again');

$node{worker2}->stop;
$coord->psql('postgres', q{
	SELECT insider_guard.set_threshold('terry', 5000, '1 day', 'block', 'customers');
}, on_error_die => 1);
$coord_now = rules_of($coord);
$log_from = -s $coord->logfile;
$node{worker2}->start;
my $rules_sql = q{
	SELECT count(*) FROM insider_guard.thresholds WHERE max_rows = 5000};
ok($node{worker2}->poll_query_until('postgres', $rules_sql, '1'),
	'worker2, down during a change: the background check sends it once it is back');
is(rules_of($node{worker2}), $coord_now, 'worker2: the coordinator\'s rules');
# the round that sent them has ended once a later round asks worker2 (a
# round asks each worker twice when it sends: before and after); whether
# that round named worker2 as behind depends on whether worker2 answered
# its first question, so no line is waited for
{
	my $asked = checks_seen($node{worker2});
	ok(poll_until(sub { checks_seen($node{worker2}) >= $asked + 3 }),
		'the background check goes on asking worker2');
}

# nothing changes: three more rounds ask worker2, none sends
$log_from = -s $coord->logfile;
my $applied_before = () = slurp_file($node{worker2}->logfile) =~ /_apply_rules/g;
my $w2_log_from = -s $node{worker2}->logfile;
my $checks_before = checks_seen($node{worker2});
ok(poll_until(sub { checks_seen($node{worker2}) >= $checks_before + 3 }),
	'the background check keeps asking worker2 for its rules');
is_deeply(sent_lines($log_from), [], '... and, nothing having changed, sends no worker anything');
my $applied_after = () = slurp_file($node{worker2}->logfile) =~ /_apply_rules/g;
is($applied_after, $applied_before, '... not even worker2, which skips a rule of the set');
# the check's connections are its session's (the bootstrap superuser's):
# worker2 finds whose, and logs nothing about them
unlike(substr(slurp_file($node{worker2}->logfile), $w2_log_from),
	qr/no session of Citus gpid/, '... nor does a round leave a line in worker2\'s log');

# a worker added after the rules: the check sends them, no sync_rules()
my $worker4 = PostgreSQL::Test::Cluster->new('worker4');
$worker4->init;
$worker4->append_conf('postgresql.conf', join("\n", @conf) . "\n");
$worker4->start;
$worker4->safe_psql('postgres', 'CREATE EXTENSION citus; CREATE EXTENSION insider_guard;');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)},
	$worker4->host, $worker4->port));
ok($worker4->poll_query_until('postgres', $rules_sql, '1'),
	'worker4, added after the rules: the background check sends them');
is(rules_of($worker4), $coord_now, 'worker4: the coordinator\'s rules, by name');
$worker4->stop;
$worker3->stop;

# A rule change, or a drop of a table with rules, then the extension
# dropped, in one transaction on a Citus node: the commit has nothing to
# send, and succeeds.
$coord->safe_psql('postgres', 'CREATE DATABASE scratch');
$coord->safe_psql('scratch', q{
	CREATE EXTENSION citus;
	CREATE EXTENSION insider_guard;
	CREATE TABLE t (id int);
	SELECT insider_guard.set_threshold('terry', 10, '1 hour', 'block', 't');
});
is($coord->psql('scratch', q{
	BEGIN;
	DROP TABLE t;
	SELECT insider_guard.set_threshold('terry', 20, '1 hour', 'block');
	DROP EXTENSION insider_guard;
	COMMIT;
}), 0, 'a rule change and the extension dropped in one transaction: it commits');

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
