# Whose reads a Citus worker counts (issue 14, "Attribution"), on a real
# cluster: a coordinator and two workers on this machine.
#
# Citus connects to the workers as the role the coordinator session acts
# as, so SET ROLE or a SECURITY DEFINER function on the coordinator would
# move a role's reads to another role on the workers, past its rules.
# insider_guard on a worker asks the coordinator whose session a Citus
# connection works for (its application_name names the session's gpid),
# and counts for that session's session user; the coordinator answers
# only when the session acts as the role the connection is logged in as,
# so a client that connects to a worker itself and names another
# session's gpid counts for itself.  When the coordinator cannot be asked,
# the worker refuses the statement (fails closed).  A worker's violation
# records show the client's application and query; cluster_violations()
# on the coordinator lists every node's records, with the node.
#
# And one block limit for the cluster (insider_guard.citus_budget =
# lease, the default): the workers lease terry's rows from the
# coordinator, so count(*), SELECT *, COPY, a pushed-down INSERT ...
# SELECT, a repartition join, reads on the workers themselves and a query
# planned on a worker all stop near 1,000 rows summed over the nodes; a
# tenant's router queries on one worker get the whole limit.
#
# Needs Citus installed into the PostgreSQL under test (test.sh does it on
# 15); skipped without it, or with IG_CITUS=0.
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
my $rows = 20000;

my %node = citus_nodes({}, "log_line_prefix = '%m [%p] user=%u app=%a '");
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);
citus_join($coord, @workers);

# terry may act as analyst, whom no rule covers; definer owns a SECURITY
# DEFINER function that counts customers; boss is exempt.  Citus needs
# LOGIN for every role it connects as.
$coord->safe_psql('postgres', qq{
	CREATE ROLE terry LOGIN;
	CREATE ROLE analyst LOGIN;
	GRANT analyst TO terry;
	CREATE ROLE definer LOGIN;
	CREATE ROLE boss LOGIN;
	SET citus.shard_count = 8;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers', 'id');
	INSERT INTO customers
		SELECT g, 'user' || g || '\@example.com' FROM generate_series(1, $rows) g;
	GRANT SELECT ON customers TO analyst, definer, boss;
	CREATE TABLE customers_copy (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers_copy', 'id', colocate_with => 'customers');
	GRANT SELECT, INSERT ON customers_copy TO terry;
	CREATE TABLE orders (order_id int PRIMARY KEY, email text);
	SELECT create_distributed_table('orders', 'order_id');
	INSERT INTO orders SELECT g, 'user' || (g * 7 % $rows) || '\@example.com' FROM generate_series(1, 2000) g;
	GRANT SELECT ON orders TO terry;
	CREATE FUNCTION count_customers() RETURNS bigint
		LANGUAGE sql SECURITY DEFINER
		AS 'SELECT count(*) FROM public.customers';
	ALTER FUNCTION count_customers() OWNER TO definer;
	GRANT EXECUTE ON FUNCTION count_customers() TO terry;
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'block', 'customers');
	SELECT insider_guard.exempt('boss');
});
# the rule reached the workers
for my $w (@workers)
{
	is( $w->safe_psql('postgres',
			q{SELECT count(*) FROM insider_guard.thresholds WHERE role_name = 'terry'::regrole}),
		1, $w->name . ': terry\'s rule is there');
}

# rows counted for a role on customers, summed over the workers
sub worker_rows
{
	my ($role) = @_;
	my $sum = 0;
	$sum += $_->safe_psql('postgres',
		"SELECT insider_guard.rows_read('$role', '1 hour', 'customers')")
	  for @workers;
	return $sum;
}

# Waits until the connections Citus and insider_guard made for the last
# client are gone: the shard queries Citus cancelled after a stop settle
# their last rows (and give their leases back) as they end, after the
# client has its error.
sub wait_idle
{
	for my $w (@workers)
	{
		$w->poll_query_until('postgres', q{
			SELECT count(*) = 0 FROM pg_stat_activity
			WHERE (application_name LIKE 'citus_internal gpid=%'
			       OR application_name LIKE 'citus_run_command gpid=%')
			  AND usename IN ('terry', 'analyst', 'definer', 'boss')})
		  or die 'the workers kept their Citus connections';
	}
	$coord->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity
		WHERE application_name = 'insider_guard citus_session'})
	  or die 'the coordinator kept its lease connections';
}

