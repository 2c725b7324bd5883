# Autovacuum runs no statement of its own, but its ANALYZE evaluates the
# expressions of a table's indexes, as the table's owner: a function there
# that reads another table is counted for that owner and stopped by its
# thresholds.  Autovacuum's own work counts for nobody.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('autovacuum', 'autovacuum_naptime = 1s');
setup_reader($node, 1000);

$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	GRANT SELECT ON customers TO mallory;
	CREATE SCHEMA mal AUTHORIZATION mallory;
	SELECT insider_guard.set_threshold('mallory', 100, '1 hour', 'block', 'customers');
});
# an index whose expression copies customers out, on a table autovacuum
# will analyze as soon as it has rows
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	CREATE TABLE mal.stash (email text);
	CREATE FUNCTION mal.steal() RETURNS void LANGUAGE plpgsql VOLATILE AS $$
	BEGIN
		INSERT INTO mal.stash SELECT email FROM public.customers;
	END $$;
	CREATE FUNCTION mal.grab(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		PERFORM mal.steal();
		RETURN x;
	END $$;
	CREATE TABLE mal.bait (x int)
		WITH (autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0);
	CREATE INDEX ON mal.bait (mal.grab(x));
});

# mallory's own insert runs grab() in her statement: stopped at row 101
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	INSERT INTO mal.bait VALUES (1)});
like($err, qr/may not read more rows from table "public.customers"/,
	"mallory's own insert is stopped by her threshold");

# a superuser's insert runs it as the superuser (its session user); then
# the slate is wiped, and only autovacuum acts
$node->safe_psql('postgres', 'INSERT INTO mal.bait SELECT g FROM generate_series(1, 10) g');
$node->safe_psql('postgres', 'TRUNCATE mal.stash');
$node->safe_psql('postgres', 'SELECT insider_guard.reset()');

# autovacuum's ANALYZE of mal.bait evaluates grab() as mallory
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM insider_guard.violations WHERE role_name = 'mallory'
	  AND query NOT LIKE '%INSERT INTO mal.bait VALUES%'})
  or die 'no violation recorded for mallory by autovacuum';
is( $node->safe_psql('postgres', q{
		SELECT action || ' ' || rows_in_window || ' ' || statement_rows
		FROM insider_guard.violations
		WHERE role_name = 'mallory' AND query NOT LIKE '%INSERT INTO mal.bait VALUES%'
		ORDER BY violation_id LIMIT 1}),
	'block 101 101',
	"autovacuum's ANALYZE ran mallory's function as mallory: counted, stopped at row 101");
# each retry of the failed ANALYZE is stopped at its first row
my $read = reads($node, 'mallory', 'customers');
ok($read >= 101 && $read < 200, "mallory's count ($read): 101, and one per retry");
is($node->safe_psql('postgres', 'SELECT count(*) FROM mal.stash'), 0,
	'nothing was stashed');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.role_activity WHERE role_name <> 'mallory'"),
	0,
	"autovacuum's own work counts for nobody");
ok( $node->log_contains(
		qr/insider_guard: role "mallory" may not read more rows[^\n]*\n(?:[^\n]*\n)*?[^\n]*automatic analyze of table "postgres\.mal\.bait"/),
	'the server log shows the stopped analyze');

# the same through a SECURITY DEFINER function owned by another role:
# still counted for the owner of the analyzed table, whose code called it
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.get_email(i int) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
		AS 'SELECT email FROM public.customers WHERE id = i';
	GRANT EXECUTE ON FUNCTION public.get_email(int) TO mallory;
});
# an index on a harmless function; rows; then the function turns harmful
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	DROP TABLE mal.bait;
	CREATE FUNCTION mal.look(x int) RETURNS text LANGUAGE plpgsql IMMUTABLE
		AS $$ BEGIN RETURN x::text; END $$;
	CREATE TABLE mal.bait2 (x int)
		WITH (autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0);
	CREATE INDEX bait2_look ON mal.bait2 (mal.look(x));
	ALTER INDEX mal.bait2_look ALTER COLUMN 1 SET STATISTICS 1000;
	BEGIN;
	INSERT INTO mal.bait2 SELECT g FROM generate_series(1, 300) g;
	CREATE OR REPLACE FUNCTION mal.look(x int) RETURNS text LANGUAGE plpgsql IMMUTABLE
		AS $$ BEGIN RETURN public.get_email(x); END $$;
	COMMIT;
});
$node->safe_psql('postgres', q{
	SELECT insider_guard.reset();
	SELECT insider_guard.prune_violations('0 seconds');
});
# autovacuum's ANALYZE reads 300 emails through get_email, for mallory
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM insider_guard.violations WHERE role_name = 'mallory'})
  or die 'no violation recorded for mallory through get_email';
