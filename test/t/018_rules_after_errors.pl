# A statement that fails while the rules cache reads the exemptions, the
# peer groups or the memberships of the roles the rules name (here: a lock
# timeout, as a DBA's LOCK or VACUUM FULL would cause) leaves nothing half
# read behind: the next statement reads them again, so an exempt role
# stays exempt, a peer-group member keeps the history its peers are
# compared with, and a role is stopped at its own limit.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('rules_after_errors');
setup_reader($node, 1000);
$node->safe_psql('postgres', q{
	CREATE ROLE ex LOGIN;
	CREATE ROLE team;
	CREATE ROLE q1 LOGIN IN ROLE team;
	CREATE ROLE q2 LOGIN IN ROLE team;
	GRANT SELECT ON customers TO ex, team;
	-- every role but ex: at most 10 rows an hour
	SELECT insider_guard.set_threshold(NULL, 10, '1 hour', 'block');
	SELECT insider_guard.exempt('ex');
	SELECT insider_guard.add_peer_group('team');
	SELECT insider_guard.set_baseline_rule('q2', 5, '1 hour', 100, 'peers', 'log', 'customers');
});

# Runs $sql in a new session while another holds $table locked; returns
# the session (its stderr kept) once the statement has failed.
sub fail_under_lock
{
	my ($table, @setup) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $locker = $node->background_psql('postgres', on_error_stop => 0);

	session_query($session, $_) for (@setup);
	session_query($locker,
		"BEGIN; LOCK TABLE insider_guard.$table IN ACCESS EXCLUSIVE MODE");
	my ($out, $err) = session_query($session, 'SELECT count(*) FROM customers');
	like($err, qr/lock timeout/, "the first statement fails while $table is locked");
	session_query($locker, 'COMMIT');
	$locker->quit;
	return $session;
}

# exemptions
my $ex = fail_under_lock('exemptions', "SET lock_timeout = '1s'",
	'SET SESSION AUTHORIZATION ex');
my ($rows, $err) = session_query($ex, 'SELECT count(*) FROM customers');
is($rows, '1000', 'then ex, exempt, reads past the rule for every role');
is($err, '', 'unstopped');
$ex->quit;

# peer groups: q1 keeps history of customers, which q2's rule names
my $epoch = $node->safe_psql('postgres', 'SELECT floor(extract(epoch FROM now()))::bigint');
my $start = 86400 - $epoch % 86400 + 60;
my $q1 = fail_under_lock('peer_group_roles', "SET lock_timeout = '1s'",
	"SET insider_guard.test_clock_offset = $start",
	'SET SESSION AUTHORIZATION q1');
session_query($q1, 'SELECT count(*) FROM (SELECT id FROM customers LIMIT 7) s');
session_query($q1, 'RESET SESSION AUTHORIZATION');
session_query($q1, 'SET insider_guard.test_clock_offset = ' . ($start + 3600));
session_query($q1, 'SET SESSION AUTHORIZATION q1');
session_query($q1, 'SELECT count(*) FROM (SELECT id FROM customers LIMIT 1) s');
$q1->quit;
is( $node->safe_psql('postgres', q{
		SELECT table_name || ' ' || active_windows FROM insider_guard.baselines
		WHERE role_name = 'q1'}),
	'public.customers 1',
	'then q1 keeps its hourly history of customers for its peers');

# the whole rule tables: a backend that matched four users through the
# role indexes reads them whole for the fifth, then which of the roles
# they name have members (a scan of pg_auth_members).  A statement that
# fails between the two leaves both to be done again by the next one.
$node->safe_psql('postgres', q{
	CREATE ROLE u1 LOGIN;
	CREATE ROLE u2 LOGIN;
	CREATE ROLE u3 LOGIN;
	CREATE ROLE u4 LOGIN;
	CREATE ROLE u5 LOGIN;
	GRANT SELECT ON customers TO u1, u2, u3, u4, u5;
	SELECT insider_guard.set_threshold(('u' || g)::regrole, 5, '1 hour', 'block', 'customers')
	FROM generate_series(1, 5) g;
});
my $five = fail_under_lock_catalog();
($rows, $err) = session_query($five, 'SELECT count(*) FROM customers');
like($err, qr/insider_guard: role "u5" may not read more rows from table "public.customers"/,
	'then u5 is stopped at its own limit');
my $u5 = $node->safe_psql('postgres',
	"SELECT insider_guard.rows_read('u5', '1 hour', 'customers')");
ok($u5 == 5 || $u5 == 6, "at its limit ($u5)");

# and once the tables are read whole: a role change makes the backend
# match users again, starting with which roles have members.  A statement
# that fails there leaves that to be done again, so u6, whom only the
# rule for every role covers, is still stopped by it.
$node->safe_psql('postgres', q{
	CREATE ROLE u6 LOGIN;
	GRANT SELECT ON customers TO u6;
});
my $locker = $node->background_psql('postgres', on_error_stop => 0);
session_query($five, 'SET SESSION AUTHORIZATION u6');
session_query($locker,
	'BEGIN; LOCK TABLE pg_catalog.pg_auth_members IN ACCESS EXCLUSIVE MODE');
($rows, $err) = session_query($five, 'SELECT count(*) FROM customers');
like($err, qr/lock timeout/,
	"u6's first statement fails while pg_auth_members is locked");
session_query($locker, 'COMMIT');
$locker->quit;
($rows, $err) = session_query($five, 'SELECT count(*) FROM customers');
like($err, qr/insider_guard: role "u6" may not read more rows from table "public.customers"/,
	'then u6 is stopped by the rule for every role');
$five->quit;

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no backend crashed');

# A session matches u1 to u4 through the indexes, then u5's first
# statement fails while another holds pg_auth_members locked; returns the
# session, as u5.
sub fail_under_lock_catalog
{
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $locker = $node->background_psql('postgres', on_error_stop => 0);

	session_query($session, "SET lock_timeout = '1s'");
	for my $u (1 .. 4)
	{
		session_query($session, "SET SESSION AUTHORIZATION u$u");
		my ($out, $err) = session_query($session,
			'SELECT count(*) FROM (SELECT id FROM customers LIMIT 1) s');
		is($out, '1', "u$u reads a row");
	}
	session_query($session, 'SET SESSION AUTHORIZATION u5');
	session_query($locker,
		'BEGIN; LOCK TABLE pg_catalog.pg_auth_members IN ACCESS EXCLUSIVE MODE');
	my ($out, $err) = session_query($session, 'SELECT count(*) FROM customers');
	like($err, qr/lock timeout/,
		"u5's first statement fails while pg_auth_members is locked");
	session_query($locker, 'COMMIT');
	$locker->quit;
	return $session;
}

done_testing();