sub reset_all
{
	for my $n (@all)
	{
		$n->safe_psql('postgres',
			"SELECT insider_guard.reset(r::regrole) FROM unnest(ARRAY['terry', 'analyst', 'definer', 'boss']) r");
	}
}

# Runs $sql as $user on $on with application name $app; returns stderr.
sub run_as
{
	my ($on, $user, $app, $sql, $nowait) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = $app;
	$on->psql('postgres', $sql,
		extra_params => [ '-U', $user ],
		stdout => \$out, stderr => \$err);
	wait_idle() unless $nowait;
	return $err;
}

my $blocked = qr/insider_guard: role "?terry"? may not read more rows from table "?public\.customers"?/;

# Sections 1 to 6 are about whose reads the workers count, and their own
# records: each node applies the whole limit (citus_budget = node), so the
# workers stop the statements; section 7 takes the default, lease.
sub set_budget
{
	my ($budget) = @_;
	for my $w (@workers)
	{
		$w->safe_psql('postgres',
			"ALTER SYSTEM SET insider_guard.citus_budget = '$budget'; SELECT pg_reload_conf()");
		$w->poll_query_until('postgres',
			"SELECT current_setting('insider_guard.citus_budget') = '$budget'")
		  or die $w->name . " did not take citus_budget = $budget";
	}
}
set_budget('node');

# 1. SET ROLE: the workers count terry's reads for terry, whom his rule stops
reset_all();
my $err = run_as($coord, 'terry', 'terry-report',
	'SET ROLE analyst; SELECT count(*) FROM customers /* as analyst */');
like($err, $blocked, 'SET ROLE analyst: terry is stopped by his own rule');
my $terry = worker_rows('terry');
ok($terry > $limit, "SET ROLE analyst: the workers counted $terry rows for terry");
is(worker_rows('analyst'), 0, 'SET ROLE analyst: nothing counted for analyst');

# the worker's record: terry, acting as analyst, the client's application
# and query -- not Citus' shard query and application_name
my $records = join "\n", map {
	$_->safe_psql('postgres', q{
		SELECT role_name || ' ' || current_role_name || ' ' || application_name || ' ' || query
		FROM insider_guard.violations WHERE query LIKE '%as analyst%'})
} @workers;
like($records, qr/^terry analyst terry-report SELECT count\(\*\) FROM customers \/\* as analyst \*\/$/m,
	'a worker\'s record names terry, analyst, the client\'s application and query');
unlike(join("\n", map { $_->safe_psql('postgres',
			q{SELECT string_agg(application_name || ' ' || query, E'\n') FROM insider_guard.violations}) } @workers),
	qr/citus_internal|customers_[0-9]+/,
	'no record shows Citus\' application name or a shard query');

# ... and the coordinator lists them, with the node each is on
my $listed = $coord->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT node_port::text, ',' ORDER BY node_port::text)
	FROM insider_guard.cluster_violations()
	WHERE role_name = 'terry' AND query LIKE '%as analyst%'});
my @ports = grep { $listed =~ /\b$_\b/ } map { $_->port } @workers;
ok(@ports >= 1, "cluster_violations() on the coordinator shows the workers' records (ports $listed)");
is( $coord->safe_psql('postgres', q{
		SELECT count(*) FROM insider_guard.cluster_violations()
		WHERE node_port IS NULL OR node_name IS NULL}),
	0, 'every row of cluster_violations() names its node');

# 2. a SECURITY DEFINER function: the reads run as definer on the workers,
# and count for terry
reset_all();
$err = run_as($coord, 'terry', 'psql', 'SELECT count_customers()');
like($err, $blocked, 'SECURITY DEFINER: terry is stopped by his own rule');
# the function's statement stands for definer only while it runs: the
# shard queries Citus started before the stop count for terry; those that
# reach a worker after it (cancelled, their rows never delivered) count
# for definer, whom Citus logged in as
my $for_terry = worker_rows('terry');
ok($for_terry >= $limit,
	"SECURITY DEFINER: the workers counted $for_terry rows for terry, the limit at least");

# 3. without SET ROLE, as before: terry's reads are his
reset_all();
$err = run_as($coord, 'terry', 'psql', 'SELECT * FROM customers WHERE id = 42');
is($err, '', 'a router query is not stopped');
is(worker_rows('terry'), 1, 'a router query counts one row for terry');
$err = run_as($coord, 'terry', 'psql', 'SELECT count(*) FROM customers');
like($err, $blocked, 'count(*) as terry is stopped');

