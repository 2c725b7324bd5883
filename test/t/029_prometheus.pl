# The metrics of monitoring/postgres_exporter.yaml, read by the real
# prometheus-postgres-exporter (Debian's package) as a monitoring role
# granted only what monitoring/grants.sql grants, from two databases
# (the second found by --auto-discover-databases): after known activity
# (roles reading known numbers of rows, counters evicted, block and log
# violations) the scraped series have exactly the expected values, those
# of the info view once, the exporter logs no query error, and promtool
# accepts the scraped text and the alerting rules of
# monitoring/alerts.yml (and their unit tests), and rejects a broken copy
# of the rules.  And the polling queries of docs/monitoring.md, as the
# same role: new ids only, and a repeat seen as the same record's later
# last_seen_at.
#
# Needs prometheus-postgres-exporter and promtool (package prometheus):
# test.sh installs them and sets IG_MONITORING_REQUIRED, and so does CI;
# without them the test fails there, and is skipped anywhere else.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use File::Copy;
use HTTP::Tiny;
use InsiderGuardTest;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $monitoring = "$FindBin::RealBin/../../monitoring";

# The path of a program in PATH or /usr/bin, or undef.
sub find_program
{
	my ($name) = @_;
	for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin')
	{
		return "$dir/$name" if -x "$dir/$name";
	}
	return undef;
}

my $exporter = find_program('prometheus-postgres-exporter');
my $promtool = find_program('promtool');
if (!$exporter || !$promtool)
{
	my $why = 'needs prometheus-postgres-exporter and promtool '
	  . '(apt-get install --no-install-recommends prometheus-postgres-exporter prometheus)';
	plan skip_all => $why
	  unless ($ENV{CI} // '') eq 'true' || $ENV{IG_MONITORING_REQUIRED};
	fail("$why: not installed, though test.sh or CI should have installed them");
	done_testing();
	exit 1;
}

# room for 50 counters (two a role: customers, all tables) and distinct
# figures for each column of info
my $node = new_node('prometheus', 'insider_guard.max_tracked = 50',
	'insider_guard.max_history = 5000', 'insider_guard.save_interval = 7s');
setup_reader($node, 1000);

# the monitoring role: a login, and the documented grants
$node->safe_psql('postgres', 'CREATE ROLE insider_guard_monitor LOGIN');
$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-v', 'monitor=insider_guard_monitor',
		'-d', $node->connstr('postgres'), '-f', "$monitoring/grants.sql" ],
	'monitoring/grants.sql runs');
# a second database, which the exporter finds by itself: erin reads 42
# rows there
$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('crm', q{
	CREATE EXTENSION insider_guard;
	CREATE ROLE erin LOGIN;
	CREATE TABLE leads (id int);
	INSERT INTO leads SELECT generate_series(1, 100);
	GRANT SELECT ON leads TO erin;
});
$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-v', 'monitor=insider_guard_monitor',
		'-d', $node->connstr('crm'), '-f', "$monitoring/grants.sql" ],
	'and in database crm');
# and one without insider_guard, which it must leave alone
$node->safe_psql('postgres', 'CREATE DATABASE plain');
is( $node->safe_psql('postgres', q{
		SELECT has_table_privilege('insider_guard_monitor', 'insider_guard.thresholds', 'INSERT, UPDATE, DELETE, TRUNCATE')
		    OR has_function_privilege('insider_guard_monitor', 'insider_guard.reset(regrole)', 'EXECUTE')
		    OR has_function_privilege('insider_guard_monitor', 'insider_guard.prune_violations(interval)', 'EXECUTE')}),
	'f', 'the monitoring role may change no rule, count or record');

# Runs $sql as $role (in database $db, postgres if not given); returns
# psql's stderr.
sub as_role
{
	my ($role, $sql, $db) = @_;
	my ($out, $err) = ('', '');
	$node->psql($db // 'postgres', $sql,
		extra_params => [ '-U', $role ],
		stdout => \$out, stderr => \$err);
	return $err;
}

# known reads: filler_01 .. filler_25 read 101 .. 125 rows, then alice
# 500 (and 600 more below), so the 20 roles that read most are alice and
# filler_07 .. 25.
# The fillers take the 50 counters: those who read after them evict the
# least recently used, the first fillers'.
$node->safe_psql('postgres', join('',
	map { sprintf("CREATE ROLE filler_%02d LOGIN; GRANT SELECT ON customers TO filler_%02d;\n", $_, $_) }
	  1 .. 25));
as_role(sprintf('filler_%02d', $_),
	sprintf('SELECT count(*) FROM (SELECT * FROM customers LIMIT %d) s', 100 + $_))
  for 1 .. 25;
