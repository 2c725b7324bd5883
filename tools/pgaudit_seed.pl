#!/usr/bin/perl
#
# tools/pgaudit_seed.pl: seeds insider_guard's baselines history from the
# read audit that pgaudit (1.7) writes to the server log, so that baseline
# rules have usable limits from the first day instead of after a week.
#
# Reads csvlog or stderr log files of a server that ran with
#
#     shared_preload_libraries = 'pgaudit'
#     pgaudit.log = 'read'          -- SELECT and COPY ... TO
#     pgaudit.log_rows = on         -- the rows of each statement
#     pgaudit.log_relation = on     -- one line per table it names
#
# and prints SQL: one insider_guard.record_history() call for each role,
# table -- and all tables -- and completed UTC hour and day the logs
# cover, with the rows pgaudit logged in it.  Run it with psql in the
# database the logs are of:
#
#     tools/pgaudit_seed.pl --database app /var/log/postgresql/*.csv | psql -X -d app
#
# Seeding a window again replaces it, so the script may be run again over
# logs that overlap: nothing doubles.  Windows still in progress are left
# out, and so is the first window if the logs begin inside it.  A window
# insider_guard already counted itself is refused by record_history (an
# ERROR for that call; psql goes on with the next): give --until the time
# insider_guard's rules began to cover the roles.
#
# How rows are attributed, and what that overstates or understates, is in
# docs/detection.md, "Seeding from pgaudit".  In short: the rows of a
# statement are those pgaudit logged -- what it returned, not what it read
# -- for its login role (the log's user name), counted once for the role's
# total and once for each table it names, at the time it ended.
#
# Perl core modules only.  Usage: tools/pgaudit_seed.pl --help
#
use strict;
use warnings;

use Getopt::Long;
use POSIX qw(floor strftime);
use Time::Local qw(timegm);

my $HOUR = 3600;
my $DAY = 86400;
my %PER_SQL = ($HOUR => '1 hour', $DAY => '1 day');

# the tables insider_guard counts; a view's reads count for the tables
# pgaudit logs under it
my %COUNTED_KIND = map { ($_ => 1) }
  ('TABLE', 'PARTITIONED TABLE', 'MATERIALIZED VIEW', 'FOREIGN TABLE');
# schemas insider_guard does not count (temporary ones neither)
my @ALWAYS_EXCLUDED = qw(pg_catalog information_schema pg_toast insider_guard);

my %opt = (
	prefix => '%m [%p] %q%u@%d ',
	'log-timezone' => 'UTC',
	per => 'both',
	role => [],
	'exclude-schema' => [],);

