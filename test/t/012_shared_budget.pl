# Sessions of one role share a threshold's budget through shared memory.
# Each backend keeps a memo of the window counts it last read, to skip
# reading the rings while a counter is unchanged; these tests show the
# memo never hides another session's reads, that a role over its limit is
# stopped on its first row in every session, and that the per-user match
# of rules follows SET SESSION AUTHORIZATION back and forth.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('budget');
setup_reader($node, 1000);
$node->safe_psql('postgres', q{
	CREATE ROLE bob LOGIN;
	GRANT SELECT ON customers TO bob;
	SELECT insider_guard.set_threshold('alice', 500, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('alice', 300, '1 day', 'log', 'customers');
});

my $s1 = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'alice' ]);
my $s2 = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'alice' ]);

# runs a query in a session; returns its stderr
sub run_err
{
	my (undef, $err) = session_query(@_);
	return $err;
}

sub violations
{
	my ($action) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.violations WHERE action = '$action'");
}

# both sessions read a little: each now holds a memo of small counts
$s1->query_safe('SELECT count(*) FROM customers WHERE id <= 10');
$s2->query_safe('SELECT count(*) FROM customers WHERE id <= 10');
is(reads($node, 'alice', 'customers'), 20, 'both sessions counted');

# s1 reads again: its memo (20) is still exact, nothing crossed
$s1->query_safe('SELECT count(*) FROM customers WHERE id <= 100');
is(reads($node, 'alice', 'customers'), 120, 'a read on an unchanged counter counts');
is(violations('log'), 0, 'nothing crossed at 120');

# s2, whose memo says 20, crosses the log limit (300) and reaches the
# block limit (500) exactly
is(run_err($s2, 'SELECT count(*) FROM customers WHERE id <= 380'), '',
	'reading exactly up to the block limit is allowed');
is(reads($node, 'alice', 'customers'), 500, 'the other session\'s reads were seen');
is(violations('log'), 1, 'the log limit was crossed once, by the session that crossed it');

# s1's memo (120) is stale: it must stop on its first row
like(
	run_err($s1, 'SELECT count(*) FROM customers WHERE id <= 10'),
	qr/insider_guard: role "alice" may not read more rows from table "public.customers"/,
	'a session with a stale memo is stopped');
is(reads($node, 'alice', 'customers'), 501, 'on its first row');
is( $node->safe_psql('postgres',
		"SELECT statement_rows FROM insider_guard.violations WHERE action = 'block'"),
	1,
	'the violation says one row was read');

like(run_err($s2, 'SELECT * FROM customers WHERE id = 7'),
	qr/may not read more rows/, 'the other session is stopped too');
is(reads($node, 'alice', 'customers'), 502, 'also on its first row');
is(violations('log'), 1, 'no second log record while the role stays over');

# a reset lets both read again; the memos of the old counter do not apply
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
is(run_err($s1, 'SELECT count(*) FROM customers WHERE id <= 200'), '',
	'after a reset the role may read again');
is(run_err($s2, 'SELECT count(*) FROM customers WHERE id <= 200'), '',
	'in every session');
is(reads($node, 'alice', 'customers'), 400, 'counted from zero');
is(violations('log'), 2, 'and the log limit, crossed again, is recorded again');

# one session that switches between users: each user gets its own rules,
# also when switching back
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
my $admin = $node->background_psql('postgres', on_error_stop => 0);
$admin->query_safe('SET SESSION AUTHORIZATION alice');
$admin->query_safe('SELECT count(*) FROM customers WHERE id <= 500');
$admin->query_safe('SET SESSION AUTHORIZATION bob');
is(run_err($admin, 'SELECT count(*) FROM customers'), '',
	'bob is not covered by alice\'s thresholds');
$admin->query_safe('SET SESSION AUTHORIZATION alice');
like(run_err($admin, 'SELECT id FROM customers WHERE id = 1'),
	qr/role "alice" may not read more rows/, 'switching back to alice applies hers again');
$admin->query_safe('RESET SESSION AUTHORIZATION');
is(reads($node, 'bob', 'customers'), 1000, 'bob\'s reads counted for bob');
is(reads($node, 'alice', 'customers'), 501, 'alice\'s for alice');

$s1->quit;
$s2->quit;
$admin->quit;
$node->stop;
done_testing();
