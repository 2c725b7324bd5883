# Behavioural baselines across sessions, restarts and time: the history
# survives a restart and a crash; a baseline rule set in one session
# applies to another's next statement (also a cursor's next FETCH); with
# per = '1 hour', a window that broke the rule does not feed the history,
# and a window that did not does.  Seeding a window again replaces it,
# across restarts and crashes; the server's windows and seeded ones never
# overlap; a history file of an earlier build loads.
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

# a cursor opened while the rule had no usable limit from history (no
# history yet: the block rule's cold-start limit, min_rows, applies) is
# held to the limit from history once it is seeded, from its next FETCH
$node->safe_psql('postgres', q{
	CREATE ROLE bob LOGIN;
	GRANT SELECT ON customers TO bob;
	SELECT insider_guard.set_baseline_rule('bob', 5, '1 hour', 100, 'self', 'block')});
my $bob = $node->background_psql('postgres',
	extra_params => [ '-U', 'bob' ], on_error_stop => 0);
$bob->query('BEGIN');
$bob->query('DECLARE e CURSOR FOR SELECT id FROM customers');
$bob->query('MOVE 10 IN e');
is(reads($node, 'bob', 'customers'), 10,
	'no history yet: bob reads on under the cold-start limit (min_rows 100)');
is($node->safe_psql('postgres', q{
	SELECT limit_now || ' ' || no_limit_reason FROM insider_guard.baselines
	WHERE role_name = 'bob' AND table_name IS NULL AND per = '1 hour'}),
	'100 cold start: too few windows (0 of 20), too few days (0 of 7); no peer group',
	'the baselines view shows the cold-start limit and why');
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

# ---------------------------------------------------------------------
# seeding again replaces, across restarts and crashes
# ---------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE dave LOGIN');
my $series = sub {
	my ($role, $per) = @_;
	$per //= '1 hour';
	return $node->safe_psql('postgres', qq{
		SELECT active_windows || ' ' || days_seen || ' ' || typical_rows || ' ' || high_rows
		FROM insider_guard.baselines
		WHERE role_name = '$role' AND table_name IS NULL AND per = '$per'});
};
# the same 200 hours each time: hour h before $dave_end read $rows rows
# (an SQL expression of h); 10 .. 19 if none
my $dave_end = $node->safe_psql('postgres', "SELECT date_trunc('hour', now())");
my $seed_dave = sub {
	my ($rows, $hours) = @_;
	$rows //= '10 + h % 10';
	$hours //= '0, 199';
	$node->safe_psql('postgres', qq{
		SELECT count(insider_guard.record_history('dave', NULL, '1 hour',
					'$dave_end'::timestamptz - make_interval(hours => h), $rows))
		FROM generate_series($hours) h});
};
# the UTC days of hours $from .. $to before $dave_end
my $dave_end_epoch = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM '$dave_end'::timestamptz)::bigint");
my $days = sub {
	my ($from, $to) = @_;
	my %day = map { (int(($dave_end_epoch - 3600 * $_ - 1) / 86400) => 1) } $from .. $to;
	return scalar(keys %day);
};
$seed_dave->();
my $dave = $series->('dave');
my $dave_days = $days->(0, 199);
like($dave, qr/^200 $dave_days \d+ \d+$/, "seeded: 200 windows on $dave_days days ($dave)");
$seed_dave->();
is($series->('dave'), $dave, 'seeded twice: the same history');
ok(-s $node->data_dir . '/pg_stat/insider_guard.seeds',
	'the seeded windows are recorded in pg_stat/insider_guard.seeds');

$node->restart;
is($series->('dave'), $dave, 'the history after a clean restart');
$seed_dave->();
is($series->('dave'), $dave, 'seeded again after the restart: the same');
$seed_dave->(1000, '0, 9');
my $high = $series->('dave');
like($high, qr/^200 $dave_days \d+ [89][0-9]{2}$/,
	"10 windows of 1,000 rows replace theirs ($high)");
$node->restart;
is($series->('dave'), $high, 'the replaced windows after a restart');
$offset = -s $node->logfile;
$seed_dave->(undef, '0, 9');
is($series->('dave'), $dave, 'and replaced back: as seeded once');