# 4. a client on a worker naming another session's gpid counts for itself.
# boss (exempt) keeps a session open on the coordinator.
reset_all();
my $boss = $coord->background_psql('postgres', extra_params => [ '-U', 'boss' ]);
my $boss_gpid = $boss->query_safe('SELECT citus_backend_gpid()');
like($boss_gpid, qr/^[0-9]+$/, "boss's session has gpid $boss_gpid");
is( $coord->safe_psql('postgres',
		"SELECT session_user_name IS NULL FROM insider_guard._citus_session($boss_gpid)",
		extra_params => [ '-U', 'terry' ]),
	't', '_citus_session tells terry nothing of boss\'s session');
is( $coord->safe_psql('postgres',
		"SELECT session_user_name FROM insider_guard._citus_session($boss_gpid)",
		extra_params => [ '-U', 'boss' ]),
	'boss', '_citus_session answers boss about his session (idle: as its last statement acted)');

# a session running a function another role wrote (SECURITY DEFINER)
# does not stand for that role while it runs something else (a nap)
$coord->safe_psql('postgres', q{
	CREATE FUNCTION nap() RETURNS void LANGUAGE sql SECURITY DEFINER
		AS 'SELECT pg_sleep(3)';
	ALTER FUNCTION nap() OWNER TO terry;
	GRANT EXECUTE ON FUNCTION nap() TO boss;});
my $napping = $coord->background_psql('postgres', extra_params => [ '-U', 'boss' ]);
my $nap_gpid = $napping->query_safe('SELECT citus_backend_gpid()');
$napping->query_until(qr/^$/, "SELECT nap();\n");
$coord->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT nap();' AND state = 'active'})
  or die 'boss does not nap';
is( $coord->safe_psql('postgres',
		"SELECT session_user_name IS NULL FROM insider_guard._citus_session($nap_gpid)",
		extra_params => [ '-U', 'terry' ]),
	't', '_citus_session tells terry nothing of boss running terry\'s function');
like( scalar $coord->psql('postgres',
		"SELECT insider_guard._citus_lease($nap_gpid, 'public', 'customers', 0, 0, 500)",
		extra_params => [ '-U', 'terry' ]) ? 'refused' : 'answered',
	qr/refused/, 'nor leases him rows of boss\'s');
$napping->quit;

# nor after its function's distributed query failed (caught, or not): a
# failed statement stands for nobody
$coord->safe_psql('postgres', q{
	CREATE FUNCTION boom() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
	BEGIN
		PERFORM count(*) FROM public.customers WHERE 1 / (id - id) = 0;
		RETURN 'done';
	EXCEPTION WHEN division_by_zero THEN
		RETURN 'caught';
	END $$;
	ALTER FUNCTION boom() OWNER TO terry;
	GRANT EXECUTE ON FUNCTION boom() TO boss;});
my $boomer = $coord->background_psql('postgres', extra_params => [ '-U', 'boss' ]);
my $boom_gpid = $boomer->query_safe('SELECT citus_backend_gpid()');
is($boomer->query_safe('SELECT boom()'), 'caught', 'boss ran terry\'s function, whose distributed query failed');
is( $coord->safe_psql('postgres',
		"SELECT session_user_name IS NULL FROM insider_guard._citus_session($boom_gpid)",
		extra_params => [ '-U', 'terry' ]),
	't', '_citus_session tells terry nothing of boss after that');
$boomer->quit;
# a session that acts as the caller while it asks: terry, as analyst
# never about the caller's own session: a view or a function another role
# wrote, run by the session, acts as that role there
is( $coord->safe_psql('postgres', q{
		SET ROLE analyst;
		SELECT session_user_name IS NULL
		FROM insider_guard._citus_session(citus_backend_gpid())},
		extra_params => [ '-U', 'terry' ]),
	't', '_citus_session says nothing of the caller\'s own session');
reset_all();
my $shard = $coord->safe_psql('postgres', sprintf(q{
	SELECT shard_name FROM citus_shards
	WHERE table_name = 'customers'::regclass AND nodeport = %d
	ORDER BY shardid LIMIT 1}, $workers[0]->port));
$err = run_as($workers[0], 'terry', "citus_internal gpid=$boss_gpid",
	"SELECT count(*) FROM $shard");
like($err, $blocked, 'terry on a worker, naming boss\'s gpid: still stopped by his rule');
ok(worker_rows('terry') > $limit, 'those reads counted for terry');
is(worker_rows('boss'), 0, 'nothing counted for boss');
$boss->quit;