as_role('alice', 'SELECT count(*) FROM (SELECT * FROM customers LIMIT 500) s');
as_role('erin', 'SELECT count(*) FROM (SELECT * FROM leads LIMIT 42) s', 'crm');

# violations: carol is stopped (a block record), stopped again (a
# repeat), reset and stopped anew (a second record); dave crosses a log
# threshold (a log record)
$node->safe_psql('postgres', q{
	CREATE ROLE carol LOGIN;
	CREATE ROLE dave LOGIN;
	GRANT SELECT ON customers TO carol, dave;
	SELECT insider_guard.set_threshold('carol', 10, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('dave', 5, '1 day', 'log');
	SELECT insider_guard.set_threshold(NULL, 100000, '30 days', 'log');
});
like(as_role('carol', 'SELECT count(*) FROM customers'),
	qr/may not read more rows/, 'carol is stopped');
like(as_role('carol', 'SELECT count(*) FROM customers'),
	qr/may not read more rows/, 'and stopped again');
is(as_role('dave', 'SELECT count(*) FROM (SELECT * FROM customers LIMIT 8) s'),
	'', 'dave crosses his log threshold, unstopped');
$node->safe_psql('postgres', "SELECT insider_guard.reset('carol')");
like(as_role('carol', 'SELECT count(*) FROM customers'),
	qr/may not read more rows/, 'carol is stopped after her reset');

# alice's baseline: 20 days of 5 rows an hour, at most 5 x p99, never
# less than 1,000 rows: 1,000.  She reads 600 rows more, 1,100 in the
# hour: a log record of a baseline rule.
$node->safe_psql('postgres', q{
	SELECT count(insider_guard.record_history('alice', NULL, '1 hour',
				date_trunc('hour', now()) - make_interval(hours => h), 5))
	FROM generate_series(1, 480) h;
	SELECT insider_guard.set_baseline_rule('alice', 5, '1 hour', 1000, 'self', 'log');
});
is(as_role('alice', 'SELECT count(*) FROM (SELECT * FROM customers LIMIT 600) s'),
	'', 'alice reads past her baseline, unstopped');

# the records, as the superuser reads them
my $records = $node->safe_psql('postgres', q{
	SELECT string_agg(role_name || ' ' || action || ' ' || rule_kind || ' ' || repeats,
					  ', ' ORDER BY violation_id)
	FROM insider_guard.violations});
is($records,
	'carol block threshold 1, dave log threshold 0, carol block threshold 0, alice log baseline 0',
	'the records: carol twice (one repeat), dave, alice');
my %last_id = split /\||\n/, $node->safe_psql('postgres', q{
	SELECT role_name, max(violation_id) FROM insider_guard.violations GROUP BY role_name});

# Every (database, action, rule kind) of insider_guard_violations_*,
# with 0 but for those given.
sub by_kind
{
	my (%given) = @_;
	my %all;
	for my $db ('postgres', 'crm')
	{
		for my $action ('block', 'log')
		{
			for my $kind ('threshold', 'baseline', 'novelty')
			{
				$all{"action=\"$action\",database=\"$db\",rule_kind=\"$kind\""} =
				  $given{"$db $action $kind"} // 0;
			}
		}
	}
	return \%all;
}

# the exporter, on a free port of 127.0.0.1, through the Unix socket; it
# finds crm and plain, and reads crm only
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $exporter_log = "$PostgreSQL::Test::Utils::log_path/029_exporter.log";
my $dsn = sprintf('host=%s port=%d user=insider_guard_monitor dbname=postgres sslmode=disable',
	$node->host, $node->port);
my @exporter_cmd = (
	$exporter,
	'--disable-default-metrics', '--disable-settings-metrics',
	'--no-collector.database', '--no-collector.bgwriter',
	'--auto-discover-databases', '--include-databases=crm',
	"--extend.query-path=$monitoring/postgres_exporter.yaml",
	"--web.listen-address=127.0.0.1:$port");
my $exporter_handle;
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	$exporter_handle = IPC::Run::start(\@exporter_cmd,
		'<', \undef, '>', $exporter_log, '2>&1');
}
my $http = HTTP::Tiny->new(timeout => 30);

# Scrapes the exporter; returns the text, once it answers.
sub scrape
{
	my $response;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		$response = $http->get("http://127.0.0.1:$port/metrics");
		return $response->{content} if $response->{success};
		die "exporter answered $response->{status}: $response->{content}"
		  if $response->{status} != 599;
		select(undef, undef, undef, 0.1);
	}
	die "the exporter did not answer: $response->{content}";
}

