# Training resistance of baseline limits (issue 16), through the server,
# with the test clock moving days forward:
#
# - boiling the frog: terry, seeded at ~5 rows an hour for 30 days, reads
#   exactly the limit in force every hour for 15 days; his limit is never
#   more than 2 times what it was at any time in the 7 days before, so at
#   most 2 times its start after 7 days and 4 times after 14, and he is
#   never stopped (he reads at, not past, the limit); a cold start holds
#   the first limit from history likewise;
# - joining a high-volume group: a member of analysts (50,000 rows an
#   hour) holding ADMIN OPTION grants the group to newbie, a member of
#   support (~100 rows an hour) under a peers block rule.  For 14 days the
#   new membership raises no limit: newbie is still stopped at support's;
#   after them his limit rises no faster than above.  A heavy reader added
#   to a group is nobody's peer for 14 days, and a peer limit that then
#   becomes usable starts from the limit in force.  A crash just after a
#   grant keeps it young.  Every membership change, in every database and
#   however made, is an admin event in the log.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('training', 'insider_guard.save_interval = 1');
setup_reader($node, 100000);

my $hour = 3600;
my $day = 24 * $hour;
# the last hour boundary (real clock): history is seeded up to it, and
# the test clock runs from it
my $base = $node->safe_psql('postgres',
	q{SELECT extract(epoch FROM date_trunc('hour', now()))::bigint});
my $real_now = $node->safe_psql('postgres',
	q{SELECT extract(epoch FROM now())::bigint});

# runs SQL with insider_guard's clock at $base + $at seconds
sub at
{
	my ($at, $sql, %opts) = @_;
	my $offset = $base + $at - $real_now;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET insider_guard.test_clock_offset = $offset; $sql",
		stdout => \$out, stderr => \$err, on_error_stop => 0);
	return wantarray ? ($out, $err) : $out;
}

# a role's limit in force now for all tables, per hour
sub limit_at
{
	my ($at, $role) = @_;
	return at($at, qq{
		SELECT limit_now FROM insider_guard.baselines
		WHERE role_name = '$role' AND table_name IS NULL AND per = '1 hour'});
}

# ---------------------------------------------------------------------
# boiling the frog
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE terry LOGIN;
	GRANT SELECT ON customers TO terry;
});
$node->safe_psql('postgres', qq{
	SELECT count(insider_guard.record_history('terry', NULL, '1 hour',
				to_timestamp($base) - make_interval(hours => h), 4 + h % 3))
	FROM generate_series(0, 30 * 24 - 1) h;
	SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 1, 'self', 'block');
});

