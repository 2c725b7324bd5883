# With insider_guard.log_format = json, every insider_guard event line is
# one JSON object after "insider_guard: ", with the documented fields
# (docs/events.md), and stays one parseable line in every log
# destination: stderr, csvlog, jsonlog (nested as the message string)
# and syslog -- where PostgreSQL splits messages longer than 900 bytes,
# so the line is kept within them, its strings cut and flagged.
#
# Each run makes the events -- an admin call and direct DML, a block
# violation, a log violation, an incident's repeats, counters evicted
# (insider_guard.max_tracked = 10), a statement failed closed, checks
# skipped, rows not counted -- with a table name, a query and an
# application name full of quotes, backslashes, newlines and fake JSON,
# and names of invalid UTF-8 in a SQL_ASCII database; then reads every
# log file, parses every event with JSON::PP and checks the values, exact.
#
# The syslog run needs a syslog daemon: rsyslogd (Debian's rsyslog) runs
# as the test user with a private configuration, listening on a socket in
# the test's directory, and the server runs in a user and mount namespace
# of its own where /dev/log is that socket (test/perl/with_dev_log.pl):
# nothing of the system's changes.  Without rsyslogd or user namespaces
# the syslog run is skipped, saying why.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use Encode qw(encode_utf8);
use IPC::Run;
use InsiderGuardTest;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $json = JSON::PP->new->canonical->ascii;

