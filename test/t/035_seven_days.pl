# 7-day baseline rules (issue 16), through the server, with the test clock
# moving days forward:
#
# - slow exfiltration: terry, whose 7-day totals were 2,000 .. 2,400 rows
#   for 30 days and whose days were 300 .. 400, reads 1,500 rows a day --
#   under his daily limit -- on five days in a row.  His 7-day block rule
#   stops him mid-statement exactly at its limit in force, before the
#   fifth day; his daily rule never breaks;
# - a 7-day log rule alerts once per incident, not once a day, while the
#   7 days' rows stay above its limit;
# - a 7-day total is taken when a day the role read ends, and is the sum
#   of the 7 days; the day under way survives a restart (counts file);
# - records of incidents (found by attackers of the above): a rule that
#   becomes a log rule, or is lowered, while the role is over it records
#   the next read over it, once, and at most one a minute for a role and
#   table; a rule made again with a reused id, or changed, starts its own
#   record; the same settings applied again do not.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('seven_days', 'insider_guard.save_interval = 1');
setup_reader($node, 100000);

my $hour = 3600;
my $day = 24 * $hour;
# midnight (UTC) today, real clock: history is seeded up to it, and the
# test clock runs from it
my $base = $node->safe_psql('postgres',
	q{SELECT extract(epoch FROM date_trunc('day', now(), 'UTC'))::bigint});

# runs SQL with insider_guard's clock at $base + $at seconds
sub at
{
	my ($at, $sql) = @_;
	my $real_now = $node->safe_psql('postgres',
		q{SELECT extract(epoch FROM now())::bigint});
	my $offset = $base + $at - $real_now;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET insider_guard.test_clock_offset = $offset; $sql",
		stdout => \$out, stderr => \$err, on_error_stop => 0);
	return wantarray ? ($out, $err) : $out;
}

# a role's baselines row of customers, per $per, at $at
sub baseline
{
	my ($at, $role, $per, $cols) = @_;
	return scalar at($at, qq{
		SELECT $cols FROM insider_guard.baselines
		WHERE role_name = '$role' AND table_name = 'public.customers'
		  AND per = '$per'});
}

# reads $rows rows of customers as $role at $at: (rows read, error)
sub read_as
{
	my ($at, $role, $rows) = @_;
	my ($out, $err) = at($at, qq{
		SET SESSION AUTHORIZATION $role;
		SELECT count(*) FROM (SELECT id FROM customers LIMIT $rows) s});
	return ($out, $err);
}

# seeds 30 days of 7-day totals (2,000 .. 2,400) and days (300 .. 400)
sub seed
{
	my ($role) = @_;
	$node->safe_psql('postgres', qq{
		CREATE ROLE $role LOGIN;
		GRANT SELECT ON customers TO $role;
		SELECT count(insider_guard.record_history('$role', 'customers', '7 days',
					to_timestamp($base) - make_interval(days => d), 2000 + d % 5 * 100)),
			   count(insider_guard.record_history('$role', 'customers', '1 day',
					to_timestamp($base) - make_interval(days => d), 300 + d % 3 * 50))
		FROM generate_series(0, 29) d;
	});
}

# ---------------------------------------------------------------------
# slow exfiltration, stopped by a 7-day block rule
# ---------------------------------------------------------------------
seed('terry');
my ($week_rule, $day_rule) = split /\|/, $node->safe_psql('postgres', q{
	SELECT insider_guard.set_baseline_rule('terry', 2, '7 days', 100, 'self', 'block', 'customers'),
		   insider_guard.set_baseline_rule('terry', 5, '1 day', 100, 'self', 'block', 'customers')});

my $daily_read = 1500;
my $start_week = baseline(10 * $hour, 'terry', '7 days', 'limit_now');
ok($start_week > 2 * 2000 * 0.8 && $start_week < 3 * $daily_read,
	"7-day limit $start_week: 2 x the p99 of 7-day totals, under three days' reads");
