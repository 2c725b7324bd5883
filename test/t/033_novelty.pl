# Novelty rules (SPEC, "Multi-day windows and novelty"): a role that
# reads, within a day, more than max(min_rows, its hourly p50) rows from a
# table that neither it nor any peer has read breaks the rule -- logged
# under "log", stopped mid-statement under "block" (also across a cursor's
# FETCHes) -- while a table its peers read is not new.  The rule learns
# for a week first.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('novelty');
setup_reader($node, 100);

my $day = 86400;
my $base = $node->safe_psql('postgres',
	q{SELECT extract(epoch FROM date_trunc('hour', now()))::bigint});
my $real_now = $node->safe_psql('postgres', q{SELECT extract(epoch FROM now())::bigint});

# SQL with insider_guard's clock at $base + $at seconds; (stdout, stderr)
sub at
{
	my ($at, $sql) = @_;
	my $offset = $base + $at - $real_now;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET insider_guard.test_clock_offset = $offset; $sql",
		stdout => \$out, stderr => \$err, on_error_stop => 0);
	return ($out, $err);
}

# its output alone
sub value_at
{
	my ($out) = at(@_);
	return $out;
}

# a team of six, its memberships 15 days old; orders, which the team
# reads, and payroll, which none of them ever read
$node->safe_psql('postgres', qq{
	SET insider_guard.test_clock_offset = @{[$base - 15 * $day - $real_now]};
	CREATE ROLE team NOLOGIN;
	CREATE ROLE mallory LOGIN IN ROLE team;
	CREATE ROLE m1 IN ROLE team;
	CREATE ROLE m2 IN ROLE team;
	CREATE ROLE m3 IN ROLE team;
	CREATE ROLE m4 IN ROLE team;
	CREATE ROLE m5 IN ROLE team;
	CREATE ROLE newcomer LOGIN IN ROLE team;
	RESET insider_guard.test_clock_offset;
	CREATE TABLE orders (id int PRIMARY KEY);
	INSERT INTO orders SELECT generate_series(1, 20000);
	CREATE TABLE payroll (id int PRIMARY KEY, salary int);
	INSERT INTO payroll SELECT g, 1000 + g FROM generate_series(1, 20000) g;
	CREATE TABLE bonus (id int PRIMARY KEY);
	INSERT INTO bonus SELECT generate_series(1, 20000);
	GRANT SELECT ON orders, payroll, customers, bonus TO team;
	SELECT insider_guard.add_peer_group('team');
});
# mallory reads ~200 rows an hour; m1..m5 read orders every day
$node->safe_psql('postgres', qq{
	SELECT count(insider_guard.record_history('mallory', NULL, '1 hour',
				to_timestamp($base) - make_interval(hours => h), 150 + h % 100))
	FROM generate_series(0, 20 * 24 - 1, 4) h;
	SELECT count(insider_guard.record_history(m::regrole, 'orders', '1 day',
				date_trunc('day', to_timestamp($base)) - make_interval(days => d), 3000))
	FROM unnest('{m1,m2,m3,m4,m5}'::text[]) m, generate_series(1, 20) d;
});
my $p50 = $node->safe_psql('postgres', q{
	SELECT typical_rows FROM insider_guard.baselines
	WHERE role_name = 'mallory' AND table_name IS NULL AND per = '1 hour'});
ok($p50 > 150 && $p50 < 500, "mallory's hourly p50: $p50, under min_rows");
my $rule = $node->safe_psql('postgres',
	q{SELECT insider_guard.set_novelty_rule('team', 500, 'log')});

# its learning week: nothing breaks (customers: 100 rows, new to all)
my ($out, $err) = at(3600, q{SET SESSION AUTHORIZATION mallory;
	SELECT count(*) FROM customers});
is($out, '100', 'in its learning week the rule lets a new table be read');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.violations'),
	0, 'and records nothing');

# a week on, orders (the peers read it) is not new; payroll is
$node->safe_psql('postgres', "SELECT insider_guard.reset('mallory')");
($out, $err) = at(8 * $day, q{SET SESSION AUTHORIZATION mallory;
	SELECT count(*) FROM (SELECT id FROM orders LIMIT 3000) s});
is($out, '3000', 'a week on: the peers read orders, so 3,000 rows of it is no break');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.violations'),
	0, 'no record');

