# A member of a peer group keeps its history of every relation (and of
# all tables) that any baseline rule names, even with no rule of its own,
# so that its peers can be compared with it -- and of nothing else.  Both
# ways a backend finds those relations are run: looked up as they are
# read (the first few users a backend sees, matched through the rules'
# indexes), and from the whole rules table (a backend that has seen more).
# Either way, a baseline rule naming the group covers its members.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('peer_history');
setup_reader($node, 1000);
$node->safe_psql('postgres', q{
	CREATE ROLE team;
	CREATE ROLE a1 LOGIN IN ROLE team;
	CREATE ROLE a2 LOGIN IN ROLE team;
	CREATE ROLE a3 LOGIN IN ROLE team;
	CREATE ROLE a4 LOGIN IN ROLE team;
	CREATE ROLE a5 LOGIN IN ROLE team;
	CREATE ROLE a6 LOGIN IN ROLE team;
	CREATE ROLE a7 LOGIN IN ROLE team;
	CREATE TABLE notes AS SELECT g AS id FROM generate_series(1, 100) g;
	GRANT SELECT ON customers, notes TO team, alice;
	SELECT insider_guard.add_peer_group('team');
	-- a2's hourly rule on customers, a3's daily rule on all tables: the
	-- only rules; nobody's names notes
	SELECT insider_guard.set_baseline_rule('a2', 5, '1 hour', 100, 'peers', 'log', 'customers');
	SELECT insider_guard.set_baseline_rule('a3', 5, '1 day', 100, 'peers', 'log');
});

# the clock starts a minute past the next UTC midnight, so that hours 0
# and 1 are in one day, which hour 25 has closed
my $epoch = $node->safe_psql('postgres', 'SELECT floor(extract(epoch FROM now()))::bigint');
my $start = 86400 - $epoch % 86400 + 60;

# a1 is the first user its backend sees; a4 comes after five others
my $read_at = sub {
	my ($hours, $customers, $notes) = @_;
	my $offset = $start + 3600 * $hours;
	my $reads = qq{
		SELECT count(*) FROM (SELECT id FROM customers LIMIT $customers) s;
		SELECT count(*) FROM (SELECT id FROM notes LIMIT $notes) s;};
	$node->safe_psql('postgres', qq{
		SET insider_guard.test_clock_offset = $offset;
		SET SESSION AUTHORIZATION a1; $reads});
	$node->safe_psql('postgres', qq{
		SET insider_guard.test_clock_offset = $offset;
		SET SESSION AUTHORIZATION a5; SELECT count(*) FROM notes;
		SET SESSION AUTHORIZATION a6; SELECT count(*) FROM notes;
		SET SESSION AUTHORIZATION a2; SELECT count(*) FROM notes;
		SET SESSION AUTHORIZATION a3; SELECT count(*) FROM notes;
		SET SESSION AUTHORIZATION alice; SELECT count(*) FROM notes;
		SET SESSION AUTHORIZATION a4; $reads});
};
my $series = sub {
	my ($role) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(table_name::text, 'all') || ' ' || (extract(epoch FROM per) / 3600)::int || 'h ' || active_windows
		FROM insider_guard.baselines WHERE role_name = '$role'
		ORDER BY 1});
};

$read_at->(0, 7, 3);
$read_at->(1, 1, 1);    # closes hour 0
for my $role ('a1', 'a4')
{
	is($series->($role), 'public.customers 1h 1',
		"$role keeps hourly history of customers (a2's rule), of nothing else yet");
}
$read_at->(25, 1, 1);    # closes hour 1 and day 0
for my $role ('a1', 'a4')
{
	is( $series->($role),
		"all 24h 1\npublic.customers 1h 2",
		"$role keeps daily history of all tables (a3's rule), not of notes");
}

# the day's window holds what the member read that day: 7 + 3 + 1 + 1,
# as a window of 12 rows seeded for alice shows it
$node->safe_psql('postgres', q{
	SELECT insider_guard.record_history('alice', NULL, '1 day',
			date_trunc('day', now(), 'UTC') - interval '1 day', 12)});
