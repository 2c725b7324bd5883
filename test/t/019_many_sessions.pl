# Many sessions of one role against one block threshold.  Rows are
# reserved in shared memory before they are read, at a statement's first
# row and at each batch: a cursor opened early reserves nothing until it
# is fetched from, statements that all started before any of them read
# share what is left and are stopped when it is gone, and a statement that
# finds every row left reserved by another session that holds it (waiting
# on a lock) is stopped after a short wait.  (The 50-session and parallel
# cases are in 022_reservations.pl.)
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
# block records of alice: their number, their statement_rows and the sum
# of their repeats (later stops of the same incident)
my $blocks = sub {
	return $node->safe_psql('postgres', q{
		SELECT count(*) || ' ' || coalesce(string_agg(statement_rows::text, ',' ORDER BY violation_id), '')
			|| ' ' || coalesce(sum(repeats), 0)
		FROM insider_guard.violations WHERE role_name = 'alice' AND action = 'block'});
};

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
# each cursor reserved one row when it was declared: the second finds the
# last row held by the third, and is stopped after 100 -- crowded out, no
# rule broken: not a violation, not recorded -- and the third breaks the
# limit at its first row (row 301): recorded
is(reads($node, 'alice', 'customers'), 301, 'the second read 100 rows, the third 1');
is($blocks->(), '1 1 0', 'the third is recorded, the second (crowded out) is not');

# statements that all started before any read: each waits, after its
# start, for an advisory lock the test holds; together they read at most
# the limit and the one row each that finds it used up
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
my ($before, undef, $before_repeats) = split / /, $blocks->();
my $holder = $node->background_psql('postgres', on_error_stop => 0);
session_query($holder, 'SELECT pg_advisory_lock(7)');
my @runs = map {
	start_as($node, 'alice', 'WITH w AS MATERIALIZED (SELECT pg_advisory_lock_shared(7))
		SELECT count(*) FROM w CROSS JOIN LATERAL (SELECT id FROM customers LIMIT 200) c')
} 1 .. 3;
wait_for_lock_waiters($node, 7, 3, 'the statements');
session_query($holder, 'SELECT pg_advisory_unlock(7)');
$_->{handle}->finish for @runs;
my @done = grep { $_->{out} =~ /^\s*200\s*$/ } @runs;
my @stopped = grep { $_->{err} =~ /may not read more rows/ } @runs;
is(@done + @stopped, 3, 'each statement read its 200 rows or was stopped');
ok(@done <= 1, 'at most one of them read its 200 rows');
my $count = reads($node, 'alice', 'customers');
ok($count <= 303, "together they read $count rows: at most 300 + 3");
my ($records, undef, $repeats) = split / /, $blocks->();
is($records - $before + $repeats - $before_repeats, scalar(@stopped),
	'each stopped statement is recorded, or a repeat');
unlike(slurp_file($node->logfile), qr/read past the block limit on/,
	'no statement read past the limit unstopped');

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
my $union = start_as($node, 'alice', 'SELECT count(*) FROM ((SELECT id FROM customers LIMIT 100)
	UNION ALL (SELECT 0 FROM pg_advisory_lock_shared(7))
	UNION ALL (SELECT id FROM customers)) u');
wait_for_lock_waiters($node, 7, 1, 'the statement');
$node->psql('postgres', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ]);
session_query($holder, 'SELECT pg_advisory_unlock(7)');
$union->{handle}->finish;
like($union->{err}, qr/may not read more rows/, 'the statement is stopped');
is($since->($first), 1,
	'one record, for the statement that broke the limit (the other, crowded out while it held rows, broke none)');

# a cursor that waits inside its FETCH, after 100 rows, keeps the rows it
# reserved: a statement of another session that finds the rest used up
# waits a little, then is stopped; the cursor then reads within what it
# holds and is stopped at the limit
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
$first = $last_id->();
session_query($holder, 'SELECT pg_advisory_lock(7)');
my $cursor = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
session_query($cursor, 'BEGIN');
session_query($cursor, 'DECLARE c CURSOR FOR SELECT id,
	CASE WHEN id = 100 THEN pg_advisory_lock_shared(7)::text END FROM customers');
$cursor->query_until(qr/started/, "\\echo started\nFETCH 200 FROM c;\n");
wait_for_lock_waiters($node, 7, 1, 'the FETCH');
($out, $err) = ('', '');
$node->psql('postgres', 'SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s',
	extra_params => [ '-U', 'alice' ], stdout => \$out, stderr => \$err);
like($err, qr/may not read more rows/,
	'the other session is stopped: the rest is reserved by the waiting cursor');
my $other = reads($node, 'alice', 'customers');
ok($other < 300, "with the count under the limit ($other rows)");
like(slurp_file($node->logfile),
	qr/reserved by other running statements of the role/,
	'the log says rows were reserved by another statement');
session_query($holder, 'SELECT pg_advisory_unlock(7)');
($out, $err) = session_query($cursor, 'SELECT 1');    # the FETCH has ended
like($cursor->{stdout} . $err, qr/may not read more rows/, 'the cursor is stopped at the limit');
$count = reads($node, 'alice', 'customers');
ok($count <= 302, "the count is at most 300 + 2 ($count)");
is( $node->safe_psql('postgres', qq{
		SELECT count(*) || ' ' || sum(repeats) FROM insider_guard.violations
		WHERE role_name = 'alice' AND action = 'block' AND violation_id > $first}),
	'1 0', "the cursor's stop is recorded; the crowded-out one is not a violation");
$cursor->quit;
$holder->quit;

done_testing();