my ($read, $stopped_on, $limit_then, $before_then) = (0, -1, 0, 0);
# a day and an hour apart: never two reads in one rolling day
sub read_time
{
	my ($d) = @_;
	return $d * ($day + $hour) + 10 * $hour;
}
for my $d (0 .. 4)
{
	my $at = read_time($d);
	my $day_limit = baseline($at, 'terry', '1 day', 'limit_now');
	my $week_limit = baseline($at, 'terry', '7 days', 'limit_now');
	ok($day_limit > $daily_read,
		"day $d: the daily limit ($day_limit) allows $daily_read rows");
	my ($out, $err) = read_as($at, 'terry', $daily_read);
	if ($err =~ /may not read more rows/)
	{
		($stopped_on, $limit_then, $before_then) = ($d, $week_limit, $read);
		ok($read + $daily_read > $week_limit,
			"day $d: stopped, as $read + $daily_read rows exceed $week_limit");
		last;
	}
	is($err, '', "day $d: $daily_read rows read");
	$read += $daily_read;
	ok($read <= $week_limit, "day $d: $read rows in 7 days, within $week_limit");
}
ok($stopped_on >= 1 && $stopped_on <= 3,
	"stopped on day $stopped_on of five, having read $before_then before it");
my ($vrule, $vmax, $vrows, $vper) = split /\|/, $node->safe_psql('postgres', q{
	SELECT threshold_id, max_rows, rows_in_window, per FROM insider_guard.violations
	WHERE role_name = 'terry' ORDER BY violation_id DESC LIMIT 1});
is($vrule, $week_rule, 'the 7-day rule broke');
is($vper, '7 days', 'its window: 7 days');
is($vmax, $limit_then, 'at the limit then in force');
is($vrows, $limit_then + 1, 'stopped at the row that crossed it');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM insider_guard.violations WHERE threshold_id = $day_rule}),
	0, 'the daily rule never broke');
is(at(read_time($stopped_on) + 60,
		q{SELECT insider_guard.rows_read('terry', '7 days', 'customers')}),
	$limit_then + 1, 'read in 7 days: the limit, and the row that crossed it');
# the day it broke fed no 7-day total: the next day's first statement
# closes it
my $windows = baseline(read_time($stopped_on) + 60, 'terry', '7 days', 'active_windows');
read_as(read_time($stopped_on + 1), 'terry', 1);
is(baseline(read_time($stopped_on + 1) + 60, 'terry', '7 days', 'active_windows'),
	$windows, 'the day that broke the rule fed no 7-day total');

# seeds a role, stops it at read_time(0) with a 7-day x2 block rule, then
# makes the rule a log rule (the same id, returned)
sub stopped_then_log
{
	my ($role) = @_;
	seed($role);
	my $rule = $node->safe_psql('postgres', qq{
		SELECT insider_guard.set_baseline_rule('$role', 2, '7 days', 100, 'self', 'block', 'customers')});
	my (undef, $err) = read_as(read_time(0), $role, 5000);
	like($err, qr/may not read more rows/, "$role: stopped by the block rule");
	$node->safe_psql('postgres', qq{
		SELECT insider_guard.set_baseline_rule('$role', 2, '7 days', 100, 'self', 'log', 'customers')});
	return $rule;
}

# a rule switched to log while its block incident is open (bea was just
# stopped) records her next crossing, 12 days on, as a new incident: the
# block incident does not absorb it
my $bea_rule = stopped_then_log('bea');
(undef, my $bea_err) = read_as(read_time(12), 'bea', 20000);
is($bea_err, '', 'bea: as a log rule it stops nothing');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(action || ' ' || repeats, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE threshold_id = $bea_rule}),
	'block 0, log 0', 'a new record for the new incident, as a log rule');