my $typical = sub {
	my ($role) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT typical_rows FROM insider_guard.baselines
		WHERE role_name = '$role' AND table_name IS NULL AND per = '1 day'});
};
is($typical->('a1'), $typical->('alice'), 'a1 fed the day its 12 rows');
is($typical->('a4'), $typical->('alice'), 'a4 too');

# a member's first read of a relation, which looks the relation up in the
# rules, neither waits for nor fails on a lock held on the rules table
my $a5 = $node->background_psql('postgres',
	extra_params => [ '-U', 'a5' ], on_error_stop => 0);
my ($first) = session_query($a5, 'SELECT count(*) FROM customers');
is($first, '1000', 'a5 reads customers');
my $locker = $node->background_psql('postgres', on_error_stop => 0);
session_query($locker,
	'BEGIN; LOCK TABLE insider_guard.baseline_rules IN ACCESS EXCLUSIVE MODE');
session_query($a5, "SET lock_timeout = '1s'");
my ($notes, $notes_err) = session_query($a5, 'SELECT count(*) FROM notes');
is($notes, '100', 'a5 reads notes while the rules table is locked');
is($notes_err, '', 'without waiting for the lock or an error');
session_query($locker, 'COMMIT');
($notes) = session_query($a5, 'SELECT count(*) FROM notes');
is($notes, '100', 'and after');
$a5->quit;
$locker->quit;
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no backend crashed');

# a rule naming the group covers a7, a member, matched either way: 20
# days of 5 rows an hour of notes give it a limit
$node->safe_psql('postgres', q{
	SELECT count(insider_guard.record_history('a7', 'notes', '1 hour',
			date_trunc('hour', now(), 'UTC') - make_interval(hours => h), 5))
	FROM generate_series(1, 480) h;
	SELECT insider_guard.set_baseline_rule('team', 5, '1 hour', 10, 'self', 'block', 'notes');
});
my $limit = $node->safe_psql('postgres', q{
	SELECT limit_now FROM insider_guard.baselines
	WHERE role_name = 'a7' AND table_name = 'public.notes'});
ok($limit >= 10 && $limit < 100, "a7 has a limit under the 100 rows of notes ($limit)");
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET SESSION AUTHORIZATION a7; SELECT count(*) FROM notes});
like($err, qr/insider_guard/, 'a7 is stopped, as the first user of its backend');
is(reads($node, 'a7', 'notes'), $limit + 1, 'at the row past its limit');
($ret, $out, $err) = $node->psql('postgres', q{
	SET SESSION AUTHORIZATION a1; SELECT 1 FROM customers LIMIT 1;
	SET SESSION AUTHORIZATION a2; SELECT 1 FROM customers LIMIT 1;
	SET SESSION AUTHORIZATION a3; SELECT 1 FROM customers LIMIT 1;
	SET SESSION AUTHORIZATION a4; SELECT 1 FROM customers LIMIT 1;
	SET SESSION AUTHORIZATION a5; SELECT 1 FROM customers LIMIT 1;
	SET SESSION AUTHORIZATION a7; SELECT count(*) FROM notes});
like($err, qr/insider_guard/, 'and after five others');