# 5. a gpid that names no node (Citus' own connections name node 99999999
# while nodes are added) is like a direct connection: counted for the
# login role, whose rule stops it
reset_all();
$err = run_as($workers[0], 'terry', 'citus_internal gpid=999999990000012345',
	"SELECT count(*) FROM $shard");
like($err, $blocked, 'a gpid of no node: counted for terry, stopped by his rule');
ok(worker_rows('terry') > $limit, 'a gpid of no node: the reads count for terry');
# a malformed gpid is not a Citus connection's: counted for the login role
$err = run_as($workers[0], 'terry', 'citus_internal gpid=abc',
	"SELECT count(*) FROM $shard WHERE id < 0");
is($err, '', 'a malformed gpid: the statement runs');

# 7. one budget for the cluster: with citus_budget = lease, the workers
# lease terry's rows from the coordinator, which holds his counter
set_budget('lease');
sub coordinator_rows
{
	return $coord->safe_psql('postgres',
		"SELECT insider_guard.rows_read('terry', '1 hour', 'customers')");
}
for my $case (
	[ 'count(*)', 'SELECT count(*) FROM customers /* lease count */' ],
	[ 'SELECT *', 'SELECT * FROM customers /* lease select */' ],
	[ 'SET ROLE analyst; count(*)', 'SET ROLE analyst; SELECT count(*) FROM customers /* lease role */' ],
	[ 'COPY TO STDOUT', 'COPY customers TO STDOUT /* lease copy */' ],
	[ 'pushed-down INSERT ... SELECT', 'INSERT INTO customers_copy SELECT * FROM customers /* lease insert */' ],
	[ 'repartition join', 'SET citus.enable_repartition_joins = on; SELECT count(*) FROM customers c JOIN orders o ON o.email = c.email /* lease join */' ])
{
	my ($what, $sql) = @$case;
	reset_all();
	$err = run_as($coord, 'terry', 'lease-test', $sql);
	like($err, $blocked, "lease, $what: stopped");
	my $sum = worker_rows('terry');
	# as on one server, each process that reads counts the row that finds
	# its grant used up: at most one a shard (8) past the limit
	ok($sum >= $limit && $sum <= $limit + 8,
		"lease, $what: $sum rows read on the workers together, within the limit and one row a shard");
	# a task Citus starts after the statement failed, and the session
	# ended, reads its first row without a lease: it is counted on its
	# worker only
	my $c = coordinator_rows();
	ok($c <= $sum && $c >= $sum - 8,
		"lease, $what: the coordinator counted $c of them for terry");
}
# every stop is on record once in the cluster, on the coordinator, with
# the client's application and query: a stop by the cluster's budget, or a
# worker's own limit broken (a lone reader, as COPY, meets it on the same
# row), which the worker has the coordinator record
for my $marker ('lease count', 'lease select', 'lease role', 'lease copy',
	'lease insert', 'lease join')
{
	my ($here, $anywhere, $apps) = split /\|/, $coord->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE node_port = (SELECT nodeport FROM pg_dist_node WHERE groupid = 0)),
		       count(*), string_agg(DISTINCT application_name, ',')
		FROM insider_guard.cluster_violations()
		WHERE role_name = 'terry' AND query LIKE '%/* $marker */%'});
	ok($anywhere == 1 && $here == 1 && $apps eq 'lease-test',
		"lease, /* $marker */: one record ($here on the coordinator, $anywhere in all), application $apps");
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM customers_copy'), 0,
	'lease: the stopped INSERT ... SELECT inserted nothing');

# a client connected to the workers themselves: one budget with the rest
reset_all();
my $shard2 = $coord->safe_psql('postgres', sprintf(q{
	SELECT shard_name FROM citus_shards
	WHERE table_name = 'customers'::regclass AND nodeport = %d
	ORDER BY shardid LIMIT 1}, $workers[1]->port));
$err = run_as($coord, 'terry', 'psql', 'SELECT count(*) FROM customers WHERE id <= 600');
is($err, '', 'lease: 600 rows through the coordinator');
$err = run_as($workers[0], 'terry', 'psql', "SELECT count(*) FROM $shard /* direct 1 */");
like($err, $blocked, 'lease: then a shard read on worker1 itself is stopped');
$err = run_as($workers[1], 'terry', 'psql', "SELECT count(*) FROM $shard2 /* direct 2 */");
like($err, $blocked, 'lease: and one on worker2');
my $direct = worker_rows('terry');
ok($direct >= $limit && $direct <= $limit + 3,
	"lease: $direct rows read on the workers in all, within the limit");
