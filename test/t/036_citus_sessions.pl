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
# Needs Citus installed into the PostgreSQL under test (test.sh does it on
# 15); skipped without it, or with IG_CITUS=0.
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
my $rows = 20000;

my @conf = (
	"shared_preload_libraries = 'citus,insider_guard'",
	"max_connections = 100",
	"citus.enable_statistics_collection = off",
	# unix sockets, trust: nodes reach each other as any role
	"citus.node_conninfo = 'sslmode=prefer'",
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
	my ($on, $user, $app, $sql) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = $app;
	$on->psql('postgres', $sql,
		extra_params => [ '-U', $user ],
		stdout => \$out, stderr => \$err);
	return $err;
}

my $blocked = qr/insider_guard: role "?terry"? may not read more rows from table "?public\.customers"?/;

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
is(worker_rows('definer'), 0, 'SECURITY DEFINER: nothing counted for definer');

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
# a session that acts as the caller while it asks: terry, as analyst
is( $coord->safe_psql('postgres', q{
		SET ROLE analyst;
		SELECT session_user_name || ' ' || application_name || ' ' || (query LIKE '%_citus_session%')
		FROM insider_guard._citus_session(citus_backend_gpid())},
		extra_params => [ '-U', 'terry' ]),
	'terry 036_citus_sessions.pl true',
	'_citus_session answers for a session acting as the caller: its session user, application, query');
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
for my $w (@workers)
{
	$w->safe_psql('postgres',
		q{ALTER SYSTEM SET insider_guard.citus_budget = 'lease'; SELECT pg_reload_conf()});
}
sub coordinator_rows
{
	return $coord->safe_psql('postgres',
		"SELECT insider_guard.rows_read('terry', '1 hour', 'customers')");
}
for my $case (
	[ 'count(*)', 'SELECT count(*) FROM customers /* lease count */' ],
	[ 'SELECT *', 'SELECT * FROM customers /* lease select */' ],
	[ 'SET ROLE analyst; count(*)', 'SET ROLE analyst; SELECT count(*) FROM customers /* lease role */' ])
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
	is(coordinator_rows(), $sum,
		"lease, $what: the coordinator counted them all for terry");
}
diag($coord->safe_psql('postgres', q{SELECT string_agg(violation_id || ' ' || threshold_id || ' ' || rows_in_window || ' ' || statement_rows || ' ' || repeats || ' ' || query, E'\n') FROM insider_guard.violations}));
# the coordinator's record: one per incident, with the client's query
is( $coord->safe_psql('postgres', q{
		SELECT count(*) || ' ' || min(application_name) || ' ' || bool_and(query LIKE '%lease %')
		FROM insider_guard.violations
		WHERE role_name = 'terry' AND query LIKE '%lease %'}),
	'3 lease-test true',
	'lease: the coordinator recorded each stop, with the client\'s application and query');

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
	"SELECT count(*) FROM $shard WHERE id < 0");
like($err, qr/insider_guard: cannot tell whose session Citus connection gpid=$gpid works for/,
	'the coordinator down: a Citus connection naming it is refused');
like($err, qr/cannot connect to node/, 'the detail says why');
$err = run_as($workers[0], 'analyst', 'psql',
	"SELECT count(*) FROM $shard WHERE id < 0");
is($err, '', 'the coordinator down: a direct connection is served');

done_testing();