# a new member judged by its peers' limit (5 x their p99 of 50) reads just
# under it in its first hour: that window feeds its own history a bin
# above its peers' p99, not the 240 rows it read.  Also under a "both"
# rule, which has no limit until the own history is usable.
for my $case ([ 'crew', 'self' ], [ 'gang', 'both' ])
{
	my ($group, $compare) = @$case;
	my @members = map { "${group}$_" } 1 .. 6;
	my $new = $members[5];
	# the memberships 15 days old: a younger one raises no limit
	$node->safe_psql('postgres', join("\n",
		"SET insider_guard.test_clock_offset = " . ($start - 15 * 86400) . ";",
		"CREATE ROLE $group;",
		(map { "CREATE ROLE $_ LOGIN IN ROLE $group;" } @members),
		"GRANT SELECT ON customers TO $group;",
		"RESET insider_guard.test_clock_offset;",
		"SELECT insider_guard.add_peer_group('$group');",
		"SELECT count(insider_guard.record_history(m::regrole, NULL, '1 hour',
			date_trunc('hour', now(), 'UTC') - make_interval(hours => h), 50))
		 FROM unnest('{" . join(',', @members[0 .. 4]) . "}'::text[]) m, generate_series(1, 480) h;",
		"SELECT insider_guard.set_baseline_rule('$group', 5, '1 hour', 10, '$compare', 'log');"));
	for my $step ([ 30, 240 ], [ 31, 1 ])
	{
		my $offset = $start + 3600 * $step->[0];
		$node->safe_psql('postgres', qq{
			SET insider_guard.test_clock_offset = $offset;
			SET SESSION AUTHORIZATION $new;
			SELECT count(*) FROM (SELECT id FROM customers LIMIT $step->[1]) s});
	}
	my ($windows, $high) = split / /, $node->safe_psql('postgres', qq{
		SELECT active_windows || ' ' || high_rows FROM insider_guard.baselines
		WHERE role_name = '$new' AND table_name IS NULL AND per = '1 hour'});
	is($windows, 1, "$compare: the new member has one window");
	ok($high > 50 && $high < 100,
		"$compare: fed a bin above its peers' p99 of 50 ($high), not 240");
}

# an open session keeps the history that rules changed meanwhile want:
# p1, matched through the indexes, keeps daily history of memo for p2's
# daily rule; once p2 also has a 7-day rule on memo, the same backend
# keeps p1's 7-day history of it too; and once p2's rule on jot is
# dropped, none of jot, which p1 had not read before (the rules read
# again, the kinds of each relation with them)
my ($jot_rule) = reverse split /\n/, $node->safe_psql('postgres', q{
	CREATE ROLE pack;
	CREATE ROLE p1 LOGIN IN ROLE pack;
	CREATE ROLE p2 LOGIN IN ROLE pack;
	CREATE TABLE memo AS SELECT g AS id FROM generate_series(1, 10) g;
	CREATE TABLE jot AS SELECT g AS id FROM generate_series(1, 10) g;
	GRANT SELECT ON memo, jot TO pack;
	SELECT insider_guard.add_peer_group('pack');
	SELECT insider_guard.set_baseline_rule('p2', 5, '1 day', 100, 'peers', 'log', 'memo');
	SELECT insider_guard.set_baseline_rule('p2', 5, '1 day', 100, 'peers', 'log', 'jot');
});
my $p1 = $node->background_psql('postgres', on_error_stop => 0);
my $p1_reads = sub {
	my ($hours, $table) = @_;
	my $offset = $start + 3600 * $hours;
	my ($out, $err) = session_query($p1, qq{
		RESET SESSION AUTHORIZATION;
		SET insider_guard.test_clock_offset = $offset;
		SET SESSION AUTHORIZATION p1;
		SELECT count(*) FROM $table});
	return $out . $err;
};
my $p1_series = sub {
	my ($table) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT (extract(epoch FROM per) / 3600)::int || 'h ' || active_windows
		FROM insider_guard.baselines
		WHERE role_name = 'p1' AND table_name = 'public.$table'
		ORDER BY per DESC});
};
is($p1_reads->(100, 'memo'), '10', 'p1 reads memo on day 4');
$p1_reads->(124, 'memo');    # closes day 4
is($p1_series->('memo'), '24h 1',
	"p1 keeps daily history of memo (p2's daily rule), not 7-day");
$node->safe_psql('postgres', qq{
	SELECT insider_guard.set_baseline_rule('p2', 2, '7 days', 100, 'peers', 'log', 'memo');
	SELECT insider_guard.drop_threshold($jot_rule);});
is($p1_reads->(125, 'memo'), '10',
	"the same session reads memo after p2's 7-day rule is set");
$p1_reads->(148, 'memo');    # closes day 5
is($p1_series->('memo'), "168h 1\n24h 2",
	"and keeps p1's 7-day history of memo from then on");
is($p1_reads->(149, 'jot'), '10', 'it reads jot after p2\'s rule on it is dropped');
$p1_reads->(172, 'jot');     # closes day 6
is($p1_series->('jot'), '', 'and keeps no history of jot');
$p1->quit;

done_testing();