ok(reads($node, 'mallory', 'customers') >= 101,
	"reads through another role's SECURITY DEFINER function count for the table's owner");
is(reads($node, 'postgres', 'customers'), 0, 'not for the function owner');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_stats WHERE schemaname = 'mal' AND tablename = 'bait2_look'}),
	0,
	'the stopped ANALYZE left no statistics with the emails in them');

# user code that overwrites ANALYZE's progress report (a CREATE INDEX of
# its own) before it reads through another role's SECURITY DEFINER
# function: still counted for the analyzed table's owner, and stopped
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.get_emails(lo int, hi int) RETURNS SETOF text LANGUAGE sql
		STABLE SECURITY DEFINER AS 'SELECT email FROM public.customers WHERE id BETWEEN lo AND hi';
	GRANT EXECUTE ON FUNCTION public.get_emails(int, int) TO mallory;
});
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	DROP TABLE mal.bait2;
	CREATE TABLE mal.loot (email text);
	CREATE TABLE mal.scratch (x int);
	CREATE FUNCTION mal.steal2() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
	BEGIN
		IF session_user = 'mallory' THEN RETURN 0; END IF;
		EXECUTE 'CREATE INDEX ON mal.scratch (x)';
		INSERT INTO mal.loot SELECT * FROM public.get_emails(1, 1000);
		RETURN 1;
	END $$;
	CREATE FUNCTION mal.idx3(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE
		AS $$ BEGIN PERFORM mal.steal2(); RETURN x; END $$;
	CREATE TABLE mal.bait3 (x int)
		WITH (autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0);
	CREATE INDEX ON mal.bait3 (mal.idx3(x));
	INSERT INTO mal.bait3 SELECT generate_series(1, 50);
});
$node->safe_psql('postgres', q{
	SELECT insider_guard.reset();
	SELECT insider_guard.prune_violations('0 seconds');
});
# (until the analyze of mal.bait3 either stole or was stopped)
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM insider_guard.violations WHERE role_name = 'mallory'
	UNION ALL SELECT count(*) > 0 FROM mal.loot
	ORDER BY 1 DESC LIMIT 1})
  or die 'the analyze of mal.bait3 did not run';
is($node->safe_psql('postgres', 'SELECT count(*) FROM mal.loot'), 0,
	'a CREATE INDEX in the analyzed code does not move its reads: nothing was stolen');
ok(reads($node, 'mallory', 'customers') >= 101, 'counted for mallory');
is(reads($node, 'postgres', 'customers'), 0, 'not for the function owner');

# a BRIN summary (an autovacuum work item, run as the table's owner, with
# no progress report) whose index expression is another role's SECURITY
# DEFINER function: counted for the table's owner, not the function's
$node->safe_psql('postgres', q{
	CREATE ROLE bob;
	GRANT SELECT ON customers TO bob;
	CREATE FUNCTION public.email_of(i int) RETURNS text LANGUAGE sql
		IMMUTABLE SECURITY DEFINER AS 'SELECT email FROM public.customers WHERE id = i';
	ALTER FUNCTION public.email_of(int) OWNER TO bob;
	GRANT EXECUTE ON FUNCTION public.email_of(int) TO mallory;
	SELECT insider_guard.reset();
});
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	DROP TABLE mal.bait3;
	CREATE TABLE mal.summed (id int) WITH (autovacuum_enabled = off);
	CREATE INDEX ON mal.summed USING brin (public.email_of(id))
		WITH (pages_per_range = 1, autosummarize = on);
});
# (a superuser's insert: the summaries are autovacuum's to make)
$node->safe_psql('postgres', 'INSERT INTO mal.summed SELECT generate_series(1, 3000)');
$node->poll_query_until('postgres', q{
	SELECT insider_guard.rows_read('mallory', '1 hour', 'customers')
	     + insider_guard.rows_read('bob', '1 hour', 'customers') > 0})
  or die 'no BRIN summary ran';