is(coordinator_rows(), $direct, 'lease: the coordinator counted them all');
like($coord->safe_psql('postgres', q{
		SELECT string_agg(query, ' | ') FROM insider_guard.violations
		WHERE query LIKE '%direct %'}),
	qr/direct 1/, 'lease: the coordinator recorded the direct read with its query');

# a client on the workers claiming a malformed gpid leases like any other
reset_all();
$err = run_as($coord, 'terry', 'psql', 'SELECT count(*) FROM customers WHERE id <= 600');
is($err, '', 'lease: 600 rows through the coordinator, once more');
$err = run_as($workers[0], 'terry', 'citus_internal gpid=0', "SELECT count(*) FROM $shard");
like($err, $blocked, 'lease: a shard read on worker1 naming gpid=0 is stopped');
$err = run_as($workers[1], 'terry', 'citus_internal gpid=x', "SELECT count(*) FROM $shard2");
like($err, $blocked, 'lease: and one on worker2 naming gpid=x');
$direct = worker_rows('terry');
ok($direct >= $limit && $direct <= $limit + 3,
	"lease: malformed gpids: $direct rows read on the workers in all, within the limit");

# a query planned on a worker (Citus runs distributed queries from any
# node with metadata) leases from the coordinator too
reset_all();
$err = run_as($coord, 'terry', 'psql', 'SELECT count(*) FROM customers WHERE id <= 600');
is($err, '', 'lease: 600 rows through the coordinator, again');
$err = run_as($workers[1], 'terry', 'psql', 'SELECT count(*) FROM customers /* planned on worker2 */');
like($err, $blocked, 'lease: a distributed query planned on worker2 is stopped');
$direct = worker_rows('terry');
ok($direct >= $limit && $direct <= $limit + 8,
	"lease: $direct rows read on the workers in all, within the limit");

# the ids whose shards are on worker $w, the first $n
sub ids_on
{
	my ($w, $n) = @_;
	my $shard_ids = join ',', split /\n/, $coord->safe_psql('postgres', sprintf(q{
		SELECT shardid FROM citus_shards
		WHERE table_name = 'customers'::regclass AND nodeport = %d}, $w->port));
	return split /\n/, $coord->safe_psql('postgres', qq{
		SELECT g FROM generate_series(1, $rows) g
		WHERE get_shard_id_for_distribution_column('customers', g) IN ($shard_ids)
		ORDER BY g LIMIT $n});
}
# router queries of 50 ids each
sub router_queries
{
	my @ids = @_;
	my $sql = '';
	while (my @some = splice(@ids, 0, 50))
	{
		$sql .= 'SELECT email FROM customers WHERE id IN (' . join(',', @some) . ");\n";
	}
	return $sql;
}

# a query planned on worker1 under SET ROLE analyst reads on worker2 over
# a Citus connection logged in as analyst: worker2 counts the reads for
# terry, and leases them for terry too (the coordinator asks worker1 whose
# session it is), not for analyst -- whose lease would be unlimited
reset_all();
$err = run_as($workers[0], 'terry', 'planned-on-worker1',
	"SET ROLE analyst;\n" . router_queries(ids_on($workers[1], 600)));
is($err, '', 'lease: 600 rows of worker2, planned on worker1 as analyst, served');
is(coordinator_rows(), 600, 'lease: the coordinator counted them for terry');
is( $coord->safe_psql('postgres', q{SELECT insider_guard.rows_read('analyst', '1 hour', 'customers')}),
	0, 'lease: and nothing for analyst');
$err = run_as($coord, 'terry', 'psql', router_queries(ids_on($workers[0], 600)));
like($err, $blocked, 'lease: then 600 rows of worker1 through the coordinator: stopped');
$direct = worker_rows('terry');
ok($direct >= $limit && $direct <= $limit + 2,
	"lease: $direct rows read on the workers in all, within the limit");

# run_command_on_shards connects as "citus_run_command gpid=N": a Citus
# connection like the executor's, counted for the session user
reset_all();
$err = run_as($coord, 'terry', 'run-command', q{SET ROLE analyst;
	SELECT result FROM run_command_on_shards('customers',
		$$SELECT count(*) FROM (SELECT * FROM %s LIMIT 100) s$$);});
