# Rules come only from the extension.  A role with CREATEDB makes, in its
# own database, a schema insider_guard with tables of the rule tables'
# names: (a) of other column types -- nothing crashes; (b) of the right
# types, with hundreds of 30-day block rules on its own tables -- they
# block nobody and pin no counter, so that in the database with the
# extension every role is still counted and stopped at its own limit,
# also after DROP DATABASE and a restart.  (c) CREATE EXTENSION refuses
# a schema insider_guard that another, unprivileged role made; once a
# superuser owns it, rules come and go with CREATE and DROP EXTENSION, a
# table added to the schema is counted, and the extension's own table
# with a column of another type is ignored.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

# fewer counters than the look-alike rules would pin
my $max_tracked = 100;
my $fake_rules = 300;

# (a crash restarts the server, so that every check below still runs)
my $node = new_node('lookalike', "insider_guard.max_tracked = $max_tracked",
	'restart_after_crash = on');
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN CREATEDB;
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE ROLE dave LOGIN;
	CREATE DATABASE app;
});
$node->safe_psql('app', q{
	CREATE EXTENSION insider_guard;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	INSERT INTO customers SELECT g, 'user' || g FROM generate_series(1, 1000) g;
	GRANT SELECT ON customers TO alice, bob, carol, dave;
	SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'block', 'customers');
});

# runs SQL in a database as a role; returns its stdout and stderr
sub run_as
{
	my ($db, $role, $sql) = @_;
	my ($stdout, $stderr);

	$node->psql($db, $sql,
		extra_params => [ '-U', $role ],
		stdout => \$stdout,
		stderr => \$stderr);
	return ($stdout, $stderr);
}

# rows a role read from customers in app within the last hour
sub app_reads
{
	my ($role) = @_;

	return $node->safe_psql('app',
		"SELECT insider_guard.rows_read('$role', '1 hour', 'customers')");
}

# a role reads the first $rows customers in app; returns the stderr
sub read_customers
{
	my ($role, $rows) = @_;
	my ($out, $err) = run_as('app', $role,
		"SELECT count(*) FROM (SELECT * FROM customers WHERE id <= $rows) s");

	return $err;
}

my $blocked = qr/insider_guard: role "\w+" may not read more rows from table "public.customers"/;
my ($out, $err);

# (a) tables of the rule tables' names, of other column types
$node->safe_psql('postgres', 'CREATE DATABASE evil', extra_params => [ '-U', 'mallory' ]);
$node->safe_psql(
	'evil', q{
	CREATE SCHEMA insider_guard;
	CREATE TABLE insider_guard.thresholds (threshold_id text, role_name text,
		table_name text, max_rows text, per bigint, action int);
	CREATE TABLE insider_guard.exemptions (role_name text);
	CREATE TABLE insider_guard.baseline_rules (rule_id text, role_name text,
		table_name text, per bigint, factor text, min_rows text,
		compare_to int, action int);
	CREATE TABLE insider_guard.peer_group_roles (group_role text);
	CREATE TABLE stuff AS SELECT g FROM generate_series(1, 10) g;
	INSERT INTO insider_guard.thresholds VALUES ('1', 'mallory', 'stuff', '1', 7, 42);
	INSERT INTO insider_guard.exemptions VALUES ('mallory');
	INSERT INTO insider_guard.baseline_rules
		VALUES ('2', 'mallory', 'stuff', 7, 'x', '1', 42, 42);
	INSERT INTO insider_guard.peer_group_roles VALUES ('mallory');
}, extra_params => [ '-U', 'mallory' ]);

my $offset = -s $node->logfile;
($out, $err) = run_as('evil', 'mallory', 'SELECT count(*) FROM stuff');
is($out, '10', 'a look-alike of other column types: the statement runs');
is($err, '', 'and is not stopped');
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server is up');
ok(!$node->log_contains(qr/terminated by signal/, $offset),
	'no backend crashed');
ok( $node->log_contains(
		qr/insider_guard: ignoring "insider_guard\.thresholds" in database "evil": CREATE EXTENSION insider_guard did not make it/,
		$offset),
	'the look-alike is logged');

is(read_customers('alice', 60), '', 'alice reads 60 rows in app');
is(app_reads('alice'), 60, 'and they are counted');
like(read_customers('alice', 60), $blocked, 'alice is stopped at her limit');
my $alice = app_reads('alice');
ok($alice == 100 || $alice == 101, "at her limit ($alice)");