# a crash loses what was seeded since the last save, and seeding it again
# puts it back once, not on top of a record that survived
$node->wait_for_log(qr/insider_guard: saved the history/, $offset);
my $saver_pid = sub {
	my $pid = `pgrep -P $node->{_pid} -f 'insider_guard saver'`;
	chomp $pid;
	return $pid;
};
my $saver = $saver_pid->();
ok($saver =~ /^\d+$/, 'the saver runs');
kill 'STOP', $saver;    # it saves no more
$seed_dave->(1000, '0, 9');
is($series->('dave'), $high, 'seeded while the saver is stopped');
$node->stop('immediate');
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(
		qr/insider_guard: 10 windows seeded after the history was last saved were lost/,
		$offset),
	'at start, the log says which seeding a crash lost');
is($series->('dave'), $dave, 'the history of the last save');
$seed_dave->(1000, '0, 9');
is($series->('dave'), $high, 'seeded again: replaced once');
$seed_dave->(undef, '0, 9');
$offset = -s $node->logfile;
$node->wait_for_log(qr/insider_guard: saved the history/, $offset);
$node->stop('immediate');
$node->start;
is($series->('dave'), $dave, 'a crash after the save keeps what was seeded');
$seed_dave->();
is($series->('dave'), $dave, 'and seeding it all again changes nothing');
# 0 rows removes windows, and their days
$seed_dave->(0, '100, 199');
my $left_days = $days->(0, 99);
like($series->('dave'), qr/^100 $left_days /,
	'0 rows: 100 windows removed, and the days they alone made active');
$seed_dave->();
is($series->('dave'), $dave, 'seeded back');

# ---------------------------------------------------------------------
# the server's windows and seeded ones never overlap.  erin's clock is
# hours ahead of the worker's, which closes no window of hers meanwhile.
# ---------------------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE erin LOGIN;
	GRANT SELECT ON customers TO erin;
	SELECT insider_guard.set_baseline_rule('erin', 5, '1 hour', 100, 'self', 'log')});
$epoch = $node->safe_psql('postgres', 'SELECT floor(extract(epoch FROM now()))::bigint');
# an hour boundary, B, well ahead of every clock set so far, 1 am UTC, so
# that the hours around it are of one day; times are seconds after it
my $b = ($epoch - $epoch % 86400) + 2 * 86400 + 3600;
my $at = sub {
	my ($seconds, $sql) = @_;
	my $offset = $b + $seconds - $epoch;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET insider_guard.test_clock_offset = $offset; $sql",
		stdout => \$out, stderr => \$err);
	return $err;
};
my $erin_reads = sub {
	my ($seconds, $rows) = @_;
	is( $at->(
			$seconds, qq{
			SET SESSION AUTHORIZATION erin;
			SELECT count(*) FROM (SELECT id FROM customers LIMIT $rows) s}),
		'',
		"erin reads $rows rows at B + $seconds s");
};
my $seed_erin = sub {
	my ($seconds, $end, $rows) = @_;
	return $at->($seconds, qq{
		SELECT insider_guard.record_history('erin', NULL, '1 hour', to_timestamp($b + $end), $rows)});
};
$erin_reads->(300, 10);    # in the hour B .. B + 1 h
is($seed_erin->(2 * 3600 + 300, 3600, 7), '',
	'the hour the server is counting, seeded once it ended');
$erin_reads->(3600 + 300, 20);    # closes that hour: 10 rows
is($series->('erin'), '1 1 7 7',
	'the hour the server closed after it was seeded is left out: the seeded one stands');
$erin_reads->(2 * 3600 + 300, 30);    # closes the next hour: 20 rows
is($series->('erin'), '2 1 7 22', 'the next hour is the server\'s own (20 rows: 22 to the bin)');
like($seed_erin->(3 * 3600 + 300, 2 * 3600, 5),
	qr/ERROR:  insider_guard: the window ending at .* overlaps the history the server counted itself\n.*DETAIL:  The server has counted role "erin"'s hourly windows of all tables itself from .* on; a seeded window must end by then\./s,
	'a window the server counted is not seeded over');