is($err, '', 'run_command_on_shards as analyst: 800 rows read');
is(worker_rows('terry'), 800, 'run_command_on_shards: the workers counted them for terry');
is(worker_rows('analyst'), 0, 'run_command_on_shards: and nothing for analyst');
is(coordinator_rows(), 800, 'run_command_on_shards: the coordinator counted them for terry');

# the owner of a distributed table renames its shell on the workers only
# (DDL propagation off; allowed: Citus still reads its shards there) and
# puts a decoy table under the old name: a rule set before holds on the
# real shell and leases from the cluster's budget, a rule set after
# reaches the real shell, and the decoy takes none -- rules and leases name
# a Citus table by a shard id of its, not by its name (attacker round 5:
# H4, 2,000 rows for a limit of 1,000; H2, a rule set after never reached
# the workers; H7, a push moved the rule onto the decoy)
$coord->safe_psql('postgres', q{
	CREATE ROLE tabowner LOGIN;
	CREATE SCHEMA vault AUTHORIZATION tabowner;
	GRANT USAGE ON SCHEMA vault TO terry;
	SET citus.shard_count = 4;
	CREATE TABLE vault.ledger (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('vault.ledger', 'id', colocate_with => 'none');
	INSERT INTO vault.ledger SELECT g, 'ledger ' || g FROM generate_series(1, 6000) g;
	CREATE TABLE vault.secrets (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('vault.secrets', 'id', colocate_with => 'none');
	INSERT INTO vault.secrets SELECT g, 'secret ' || g FROM generate_series(1, 6000) g;
	ALTER TABLE vault.ledger OWNER TO tabowner;
	ALTER TABLE vault.secrets OWNER TO tabowner;
	GRANT SELECT ON vault.ledger, vault.secrets TO terry;
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'vault.ledger');
});
is($coord->safe_psql('postgres', q{
		SELECT string_agg(success::text, ' ' ORDER BY nodeport) FROM run_command_on_workers($cmd$
			SET citus.enable_ddl_propagation = off;
			ALTER TABLE vault.ledger RENAME TO ledger_shell;
			ALTER TABLE vault.secrets RENAME TO secrets_shell;
			CREATE TABLE vault.ledger (id int);
			CREATE TABLE vault.secrets (id int)$cmd$)},
		extra_params => [ '-U', 'tabowner' ]),
	'true true', 'the owner renamed the shells on the workers and made decoys');
$coord->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('terry', 1000, '1 hour', 'block', 'vault.secrets');
	SELECT * FROM insider_guard.sync_rules();});
for my $w (@workers)
{
	is($w->safe_psql('postgres', q{
			SELECT string_agg(table_name::text, ' ' ORDER BY table_name::text)
			FROM insider_guard.thresholds WHERE role_name = 'terry'::regrole
			  AND table_name::text LIKE 'vault.%'}),
		'vault.ledger_shell vault.secrets_shell',
		$w->name . ': both rules on the real shells, none on the decoys');
}
reset_all();
my %ledger_ids;
for (split /\n/, $coord->safe_psql('postgres', q{
	SELECT get_shard_id_for_distribution_column('vault.ledger', g) || ' ' || g
	FROM generate_series(1, 6000) g ORDER BY g}))
{
	my ($shard_id, $id) = split / /;
	push @{ $ledger_ids{$shard_id} }, $id;
}
my $ledger_sql = '';
for my $i (0 .. 7)
{
	$ledger_sql .= 'SELECT v FROM vault.ledger WHERE id IN ('
	  . join(',', @{ $ledger_ids{$_} }[ $i * 50 .. $i * 50 + 49 ]) . ");\n"
	  for sort keys %ledger_ids;
}
{
	my ($out, $lerr) = ('', '');
	local $ENV{PGAPPNAME} = 'ledger';
	$coord->psql('postgres', $ledger_sql, extra_params => [ '-U', 'terry' ],
		stdout => \$out, stderr => \$lerr);
	wait_idle();
	my %seen = map { $_ => 1 } grep { /^ledger \d+$/ } split /\n/, $out;
	like($lerr, qr/may not read more rows from table "?vault\.ledger/,
		'renamed shell: router queries of vault.ledger stopped');
	ok(keys %seen <= $limit,
		'renamed shell: terry got ' . scalar(keys %seen) . ' rows of vault.ledger, within the cluster\'s limit');
}
$err = run_as($coord, 'terry', 'psql', 'SELECT count(*) FROM vault.secrets');
like($err, qr/may not read more rows from table "?vault\.secrets/,
	'renamed shell: a rule set after the rename stops count(*) of vault.secrets');