# (b) the right column types, with many 30-day block rules on mallory's
# own tables: read by mallory, they would pin more counters than there are
$node->safe_psql(
	'evil', qq{
	DROP SCHEMA insider_guard CASCADE;
	CREATE SCHEMA insider_guard;
	CREATE TABLE insider_guard.thresholds (
		threshold_id bigint PRIMARY KEY, role_name regrole, table_name regclass,
		max_rows bigint NOT NULL, per interval NOT NULL, action text NOT NULL);
	CREATE UNIQUE INDEX thresholds_role_table_per
		ON insider_guard.thresholds ((COALESCE(role_name::oid, 0::oid)),
									 (COALESCE(table_name::oid, 0::oid)), per);
	CREATE TABLE insider_guard.exemptions (role_name regrole PRIMARY KEY);
	CREATE TABLE insider_guard.baseline_rules (
		rule_id bigint PRIMARY KEY, role_name regrole, table_name regclass,
		per interval NOT NULL, factor float8 NOT NULL, min_rows bigint NOT NULL,
		compare_to text NOT NULL, action text NOT NULL);
	CREATE UNIQUE INDEX baseline_rules_role_table_per
		ON insider_guard.baseline_rules ((COALESCE(role_name::oid, 0::oid)),
										 (COALESCE(table_name::oid, 0::oid)), per);
	CREATE INDEX baseline_rules_table
		ON insider_guard.baseline_rules ((COALESCE(table_name::oid, 0::oid)));
	CREATE TABLE insider_guard.peer_group_roles (group_role regrole PRIMARY KEY);
	DO \$\$
	BEGIN
		FOR i IN 1..$fake_rules LOOP
			EXECUTE format('CREATE TABLE t%s AS SELECT g FROM generate_series(1, 5) g', i);
		END LOOP;
	END \$\$;
	INSERT INTO insider_guard.thresholds
		SELECT i, 'mallory', ('t' || i)::regclass, 1, '30 days', 'block'
		FROM generate_series(1, $fake_rules) i;
	INSERT INTO insider_guard.exemptions VALUES ('mallory');
	INSERT INTO insider_guard.baseline_rules
		VALUES (0, 'mallory', 'stuff', '1 hour', 2, 1, 'self', 'block');
	INSERT INTO insider_guard.peer_group_roles VALUES ('mallory');
	-- reads every table; returns how many reads were stopped
	CREATE FUNCTION read_all() RETURNS int LANGUAGE plpgsql AS \$\$
	DECLARE
		stopped int := 0;
	BEGIN
		FOR i IN 1..$fake_rules LOOP
			BEGIN
				EXECUTE format('SELECT count(*) FROM t%s', i);
			EXCEPTION WHEN OTHERS THEN
				stopped := stopped + 1;
			END;
		END LOOP;
		RETURN stopped;
	END \$\$;
}, extra_params => [ '-U', 'mallory' ]);

$offset = -s $node->logfile;
($out, $err) = run_as('evil', 'mallory', 'SELECT read_all()');
is($out, '0', "mallory reads her $fake_rules tables under look-alike block rules: none stopped");
($out, $err) = run_as('evil', 'mallory', 'SELECT count(*) FROM stuff');
is($out, '10', 'nor by the look-alike baseline rule');
ok(!$node->log_contains(qr/insider_guard: no room in shared memory/, $offset),
	'nothing failed for lack of counters');

# in app, roles with a log and a block threshold are counted and stopped
$node->safe_psql('app', q{
	SELECT insider_guard.set_threshold('bob', 300, '1 hour', 'log', 'customers');
	SELECT insider_guard.set_threshold('carol', 100, '1 hour', 'block', 'customers');
});
is(read_customers('bob', 500), '', 'bob (log threshold) reads 500 rows');
is(app_reads('bob'), 500, 'and all 500 are counted');
is(read_customers('carol', 80), '', 'carol (block threshold) reads 80 rows');
is(app_reads('carol'), 80, 'and they are counted');
$err = read_customers('carol', 80);
like($err, $blocked, 'carol is stopped at her limit');
unlike($err, qr/no room in shared memory/, 'not for lack of counters');
ok( $node->log_contains(qr/insider_guard: .*"bob".*customers/, $offset),
	"bob's log threshold is logged");

# after DROP DATABASE and a restart, still so
$node->safe_psql('postgres', 'DROP DATABASE evil', extra_params => [ '-U', 'mallory' ]);
$node->restart;
is(app_reads('bob'), 500, "bob's count survives the restart");
$node->safe_psql('app',
	"SELECT insider_guard.set_threshold('dave', 50, '1 hour', 'block', 'customers')");
is(read_customers('dave', 40), '', 'after the restart, dave reads 40 rows');
is(app_reads('dave'), 40, 'they are counted');
$err = read_customers('dave', 40);
like($err, $blocked, 'and dave is stopped at his limit');
unlike($err, qr/no room in shared memory/, 'not for lack of counters');