# switched to log while over its limit (a block stop leaves the 7 days at
# limit + 1), the rule records the next read over it, once: no crossing
# is needed -- else 100,000 rows would go unrecorded for a week
my $fay_rule = stopped_then_log('fay');
read_as(read_time(1), 'fay', 50000);
read_as(read_time(3), 'fay', 50000);
like($node->safe_psql('postgres', qq{
	SELECT string_agg(action || ' ' || rows_in_window, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE threshold_id = $fay_rule}),
	qr/^block 3867, log (\d+)$/,
	'over a log limit it never crossed: one record, at the first read over it');

# a log threshold lowered under the role's count: the next read over it
# is a record, once
$node->safe_psql('postgres', q{
	CREATE ROLE lee LOGIN;
	GRANT SELECT ON customers TO lee;
	SELECT insider_guard.set_threshold('lee', 10000, '1 day', 'log', 'customers');
});
read_as(read_time(0), 'lee', 5000);
my $lee_rule = $node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('lee', 1000, '1 day', 'log', 'customers')});
read_as(read_time(0) + 60, 'lee', 5000);
read_as(read_time(0) + 120, 'lee', 5000);
like($node->safe_psql('postgres', qq{
	SELECT string_agg(max_rows || ' ' || rows_in_window, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE threshold_id = $lee_rule}),
	qr/^1000 (5\d\d\d|6000)$/,
	'a lowered log threshold: one record, at the first read over it');

# warned at 50 a day, stopped at 100 an hour: when the block rule becomes
# a log rule, the read over it is recorded -- the incident slots held by
# the warning and the stop do not keep the record out
$node->safe_psql('postgres', q{
	CREATE ROLE wes LOGIN;
	GRANT SELECT ON customers TO wes;
	SELECT insider_guard.set_threshold('wes', 50, '1 day', 'log', 'customers');
});
my $wes_block = $node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('wes', 100, '1 hour', 'block', 'customers')});
my $wes_at = read_time(30);
read_as($wes_at, 'wes', 80);
(undef, my $wes_err) = read_as($wes_at + 1, 'wes', 80);
like($wes_err, qr/may not read more rows/, 'wes: stopped at 100 an hour');
# the same settings applied again change nothing: a repeat, not a record
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('wes', 100, '1 hour', 'block', 'customers')});
(undef, $wes_err) = read_as($wes_at + 2, 'wes', 80);
like($wes_err, qr/may not read more rows/, 'wes: stopped again');
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('wes', 100, '1 hour', 'log', 'customers')});
read_as($wes_at + 3, 'wes', 20000);
read_as($wes_at + 4, 'wes', 20000);
is($node->safe_psql('postgres', qq{
	SELECT string_agg(action || ' ' || repeats, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE threshold_id = $wes_block}),
	'block 1, log 0', 'a rule applied again: a repeat; switched to log: one record of the read over it');

# three log rules lowered under the count at once: records of reads over
# them without a crossing come at most one a minute for the role and
# table, however the rules push each other out of the incident slots
$node->safe_psql('postgres', q{
	CREATE ROLE ola LOGIN;
	GRANT SELECT ON customers TO ola;
	SELECT insider_guard.set_threshold('ola', 1000, per, 'log', 'customers')
	FROM unnest(ARRAY['1 hour', '2 hours', '3 hours']::interval[]) per;
});
my $ola_at = read_time(40);
read_as($ola_at, 'ola', 500);
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('ola', 100, per, 'log', 'customers')
	FROM unnest(ARRAY['1 hour', '2 hours', '3 hours']::interval[]) per;
});
my $ola_records = sub {
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM insider_guard.violations WHERE role_name = 'ola'});
};
read_as($ola_at + 10, 'ola', 10);
is($ola_records->(), 1, 'ola: three rules over, one record');
read_as($ola_at + 20, 'ola', 10);
read_as($ola_at + 30, 'ola', 10);
is($ola_records->(), 1, 'none more within the minute');
read_as($ola_at + 80, 'ola', 10);
is($ola_records->(), 2, 'a minute on, the next rule\'s');
read_as($ola_at + 140, 'ola', 10);
read_as($ola_at + 200, 'ola', 10);
is($ola_records->(), 3, 'and then the third: each rule recorded, none twice');
read_as($ola_at + 260, 'ola', 10);
is($ola_records->(), 3, 'the episodes are recorded: no more');

