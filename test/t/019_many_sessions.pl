# Many sessions of one role against one block threshold.  Statements are
# granted rows at their start from the counts then; what other sessions
# read later is seen at each FETCH (a cursor opened early is stopped at
# the row that breaks the limit), and statements that all started before
# any of them read, and each stayed within its grant, cannot be stopped
# any more when they end -- but each that took the count past the limit
# is recorded, and the role's next statement is stopped.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('many_sessions');
setup_reader($node, 1000);
$node->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', 300, '1 hour', 'block', 'customers')");
my $blocks = sub {
	return $node->safe_psql('postgres', q{
		SELECT count(*) || ' ' || coalesce(string_agg(statement_rows::text, ',' ORDER BY violation_id), '')
		FROM insider_guard.violations WHERE role_name = 'alice' AND action = 'block'});
};

# Waits until $n sessions wait for advisory lock 7.
sub wait_for_waiters
{
	my ($n, $what) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = $n FROM pg_locks
		WHERE locktype = 'advisory' AND objid = 7 AND NOT granted})
	  or die "$what did not reach the lock";
}

# Starts $sql as alice in the background: {handle, out, err}.
sub start_as_alice
{
	my ($sql) = @_;
	my %run = (out => '', err => '');
	$run{handle} = IPC::Run::start(
		[ 'psql', '-XAtq', '-U', 'alice', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$run{out}, '2>', \$run{err});
	return \%run;
}

# cursors opened by three sessions before any reads
my @sessions = map {
	$node->background_psql('postgres',
		extra_params => [ '-U', 'alice' ], on_error_stop => 0)
} 1 .. 3;
session_query($_, 'BEGIN; DECLARE c CURSOR FOR SELECT id FROM customers') for @sessions;
my ($out, $err) = session_query($sessions[0], 'FETCH 200 FROM c');
is(scalar(split /\n/, $out), 200, 'the first cursor fetches 200 rows');
($out, $err) = session_query($sessions[1], 'FETCH 200 FROM c');
like($err, qr/may not read more rows/, 'the second is stopped within its FETCH');
($out, $err) = session_query($sessions[2], 'FETCH 200 FROM c');
like($err, qr/may not read more rows/, 'the third at its first row');
$_->quit for @sessions;
is(reads($node, 'alice', 'customers'), 302, 'the second read 101 rows, the third 1');
is($blocks->(), '2 101,1', 'both were recorded');

# statements that all started before any read: each waits, after its
# start, for an advisory lock the test holds
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
my $before = (split / /, $blocks->())[0];
my $holder = $node->background_psql('postgres', on_error_stop => 0);
session_query($holder, 'SELECT pg_advisory_lock(7)');
my @runs = map {
	start_as_alice('WITH w AS MATERIALIZED (SELECT pg_advisory_lock_shared(7))
		SELECT count(*) FROM w CROSS JOIN LATERAL (SELECT id FROM customers LIMIT 200) c')
} 1 .. 3;
wait_for_waiters(3, 'the statements');
session_query($holder, 'SELECT pg_advisory_unlock(7)');
$_->{handle}->finish for @runs;
is(join(' ', map { $_->{out} =~ s/\s+//gr } @runs), '200 200 200',
	'each statement read its 200 rows, within its grant');
is(reads($node, 'alice', 'customers'), 600, 'all 600 are counted');
my ($count, $rows) = split / /, $blocks->();
is($count - $before, 2, 'the two that took the count past 300 are recorded');
like($rows, qr/,200,200$/, 'with their 200 rows each');
like(slurp_file($node->logfile),
	qr/role "alice" \(current role "alice"\) read past the block limit on table "public.customers"/,
	'the log line says the statement read past the limit');
($out, $err) = ('', '');
$node->psql('postgres', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ], stdout => \$out, stderr => \$err);
like($err, qr/may not read more rows/, "and alice's next statement is stopped");

# one record per statement: a statement stopped by another session's
# reads, with rows of another of its scans not settled yet, is not
# recorded again as its transaction aborts; nor a cursor that read past
# the limit in one FETCH, then is stopped at the next
my $since = sub {
	my ($first) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM insider_guard.violations
		WHERE role_name = 'alice' AND action = 'block' AND violation_id > $first});
};
my $last_id = sub {
	return $node->safe_psql('postgres',
		'SELECT coalesce(max(violation_id), 0) FROM insider_guard.violations');
};
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
my $first = $last_id->();
$holder = $node->background_psql('postgres', on_error_stop => 0);
session_query($holder, 'SELECT pg_advisory_lock(7)');
my $union = start_as_alice('SELECT count(*) FROM ((SELECT id FROM customers LIMIT 100)
	UNION ALL (SELECT 0 FROM pg_advisory_lock_shared(7))
	UNION ALL (SELECT id FROM customers)) u');
wait_for_waiters(1, 'the statement');
$node->psql('postgres', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ]);
session_query($holder, 'SELECT pg_advisory_unlock(7)');
$union->{handle}->finish;
like($union->{err}, qr/may not read more rows/, 'the statement is stopped');
is($since->($first), 2,
	'one record for it, one for the read that took the count over');

$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
$first = $last_id->();
session_query($holder, 'SELECT pg_advisory_lock(7)');
my $cursor = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
session_query($cursor, 'BEGIN');
session_query($cursor, 'DECLARE c CURSOR FOR SELECT id,
	CASE WHEN id = 2 THEN pg_advisory_lock_shared(7)::text END FROM customers');
$cursor->query_until(qr/started/, "\\echo started\nFETCH 200 FROM c;\n");
wait_for_waiters(1, 'the FETCH');
$node->psql('postgres', 'SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s',
	extra_params => [ '-U', 'alice' ]);
session_query($holder, 'SELECT pg_advisory_unlock(7)');
session_query($cursor, 'SELECT 1');    # the FETCH has ended
is($since->($first), 1, 'the FETCH that read past the limit is recorded');
($out, $err) = session_query($cursor, 'FETCH 5 FROM c');
like($err, qr/may not read more rows/, 'the next FETCH is stopped');
is($since->($first), 1, 'under the same record');
$cursor->quit;
$holder->quit;

done_testing();