# (c) CREATE EXTENSION in a database where mallory made the schema
$node->safe_psql('postgres', q{
	CREATE DATABASE shared_db;
	GRANT CREATE ON DATABASE shared_db TO mallory;
});
$node->safe_psql('shared_db', 'CREATE SCHEMA insider_guard',
	extra_params => [ '-U', 'mallory' ]);
my $ret = $node->psql('shared_db', 'CREATE EXTENSION insider_guard',
	stderr => \$err);
isnt($ret, 0, "CREATE EXTENSION refuses mallory's schema insider_guard");
like($err, qr/schema "insider_guard" is owned by role "mallory"/,
	'and says why');
is($node->safe_psql('shared_db',
		"SELECT count(*) FROM pg_extension WHERE extname = 'insider_guard'"),
	'0', 'nothing is installed');
$node->safe_psql('shared_db', q{
	ALTER SCHEMA insider_guard OWNER TO CURRENT_USER;
	CREATE TABLE leads AS SELECT g AS id FROM generate_series(1, 10) g;
	GRANT SELECT ON leads TO alice;
});

# a session open before CREATE EXTENSION (the schema exists: no schema is
# made) sees the extension's rules from its next statement, and sees them
# go with DROP EXTENSION (which leaves the schema) and come back
my $session = $node->background_psql('shared_db',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
($out, $err) = session_query($session, 'SELECT count(*) FROM leads');
is($out, '10', 'alice reads in shared_db, where the extension is not installed');
$node->safe_psql('shared_db', q{
	CREATE EXTENSION insider_guard;
	SELECT insider_guard.set_threshold('alice', 5, '1 hour', 'block', 'leads');
});
is($node->safe_psql('shared_db', q{
		SELECT e.extversion = a.default_version
		FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
		WHERE e.extname = 'insider_guard'}),
	't', 'once a superuser owns the schema, CREATE EXTENSION works');
($out, $err) = session_query($session, 'SELECT count(*) FROM leads');
like($err, qr/may not read more rows from table "public.leads"/,
	"and its threshold stops alice's next statement");
$node->safe_psql('shared_db', 'DROP EXTENSION insider_guard');
($out, $err) = session_query($session, 'SELECT count(*) FROM leads');
is($out, '10', 'after DROP EXTENSION, the threshold is gone');
$node->safe_psql('shared_db', q{
	CREATE EXTENSION insider_guard;
	SELECT insider_guard.set_threshold('alice', 5, '1 hour', 'block', 'leads');
});
($out, $err) = session_query($session, 'SELECT count(*) FROM leads');
like($err, qr/may not read more rows/,
	'created again in the schema left behind, it applies again');

# what counts as insider_guard's own table, not counted, is a member of
# the extension: another table in its schema is counted like any other
$node->safe_psql('shared_db', q{
	CREATE TABLE insider_guard.notes AS SELECT g FROM generate_series(1, 3) g;
	GRANT SELECT ON insider_guard.notes, insider_guard.thresholds TO alice;
});
my $total = q{SELECT insider_guard.rows_read('alice', '1 hour')};
my $before = $node->safe_psql('shared_db', $total);
($out, $err) = session_query($session, 'SELECT count(*) FROM insider_guard.thresholds');
is($node->safe_psql('shared_db', $total), $before,
	"reading the extension's own table counts nothing");
($out, $err) = session_query($session, 'SELECT count(*) FROM insider_guard.notes');
is($node->safe_psql('shared_db', $total), $before + 3,
	'reading another table in its schema counts');
is($node->safe_psql('shared_db',
		"SELECT insider_guard.set_threshold('alice', 1000, '1 hour', 'log', 'insider_guard.notes') > 0"),
	't', 'and a threshold may name it');

# the extension's own table, with a column of another type: ignored too
$offset = -s $node->logfile;
$node->safe_psql('shared_db',
	'ALTER TABLE insider_guard.thresholds ALTER COLUMN action TYPE int USING 1');
($out, $err) = session_query($session, 'SELECT count(*) FROM leads');
is($out, '10', "the extension's thresholds with a column of another type are not read");
ok($node->poll_query_until('postgres', 'SELECT true')
	  && !$node->log_contains(qr/terminated by signal/, $offset),
	'nothing crashed');
ok( $node->log_contains(
		qr/insider_guard: ignoring "insider_guard\.thresholds" in database "shared_db": its column "action" is of type "integer", not text/,
		$offset),
	'and the server log says why');
$session->quit;

$node->stop;
done_testing();