my $start = limit_at(300, 'terry');
is($start, 35, 'start: 5 x p99 of 4..6 rows an hour (7 to the bin)');
# a rule's window rolls: reads at the limit an hour and two minutes apart
my $step = 3720;
my (@times, @limits);
my $stopped = 0;
my $read = 0;
for (my $at = 300; $at < 15 * $day + 300; $at += $step)
{
	my $limit = limit_at($at, 'terry');
	push @times, $at;
	push @limits, $limit;
	my ($out, $err) = at($at, qq{
		SET SESSION AUTHORIZATION terry;
		SELECT count(*) FROM (SELECT id FROM customers LIMIT $limit) s});
	$stopped++ if $err =~ /may not read more rows/;
	$read += $out if $out =~ /^\d+$/;
}
is($stopped, 0, 'reading exactly the limit every hour: never stopped');
my $worst = '';
my %at_day;
for my $t (0 .. $#limits)
{
	$at_day{ int(($times[$t] - 300) / $day) } = $limits[$t];
	for my $s (0 .. $t)
	{
		next if $times[$t] - $times[$s] > 7 * $day;
		$worst ||= "at $times[$t] s: $limits[$t] after $limits[$s] at $times[$s] s"
		  if $limits[$t] > 2 * $limits[$s];
	}
}
is($worst, '', 'no limit is more than 2 x one in force in the 7 days before');
ok($at_day{6} <= 2 * $start && $at_day{13} <= 4 * $start,
	"after 7 days $at_day{6}, after 14 $at_day{13}, from $start");
ok($limits[-1] > $start, "the limit does rise, slowly ($limits[-1])");
note("frog: $read rows read in 15 days; limits at the end of days 1, 7, 14, 15: "
	  . join(', ', map { $at_day{ $_ - 1 } } (1, 7, 14, 15)));

# ---------------------------------------------------------------------
# joining a high-volume peer group
# ---------------------------------------------------------------------
# the groups and their memberships, 15 days before the clock's start: old.
# Six members each, so that each has the 5 peers with history a peer limit
# needs.
$node->safe_psql('postgres', qq{
	SET insider_guard.test_clock_offset = @{[$base - 15 * $day - $real_now]};
	CREATE ROLE support NOLOGIN;
	CREATE ROLE analysts NOLOGIN;
	CREATE ROLE newbie LOGIN IN ROLE support;
	CREATE ROLE boss LOGIN;
	GRANT analysts TO boss WITH ADMIN OPTION;
	GRANT SELECT ON customers TO support, analysts;
	DO \$\$
	BEGIN
		FOR i IN 1 .. 6 LOOP
			EXECUTE format('CREATE ROLE s%s IN ROLE support', i);
			EXECUTE format('CREATE ROLE a%s IN ROLE analysts', i);
		END LOOP;
	END \$\$;
});
$node->safe_psql('postgres', qq{
	SELECT count(insider_guard.record_history(r::regrole, NULL, '1 hour',
				to_timestamp($base) - make_interval(hours => h),
				CASE WHEN r LIKE 's%' THEN 80 + h % 40 ELSE 40000 + h % 20000 END))
	FROM unnest('{s1,s2,s3,s4,s5,s6,a1,a2,a3,a4,a5,a6}'::text[]) r,
		 generate_series(0, 14 * 24 - 1, 8) h;
	SELECT insider_guard.add_peer_group('support');
	SELECT insider_guard.add_peer_group('analysts');
	SELECT insider_guard.set_baseline_rule('newbie', 5, '1 hour', 100, 'peers', 'block');
});
my ($support_high) = at(300, q{
	SELECT peer_high_rows FROM insider_guard.baselines
	WHERE role_name = 's1' AND table_name IS NULL AND per = '1 hour'});
# newbie's series exists once he reads
at(300, 'SET SESSION AUTHORIZATION newbie; SELECT count(*) FROM (SELECT id FROM customers LIMIT 10) s');
my $before = limit_at(300, 'newbie');
is($before, 5 * $support_high, "newbie's limit: 5 x support's p99 ($support_high)");

# boss grants analysts to newbie: logged, and young for 14 days
my $offset = -s $node->logfile;
at(3600, 'SET SESSION AUTHORIZATION boss; GRANT analysts TO newbie');
ok($node->log_contains(
		qr/insider_guard: admin GRANT peer group membership by session user "boss" in database "postgres": group_role "analysts", member "newbie"/,
		$offset),
	'the grant is an admin event');
is(limit_at(2 * $hour, 'newbie'), $before, 'the new group raises no limit at once');
is(limit_at(13 * $day, 'newbie'), $before, 'nor 13 days on');
my ($out, $err) = at(13 * $day, q{
	SET SESSION AUTHORIZATION newbie;
	SELECT count(*) FROM (SELECT id FROM customers LIMIT 50000) s});
like($err, qr/may not read more rows from table "public.customers"/,
	'newbie reading 50,000 rows 13 days on is stopped');
is(at(13 * $day, q{SELECT insider_guard.rows_read('newbie', '1 hour', 'customers')}),
	$before + 1, "at support's limit, one row past");
my $after = limit_at(15 * $day, 'newbie');
ok($after > $before && $after <= 2 * $before,
	"15 days on, analysts counts, but rises no faster than 2 x in 7 days: $before to $after");
note("analysts' p99 alone would give "
	  . at(15 * $day, q{
		SELECT peer_high_rows * 5 FROM insider_guard.baselines
		WHERE role_name = 'a1' AND table_name IS NULL AND per = '1 hour'}));

# ---------------------------------------------------------------------
# a heavy reader added to a group of five: its membership is young, so it
# is nobody's peer for 14 days; then the peer limit that becomes usable
# starts a bin above the limit in force (t1's own), not at the heavy p99
# ---------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	SET insider_guard.test_clock_offset = @{[$base - 15 * $day - $real_now]};
	CREATE ROLE team NOLOGIN;
	CREATE ROLE t1 LOGIN IN ROLE team;
	GRANT team TO t1 WITH ADMIN OPTION;
	CREATE ROLE t2 IN ROLE team;
	CREATE ROLE t3 IN ROLE team;
	CREATE ROLE t4 IN ROLE team;
	CREATE ROLE t5 IN ROLE team;
	CREATE ROLE etl;
	GRANT SELECT ON customers TO team;
});
$node->safe_psql('postgres', qq{
	SELECT count(insider_guard.record_history(r::regrole, NULL, '1 hour',
				to_timestamp($base) - make_interval(hours => h),
				CASE WHEN r = 'etl' THEN 90000 + h % 7 * 1000 ELSE 80 + h % 40 END))
	FROM unnest('{t1,t2,t3,t4,t5,etl}'::text[]) r, generate_series(0, 14 * 24 - 1, 8) h;
	SELECT insider_guard.add_peer_group('team');
	SELECT insider_guard.set_baseline_rule('t1', 5, '1 hour', 100, 'both', 'block');
});
at(300, 'SET SESSION AUTHORIZATION t1; SELECT count(*) FROM (SELECT id FROM customers LIMIT 10) s');
my $t1_before = limit_at(300, 't1');
like($t1_before, qr/^\d+$/, "t1's own limit: $t1_before (four peers only: no peer limit)");
at(3600, 'SET SESSION AUTHORIZATION t1; GRANT team TO etl');
is(limit_at(2 * $hour, 't1'), $t1_before, 'a heavy member just added is nobody\'s peer');
($out, $err) = at(2 * $hour, q{
	SET SESSION AUTHORIZATION t1;
	SELECT count(*) FROM (SELECT id FROM customers LIMIT 50000) s});