# The samples of a metric as { 'label="value",...' => value }, labels
# sorted, the exporter's own "server" label left out.
sub samples
{
	my ($text, $metric) = @_;
	my %samples;
	for my $line (split /\n/, $text)
	{
		next unless $line =~ /^\Q$metric\E(?:\{(.*)\})? (\S+)$/;
		my ($labels, $value) = ($1 // '', $2);
		my @labels = grep { !/^server=/ } ($labels =~ /(\w+="(?:[^"\\]|\\.)*")/g);
		$samples{ join(',', sort @labels) } = $value;
	}
	return \%samples;
}

# info, just before and just after the scrape
my $info_sql = q{
	SELECT counters_in_use, max_tracked, evictions, fail_closed_statements,
		   rule_checks_skipped, history_series_in_use, history_series_max,
		   violation_records, violation_bytes, records_dropped,
		   extract(epoch FROM coalesce(last_save_at, stats_reset_at)),
		   extract(epoch FROM stats_reset_at)
	FROM insider_guard.info};
my @info_before = split /\|/, $node->safe_psql('postgres', $info_sql);
my $text = scrape();
my @info_after = split /\|/, $node->safe_psql('postgres', $info_sql);
my $metrics_file = "$PostgreSQL::Test::Utils::tmp_check/029_metrics.txt";
append_to_file($metrics_file, $text);

# info: once (not once a database), each column as read around the scrape
my @info_metrics = qw(counters_in_use max_tracked evictions_total
  fail_closed_statements_total rule_checks_skipped_total
  history_series_in_use history_series_max violation_records
  violation_bytes records_dropped_total last_save_timestamp_seconds
  stats_reset_timestamp_seconds);
for my $i (0 .. $#info_metrics)
{
	my $metric = "insider_guard_$info_metrics[$i]";
	my $samples = samples($text, $metric);
	my ($low, $high) = sort { $a <=> $b } ($info_before[$i], $info_after[$i]);
	ok( keys %$samples == 1 && exists $samples->{''}
		  && $samples->{''} >= $low - 0.001 && $samples->{''} <= $high + 0.001,
		"$metric: one series, $low" . ($high != $low ? " .. $high" : ''))
	  or diag("got: " . join(', ', map { "{$_} $samples->{$_}" } sort keys %$samples));
}
is_deeply(samples($text, 'insider_guard_save_interval_seconds'), { '' => 7 },
	'insider_guard_save_interval_seconds: 7');
is($info_before[1] . ' ' . $info_before[6], '50 5000',
	'max_tracked and max_history as configured');
ok($info_before[2] > 0, "counters were evicted ($info_before[2])");
is($info_before[7], 4, 'four violation records');

# rows read: the top 20 by the last hour, each with its rows
my %top = ('alice' => 1100, map { (sprintf('filler_%02d', $_) => 100 + $_) } 7 .. 25);
my %expected_hour = map { ("database=\"postgres\",role=\"$_\"" => $top{$_}) } keys %top;
$expected_hour{'database="crm",role="erin"'} = 42;
is_deeply(samples($text, 'insider_guard_role_rows_last_hour'), \%expected_hour,
	'rows read in the last hour: the 20 roles that read most, and their rows');
is_deeply(samples($text, 'insider_guard_role_rows_last_day'), \%expected_hour,
	'and in the last day');

# thresholds in force
is_deeply(
	samples($text, 'insider_guard_threshold_max_rows'),
	{
		'action="block",database="postgres",role="carol",table="public.customers",window_seconds="3600"' => 10,
		'action="log",database="postgres",role="dave",table="*",window_seconds="86400"' => 5,
		'action="log",database="postgres",role="*",table="*",window_seconds="2592000"' => 100000,
	},
	'each threshold: role, table, window, action and limit');
is_deeply(
	samples($text, 'insider_guard_baseline_limit_rows'),
	{ 'database="postgres",role="alice",table="*",window_seconds="3600"' => 1000 },
	"alice's baseline limit");

# violations by database, action and rule kind
is_deeply(
	samples($text, 'insider_guard_violations_stored'),
	by_kind(
		'postgres block threshold' => 2,
		'postgres log threshold' => 1,
		'postgres log baseline' => 1),
	'violation records by database, action and rule kind');
is_deeply(
	samples($text, 'insider_guard_violations_last_id'),
	by_kind(
		'postgres block threshold' => $last_id{carol},
		'postgres log threshold' => $last_id{dave},
		'postgres log baseline' => $last_id{alice}),
	"the highest ids: carol's block ($last_id{carol}), dave's log ($last_id{dave}), alice's baseline ($last_id{alice}); none in crm");
is_deeply(
	samples($text, 'insider_guard_violations_repeats'),
	by_kind('postgres block threshold' => 1),
	'repeats: the one of block records');
is_deeply(samples($text, 'pg_exporter_last_scrape_error'), { '' => 0 },
	'the exporter ran every query');

# a new block incident: the highest block id grows, the others do not
$node->safe_psql('postgres', "SELECT insider_guard.reset('carol')");
like(as_role('carol', 'SELECT count(*) FROM customers'),
	qr/may not read more rows/, 'carol is stopped once more');
my $new_last_id = $node->safe_psql('postgres',
	"SELECT max(violation_id) FROM insider_guard.violations");
ok($new_last_id > $last_id{alice}, 'a new block record, with the highest id');
$text = scrape();
is_deeply(
	samples($text, 'insider_guard_violations_last_id'),
	by_kind(
		'postgres block threshold' => $new_last_id,
		'postgres log threshold' => $last_id{dave},
		'postgres log baseline' => $last_id{alice}),
	'the next scrape shows the new highest block id');

# the polling of docs/monitoring.md, as the monitoring role: new ids
# above the last handled; a repeat makes no new id, and shows in the
# second query as a later last_seen_at of the same record
my $as_monitor = sub {
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql,
		extra_params => [ '-U', 'insider_guard_monitor' ]);
};
my $new_ids = sub {
	my ($last_id) = @_;
	return $as_monitor->(qq{
		SELECT string_agg(violation_id::text, ',' ORDER BY violation_id)
		FROM insider_guard.violations WHERE violation_id > $last_id});
};
is($new_ids->(0),
	$node->safe_psql('postgres',
		'SELECT string_agg(violation_id::text, \',\' ORDER BY violation_id) FROM insider_guard.violations'),
	'polled from 0: every record, in id order');
is($new_ids->($last_id{alice}), $new_last_id, 'polled from the last id: the new record only');
my $incident = sub {
	return $as_monitor->(qq{
		SELECT repeats || ' ' || last_seen_at FROM insider_guard.violations
		WHERE action = 'block' AND violation_id <= $new_last_id
		  AND last_seen_at > '$_[0]'::timestamptz - interval '5 minutes'
		  AND violation_id = $new_last_id});
};
my ($repeats_before, $last_seen_before) = split / /, $incident->('-infinity'), 2;
like(as_role('carol', 'SELECT count(*) FROM customers'),
	qr/may not read more rows/, 'carol is stopped again: a repeat');
is($new_ids->($new_last_id), '', 'a repeat makes no new id');
my ($repeats_after, $last_seen_after) = split / /, $incident->($last_seen_before), 2;
is($repeats_after, $repeats_before + 1, 'the second query shows one more repeat');
ok( $as_monitor->("SELECT '$last_seen_after'::timestamptz > '$last_seen_before'::timestamptz") eq 't',
	'and a later last_seen_at');

$exporter_handle->signal('TERM');
$exporter_handle->finish;
my $log = slurp_file($exporter_log);
unlike($log, qr/level=error|Error running query/, 'the exporter logged no error');
like($log, qr/Established new database connection/,
	'the exporter did connect (its log is the one read)');

# promtool: the scraped text, the rules, their unit tests
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ $promtool, 'check', 'metrics' ], '<', $metrics_file,
	'>', \$out, '2>', \$err);
