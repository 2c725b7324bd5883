# Behavioural baselines across sessions, restarts and time: the history
# survives a restart and a crash; a baseline rule set in one session
# applies to another's next statement (also a cursor's next FETCH); with
# per = '1 hour', a window that broke the rule does not feed the history,
# and a window that did not does.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('baselines', 'insider_guard.save_interval = 1');
setup_reader($node, 1000);

# 20 days of ~5 rows an hour for alice, up to the last hour boundary
$node->safe_psql('postgres', q{
	SELECT count(insider_guard.record_history('alice', NULL, '1 hour',
				date_trunc('hour', now()) - make_interval(hours => h), 4 + h % 3))
	FROM generate_series(0, 479) h;
});
my $stats = sub {
	return $node->safe_psql('postgres', q{
		SELECT active_windows || ' ' || typical_rows || ' ' || high_rows
		FROM insider_guard.baselines
		WHERE role_name = 'alice' AND table_name IS NULL AND per = '1 hour'});
};
is($stats->(), '480 4 7', 'seeded: 480 windows, p50 4, p99 7');

# the history survives a clean restart, and a crash once saved
$node->restart;
is($stats->(), '480 4 7', 'the history survives a clean restart');
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SELECT insider_guard.record_history('alice', NULL, '1 hour', now() - interval '30 days', 5)});
$node->wait_for_log(qr/insider_guard: saved the history/, $offset);
$node->stop('immediate');
$node->start;
is($stats->(), '481 4 7', 'and a crash, once the worker saved it');

# a rule set in one session applies to another's next statement
my $alice = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
sub as_alice
{
	return session_query($alice, @_);
}
my ($out, $err) = as_alice('SELECT count(*) FROM customers');
is($out, '1000', 'no rule yet: alice reads 1000 rows');
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
as_alice('BEGIN');
as_alice('DECLARE c CURSOR FOR SELECT id FROM customers');
as_alice('MOVE 60 IN c');
$node->safe_psql('postgres',
	"SELECT insider_guard.set_baseline_rule('alice', 5, '1 hour', 100, 'self', 'block')");
($out, $err) = as_alice('MOVE 100 IN c');
like($err, qr/insider_guard: role "alice" may not read more rows from table "public.customers"/,
	"a baseline rule set in another session stops an open cursor's next FETCH");
as_alice('ROLLBACK');
is(reads($node, 'alice', 'customers'), 101, 'at row 101 (limit 5 x 7, floored at 100)');
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
($out, $err) = as_alice('SELECT count(*) FROM customers');
like($err, qr/may not read more rows/, "and the session's next statement");

# a cursor declared before the rule, first fetched after it
$node->safe_psql('postgres', q{
	SELECT insider_guard.drop_threshold(rule_id) FROM insider_guard.baseline_rules;
	SELECT insider_guard.reset('alice')});
as_alice('BEGIN');
as_alice('DECLARE d CURSOR FOR SELECT id FROM customers');
$node->safe_psql('postgres',
	"SELECT insider_guard.set_baseline_rule('alice', 5, '1 hour', 100, 'self', 'block')");
($out, $err) = as_alice('MOVE ALL IN d');
like($err, qr/may not read more rows/,
	'a cursor declared before the rule is stopped at its first FETCH');
as_alice('ROLLBACK');
is(reads($node, 'alice', 'customers'), 101, 'at row 101 too');

# a cursor opened while the rule had no usable limit (no history yet) is
# held to the limit once history is seeded, from its next FETCH
$node->safe_psql('postgres', q{
	CREATE ROLE bob LOGIN;
	GRANT SELECT ON customers TO bob;
	SELECT insider_guard.set_baseline_rule('bob', 5, '1 hour', 100, 'self', 'block')});
my $bob = $node->background_psql('postgres',
	extra_params => [ '-U', 'bob' ], on_error_stop => 0);
$bob->query('BEGIN');
$bob->query('DECLARE e CURSOR FOR SELECT id FROM customers');
$bob->query('MOVE 10 IN e');
is(reads($node, 'bob', 'customers'), 10, 'no usable limit yet: bob reads on');
$node->safe_psql('postgres', q{
	SELECT count(insider_guard.record_history('bob', NULL, '1 hour',
				date_trunc('hour', now()) - make_interval(hours => h), 5))
	FROM generate_series(1, 480) h});
($out, $err) = session_query($bob, 'MOVE ALL IN e');
like($err, qr/may not read more rows/,
	'the seeded history limits the open cursor at its next FETCH');
$bob->query('ROLLBACK');
is(reads($node, 'bob', 'customers'), 101, 'at row 101');
$bob->quit;
$alice->quit;

# a window that broke the rule does not feed the history; one that did not
# does.  The session's clock starts one minute past an hour boundary.
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_baseline_rule('alice', 5, '1 hour', 100, 'self', 'log')});
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
my $epoch = $node->safe_psql('postgres', 'SELECT floor(extract(epoch FROM now()))::bigint');
my $start = 3600 - $epoch % 3600 + 60;
# $seconds past the hour's boundary (60 unless given)
my $read_at = sub {
	my ($hours, $rows, $seconds) = @_;
	my $offset = $start + 3600 * $hours + ($seconds // 60) - 60;
	return $node->safe_psql('postgres', qq{
		SET insider_guard.test_clock_offset = $offset;
		SET SESSION AUTHORIZATION alice;
		SELECT count(*) FROM (SELECT id FROM customers LIMIT $rows) s});
};
$read_at->(0, 500);
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.violations WHERE role_name = 'alice' AND action = 'log'"),
	1,
	'500 rows in the first hour cross the rule');
# 5 seconds into the next hour the rolling hour still holds them (read
# 55 seconds less than an hour before, however slowly the test runs):
# still over the limit, so this second window breaks the rule too
$read_at->(1, 10, 5);
is($stats->(), '481 4 7', 'the window that broke the rule did not feed the history');
$read_at->(2, 10);    # closes the second hour, which broke it too
is($stats->(), '481 4 7', 'nor the next, during which the rule was still broken');
$read_at->(3, 10);    # closes the third hour: 10 rows, within the limit
is($stats->(), '482 4 7', 'the next window, within the limit, did');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.violations WHERE role_name = 'alice' AND action = 'log'"),
	1,
	'one record for the one crossing');

# the worker closes the windows of idle counters too, on its own clock
$node->append_conf('postgresql.conf',
	'insider_guard.test_clock_offset = ' . ($start + 3600 * 5));
$node->reload;
$node->poll_query_until('postgres', q{
	SELECT active_windows || ' ' || typical_rows || ' ' || high_rows
	FROM insider_guard.baselines
	WHERE role_name = 'alice' AND table_name IS NULL AND per = '1 hour'},
	'483 4 7')
  or diag('history now: ' . $stats->());
is($stats->(), '483 4 7', "the worker added the last window of the idle counter");

done_testing();
