# Seeding the history from pgaudit logs with tools/pgaudit_seed.pl.
#
# A cluster preloads pgaudit and insider_guard (pgaudit.log = 'read',
# log_rows, log_relation); roles read known numbers of rows -- plain
# filters, count(*), a join, a view, a temporary table, a table of another
# database, a multi-line statement with quotes and commas in it.  Their
# audit lines are real, written by the server, and then dated back: each
# statement is tagged "/* w=K */", and the lines it made get the time of
# past hour K in place of theirs, written as the server writes times.  A
# statement dated two hours ahead is in no window that has ended; one
# dated at a day's start marks where the logs begin.  Run with csvlog in
# UTC, then with stderr in Asia/Kolkata (a zone abbreviation, +05:30).
#
# Checks that the calls the script prints are those the attribution
# documented in docs/detection.md gives (rows as returned, each table a
# statement names, each statement once for all tables, UTC windows); that
# the baselines they make are those of the same windows seeded directly;
# and that running the script again, also after a restart, doubles
# nothing.
#
# PostgreSQL 18 has no pgaudit package here: skipped where pgaudit.so is
# not installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use POSIX qw(floor strftime);
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "pgaudit is not installed in $pkglibdir "
  . '(Debian has no pgaudit package for this major): nothing to seed from'
  unless -e "$pkglibdir/pgaudit.so";

my $script = "$FindBin::RealBin/../../tools/pgaudit_seed.pl";
my ($HOUR, $DAY) = (3600, 86400);
my @roles = ('alice', 'Eve Smith', 'bob');
my %ref = ('alice' => 'ref_alice', 'Eve Smith' => 'ref Eve', 'bob' => 'ref_bob');

# "role" as SQL: an identifier, quoted
sub ident
{
	my ($name) = @_;
	return '"' . ($name =~ s/"/""/gr) . '"';
}

# a time as the server writes it in its log (%m, csvlog) in zone $tz
sub log_time
{
	my ($t, $tz) = @_;
	local $ENV{TZ} = $tz;
	POSIX::tzset();
	my $text = strftime('%Y-%m-%d %H:%M:%S', localtime($t)) . '.000 '
	  . strftime('%Z', localtime($t));
	return $text;
}

# The workload: for each window K (an hour, in hours after $d0), the
# statements each role runs, with the rows pgaudit will log for them and
# the tables it will name that insider_guard counts.
sub workload
{
	my @hours = (1, 2, 5, 26, 27, 50, 51, 52, 70);
	my @run;

	for my $k (0 .. $#hours)
	{
		my $a = 10 * ($k + 1) + 3;
		my $j = 5 + $k;
		my @alice = (
			[ "SELECT * FROM t1 WHERE id <= $a", $a, ['public.t1'] ],
			# count(*) returns one row: pgaudit logs 1
			[ 'SELECT count(*) FROM t2', 1, ['public.t2'] ]);
		# a join: its rows for each table, once for all tables
		push @alice,
		  [ "SELECT t1.id FROM t1 JOIN t2 USING (id) WHERE t1.id <= $j", $j,
			[ 'public.t1', 'public.t2' ] ]
		  if $k % 2 == 0;
		# a view: its rows for the table under it
		push @alice, [ 'SELECT * FROM v1 WHERE id <= 5', 5, ['public.t1'] ]
		  if $k % 3 == 0;
		# a temporary table: not counted
		push @alice,
		  [ "CREATE TEMP TABLE scratch AS SELECT 1 AS x; /* w=$k */ SELECT * FROM scratch", 1, [] ]
		  if $k == 1;
		push @run, { k => $k, hour => $hours[$k], role => 'alice', db => 'postgres',
			statements => \@alice };
		# another database: left out by --database
		push @run, { k => $k, hour => $hours[$k], role => 'alice', db => 'other',
			statements => [ [ 'SELECT * FROM t1 WHERE id <= 50', 50, ['public.t1'] ] ] }
		  if $k == 2;
		push @run, { k => $k, hour => $hours[$k], role => 'Eve Smith', db => 'postgres',
			statements => [ [ "SELECT * FROM \"Orders\" WHERE id <= " . (20 + $k), 20 + $k,
				['public."Orders"'] ] ] }
		  if $k =~ /^[0235]$/ || $k == 8;
		# several lines, quotes and commas in the statement
		push @run, { k => $k, hour => $hours[$k], role => 'bob', db => 'postgres',
			statements => [ [ "SELECT id AS \"a, \"\"b\"\"\",\n  'c, ''d''' AS e\n  FROM t2\n  WHERE id <= "
				  . (7 + 2 * $k), 7 + 2 * $k, ['public.t2'] ] ] }
		  if $k % 2 == 1;
	}
	return @run;
}

# The calls the script should print for the workload, as it prints them.
sub expected_calls
{
	my ($d0, @run) = @_;
	my %rows;

	for my $r (@run)
	{
		next unless $r->{db} eq 'postgres';
		my $t = $d0 + $r->{hour} * $HOUR + 600;
		for my $s (@{ $r->{statements} })
		{
			my ($sql, $n, $tables) = @$s;
			next unless @$tables;
			for my $length ($HOUR, $DAY)
			{
				my $w = floor($t / $length);
				$rows{ $r->{role} }{''}{$length}{$w} += $n;
				$rows{ $r->{role} }{$_}{$length}{$w} += $n for @$tables;
			}
		}
	}
	my @calls;
	for my $role (sort keys %rows)
	{
		for my $table (sort keys %{ $rows{$role} })
		{
			for my $length ($HOUR, $DAY)
			{
				my $series = $rows{$role}{$table}{$length};
				for my $w (sort { $a <=> $b } keys %$series)
				{
					push @calls, sprintf(
						"SELECT insider_guard.record_history('%s', %s, '%s', '%s', %d);",
						ident($role) =~ s/'/''/gr,
						$table eq '' ? 'NULL' : "'$table'",
						$length == $HOUR ? '1 hour' : '1 day',
						strftime('%Y-%m-%d %H:%M:%S+00', gmtime(($w + 1) * $length)),
						$series->{$w});
				}
			}
		}
	}
	return @calls;
}

# the baselines of a role's series, one line each
sub baselines
{
	my ($node, $role) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(table_name, '-') || ' ' || per || ' ' || active_windows || ' '
		       || days_seen || ' ' || typical_rows || ' ' || high_rows
		FROM insider_guard.baselines WHERE role_name = '$role'
		ORDER BY table_name NULLS FIRST, per});
}