# payroll: logged, past max(500, p50) within the day
my $offset = -s $node->logfile;
($out, $err) = at(8 * $day + 60, q{SET SESSION AUTHORIZATION mallory;
	SELECT count(*) FROM (SELECT id FROM payroll LIMIT 2000) s});
is($out, '2000', 'log: mallory reads 2,000 rows of payroll');
ok($node->log_contains(
		qr/insider_guard: violation \d+: role "mallory" \(current role "mallory"\) read past its novelty rule on table "public.payroll": novelty rule $rule allows 500 rows per 1 day now \(log\)/,
		$offset),
	'logged as a break of the novelty rule');
is($node->safe_psql('postgres', q{
	SELECT rule_kind || ' ' || threshold_id || ' ' || max_rows || ' ' || table_name
	FROM insider_guard.violations}),
	"novelty $rule 500 public.payroll", 'one record, of the novelty rule');

# under block: stopped mid-statement at row 501, and across FETCHes
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_novelty_rule('team', 500, 'block');
	SELECT insider_guard.reset('mallory')});
($out, $err) = at(8 * $day + 120, q{SET SESSION AUTHORIZATION mallory;
	SELECT sum(salary) FROM payroll});
like($err, qr/ERROR:  insider_guard: role "mallory" may not read more rows from table "public.payroll"/,
	'block: a whole read of payroll is stopped');
is(value_at(8 * $day + 120, q{SELECT insider_guard.rows_read('mallory', '1 day', 'payroll')}),
	'501', 'at row 501');
$node->safe_psql('postgres', "SELECT insider_guard.reset('mallory')");
($out, $err) = at(8 * $day + 180, q{SET SESSION AUTHORIZATION mallory;
	BEGIN;
	DECLARE c CURSOR FOR SELECT id FROM payroll;
	MOVE 300 IN c;
	MOVE 300 IN c;
	COMMIT});
like($err, qr/may not read more rows from table "public.payroll"/,
	'a cursor is stopped at the FETCH that crosses the limit');
is(value_at(8 * $day + 180, q{SELECT insider_guard.rows_read('mallory', '1 day', 'payroll')}),
	'501', 'at row 501 too');
# orders stays free
($out, $err) = at(8 * $day + 240, q{SET SESSION AUTHORIZATION mallory;
	SELECT count(*) FROM orders});
is($out, '20000', 'block: orders, read by the peers, is not stopped');

# a table is not made known cheaply: one day's read of bonus by mallory
# herself, and a peer's one day of it, leave it new (her own reads on 3
# days, or a peer's usable history of it, would not)
$node->safe_psql('postgres', qq{
	SET insider_guard.test_clock_offset = @{[$base + 8 * $day - $real_now]};
	SELECT insider_guard.record_history('mallory', 'bonus', '1 day',
		date_trunc('day', to_timestamp($base)) + interval '7 days', 1);
	SELECT insider_guard.record_history('m1', 'bonus', '1 day',
		date_trunc('day', to_timestamp($base)) + interval '7 days', 1);
	SELECT insider_guard.reset('mallory');
});
($out, $err) = at(8 * $day + 300, q{SET SESSION AUTHORIZATION mallory;
	SELECT count(*) FROM bonus});
like($err, qr/may not read more rows from table "public.bonus"/,
	'one day of one row (hers, or a peer\'s) does not make a table known');

# the novelty limit is not trained in an hour: newcomer, with no hourly
# history of his own, reads all of orders (known to his peers), then a
# new table an hour later: held to min_rows, not to that hour's volume
($out, $err) = at(8 * $day + 3600, q{SET SESSION AUTHORIZATION newcomer;
	SELECT count(*) FROM orders});
is($out, '20000', 'newcomer reads all of orders (not new)');
($out, $err) = at(8 * $day + 2 * 3600 + 60, q{SET SESSION AUTHORIZATION newcomer;
	SELECT count(*) FROM payroll});
like($err, qr/may not read more rows from table "public.payroll"/,
	'an hour later, a new table: stopped');
is(value_at(8 * $day + 2 * 3600 + 60,
		q{SELECT insider_guard.rows_read('newcomer', '1 day', 'payroll')}),
	'501', 'at min_rows + 1: his one hour of history gives no p50');

done_testing();