# a log rule is one limit for the cluster too: the workers report the
# reads of a key with log rules only, and leave the crossing to the
# coordinator -- which sees 2,000 rows of orders read where neither worker
# read more than the 1,500 of the rule
$coord->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('terry', 1500, '1 hour', 'log', 'orders');
	SELECT * FROM insider_guard.sync_rules();});
reset_all();
$err = run_as($coord, 'terry', 'log-test', 'SELECT count(*) FROM orders /* log cluster */');
is($err, '', 'log rule: count(*) of orders served');
my @orders_rows = map { $_->safe_psql('postgres',
		"SELECT insider_guard.rows_read('terry', '1 hour', 'orders')") } @workers;
ok($orders_rows[0] < 1500 && $orders_rows[1] < 1500 && $orders_rows[0] + $orders_rows[1] == 2000,
	"log rule: no worker alone read 1,500 rows of orders ($orders_rows[0], $orders_rows[1])");
is($coord->safe_psql('postgres',
		"SELECT insider_guard.rows_read('terry', '1 hour', 'orders')"),
	2000, 'log rule: the coordinator counted all 2,000');
is($coord->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s %s', node_port = (SELECT nodeport FROM pg_dist_node WHERE groupid = 0),
		                         action, application_name), ',')
		FROM insider_guard.cluster_violations()
		WHERE query LIKE '%/* log cluster */%'}),
	't log log-test', 'log rule: one record, on the coordinator, with the client\'s application');
# each worker crossing it alone (600): still one record in the cluster
$coord->safe_psql('postgres', q{
	SELECT insider_guard.drop_threshold(threshold_id) FROM insider_guard.thresholds
	WHERE table_name = 'orders'::regclass;
	SELECT insider_guard.set_threshold('terry', 600, '1 hour', 'log', 'orders');
	SELECT * FROM insider_guard.sync_rules();});
reset_all();
$err = run_as($coord, 'terry', 'log-test', 'SELECT count(*) FROM orders /* log each */');
is($coord->safe_psql('postgres', q{
		SELECT string_agg(format('%s %s', node_port = (SELECT nodeport FROM pg_dist_node WHERE groupid = 0),
		                         action), ',')
		FROM insider_guard.cluster_violations()
		WHERE query LIKE '%/* log each */%'}),
	't log', 'log rule crossed on each worker: one record, on the coordinator');

# a query planned on worker1 whose rows are on worker2: its stop is on
# record with the statement that was stopped, not an earlier one of the
# session (the coordinator asks worker1 again before recording)
reset_all();
{
	my @w2 = ids_on($workers[1], 1500);
	$err = run_as($workers[0], 'terry', 'planned-on-worker1',
		"SET citus.max_adaptive_executor_pool_size = 1;\n"
		  . '/* earlier */ SELECT email FROM customers WHERE id IN (' . join(',', @w2[0 .. 2]) . ");\n"
		  . '/* stopped */ SELECT count(*) FROM customers WHERE id IN (' . join(',', @w2) . ");\n");
	like($err, $blocked, 'planned on worker1: the bulk read is stopped');
	is($coord->safe_psql('postgres', q{
			SELECT string_agg(left(query, 13), ',') FROM insider_guard.cluster_violations()
			WHERE application_name = 'planned-on-worker1'}),
		'/* stopped */', 'planned on worker1: one record, with the stopped statement');
}

# a role cannot charge another one's session: neither from within it (a
# view analyst runs) nor by reporting more than it was leased
reset_all();
$coord->safe_psql('postgres', q{
	CREATE VIEW charge AS
		SELECT insider_guard._citus_lease(citus_backend_gpid(), 'public', 'customers', 5000, 0, 0);
	GRANT SELECT ON charge TO analyst;});
$err = run_as($coord, 'analyst', 'psql', 'SELECT * FROM charge');
like($err, qr/a session cannot lease rows for itself/, 'a session cannot be charged from within');
is( $coord->safe_psql('postgres', q{SELECT insider_guard.rows_read('analyst', '1 hour', 'customers')}),
	0, 'nothing charged to analyst');