ok($ok, 'promtool check metrics accepts the scraped text')
  or diag("stdout: $out\nstderr: $err");
command_ok([ $promtool, 'check', 'rules', "$monitoring/alerts.yml" ],
	'promtool check rules accepts alerts.yml');

# the rules and their unit tests name metrics the exporter serves: a
# misspelt name would pass both checks and never fire
my %served = map { /^(\w+)(?:\{| )/ ? ($1 => 1) : () } grep { !/^#/ } split /\n/, $text;
for my $file ('alerts.yml', 'alerts_test.yml')
{
	my %named = map { $_ => 1 }
	  (slurp_file("$monitoring/$file") =~ /\b((?:insider_guard|pg_exporter)_\w+)/g);
	my @unknown = grep { !$served{$_} } sort keys %named;
	ok(keys %named >= 8 && !@unknown,
		"the " . scalar(keys %named) . " metrics $file names are served")
	  or diag("not served: @unknown");
}
command_ok([ $promtool, 'test', 'rules', "$monitoring/alerts_test.yml" ],
	'the alerts fire, and stay silent, as their unit tests expect');

# a broken copy: the check can fail
my $broken = "$PostgreSQL::Test::Utils::tmp_check/029_alerts_broken.yml";
my $rules = slurp_file("$monitoring/alerts.yml");
ok($rules =~ s/insider_guard_counters_in_use \/ insider_guard_max_tracked > 0.9/insider_guard_counters_in_use \/ > 0.9/,
	'a copy of alerts.yml with a syntax error');
append_to_file($broken, $rules);
command_fails([ $promtool, 'check', 'rules', $broken ],
	'promtool check rules rejects it');

done_testing();