sub run_case
{
	my ($destination, $tz) = @_;
	my $node = PostgreSQL::Test::Cluster->new("pgaudit_$destination");
	my $file = $destination eq 'csvlog' ? 'audit.csv' : 'audit.log';

	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgaudit,insider_guard'
pgaudit.log = 'read'
pgaudit.log_rows = on
pgaudit.log_relation = on
logging_collector = on
log_destination = '$destination'
log_directory = 'audit'
log_filename = 'audit.log'
log_rotation_age = 0
log_rotation_size = 0
log_timezone = '$tz'
log_line_prefix = '%m [%p] %q%u\@%d '
});
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION insider_guard;
		CREATE ROLE alice LOGIN;
		CREATE ROLE "Eve Smith" LOGIN;
		CREATE ROLE bob LOGIN;
		CREATE ROLE ref_alice;
		CREATE ROLE "ref Eve";
		CREATE ROLE ref_bob;
		CREATE TABLE t1 (id int PRIMARY KEY);
		INSERT INTO t1 SELECT generate_series(1, 1000);
		CREATE TABLE t2 (id int PRIMARY KEY);
		INSERT INTO t2 SELECT generate_series(1, 200);
		CREATE TABLE "Orders" (id int PRIMARY KEY);
		INSERT INTO "Orders" SELECT generate_series(1, 100);
		CREATE VIEW v1 AS SELECT * FROM t1 WHERE id <= 500;
		GRANT SELECT ON t1, t2, v1 TO alice, bob;
		GRANT SELECT ON "Orders" TO "Eve Smith";
		CREATE DATABASE other;
	});
	$node->safe_psql('other', q{
		CREATE TABLE t1 (id int);
		INSERT INTO t1 SELECT generate_series(1, 100);
		GRANT SELECT ON t1 TO alice;
	});

	# the windows: hours of the three days before today (UTC)
	my $now = time();
	my $d0 = floor($now / $DAY) * $DAY - 3 * $DAY;
	my @run = workload();
	my %when = (start => $d0, ahead => floor($now / $HOUR) * $HOUR + 2 * $HOUR + 60);
	for my $r (@run)
	{
		$when{ $r->{k} } = $d0 + $r->{hour} * $HOUR + 600;
		my $sql = join('', map { "/* w=$r->{k} */ $_->[0];\n" } @{ $r->{statements} });
		$node->safe_psql($r->{db}, $sql, extra_params => [ '-U', $r->{role} ]);
	}
	$node->safe_psql('postgres', "/* w=start */ SELECT 1;\n/* w=ahead */ SELECT * FROM t1 WHERE id <= 3;",
		extra_params => [ '-U', 'alice' ]);
	$node->safe_psql('postgres', '/* w=end */ SELECT 1', extra_params => [ '-U', 'alice' ]);
	$when{end} = time();

	# the audit lines, dated back
	my $path = $node->data_dir . "/audit/$file";
	my $log = '';
	for (my $i = 0; $i < 600 && $log !~ m{/\* w=end \*/}; $i++)
	{
		usleep(100_000) if $i > 0;
		$log = slurp_file($path) if -e $path;
	}
	like($log, qr{/\* w=end \*/}, "$destination: the audit lines are in $file");
	my $dated = 0;
	# (a line's time is where it begins; its tag is on that line)
	$log =~ s{^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Za-z0-9+:-]+(?=.*/\* w=(\w+) \*/)}{
		$dated++;
		log_time($when{$1}, $tz)
	}gme;
	ok($dated > 20, "$destination: $dated lines dated back");
	my $dated_path = $node->basedir . "/dated_$file";
	open(my $out, '>', $dated_path) or die "$dated_path: $!";
	print $out $log;
	close $out;

	# the script's calls
	my @args = ('--database', 'postgres', map { ('--role', $_) } @roles);
	push @args, '--log-timezone', $tz if $destination eq 'stderr';
	my $seed = sub {
		my ($sql, $err) = ('', '');
		IPC::Run::run([ $^X, $script, @args, $dated_path ], '>', \$sql, '2>', \$err)
		  or die "pgaudit_seed.pl failed: $err";
		like($err, qr/^pgaudit_seed: \d+ hourly and \d+ daily windows of 3 roles/,
			"$destination: the script says what it seeds");
		return $sql;
	};
	my $sql = $seed->();
	my @calls = grep { !/^--/ } split /\n/, $sql;
	my @expected = expected_calls($d0, @run);
	is_deeply(\@calls, \@expected,
		"$destination: a call per role, table and all tables, per hour and day, as attributed");

	# loaded, the baselines are those of the same windows seeded directly
	my $load = sub {
		my ($calls) = @_;
		my ($ret, $stdout, $stderr) = $node->psql('postgres', $calls);
		is($stderr, '', "$destination: the calls load");
	};
	$load->($sql);
	my $direct = join("\n", @expected);
	for my $role (@roles)
	{
		my $from = ident($role) =~ s/'/''/gr;
		my $to = ident($ref{$role}) =~ s/'/''/gr;
		$direct =~ s/\Q('$from',\E/('$to',/g;
	}
	$node->safe_psql('postgres', $direct);
	my %seeded;
	for my $role (@roles)
	{
		$seeded{$role} = baselines($node, $role);
		is($seeded{$role}, baselines($node, $ref{$role}),
			"$destination: $role: the baselines of the windows read");
	}
	like($seeded{alice}, qr/^- 01:00:00 9 3 /m,
		"$destination: alice: 9 hours of 3 days for all tables");
	like($seeded{alice}, qr/^- 1 day 3 3 /m, "$destination: and 3 days");
	like($seeded{'Eve Smith'}, qr/^public\."Orders" 01:00:00 5 /m,
		"$destination: Eve Smith: 5 hours of \"Orders\"");

	# the script run again, and after a restart: nothing doubles
	my $again = $seed->();
	is($again, $sql, "$destination: run again, the script prints the same calls");
	$load->($again);
	is(baselines($node, $_), $seeded{$_}, "$destination: $_: the same seeded twice")
	  for @roles;
	$node->restart;
	is(baselines($node, $_), $seeded{$_}, "$destination: $_: the same after a restart")
	  for @roles;
	$load->($seed->());
	is(baselines($node, $_), $seeded{$_}, "$destination: $_: and seeded again")
	  for @roles;
	$node->stop;
}

run_case('csvlog', 'UTC');
run_case('stderr', 'Asia/Kolkata');

done_testing();