# every block rule the same row breaks gets its record -- of the table
# (a minute and an hour) and of all tables -- and each its repeats after
$node->safe_psql('postgres', q{
	CREATE ROLE tia LOGIN;
	GRANT SELECT ON customers TO tia;
	SELECT insider_guard.set_threshold('tia', 100, per, 'block', tbl)
	FROM (VALUES ('1 minute'::interval, 'customers'::regclass), ('1 hour', 'customers'),
				 ('1 hour', NULL)) v(per, tbl);
});
my $tia_at = read_time(50);
(undef, my $tia_err) = read_as($tia_at, 'tia', 1000);
like($tia_err, qr/may not read more rows/, 'tia: stopped at row 101');
(undef, $tia_err) = read_as($tia_at + 1, 'tia', 1000);
like($tia_err, qr/may not read more rows/, 'tia: stopped again');
is($node->safe_psql('postgres', q{
	SELECT string_agg(t.per || ' ' || coalesce(t.table_name::text, 'all') || ' ' ||
					  v.rows_in_window || ' ' || v.repeats, ', ' ORDER BY t.threshold_id)
	FROM insider_guard.violations v JOIN insider_guard.thresholds t USING (threshold_id)
	WHERE v.role_name = 'tia'}),
	'00:01:00 customers 101 1, 01:00:00 customers 101 1, 01:00:00 all 101 1',
	'three rules broken by one row: three records, each with its repeat');

# incidents of rules that are no block rules of the key any more (four
# dropped) give way: a new block rule's stops are one record and repeats,
# not a record each
$node->safe_psql('postgres', q{
	CREATE ROLE uma LOGIN;
	GRANT SELECT ON customers TO uma;
	SELECT insider_guard.set_threshold('uma', 10, p::interval, 'block', 'customers')
	FROM unnest(ARRAY['1 hour', '2 hours', '3 hours', '4 hours']) p;
});
my $uma_at = read_time(60);
(undef, my $uma_err) = read_as($uma_at, 'uma', 1000);
like($uma_err, qr/may not read more rows/, 'uma: stopped by four rules');
my $uma_rule = $node->safe_psql('postgres', q{
	SELECT count(insider_guard.drop_threshold(threshold_id)) FROM insider_guard.thresholds
	WHERE role_name = 'uma'::regrole;
	SELECT insider_guard.set_threshold('uma', 5, '5 hours', 'block', 'customers');
});
$uma_rule =~ s/.*\n//s;
read_as($uma_at + $_, 'uma', 10) for 1 .. 5;
is($node->safe_psql('postgres', qq{
	SELECT count(*) || ' ' || sum(repeats)
	FROM insider_guard.violations WHERE threshold_id = $uma_rule}),
	'1 4', 'a new rule after four dropped: one record, four repeats');

# a rule switched block -> log -> block -> log -> block: each block phase
# is an incident of its own (its record and repeats), however the slots
# lie; the log phases are one episode
$node->safe_psql('postgres', q{
	CREATE ROLE gia LOGIN;
	GRANT SELECT ON customers TO gia;
});
my $gia_at = read_time(70);
my $gia_rule;
for my $phase (0 .. 4)
{
	my $action = $phase % 2 ? 'log' : 'block';
	$gia_rule = $node->safe_psql('postgres', qq{
		SELECT insider_guard.set_threshold('gia', 5, '1 hour', '$action', 'customers')});
	read_as($gia_at + $phase * 10 + $_, 'gia', 1000) for 1 .. 3;
}
is($node->safe_psql('postgres', qq{
	SELECT string_agg(action || ' ' || repeats, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE threshold_id = $gia_rule}),
	'block 2, log 0, block 2, block 2', 'each block phase its record, the log phases one');

# ---------------------------------------------------------------------
# a log rule: one alert per incident
# ---------------------------------------------------------------------
seed('lou');
my $log_rule = $node->safe_psql('postgres', q{
	SELECT insider_guard.set_baseline_rule('lou', 2, '7 days', 100, 'self', 'log', 'customers')});
my $over_days = 0;
for my $d (0 .. 5)
{
	my $at = read_time($d);
	my ($out, $err) = read_as($at, 'lou', $daily_read);
	is($err, '', "lou, day $d: a log rule stops nothing");
	my $in_week = at($at + 60,
		q{SELECT insider_guard.rows_read('lou', '7 days', 'customers')});
	$over_days++
	  if $in_week > baseline($at + 60, 'lou', '7 days', 'limit_now');
}
ok($over_days >= 2, "lou was over his 7-day limit on $over_days days");
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM insider_guard.violations WHERE threshold_id = $log_rule}),
	1, 'one record for the incident, not one a day');