is( $coord->safe_psql('postgres',
		q{SELECT insider_guard._citus_lease(0, 'public', 'customers', 1000000, 0, 0)},
		extra_params => [ '-U', 'terry' ]) >= 0 ? 'answered' : 'refused',
	'answered', 'a role may ask the coordinator for its own rows');
ok( $coord->safe_psql('postgres', q{SELECT insider_guard.rows_read('terry', '1 hour', 'customers')}) <= 64,
	'but a report of 1,000,000 rows read it was never leased counts at most the slack');

# skew: router queries that all land on worker1 get the whole limit, not a
# share of it
reset_all();
my $shards1 = join ',', split /\n/, $coord->safe_psql('postgres', sprintf(q{
	SELECT shardid FROM citus_shards
	WHERE table_name = 'customers'::regclass AND nodeport = %d}, $workers[0]->port));
my @ids = split /\n/, $coord->safe_psql('postgres', qq{
	SELECT g FROM generate_series(1, $rows) g
	WHERE get_shard_id_for_distribution_column('customers', g) IN ($shards1)
	ORDER BY g LIMIT 900});
is(scalar @ids, 900, '900 ids on worker1');
$err = run_as($coord, 'terry', 'psql',
	join('', map { "SELECT email FROM customers WHERE id = $_;\n" } @ids));
is($err, '', 'lease: 900 router queries landing on one worker, all served');
is(worker_rows('terry'), 900, 'lease: 900 rows counted on the workers');
is(coordinator_rows(), 900, 'lease: and on the coordinator');

# the coordinator's lease backends ended between a read and its COMMIT
# (they log in as the reader: terry may end them): the give-back sent
# without waiting is not lost -- what was read counts, as read or as held
# (attacker round 6: J3, 1,100 rows through a limit of 1,000; J3b, 52 of
# every 100 rows counted)
reset_all();
{
	my @ids = ids_on($workers[0], 600);
	my $s = $coord->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'terry' ]);
	my $read = 0;
	for my $i (0 .. 5)
	{
		my $out = $s->query('BEGIN; SELECT count(*) FROM customers WHERE id IN ('
			  . join(',', @ids[ $i * 100 .. $i * 100 + 99 ]) . ')');
		$read += $1 if $out =~ /^(\d+)$/m;
		$coord->safe_psql('postgres', q{
			SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'insider_guard citus_session'});
		$s->query('COMMIT');
	}
	is($s->{stderr}, '', 'lease backends ended before each COMMIT: no statement refused');
	$s->quit;
	wait_idle();
	is($read, 600, 'lease backends ended before each COMMIT: 600 rows read');
	my $c = coordinator_rows();
	ok($c >= 600 && $c <= 600 + 6 * 64,
		"lease backends ended before each COMMIT: the coordinator counted $c of them (held rows count as read)");
}

# the coordinator restarted between two statements of a client on a
# worker: the next one is served, on a new connection (J4: it was stopped,
# "cannot be asked")
reset_all();
{
	my $s = $workers[0]->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'terry' ]);
	is($s->query('SELECT count(*) FROM customers WHERE id <= 100'), '100',
		'a client on worker1 reads 100 rows');
	$coord->restart;
	is($s->query('SELECT count(*) FROM customers WHERE id <= 100'), '100',
		'the coordinator restarted: its next 100 rows are served');
	is($s->{stderr}, '', '... with no error');
	$s->quit;
	wait_idle();
}

for my $w (@workers)
{
	$w->safe_psql('postgres',
		q{ALTER SYSTEM RESET insider_guard.citus_budget; SELECT pg_reload_conf()});
}

# 6. the coordinator down: whose session a connection naming it works for
# cannot be known, and the worker refuses the statement (fails closed)
my $coord_node_id = $coord->safe_psql('postgres',
	'SELECT nodeid FROM pg_dist_node WHERE groupid = 0');
my $gpid = $coord_node_id * 10000000000 + 12345;
$coord->stop;
$err = run_as($workers[0], 'analyst', "citus_internal gpid=$gpid",
	"SELECT count(*) FROM $shard WHERE id < 0", 1);
like($err, qr/insider_guard: cannot tell whose session Citus connection gpid=$gpid works for/,
	'the coordinator down: a Citus connection naming it is refused');
like($err, qr/cannot connect to node/, 'the detail says why');
$err = run_as($workers[0], 'analyst', 'psql',
	"SELECT count(*) FROM $shard WHERE id < 0", 1);
is($err, '', 'the coordinator down: a direct connection is served');

done_testing();