# Each event is also parsed by jq, a parser a log pipeline would use
# (test.sh and CI install it; run by hand without it, only JSON::PP
# parses them).
my ($jq) = grep { -x } map { "$_/jq" } split /:/, $ENV{PATH};
$jq //= '';
BAIL_OUT('jq is not installed (test.sh installs it for the TAP suite)')
  if $jq eq '' && (($ENV{CI} // '') eq 'true' || $ENV{IG_MONITORING_REQUIRED});
my $jq_parsed = 0;

# SQL quoting, of Perl character strings
sub ident { my ($s) = @_; return '"' . ($s =~ s/"/""/gr) . '"'; }
sub literal { my ($s) = @_; return "'" . ($s =~ s/'/''/gr) . "'"; }

# The adversarial table name: a fake end of object and a fake event,
# quotes, a backslash, a newline, a tab, and characters beyond ASCII
# (U+00E9, and U+1F600, a surrogate pair in JSON).
my $odd = qq|x"}\\ {"event":"admin"}\n\t\x{e9}\x{1F600}|;
my $odd_qualified = 'public.' . ident($odd);

# The query alice is stopped in: another fake line and object inside
my $block_query =
  'SELECT count(*) FROM ' . ident($odd)
  . qq| /* "}\nLOG:  insider_guard: {"source":"insider_guard","event":"violation"} \\ \x{e9} */|;

# A client-chosen application name: quotes and a backslash
my $application = q|probe "} \\ {"event":"x"}|;

# A SQL_ASCII database takes any bytes: a name and a query that are not
# UTF-8 (written as U+FFFD)
my $raw_name = "bad\xff\xfe";
my $raw_query = qq{SELECT count(*) FROM "$raw_name" /* \xff */};

# Runs $sql (characters) as $role in database $db with psql -c, so that
# the server sees exactly $sql; returns stdout and stderr.
sub run_as
{
	my ($node, $db, $role, $sql, %opts) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = $opts{application} // 'tap';
	local $ENV{PGCLIENTENCODING} = $opts{bytes} ? 'SQL_ASCII' : 'UTF8';
	IPC::Run::run(
		[ 'psql', '-XAtq', '-d', $node->connstr($db), '-U', $role, '-c',
			$opts{bytes} ? $sql : encode_utf8($sql) ],
		'>', \$out, '2>', \$err);
	return ($out, $err);
}

sub super
{
	my ($node, $db, $sql) = @_;
	local $ENV{PGCLIENTENCODING} = 'UTF8';
	return $node->safe_psql($db, encode_utf8($sql));
}

# The same in the SQL_ASCII database, $sql in bytes
sub super_raw
{
	my ($node, $sql) = @_;
	local $ENV{PGCLIENTENCODING} = 'SQL_ASCII';
	return $node->safe_psql('raw', $sql);
}

# A time column as the events write times: RFC 3339, UTC, microseconds
sub utc { my ($col) = @_; return qq{to_char($col AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')}; }

# Makes every kind of event on $node; returns what the checks expect.
# $opts{pad}: bytes of comment added to the block query (to force cuts).
sub make_events
{
	my ($node, %opts) = @_;
	my %x;
	my $app = $opts{application} // $application;
	my $query = $block_query . ($opts{pad} ? ' /* ' . ('"\\' x $opts{pad}) . ' */' : '');

	$node->safe_psql('postgres', q{
		CREATE DATABASE shop ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
		CREATE DATABASE raw ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
		CREATE ROLE alice LOGIN;
		CREATE ROLE bob LOGIN;
		CREATE ROLE carol LOGIN;
	});
	$x{superuser} = $node->safe_psql('postgres', 'SELECT session_user');
	my $pins = join('', map { "CREATE TABLE pin_$_ AS SELECT 1 AS a;\n" } 1 .. 12);
	super($node, 'shop', qq{
		CREATE EXTENSION insider_guard;
		CREATE TABLE @{[ ident($odd) ]} (id int);
		INSERT INTO @{[ ident($odd) ]} SELECT generate_series(1, 100);
		CREATE TABLE customers (id int PRIMARY KEY, email text);
		INSERT INTO customers SELECT g, 'u' || g FROM generate_series(1, 100) g;
		$pins
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO alice, bob, carol;
	});
	$x{odd_oid} = super($node, 'shop', 'SELECT ' . literal($odd_qualified) . '::regclass::oid');

	# evictions: bob reads 12 tables, 13 keys with his total, in 10 counters
	run_as($node, 'shop', 'bob', "SELECT * FROM pin_$_") for 1 .. 12;

	# admin calls: a block threshold on the odd table, a log one
	$x{block_id} = super($node, 'shop',
		"SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', "
		  . literal($odd_qualified) . '::regclass)');
	$x{log_id} = super($node, 'shop',
		"SELECT insider_guard.set_threshold('alice', 5, '1 hour', 'log', 'customers')");

	# the block violation, the log violation, two repeats
	my (undef, $err) = run_as($node, 'shop', 'alice', $query, application => $app);
	like($err, qr/may not read more rows/, 'alice is stopped');
	$x{block_query} = $query;
	$x{application} = $app;
	run_as($node, 'shop', 'alice', 'SELECT email FROM customers', application => $app);
	for (1 .. 2)
	{
		(undef, $err) = run_as($node, 'shop', 'alice', 'SELECT id FROM ' . ident($odd) . ' LIMIT 1');
		like($err, qr/may not read more rows/, 'alice is stopped again');
	}
	# (reading the view writes the repeats, and their line)
	for my $id ($x{block_id}, $x{log_id})
	{
		my @row = split /\|/, super($node, 'shop', qq{
			SELECT violation_id, rows_in_window, statement_rows, repeats,
				@{[ utc('occurred_at') ]}, @{[ utc('last_seen_at') ]}
			FROM insider_guard.violations WHERE threshold_id = $id});
		$x{"record_$id"} = {
			violation_id => $row[0], rows_in_window => $row[1],
			statement_rows => $row[2], repeats => $row[3],
			occurred_at => $row[4], last_seen_at => $row[5] };
	}

	# direct DML on a rules table
	super($node, 'shop', "UPDATE insider_guard.thresholds SET max_rows = 11 WHERE threshold_id = $x{block_id}");

	# names and a query that are not UTF-8, in a SQL_ASCII database
	super_raw($node, qq{
		CREATE EXTENSION insider_guard;
		CREATE TABLE "$raw_name" (id int);
		INSERT INTO "$raw_name" SELECT generate_series(1, 20);
		GRANT SELECT ON "$raw_name" TO alice;
		SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', '"$raw_name"');
	});
	(undef, $err) = run_as($node, 'raw', 'alice', $raw_query, bytes => 1);
	like($err, qr/may not read more rows/, 'alice is stopped in the SQL_ASCII database');
	$x{raw_id} = super_raw($node, 'SELECT violation_id FROM insider_guard.violations');

	# no room: bob's 10 rules of 30 days pin every counter; carol's block
	# rule fails closed, her log rule is not checked, her reads not counted
	super_raw($node, 'SELECT insider_guard.reset(); DELETE FROM insider_guard.thresholds');
	super($node, 'shop', q{
		SELECT insider_guard.reset();
		DELETE FROM insider_guard.thresholds;
		SELECT insider_guard.set_threshold('bob', 1000, '30 days', 'log', format('pin_%s', i)::regclass)
		FROM generate_series(1, 10) i;
	});
	run_as($node, 'shop', 'bob', "SELECT * FROM pin_$_") for 1 .. 10;
	super($node, 'shop', q{
		SELECT insider_guard.set_threshold('carol', 1000, '1 hour', 'block', 'customers');
		SELECT insider_guard.set_threshold('carol', 1000, '1 hour', 'log', 'pin_11');
	});
	(undef, $err) = run_as($node, 'shop', 'carol', 'SELECT count(*) FROM customers', application => $app);
	like($err, qr/no room in shared memory/, 'carol fails closed (53200)');
	run_as($node, 'shop', 'carol', 'SELECT * FROM pin_11');
	run_as($node, 'shop', 'carol', 'SELECT * FROM pin_12');

	# every line so far is in the files once this one is
	$node->safe_psql('postgres', q{DO $$ BEGIN RAISE LOG 'json events: the end'; END $$});
	return \%x;
}

# --- reading the log files

sub slurp_raw
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or return '';
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# The event of a log message, or undef if it is not an event line; dies
# if it is one but not a valid JSON object.
sub event_of
{
	my ($message, $where) = @_;
	return undef unless $message =~ /\Ainsider_guard: (\{.*)\z/s;
	my $text = $1;
	my $event = eval { JSON::PP->new->decode($text) };
	die "$where: not a JSON object: $text\n$@" unless ref $event eq 'HASH';
	if ($jq ne '')
	{
		# the same object to jq: its fields, sorted, as JSON::PP read them
		my ($out, $err) = ('', '');
		IPC::Run::run([ $jq, '-c', '-S', '--ascii-output', '.' ],
			'<', \$text, '>', \$out, '2>', \$err)
		  or die "$where: jq cannot parse: $text\n$err";
		chomp $out;
		die "$where: jq reads $out, JSON::PP " . $json->encode($event)
		  unless $json->encode(JSON::PP->new->decode($out)) eq $json->encode($event);
		$jq_parsed++;
	}
	return $event;
}

# stderr: a message starts a line with log_line_prefix, its next lines
# (PostgreSQL's own: a logged statement's) start with a tab and may hold
# any text -- so an event is found after the prefix of a line that does
# not start with a tab: "PREFIX LOG:  insider_guard: {...}"
sub events_stderr
{
	my ($text) = @_;
	my @events;
	for my $line (split /\n/, $text)
	{
		next unless $line =~ /^[^\t].*? LOG:  (insider_guard: \{.*)$/;
		push @events, event_of($1, 'stderr');
	}
	return @events;
}

# csvlog: RFC 4180 records (quoted fields may hold newlines); the message
# is the 14th field
sub csv_records
{
	my ($text) = @_;
	my (@records, @fields);
	pos($text) = 0;
	while (pos($text) < length $text)
	{
		my $field;
		if ($text =~ /\G"((?:[^"]++|"")*+)"/gc)
		{
			$field = $1 =~ s/""/"/gr;
		}
		else
		{
			$text =~ /\G([^,\n]*)/gc;
			$field = $1;
		}
		push @fields, $field;
		next if $text =~ /\G,/gc;
		die 'csvlog: malformed at byte ' . pos($text)
		  unless $text =~ /\G\n/gc || pos($text) >= length $text;
		push @records, [@fields];
		@fields = ();
	}
	return @records;
}

sub events_csv
{
	my ($text) = @_;
	return grep { defined } map { event_of($_->[13], 'csvlog') } csv_records($text);
}

# jsonlog: one JSON object per line, the message a string of it
sub events_jsonlog
{
	my ($text) = @_;
	my @events;
	for my $line (split /\n/, $text)
	{
		# (bytes as they are: PostgreSQL's own lines may hold raw bytes)
		my $entry = JSON::PP->new->decode($line);
		my $event = event_of($entry->{message}, 'jsonlog');
		push @events, $event if $event;
	}
	return @events;
}

# syslog, as rsyslogd wrote it: "IDENT[PID]: [N] MESSAGE", or "[N-K]"
# for the K-th piece of a message PostgreSQL split at a newline or at 900
# bytes.  An event must be a whole message (or the first piece of one
# whose later pieces are its next lines, which start with a tab, written
# #011 by rsyslogd); a later piece of any other kind that holds an event
# is one split.
sub events_syslog
{
	my ($text) = @_;
	my @events;
	for my $line (split /\n/, $text)
	{
		next unless $line =~ /^ig_json_test\[\d+\]: \[\d+(?:-(\d+))?\] (.*)$/;
		my ($piece, $message) = ($1, $2);
		if (defined $piece && $piece > 1)
		{
			die "syslog: an event line split: $line\n"
			  if $message !~ /^(?:\t|#011)/ && $message =~ /insider_guard: \{/;
			next;
		}
		next unless $message =~ /^.*? LOG:  (insider_guard: \{.*)$/;
		push @events, event_of($1, 'syslog');
	}
	return @events;
}

# Waits until $path holds "json events: the end"; returns its text.
sub wait_for_end
{
	my ($path) = @_;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my $text = slurp_raw($path);
		return $text if $text =~ /json events: the end/;
		usleep(100_000);
	}
	die "$path: the last line never came\n";
}

sub usleep { select(undef, undef, undef, $_[0] / 1e6); }

# --- the checks

sub canonical { return sort map { $json->encode($_) } @_; }

sub one_of
{
	my ($events, $label, %match) = @_;
	my @found = grep {
		my $e = $_;
		!grep { !defined $e->{$_} || $e->{$_} ne $match{$_} } keys %match
	} @$events;
	is(scalar @found, 1, "$label: one such event") or diag explain \%match;
	return $found[0] // {};
}

# A string field: exact; or, where lines may be cut (syslog), a prefix of
# what was expected when flagged <key>_truncated.
sub same_or_cut
{
	my ($e, $key, $expected, $label, $cut_allowed) = @_;
	if ($cut_allowed && $e->{"${key}_truncated"})
	{
		ok(defined $e->{$key} && length $e->{$key} < length $expected
			  && substr($expected, 0, length $e->{$key}) eq $e->{$key},
			"$label (cut to a prefix)");
	}
	else
	{
		is($e->{$key}, $expected, $label);
	}
}

# Every field of every kind, against what make_events did
sub check_events
{
	my ($events, $x, $label, %opts) = @_;
	my $cut = $opts{cut};

	# lines cut only where they had to be
	my @cut = grep { grep { /_truncated$/ } keys %$_ } @$events;
	ok(!@cut, "$label: no value cut") or diag explain \@cut unless $cut;

	# common fields
	for my $e (@$events)
	{
		my @missing = grep { !exists $e->{$_} } qw(source event time pid);
		ok(!@missing && $e->{source} eq 'insider_guard'
			  && $e->{time} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/
			  && $e->{pid} =~ /^\d+$/,
			"$label: $e->{event}: source, event, time, pid")
		  or diag explain $e;
	}

	# the admin call, its arguments typed
	my $admin = one_of($events, "$label: admin set_threshold (block)", event => 'admin',
		action => 'set_threshold', database => 'shop', result => $x->{block_id});
	my %arguments = %{ $admin->{arguments} // {} };
	same_or_cut(\%arguments, 'on_table', $odd_qualified,
		"$label: admin argument on_table, the odd name", $cut);
	delete @arguments{qw(on_table on_table_truncated)};
	is_deeply(\%arguments,
		{ role_name => 'alice', max_rows => 10, per => '01:00:00', action => 'block' },
		"$label: admin arguments");
	ok(!ref $admin->{arguments}{max_rows} && $json->encode($admin->{arguments}{max_rows}) eq '10',
		"$label: max_rows is a number");
	is($admin->{role}, $x->{superuser}, "$label: admin: session user");
	is($admin->{database}, 'shop', "$label: admin: database");
	my $reset = one_of($events, "$label: admin reset (all roles) in shop",
		event => 'admin', action => 'reset', database => 'shop');
	ok(exists $reset->{arguments}{role_name} && !defined $reset->{arguments}{role_name},
		"$label: reset of every role: role_name null");
	my $update = one_of($events, "$label: admin UPDATE", event => 'admin',
		action => 'UPDATE', database => 'shop');
	is($update->{arguments}{table}, 'insider_guard.thresholds', "$label: UPDATE: the table");
	is($update->{old_row}{max_rows}, 10, "$label: UPDATE: old row");
	is($update->{new_row}{max_rows}, 11, "$label: UPDATE: new row");
	is($update->{new_row}{threshold_id}, $x->{block_id}, "$label: UPDATE: the row's id");

	# the block violation
	my $record = $x->{"record_$x->{block_id}"};
	my $v = one_of($events, "$label: block violation",
		event => 'violation', database => 'shop', rule_id => $x->{block_id});
	note "$label: the block violation: " . $json->encode($v);
	same_or_cut($v, 'table', $odd_qualified, "$label: violation table, the odd name", $cut);
	same_or_cut($v, 'application', $x->{application}, "$label: violation application", $cut);
	my %expected = (
		violation_id => $record->{violation_id}, written => JSON::PP::true,
		database => 'shop', role => 'alice', current_role => 'alice',
		table_oid => $x->{odd_oid},
		rule_kind => 'threshold', action => 'block', stopped => JSON::PP::true,
		max_rows => 10, per => '01:00:00', per_seconds => 3600,
		rows_in_window => $record->{rows_in_window},
		statement_rows => $record->{statement_rows}, repeats => 0,
		client_addr => undef, time => $record->{occurred_at});
	for my $k (sort keys %expected)
	{
		is($v->{$k}, $expected{$k}, "$label: violation $k");
	}
	ok(exists $v->{client_addr}, "$label: client_addr present (null: a Unix socket)");
	is($v->{backend_pid}, $v->{pid}, "$label: backend_pid: no parallel worker");
	if ($cut)
	{
		ok($v->{query_truncated}, "$label: the long query was cut");
		ok(length $v->{query} < length $x->{block_query}
			  && substr($x->{block_query}, 0, length $v->{query}) eq $v->{query},
			"$label: to a prefix of itself");
	}
	else
	{
		is($v->{query}, $x->{block_query}, "$label: the query, exact");
		ok(!exists $v->{query_truncated}, "$label: not cut");
	}

	# the log violation
	$record = $x->{"record_$x->{log_id}"};
	$v = one_of($events, "$label: log violation",
		event => 'violation', database => 'shop', rule_id => $x->{log_id});
	is($v->{action}, 'log', "$label: log violation: action");
	ok(!$v->{stopped}, "$label: log violation: not stopped");
	is($v->{table}, 'public.customers', "$label: log violation: table");
	is($v->{rows_in_window}, $record->{rows_in_window}, "$label: log violation: rows in window");
	is($v->{query}, 'SELECT email FROM customers', "$label: log violation: query");

	# the repeats: the last line of the incident says what the view says
	my @repeats = grep { $_->{event} eq 'violation_repeats' &&
		  $_->{violation_id} == $x->{"record_$x->{block_id}"}{violation_id} } @$events;
	ok(@repeats >= 1, "$label: the incident's repeats are logged");
	is($repeats[-1]{repeats}, 2, "$label: repeats: 2");
	is($repeats[-1]{last_seen_at}, $x->{"record_$x->{block_id}"}{last_seen_at},
		"$label: repeats: last_seen_at as the view has it");

	# invalid UTF-8: U+FFFD
	$v = one_of($events, "$label: violation in the SQL_ASCII database",
		event => 'violation', database => 'raw');
	is($v->{table}, qq{public."bad\x{fffd}\x{fffd}"}, "$label: invalid bytes of a name: U+FFFD");
	is($v->{query}, qq{SELECT count(*) FROM "bad\x{fffd}\x{fffd}" /* \x{fffd} */},
		"$label: and of a query");
	is($v->{violation_id}, $x->{raw_id}, "$label: its id");

	# evictions, no room
	my @evictions = grep { $_->{event} eq 'eviction' } @$events;
	ok(@evictions >= 1, "$label: counters evicted");
	ok(!grep({ $_->{max_tracked} != 10 || $_->{evicted} < 1 || $_->{evicted_total} < $_->{evicted} } @evictions),
		"$label: eviction: evicted, evicted_total, max_tracked");
	my $closed = one_of($events, "$label: fail_closed", event => 'fail_closed');
	is($closed->{role}, 'carol', "$label: fail_closed: role");
	is($closed->{database}, 'shop', "$label: fail_closed: database");
	is($closed->{query}, 'SELECT count(*) FROM customers', "$label: fail_closed: query");
	same_or_cut($closed, 'application', $x->{application}, "$label: fail_closed: application", $cut);
	my $skipped = one_of($events, "$label: checks_skipped", event => 'checks_skipped');
	is($skipped->{role}, 'carol', "$label: checks_skipped: role");
	ok((grep { $_->{event} eq 'rows_not_counted' && $_->{rows} > 0 } @$events),
		"$label: rows_not_counted");

	# nothing forged: every event is of a known kind, and as many
	# violations as records
	my %kinds = map { $_ => 1 } qw(admin violation violation_repeats eviction
	  fail_closed checks_skipped rows_not_counted fast_path_off);
	my @unknown = grep { !$kinds{ $_->{event} } } @$events;
	ok(!@unknown, "$label: no event of another kind") or diag explain \@unknown;
	is(scalar(grep { $_->{event} eq 'violation' } @$events), 3,
		"$label: three violations, no forged one");
}

# --- stderr, csvlog and jsonlog, with everything whole

# A node that writes JSON events to $destinations, files in json_log/
sub json_node
{
	my ($name, $destinations, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'insider_guard'",
		'insider_guard.log_format = json',
		'insider_guard.max_tracked = 10',
		'max_parallel_workers_per_gather = 0',
		'logging_collector = on',
		"log_destination = '$destinations'",
		"log_directory = 'json_log'",
		"log_filename = 'events.log'",
		@conf) . "\n");
	return $node;
}

my $node = json_node('json_events', 'stderr,csvlog,jsonlog',
	"log_line_prefix = '%m [%p] %q%u@%d '");
$node->start;
my $x = make_events($node);
my $dir = $node->data_dir . '/json_log';
my $stderr_text = wait_for_end("$dir/events.log");
my @stderr = events_stderr($stderr_text);
my @csv = events_csv(wait_for_end("$dir/events.csv"));
my @jsonlog = events_jsonlog(wait_for_end("$dir/events.json"));
ok(@stderr > 10, 'stderr: ' . scalar(@stderr) . ' events, each parsed');
is_deeply([ canonical(@csv) ], [ canonical(@stderr) ], 'csvlog: the same events, decoded');
is_deeply([ canonical(@jsonlog) ], [ canonical(@stderr) ], 'jsonlog: the same events, decoded');
check_events(\@stderr, $x, 'stderr');

# no value started a line: every line of the file starts with the
# prefix, or is the next line of PostgreSQL's own multi-line message (a
# logged statement), which starts with a tab
my @foreign = grep { !/^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \w+ \[\d+\] |\t)/ }
  split /\n/, $stderr_text;
ok(!@foreign, 'stderr: no value started a line of its own') or diag explain \@foreign;
ok((grep { /^\t/ && /insider_guard: \{/ } split /\n/, $stderr_text),
	'(the odd query is in a logged statement too, on a tab-led line: not an event)');

# text again once a superuser says so (reload)
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET insider_guard.log_format = text;
	SELECT pg_reload_conf();
});
$node->poll_query_until('shop', "SELECT current_setting('insider_guard.log_format') = 'text'")
  or die 'the reload did not come';
$node->safe_psql('shop', q{SELECT insider_guard.reset('alice')});
$node->safe_psql('postgres', q{DO $$ BEGIN RAISE LOG 'json events: text again'; END $$});
for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
{
	last if slurp_raw("$dir/events.log") =~ /json events: text again/;
	usleep(100_000);
}
like(slurp_raw("$dir/events.log"),
	qr/LOG:  insider_guard: admin reset by session user "\Q$x->{superuser}\E" in database "shop": role_name "alice"\n/,
	'log_format = text: text lines again');
$node->stop;

# --- syslog too: each event one syslog message, within 900 bytes

my $rsyslogd = '/usr/sbin/rsyslogd';

# the test's rsyslogd, stopped whatever way the test ends
my $rsyslog;
END { eval { $rsyslog->kill_kill } if $rsyslog; }
my $syslog_dir = PostgreSQL::Test::Utils::tempdir_short();
my $namespaces_work = -x $rsyslogd && system('unshare', '--user', '--mount',
	'--map-current-user', '--keep-caps', $^X, "$FindBin::RealBin/../perl/with_dev_log.pl",
	"$syslog_dir/log.sock", $syslog_dir, '--', 'true') == 0;
SKIP:
{
	skip 'syslog: needs rsyslogd (Debian package rsyslog) and user namespaces (unshare --user)', 1
	  unless $namespaces_work;

	# rsyslogd as the test user: its own socket, its own file, no /dev/log
	open(my $conf, '>', "$syslog_dir/rsyslog.conf") or die $!;
	print $conf qq{
global(workDirectory="$syslog_dir" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$syslog_dir/log.sock" RateLimit.Interval="0")
template(name="raw" type="string" string="%syslogtag%%msg%\\n")
*.* action(type="omfile" file="$syslog_dir/syslog.out" template="raw")
};
	close $conf;
	my ($rs_out, $rs_err) = ('', '');
	$rsyslog = IPC::Run::start(
		[ $rsyslogd, '-n', '-f', "$syslog_dir/rsyslog.conf", '-i', "$syslog_dir/rsyslog.pid" ],
		'>', \$rs_out, '2>', \$rs_err);
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		last if -S "$syslog_dir/log.sock";
		usleep(100_000);
	}

	# a log_line_prefix with a client-chosen value (%a): the room shrinks
	my $node2 = json_node('json_syslog', 'stderr,csvlog,jsonlog,syslog',
		"log_line_prefix = '%m [%p] %q%u@%d %a '", "syslog_ident = 'ig_json_test'");
	{
		# the postmaster, and so every backend, sends syslog to our socket
		my $system_log = \&PostgreSQL::Test::Utils::system_log;
		no warnings 'redefine';
		local *PostgreSQL::Test::Utils::system_log = sub {
			return $system_log->('unshare', '--user', '--mount', '--map-current-user',
				'--keep-caps', $^X, "$FindBin::RealBin/../perl/with_dev_log.pl",
				"$syslog_dir/log.sock", $syslog_dir, '--', @_);
		};
		$node2->start;
	}
	my $long_app = $application . ' ' . ('a' x 30);
	my $x2 = make_events($node2, pad => 1000, application => $long_app);
	$dir = $node2->data_dir . '/json_log';
	my @stderr2 = events_stderr(wait_for_end("$dir/events.log"));
	my $syslog_text = wait_for_end("$syslog_dir/syslog.out");
	my @syslog = events_syslog($syslog_text);
	my @csv2 = events_csv(wait_for_end("$dir/events.csv"));
	my @jsonlog2 = events_jsonlog(wait_for_end("$dir/events.json"));
	ok(@syslog > 10, 'syslog: ' . scalar(@syslog) . ' events, each one message, parsed');
	# (the lines the postmaster writes before the logging collector starts
	# -- on a release the fast paths were not checked against, that they
	# are off -- are in pg_ctl's log file, and in syslog)
	my @early = events_stderr(slurp_raw($node2->logfile));
	is_deeply([ canonical(@syslog) ], [ canonical(@early, @stderr2) ],
		'syslog: the same events as stderr');
	is_deeply([ canonical(@csv2) ], [ canonical(@stderr2) ], 'csvlog too');
	is_deeply([ canonical(@jsonlog2) ], [ canonical(@stderr2) ], 'jsonlog too');
	my @long = grep { length($_) > 900 + 64 } grep { /insider_guard: \{/ } split /\n/, $syslog_text;
	ok(!@long, 'syslog: no event message longer than 900 bytes (and its tag)');
	check_events(\@syslog, $x2, 'syslog', cut => 1);

	$node2->stop;
	$rsyslog->signal('TERM');
	$rsyslog->finish;
	$rsyslog = undef;
}

ok($jq eq '' || $jq_parsed > 0, "jq parsed every event as JSON::PP did ($jq_parsed events)");

done_testing();