is($seed_erin->(3 * 3600 + 300, 3600, 9), '', 'the window before it is');
is($seed_erin->(3 * 3600 + 300, 0, 9), '', 'and earlier ones');
is($series->('erin'), '3 1 10 22', 'erin: the seeded hours before her own (9: 10 to the bin)');

# ---------------------------------------------------------------------
# a history file of an earlier build (200-byte records, no record of the
# seeded windows) still loads; seeding a series that holds windows is
# refused until reset_history, as nobody knows which were seeded
# ---------------------------------------------------------------------
# CRC-32C, as PostgreSQL's pg_crc32c
sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	for my $byte (unpack('C*', $data))
	{
		$crc ^= $byte;
		$crc = ($crc >> 1) ^ (($crc & 1) ? 0x82F63B78 : 0) for 1 .. 8;
	}
	return $crc ^ 0xFFFFFFFF;
}
# rewrites the history file (header 16 bytes, body, CRC) in the layout of
# an earlier build.  Today's records are 224 bytes: key, last_used (24),
# born_seq, live_from, seeded_to (16), then the histogram: 174 bytes of
# statistics, 8 of how its limits rose, 2 of padding.  0.2.0 and 0.3.0
# wrote 216: the histogram without the rise (176 with padding).  Builds
# before that also lacked born_seq, live_from, seeded_to (200 bytes) and
# the newest seeded record in the head.
sub to_earlier_layout
{
	my ($path, $size) = @_;
	open(my $in, '<:raw', $path) or die "$path: $!";
	my $data = do { local $/; <$in> };
	close $in;
	my $body = substr($data, 16, length($data) - 20);
	my ($n, $now_size, $bins) = unpack('L S S', $body);
	die "unexpected record size $now_size" unless $now_size == 224;
	my $out = substr($data, 0, 16) . pack('L S S', $n, $size, $bins);
	$out .= substr($body, 8, 8) if $size == 216;    # newest seeded record
	for my $i (0 .. $n - 1)
	{
		my $record = substr($body, 16 + $i * 224, 224);
		my $hist = substr($record, 40, 174) . "\0\0";
		$out .= $size == 216 ? substr($record, 0, 40) . $hist
		  : substr($record, 0, 24) . $hist;
	}
	$out .= pack('L', crc32c($out));
	open(my $outfh, '>:raw', $path) or die "$path: $!";
	print $outfh $out;
	close $outfh;
}
my ($dave_before, $erin_before) = ($series->('dave'), $series->('erin'));
$node->stop;
my $pg_stat = $node->data_dir . '/pg_stat';
to_earlier_layout("$pg_stat/insider_guard.history", 216);
$offset = -s $node->logfile;
$node->start;
ok(!$node->log_contains(qr/insider_guard: ignoring file/, $offset),
	'the history file of 0.3.0 loads');
is($series->('dave'), $dave_before, 'with its windows');
is($series->('erin'), $erin_before, 'all of them');
is($seed_erin->(3 * 3600 + 300, 0, 9), '',
	'and the record of what was seeded: seeding again is allowed');

my $erin = $series->('erin');
$node->stop;
to_earlier_layout("$pg_stat/insider_guard.history", 200);
unlink("$pg_stat/insider_guard.history.prev", "$pg_stat/insider_guard.seeds");
$offset = -s $node->logfile;
$node->start;
ok(!$node->log_contains(qr/insider_guard: ignoring file/, $offset),
	'the history file of an earlier build loads');
is($series->('dave'), $dave, 'with its windows');
is($series->('erin'), $erin, 'all of them');
my (undef, undef, $refused) = $node->psql('postgres', qq{
	SELECT insider_guard.record_history('dave', NULL, '1 hour', '$dave_end', 10)});
like($refused,
	qr/ERROR:  insider_guard: which windows of role "dave"'s hourly history of all tables were seeded is not known.*HINT:  Forget the history with insider_guard.reset_history\('dave'\), then seed it whole again\./s,
	'seeding a series it holds windows of is refused');
is($series->('dave'), $dave, 'and changes nothing');
$node->safe_psql('postgres', "SELECT insider_guard.reset_history('dave')");
$seed_dave->();
$seed_dave->();
is($series->('dave'), $dave, 'after reset_history, seeded twice: as once');

done_testing();
