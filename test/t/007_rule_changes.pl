# A threshold changed in one session applies to every other session from
# its next statement -- also inside an open transaction -- whether made by
# the functions or by direct DML; a rolled-back change never applies.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('rule_changes');
setup_reader($node, 1000);

my $alice = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);

# runs a query in alice's session; returns its stdout and stderr
sub as_alice
{
	return session_query($alice, @_);
}
my ($out, $err);

as_alice('SELECT * FROM customers WHERE id <= 5');
is(reads($node, 'alice', 'customers'), 5, 'alice read 5 rows, no threshold yet');

# set in another session: applies to alice's next statement
$node->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', 5, '1 hour', 'block', 'customers')");
($out, $err) = as_alice('SELECT * FROM customers WHERE id = 6');
like($err, qr/insider_guard: role "alice" may not read more rows from table "public.customers"/,
	"a threshold set by another session stops alice's next statement");

# inside an open transaction of alice's, too
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
as_alice('BEGIN');
as_alice('SELECT * FROM customers WHERE id <= 3');
$node->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'customers')");
($out, $err) = as_alice('SELECT * FROM customers WHERE id = 4');
like($err, qr/may not read more rows/,
	'the change applies to the next statement of a transaction already open');
as_alice('ROLLBACK');

# direct DML on the table works the same
$node->safe_psql('postgres', 'UPDATE insider_guard.thresholds SET max_rows = 100');
($out, $err) = as_alice('SELECT count(*) FROM customers WHERE id <= 50');
is($out, '50', 'raising max_rows by direct UPDATE lets the next statement read');

# a rolled-back drop changes nothing
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT insider_guard.drop_threshold(threshold_id) FROM insider_guard.thresholds;
	ROLLBACK;
});
($out, $err) = as_alice('SELECT count(*) FROM customers');
like($err, qr/may not read more rows/,
	'a rolled-back drop leaves the threshold in force');

# a committed drop lifts it
$node->safe_psql('postgres', 'DELETE FROM insider_guard.thresholds');
($out, $err) = as_alice('SELECT count(*) FROM customers');
is($out, '1000', 'a committed delete lifts it from the next statement');

# exemptions and group membership changes apply at once too
$node->safe_psql(
	'postgres', q{
	CREATE ROLE readers;
	SELECT insider_guard.set_threshold('readers', 1, '1 hour', 'block', 'customers');
	GRANT readers TO alice;
});
($out, $err) = as_alice('SELECT count(*) FROM customers');
like($err, qr/may not read more rows/,
	'joining a group brings its thresholds');
$node->safe_psql('postgres', "SELECT insider_guard.exempt('alice')");
($out, $err) = as_alice('SELECT count(*) FROM customers WHERE id <= 10');
is($out, '10', "exempting alice lifts the group's threshold");

# a group named by a rule while it has no members, joined later: the
# session had matched its rules without it, and must match again
$node->safe_psql(
	'postgres', q{
	SELECT insider_guard.unexempt('alice');
	DELETE FROM insider_guard.thresholds;
	SELECT insider_guard.reset('alice');
	CREATE ROLE auditors;
	SELECT insider_guard.set_threshold('auditors', 5, '1 hour', 'block', 'customers');
});
($out, $err) = as_alice('SELECT count(*) FROM customers WHERE id <= 10');
is($out, '10', 'a rule on a group alice is not in does not cover her');
$node->safe_psql('postgres', 'GRANT auditors TO alice');
($out, $err) = as_alice('SELECT count(*) FROM customers WHERE id <= 10');
like($err, qr/may not read more rows/,
	'once she joins it, it does, from her next statement');
$node->safe_psql('postgres', 'REVOKE auditors FROM alice');
($out, $err) = as_alice('SELECT count(*) FROM customers WHERE id <= 10');
is($out, '10', 'and no longer once she leaves it');

# a rule made while a statement runs applies to the statements it runs
# from then on, also when it is the first of its transaction (autocommit):
# a function called per row reads 100 rows each time, and the fifth call
# waits for an advisory lock while the rule is made.  Every call runs the
# same statements, planned by the first: nothing the function does after
# the wait opens a catalog, which would take in the change by the way.
$node->safe_psql(
	'postgres', q{
	DELETE FROM insider_guard.thresholds;
	SELECT insider_guard.reset('alice');
	CREATE FUNCTION hundred(i int) RETURNS bigint LANGUAGE plpgsql AS $$
	DECLARE n bigint;
	BEGIN
		PERFORM pg_advisory_lock(CASE WHEN i = 5 THEN 4242 ELSE 4243 END);
		PERFORM pg_advisory_unlock(CASE WHEN i = 5 THEN 4242 ELSE 4243 END);
		SELECT count(*) INTO n FROM customers WHERE id <= 100;
		RETURN n;
	END $$;
	GRANT EXECUTE ON FUNCTION hundred(int) TO alice;
});
my $dba = $node->background_psql('postgres');
$dba->query_safe('SELECT pg_advisory_lock(4242)');
my $run = start_as($node, 'alice',
	'SELECT sum(hundred(g)) FROM generate_series(1, 20) g');
wait_for_lock_waiters($node, 4242, 1, "alice's statement");
$dba->query_safe(
	"SELECT insider_guard.set_threshold('alice', 650, '1 hour', 'block', 'customers')");
$dba->query_safe('SELECT pg_advisory_unlock(4242)');
$run->{handle}->finish;
like($run->{err}, qr/may not read more rows/,
	'a rule made while an autocommit statement runs stops the statements it runs next');
is(reads($node, 'alice', 'customers'), 651, '... at the row that crosses it');
$dba->quit;

$alice->quit;
$node->stop;
done_testing();