ok(reads($node, 'mallory', 'customers') > 0,
	"a BRIN summary's reads through a SECURITY DEFINER function count for the table's owner");
is(reads($node, 'bob', 'customers'), 0, 'not for the function owner');

# a DBA's own ANALYZE (or CREATE INDEX, REFRESH MATERIALIZED VIEW) runs
# mallory's index expression as her, in a security-restricted operation:
# counted for her and stopped by her threshold, not carried past it by the
# superuser's session
$node->safe_psql('postgres', q{
	CREATE TABLE mal.bait4 (x int) WITH (autovacuum_enabled = off);
	ALTER TABLE mal.bait4 OWNER TO mallory;
	INSERT INTO mal.bait4 SELECT generate_series(1, 3);
	SELECT insider_guard.reset();
	TRUNCATE mal.stash;
});
($ret, $out, $err) = $node->psql('postgres',
	'CREATE INDEX ON mal.bait4 (mal.grab(x))');
like($err, qr/insider_guard: role "mallory" may not read more rows from table "public.customers"/,
	"a superuser's CREATE INDEX on mallory's table stops her expression");
my $by_index = reads($node, 'mallory', 'customers');
ok($by_index >= 101 && $by_index < 200, "counted for mallory ($by_index)");
is(reads($node, 'postgres', 'customers'), 0, 'not for the superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mal.stash'), 0,
	'nothing copied out');

# and a DBA's ANALYZE of her table with such an index
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	CREATE TABLE mal.bait5 (x int) WITH (autovacuum_enabled = off);
	CREATE INDEX ON mal.bait5 (mal.grab(x));
});
$node->safe_psql('postgres', q{
	INSERT INTO mal.bait5 SELECT generate_series(1, 3);
	SELECT insider_guard.reset();
	TRUNCATE mal.stash;
});
($ret, $out, $err) = $node->psql('postgres', 'ANALYZE mal.bait5');
like($err, qr/insider_guard: role "mallory" may not read more rows from table "public.customers"/,
	"a superuser's ANALYZE of mallory's table stops her expression");
my $by_analyze = reads($node, 'mallory', 'customers');
ok($by_analyze >= 101 && $by_analyze < 200, "counted for mallory ($by_analyze)");
is(reads($node, 'postgres', 'customers'), 0, 'not for the superuser');

# but a role's own maintenance of an object it made a group role it is in
# own keeps its reads: REFRESH MATERIALIZED VIEW runs as the group role,
# which would otherwise carry mallory's reads past her threshold
$node->safe_psql('postgres', q{
	CREATE ROLE crew NOLOGIN;
	GRANT crew TO mallory;
	GRANT SELECT ON customers TO crew;
	GRANT CREATE, USAGE ON SCHEMA mal TO crew;
	SELECT insider_guard.reset();
});
($ret, $out, $err) = $node->psql('postgres', q{
	SET SESSION AUTHORIZATION mallory;
	CREATE MATERIALIZED VIEW mal.copy AS SELECT * FROM public.customers WITH NO DATA;
	ALTER MATERIALIZED VIEW mal.copy OWNER TO crew;
	REFRESH MATERIALIZED VIEW mal.copy});
like($err, qr/insider_guard: role "mallory" may not read more rows from table "public.customers"/,
	'a refresh mallory runs as a group role she is in is still hers');
is(reads($node, 'crew', 'customers'), 0, 'nothing counted for the group role');

done_testing();