# ---------------------------------------------------------------------
# 7-day totals are sums of 7 days, taken as days end; across a restart
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE rita LOGIN;
	GRANT SELECT ON customers TO rita;
	SELECT insider_guard.set_baseline_rule('rita', 2, '7 days', 100, 'self', 'log', 'customers');
});
read_as(10 * $hour, 'rita', 20);
$node->restart;
read_as($day + 10 * $hour, 'rita', 25);
read_as(2 * $day + 10 * $hour, 'rita', 1);
my ($windows_r, $typical, $high) = split /\|/,
  baseline(2 * $day + 11 * $hour, 'rita', '7 days',
	'active_windows, typical_rows, high_rows');
is($windows_r, 2, 'two days read, two 7-day totals: the day before the restart too');
# bins: 20 rows show as 22, 25 as 22, 45 as 50
is($high, 50, 'the second total is the sum of both days (45), not that day\'s 25');
is($typical, 50, 'and, newer, weighs more: the p50');

# ---------------------------------------------------------------------
# incidents belong to a version of a rule: a rule made again with an id
# that came back (the extension dropped and created again) or changed in
# place does not add its stops to an old record
# ---------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE incid');
$node->safe_psql('incid', q{
	CREATE EXTENSION insider_guard;
	CREATE TABLE customers AS SELECT g AS id FROM generate_series(1, 1000) g;
	CREATE ROLE rex LOGIN;
	GRANT SELECT ON customers TO rex;
	SELECT insider_guard.set_threshold('rex', 100, '1 hour', 'block', 'customers');
});
sub rex_reads
{
	my ($out, $err) = ('', '');
	$node->psql('incid', q{SET SESSION AUTHORIZATION rex; SELECT count(*) FROM customers},
		stdout => \$out, stderr => \$err);
	return $err;
}
like(rex_reads(), qr/may not read more rows/, 'rex: stopped by threshold 1');
$node->safe_psql('incid', q{
	DROP EXTENSION insider_guard;
	CREATE EXTENSION insider_guard;
	GRANT SELECT ON customers TO rex;
});
is($node->safe_psql('incid', q{
	SELECT insider_guard.set_threshold('rex', 50, '1 hour', 'block', 'customers')}),
	1, 'the extension made again: the id comes back');
like(rex_reads(), qr/may not read more rows/, 'rex: stopped by the new threshold 1');
$node->safe_psql('incid', q{
	SELECT insider_guard.set_threshold('rex', 40, '1 hour', 'block', 'customers')});
like(rex_reads(), qr/may not read more rows/, 'rex: stopped by it, changed');
is($node->safe_psql('incid', q{
	SELECT string_agg(max_rows || ' ' || repeats, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE role_name = 'rex'}),
	'100 0, 50 0, 40 0', 'each version of the rule has its own record');
like(rex_reads(), qr/may not read more rows/, 'rex: stopped again');
is($node->safe_psql('incid', q{
	SELECT string_agg(max_rows || ' ' || repeats, ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE role_name = 'rex'}),
	'100 0, 50 0, 40 1', 'a repeat of the same version adds to its record');

done_testing();