like($err, qr/may not read more rows/, 't1 is still stopped at its own limit');
my $t1_after = limit_at(15 * $day, 't1');
ok($t1_after > $t1_before && $t1_after <= 2 * $t1_before,
	"15 days on, the peer limit counts from t1's: $t1_before to $t1_after");

# ---------------------------------------------------------------------
# a cold start holds the first limit from history: newbie2's block rule
# holds it to min_rows (100); reading at the limit three times a day,
# its own history becomes usable on day 7 at a limit a bin above the 20
# rows 100 stands for at factor 5, not 5 x the history
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE newbie2 LOGIN;
	GRANT SELECT ON customers TO newbie2;
	SELECT insider_guard.set_baseline_rule('newbie2', 5, '1 hour', 100, 'self', 'block');
});
my @cold;
for (my $at = 20 * $day + 300; $at < 29 * $day; $at += 8 * $hour)
{
	my $limit = limit_at($at, 'newbie2') || 100;
	push @cold, $limit;
	at($at, "SET SESSION AUTHORIZATION newbie2;
		SELECT count(*) FROM (SELECT id FROM customers LIMIT $limit) s");
}
my $cold_worst = '';
for my $t (0 .. $#cold)
{
	for my $s (($t >= 21 ? $t - 21 : 0) .. $t)
	{
		$cold_worst ||= "read $t: $cold[$t] after $cold[$s] (read $s)"
		  if $cold[$t] > 2 * $cold[$s];
	}
}
is($cold[0], 100, 'a new role under a block rule: its cold-start limit');
ok($cold[-1] > 100, "its own history then gives a limit ($cold[-1])");
is($cold_worst, '', 'which never rose more than 2 x in 7 days: ' . join(' ', @cold));

# ---------------------------------------------------------------------
# a crash does not make a young membership old: when it was granted is
# on disk before the GRANT goes on
# ---------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	SET insider_guard.test_clock_offset = @{[$base - 15 * $day - $real_now]};
	CREATE ROLE carol LOGIN IN ROLE support;
	GRANT SELECT ON customers TO carol;
	RESET insider_guard.test_clock_offset;
	SELECT insider_guard.set_baseline_rule('carol', 5, '1 hour', 100, 'peers', 'block');
});
at(300, 'SET SESSION AUTHORIZATION carol; SELECT count(*) FROM (SELECT id FROM customers LIMIT 10) s');
my $carol = limit_at(300, 'carol');
my $log_before = -s $node->logfile;
at(600, 'SET SESSION AUTHORIZATION boss; GRANT analysts TO carol');
# (the history saved since, so that the crash loses none of it)
$node->wait_for_log(qr/insider_guard: saved the history/, $log_before);
$node->stop('immediate');
$node->start;
is(limit_at(900, 'carol'), $carol,
	'after a crash just after the grant, the new group still raises nothing');

# ---------------------------------------------------------------------
# every membership change is logged, in every database, however made
# ---------------------------------------------------------------------
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE ROLE misc;
	GRANT misc TO newbie;
	SET ROLE boss;  -- (from PostgreSQL 16 the grantor revokes its grant)
	REVOKE analysts FROM newbie;
	RESET ROLE;
	ALTER GROUP support DROP USER newbie;
	CREATE ROLE s7 IN ROLE support;
	CREATE ROLE s8;
	GRANT support TO s8;
	DROP ROLE s8;
	CREATE DATABASE other;
});
$node->safe_psql('other', 'GRANT misc TO alice');
for my $line (
	'GRANT role membership by session user "postgres" in database "postgres": group_role "misc", member "newbie"',
	'REVOKE peer group membership by session user "postgres" in database "postgres": group_role "analysts", member "newbie"',
	'REVOKE peer group membership by session user "postgres" in database "postgres": group_role "support", member "newbie"',
	'GRANT peer group membership by session user "postgres" in database "postgres": group_role "support", member "s7"',
	'REVOKE peer group membership by session user "postgres" in database "postgres": group_role "support", member "',
	'GRANT role membership by session user "postgres" in database "other": group_role "misc", member "alice"')
{
	ok($node->log_contains(qr/insider_guard: admin \Q$line\E/, $offset), "logged: $line");
}
# PostgreSQL 16 and later make a role without superuser that creates a
# role a member of it: noted and logged too
if ($node->pg_version >= 16)
{
	$node->safe_psql('postgres', 'CREATE ROLE maker LOGIN CREATEROLE');
	$offset = -s $node->logfile;
	$node->safe_psql('postgres', 'SET ROLE maker; CREATE ROLE made');
	ok($node->log_contains(
			qr/insider_guard: admin GRANT role membership by session user "postgres" in database "postgres": group_role "made", member "maker"/,
			$offset),
		'the membership PostgreSQL gives the creator of a role is logged');
}

done_testing();