sub usage
{
	my ($status) = @_;
	print STDERR <<'EOF';
Usage: tools/pgaudit_seed.pl [options] LOGFILE... | psql -X -d DATABASE

Prints insider_guard.record_history() calls for the reads pgaudit logged
(pgaudit.log = 'read', log_rows = on, log_relation = on): per role, table
and all tables, per completed UTC hour and day.  Files named *.csv (or
*.csv.gz) are read as csvlog, others as stderr logs.

  --database NAME        only statements in this database (needed when the
                         logs hold several)
  --role NAME            only this role's statements (may be repeated)
  --per hour|day|both    which windows to seed (default both)
  --format csvlog|stderr the format of every file (default: by its name)
  --prefix STRING        log_line_prefix of stderr logs, which must hold
                         %u, a time (%m, %t or %n) and %c or %p
                         (default '%m [%p] %q%u@%d ', Debian's)
  --log-timezone ZONE    the server's log_timezone, for times written with
                         a zone abbreviation other than UTC (default UTC)
  --from TIME            the logs are complete from TIME: windows that
                         began before are skipped (default: the first
                         time in the logs)
  --until TIME           only windows that ended by TIME (default: those
                         that ended before the current hour or day)
  --exclude-schema NAME  leave out tables of this schema (may be
                         repeated; pg_catalog, information_schema,
                         pg_toast, insider_guard and temporary schemas
                         always are)
  --help

TIME is 'YYYY-MM-DD HH:MM[:SS]' (UTC unless followed by Z, UTC or
+HH[:MM]/-HH[:MM]) or seconds since 1970.
EOF
	exit $status;
}

GetOptions(\%opt, 'database=s', 'role=s@', 'per=s', 'format=s', 'prefix=s',
	'log-timezone=s', 'from=s', 'until=s', 'exclude-schema=s@', 'help')
  or usage(2);
usage(0) if $opt{help};
usage(2) unless @ARGV;
die "pgaudit_seed: --per must be hour, day or both\n"
  unless $opt{per} =~ /^(hour|day|both)$/;
die "pgaudit_seed: --format must be csvlog or stderr\n"
  if defined $opt{format} && $opt{format} !~ /^(csvlog|stderr)$/;
my @lengths = $opt{per} eq 'hour' ? ($HOUR) : $opt{per} eq 'day' ? ($DAY) : ($HOUR, $DAY);
my %only_role = map { ($_ => 1) } @{ $opt{role} };
my %excluded = map { ($_ => 1) } @ALWAYS_EXCLUDED, @{ $opt{'exclude-schema'} };

# ---------------------------------------------------------------------
# times
# ---------------------------------------------------------------------

# offsets from UTC of a zone abbreviation in --log-timezone, by local hour
my %zone_offset;

# The UTC seconds of a local time in --log-timezone written with zone
# abbreviation $abbr: the candidate (standard or daylight time) whose
# abbreviation it is.
sub local_to_utc
{
	my ($abbr, $y, $mo, $d, $h, $mi, $s) = @_;
	my $key = "$abbr $y-$mo-$d $h";

	if (!exists $zone_offset{$key})
	{
		my $tz = $opt{'log-timezone'};
		my $saved = $ENV{TZ};
		$ENV{TZ} = $tz;
		POSIX::tzset();
		for my $isdst (0, 1)
		{
			my $t = POSIX::mktime(0, 0, $h, $d, $mo - 1, $y - 1900, 0, 0, $isdst);
			next unless defined $t;
			my @lt = localtime($t);
			next unless $lt[2] == $h && $lt[3] == $d && $lt[4] == $mo - 1;
			if (strftime('%Z', @lt) eq $abbr)
			{
				$zone_offset{$key} = timegm(0, 0, $h, $d, $mo - 1, $y) - $t;
				last;
			}
		}
		if (defined $saved) { $ENV{TZ} = $saved; }
		else { delete $ENV{TZ}; }
		POSIX::tzset();
		die "pgaudit_seed: a time in zone \"$abbr\" ($y-$mo-$d $h:00), which is not "
		  . "one of --log-timezone ${tz}'s: give the server's log_timezone\n"
		  unless exists $zone_offset{$key};
	}
	return timegm($s, $mi, $h, $d, $mo - 1, $y) - $zone_offset{$key};
}

# Seconds since 1970 (UTC, with a fraction) of a time as the server logs
# it (%m, %t, %n, csvlog) or as --from and --until take it; undef if it
# is none.
sub parse_time
{
	my ($text, $default_utc) = @_;

	return $1 + 0 if $text =~ /^\s*(\d+(?:\.\d+)?)\s*$/;
	return undef
	  unless $text =~
	  /^\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?\s*(\S+)?\s*$/;
	my ($y, $mo, $d, $h, $mi, $s, $frac, $zone) = ($1, $2, $3, $4, $5, $6 // 0, $7 // 0, $8);
	my $utc = timegm($s, $mi, $h, $d, $mo - 1, $y) + $frac;

	return $utc if !defined $zone || $zone =~ /^(UTC|GMT|UCT|Z|\+00|-00|\+00:?00)$/;
	if ($zone =~ /^([+-])(\d\d)(?::?(\d\d))?$/)
	{
		my $offset = ($2 * 3600 + ($3 // 0) * 60) * ($1 eq '-' ? -1 : 1);
		return $utc - $offset;
	}
	die "pgaudit_seed: time \"$text\" has a zone; write it as UTC or +HH:MM\n"
	  if $default_utc;
	return local_to_utc($zone, $y, $mo, $d, $h, $mi, $s) + $frac;
}

sub sql_time
{
	my ($t) = @_;
	return strftime('%Y-%m-%d %H:%M:%S+00', gmtime($t));
}

# ---------------------------------------------------------------------
# reading the logs
# ---------------------------------------------------------------------

# The fields of a CSV line (csvlog, and pgaudit's own message).
sub csv_fields
{
	my ($line) = @_;
	my @fields;

	while (1)
	{
		if ($line =~ /\G"((?:[^"]+|"")*)"/gc)
		{
			(my $value = $1) =~ s/""/"/g;
			push @fields, $value;
		}
		else
		{
			$line =~ /\G([^,]*)/gc;
			push @fields, $1;
		}
		last unless $line =~ /\G,/gc;
	}
	return @fields;
}

# A regular expression for a stderr log line's prefix, and which of its
# groups hold the time, the user, the database and the session (%c, else
# %p): log_line_prefix escapes turned into groups.
sub prefix_regex
{
	my ($prefix) = @_;
	my $re = '';
	my %group;
	my $n = 0;
	my %pattern = (
		m => '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?: \S+)?',
		t => '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: \S+)?',
		s => '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: \S+)?',
		n => '\d+\.\d+',
		p => '\d+',
		P => '\d*',
		c => '[0-9a-f]+\.[0-9a-f]+',
		l => '\d+',
		e => '[0-9A-Z]{5}',
		x => '\d+',
		v => '\S*',
		Q => '-?\d+',);

	while ($prefix =~ /\G(?:%(-?\d+)?([a-zA-Z%])|([^%]+))/gc)
	{
		my ($width, $escape, $literal) = ($1, $2, $3);

		if (defined $literal)
		{
			$re .= quotemeta($literal);
			next;
		}
		if ($escape eq '%') { $re .= '%'; next; }
		if ($escape eq 'q') { next; }
		my $pad = defined $width ? ' *' : '';
		$n++;
		$re .= $pad . '(' . ($pattern{$escape} // '.*?') . ')' . $pad;
		$group{time} //= $n if $escape =~ /^[mtn]$/;
		$group{user} = $n if $escape eq 'u';
		$group{database} = $n if $escape eq 'd';
		$group{session} = $n if $escape eq 'c';
		$group{pid} = $n if $escape eq 'p';
	}
	die "pgaudit_seed: --prefix: cannot read \"$prefix\"\n"
	  if (pos($prefix) // 0) != length($prefix);
	die "pgaudit_seed: --prefix must hold %u (the user), a time (%m, %t or %n) "
	  . "and %c or %p (the session): \"$prefix\"\n"
	  unless $group{user} && $group{time} && ($group{session} || $group{pid});
	die "pgaudit_seed: --database needs %d in --prefix\n"
	  if defined $opt{database} && !$group{database};
	$group{session} //= $group{pid};
	return (qr/^$re/, \%group);
}

sub open_log
{
	my ($path) = @_;
	my $fh;

	if ($path =~ /\.gz$/)
	{
		require IO::Uncompress::Gunzip;
		no warnings 'once';
		$fh = IO::Uncompress::Gunzip->new($path)
		  or die "pgaudit_seed: $path: $IO::Uncompress::Gunzip::GunzipError\n";
	}
	else
	{
		open($fh, '<:raw', $path) or die "pgaudit_seed: $path: $!\n";
	}
	return $fh;
}

# Calls $each->(time, user, database, session, message) for each record of
# a csvlog file, and notes every record's time.
sub read_csvlog
{
	my ($path, $each, $seen) = @_;
	my $fh = open_log($path);
	my $record = '';

	while (defined(my $line = <$fh>))
	{
		$record .= $line;
		# a record ends where its quotes are balanced
		next if ($record =~ tr/"//) % 2;
		$record =~ s/\r?\n\z//;
		my @f = csv_fields($record);
		$record = '';
		my $time = parse_time($f[0] // '');
		next unless defined $time;
		$seen->($time);
		next unless ($f[13] // '') =~ /^AUDIT: /;
		$each->($time, $f[1], $f[2], $f[5], substr($f[13], 7));
	}
	close $fh;
}

# The same for a stderr log file whose lines begin with --prefix; a
# message's further lines begin with a tab.
sub read_stderr
{
	my ($path, $each, $seen) = @_;
	my ($prefix_re, $group) = prefix_regex($opt{prefix});
	# the prefix and the message matched together, so that a user or
	# database name with spaces in it is split where the message begins
	my $audit_re = qr/$prefix_re(?:LOG|INFO|NOTICE|WARNING|DEBUG[1-5]?):  (?:[0-9A-Z]{5}: )?AUDIT: (.*)$/s;
	my $fh = open_log($path);
	my $pending;

	my $flush = sub {
		$each->(@$pending) if $pending;
		undef $pending;
	};
	while (defined(my $line = <$fh>))
	{
		$line =~ s/\r?\n\z//;
		if ($line =~ /^\t/)
		{
			$pending->[4] .= "\n" . substr($line, 1) if $pending;
			next;
		}
		$flush->();
		my @m = $line =~ $audit_re;
		my $audit = @m > 0;

		@m = $line =~ $prefix_re unless $audit;
		next unless @m;
		my $time = parse_time($m[ $group->{time} - 1 ]);
		next unless defined $time;
		$seen->($time);
		next unless $audit;
		$pending = [
			$time, $m[ $group->{user} - 1 ],
			$group->{database} ? $m[ $group->{database} - 1 ] : undef,
			$m[ $group->{session} - 1 ], $m[-1] ];
	}
	$flush->();
	close $fh;
}

# ---------------------------------------------------------------------
# attributing rows
# ---------------------------------------------------------------------

my %rows;          # {role}{table, '' for all}{length}{window number}
my %statement;     # the statement each session is at: key, tables, counted
my %databases;     # databases of the audit lines read
my %count = map { ($_ => 0) }
  qw(records used statements no_rows other_database other_role not_counted);
my $first_time;

# The schema of a qualified name as pgaudit writes it (quoted if need be).
sub schema_of
{
	my ($name) = @_;

	return $1 =~ s/""/"/gr if $name =~ /^"((?:[^"]|"")*)"\./;
	return $1 if $name =~ /^([^.]*)\./;
	return '';
}

sub counted_table
{
	my ($kind, $name) = @_;
	my $schema;

	return 0 unless $COUNTED_KIND{$kind} && $name ne '';
	$schema = schema_of($name);
	return !$excluded{$schema} && $schema !~ /^pg_(toast_)?temp_\d+$/;
}

sub add_rows
{
	my ($role, $table, $time, $rows) = @_;

	for my $length (@lengths)
	{
		$rows{$role}{$table}{$length}{ floor($time / $length) } += $rows;
	}
}

# One audit line: "AUDIT: " cut off.
sub audit_line
{
	my ($time, $user, $database, $session, $message) = @_;
	my @f = csv_fields($message);
	my ($type, $stmt, $sub, $class, $kind, $name) = @f[ 0, 1, 2, 3, 5, 6 ];
	my $rows = $f[-1];

	$count{records}++;
	$databases{$database} = 1 if defined $database && $database ne '';
	return if @f < 10 || $type ne 'SESSION' || $class ne 'READ';
	if ($rows !~ /^\d+$/)
	{
		$count{no_rows}++;
		return;
	}
	if (defined $opt{database} && ($database // '') ne $opt{database})
	{
		$count{other_database}++;
		return;
	}
	if (!defined $user || $user eq '' || (%only_role && !$only_role{$user}))
	{
		$count{other_role}++;
		return;
	}

	# the lines of one statement follow each other in its session
	my $key = "$stmt/$sub";
	my $current = $statement{$session};
	if (!$current || $current->{key} ne $key)
	{
		$current = $statement{$session} = { key => $key, tables => {}, counted => 0 };
	}
	if (!counted_table($kind, $name))
	{
		$count{not_counted}++;
		return;
	}
	$count{used}++;
	if (!$current->{counted})
	{
		# all tables: each statement once, however many tables it names
		$current->{counted} = 1;
		$count{statements}++;
		add_rows($user, '', $time, $rows);
	}
	add_rows($user, $name, $time, $rows) unless $current->{tables}{$name}++;
}

my $seen = sub {
	my ($time) = @_;
	$first_time = $time if !defined $first_time || $time < $first_time;
};
for my $path (@ARGV)
{
	my $format = $opt{format} // ($path =~ /\.csv(\.gz)?$/ ? 'csvlog' : 'stderr');

	if ($format eq 'csvlog') { read_csvlog($path, \&audit_line, $seen); }
	else { read_stderr($path, \&audit_line, $seen); }
}

die "pgaudit_seed: no pgaudit line in the logs: are they a server's with "
  . "pgaudit.log = 'read'? (check --format, and --prefix for stderr logs)\n"
  if $count{records} == 0;
die "pgaudit_seed: the audit lines have no rows: set pgaudit.log_rows = on\n"
  if $count{no_rows} > 0 && $count{used} == 0;
if (!defined $opt{database} && keys %databases > 1)
{
	die "pgaudit_seed: the logs hold statements of several databases ("
	  . join(', ', sort keys %databases)
	  . "): choose one with --database\n";
}

# ---------------------------------------------------------------------
# the calls
# ---------------------------------------------------------------------

my $from = defined $opt{from} ? parse_time($opt{from}, 1) : $first_time;
die "pgaudit_seed: --from: not a time: $opt{from}\n" if defined $opt{from} && !defined $from;
my $until = defined $opt{until} ? parse_time($opt{until}, 1) : time();
die "pgaudit_seed: --until: not a time: $opt{until}\n"
  if defined $opt{until} && !defined $until;

sub sql_literal
{
	my ($text) = @_;
	return "'" . ($text =~ s/'/''/gr) . "'";
}

my @calls;
my %windows = map { ($_ => 0) } @lengths;
my ($in_progress, $partial) = (0, 0);
for my $role (sort keys %rows)
{
	my $regrole = sql_literal('"' . ($role =~ s/"/""/gr) . '"');

	for my $table (sort keys %{ $rows{$role} })
	{
		my $regclass = $table eq '' ? 'NULL' : sql_literal($table);

		for my $length (@lengths)
		{
			# the windows that ended by --until (by default, the current
			# one is in progress: not yet)
			my $last_end = defined $opt{until} ? $until : floor($until / $length) * $length;
			my $series = $rows{$role}{$table}{$length} or next;

			for my $number (sort { $a <=> $b } keys %$series)
			{
				my ($start, $end) = ($number * $length, ($number + 1) * $length);

				if ($end > $last_end) { $in_progress++; next; }
				if (defined $from && $start < $from) { $partial++; next; }
				$windows{$length}++;
				push @calls,
				  sprintf("SELECT insider_guard.record_history(%s, %s, '%s', '%s', %s);\n",
					$regrole, $regclass, $PER_SQL{$length}, sql_time($end),
					$series->{$number});
			}
		}
	}
}

my $summary = sprintf(
	"%d hourly and %d daily windows of %d role%s, from %d statements "
	  . "(%d audit lines; %d not of tables insider_guard counts, %d of other "
	  . "databases, %d of other roles); %d windows not ended%s, %d begun before "
	  . "the logs%s",
	$windows{$HOUR} // 0, $windows{$DAY} // 0, scalar(keys %rows),
	scalar(keys %rows) == 1 ? '' : 's', $count{statements}, $count{records}, $count{not_counted},
	$count{other_database}, $count{other_role}, $in_progress,
	defined $opt{until} ? " by --until" : '', $partial,
	defined $from ? ' (' . sql_time($from) . ')' : '');
print "-- insider_guard history seeded from pgaudit logs by tools/pgaudit_seed.pl\n";
print "-- $summary\n";
print "-- seeding a window again replaces it: this may be run again\n";
print @calls;
print STDERR "pgaudit_seed: $summary\n";
