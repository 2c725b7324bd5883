# Evidence that a flood cannot erase: a role stopped again and again by
# the same block rule makes one record, whose repeats count the later
# stops (they survive restarts); and when the store is full, the records
# of the role holding the most space go first, so a role that makes many
# records cannot push another role's out.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('incidents', 'insider_guard.violations_max_size = 1024',
	'track_activity_query_size = 16384');
setup_reader($node, 1000);
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers');
});

my $alice_reads = sub {
	my ($sql) = @_;
	$node->psql('postgres', $sql, extra_params => [ '-U', 'alice' ]);
};
my $alice_records = sub {
	return $node->safe_psql('postgres', q{
		SELECT count(*) || ' ' || coalesce(sum(repeats), 0)
		FROM insider_guard.violations WHERE role_name = 'alice'});
};

# the break, then 1,000 point reads from two sessions, each stopped
my ($out, $err) = ('', '');
$node->psql('postgres', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ], stdout => \$out, stderr => \$err);
like($err, qr/may not read more rows/, 'alice is stopped at her limit');
my $points = "SELECT email FROM customers WHERE id = 1;\n" x 500;
my @sessions = map {
	my %run = (in => $points, out => '', err => '');
	$run{handle} = IPC::Run::start(
		[ 'psql', '-XAtq', '-U', 'alice', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$run{in}, '>', \$run{out}, '2>', \$run{err});
	\%run;
} 1 .. 2;
$_->{handle}->finish for @sessions;
my $stops = 0;
$stops += () = $_->{err} =~ /may not read more rows/g for @sessions;
is($stops, 1000, 'each of the 1,000 point reads is stopped');
is($alice_records->(), '1 1000', 'one record, with 1,000 repeats');
ok( $node->safe_psql('postgres', q{
		SELECT last_seen_at > occurred_at FROM insider_guard.violations
		WHERE role_name = 'alice'}) eq 't',
	'last_seen_at is the latest stop');

# repeats are written with the records: a restart keeps them, and so does
# a crash once they were written (reading the view writes them)
$node->restart;
is($alice_records->(), '1 1000', 'the repeats survive a restart');
$node->psql('postgres', "SELECT email FROM customers WHERE id = 2",
	extra_params => [ '-U', 'alice' ]);
is($alice_records->(), '1 1001', 'a stop after the restart is a repeat too');
$node->stop('immediate');
$node->start;
is($alice_records->(), '1 1001', 'and they survive a crash');

# a new incident once the role may read again
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
$node->psql('postgres', 'SELECT count(*) FROM customers', extra_params => [ '-U', 'alice' ]);
is($alice_records->(), '2 1001', 'after a reset, the next break is a new record');

# alice's incident is repeated 30 times, and the view read after each:
# 30 repeats records written, each superseding the one before
my $repeats_after = $node->safe_psql('postgres',
	"SELECT sum(repeats) FROM insider_guard.violations WHERE role_name = 'alice'");
for (1 .. 30)
{
	$alice_reads->('SELECT email FROM customers WHERE id = 3');
	$alice_records->();
}
is($alice_records->(), '2 ' . ($repeats_after + 30), 'thirty more repeats');

# a statement running under the old rules does not close the incidents
# of rules it does not know (found by an attacker: it closed them at each
# reservation, a few times a second, so each stop of the role's other
# sessions was a record of its own).  The role's scan starts under a high
# block limit; a block rule is then added (ivy), or the limit lowered in
# place (ian); the scan reads 40 rows (reserving rows again twice at
# least) between each two stops of the role's other sessions: at its
# rows 1, 41, 81, ... it waits for advisory lock 9100, 9101, 9102, ...,
# which the test lets go one at a time.  ivy's scan also crosses a log
# rule (200 rows in 3 hours) midway: its record does not end the
# incident either.
$node->safe_psql('postgres', q{
	CREATE SEQUENCE scan_ticks;
	CREATE FUNCTION scan_tick(i int) RETURNS boolean LANGUAGE plpgsql AS $$
	DECLARE n bigint := nextval('scan_ticks');
	BEGIN
		IF n % 40 = 1 THEN
			PERFORM pg_advisory_lock_shared(9100 + n / 40);
			PERFORM pg_advisory_unlock_shared(9100 + n / 40);
		END IF;
		RETURN true;
	END $$;
});
my $stops_of = sub {
	my ($role, $change, $rules) = @_;
	$node->safe_psql('postgres', qq{
		CREATE ROLE $role LOGIN;
		GRANT SELECT ON customers TO $role;
		GRANT USAGE ON SEQUENCE scan_ticks TO $role;
		SELECT insider_guard.set_threshold('$role', 1000000, '1 hour', 'block', 'customers');
		$rules;
		SELECT setval('scan_ticks', 1, false);
	});
	my $dba = $node->background_psql('postgres');
	$dba->query_safe('SELECT pg_advisory_lock(9100 + g) FROM generate_series(0, 10) g');
	my $scan = start_as($node, $role,
		'SELECT count(*) FROM customers WHERE scan_tick(id)');
	wait_for_lock_waiters($node, 9100, 1, "$role\'s scan");
	$dba->query_safe($change);
	my $stopped = 0;
	for my $round (1 .. 10)
	{
		$dba->query_safe('SELECT pg_advisory_unlock(' . (9099 + $round) . ')');
		wait_for_lock_waiters($node, 9100 + $round, 1, "$role\'s scan");
		my ($out, $err) = ('', '');
		$node->psql('postgres', 'SELECT count(*) FROM customers',
			extra_params => [ '-U', $role ], stdout => \$out, stderr => \$err);
		$stopped++ if $err =~ /may not read more rows/;
	}
	$dba->query_safe('SELECT pg_advisory_unlock(9110)');
	$dba->quit;
	$scan->{handle}->finish;
	is($scan->{out}, "1000\n", "$role: the scan under the old rules read on");
	is($stopped, 10, "$role: the other sessions are stopped ten times");
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(action || ' ' || n || ' ' || r, ', ' ORDER BY action)
		FROM (SELECT action, count(*) n, sum(repeats) r FROM insider_guard.violations
			  WHERE role_name = '$role' GROUP BY action) a});
};
is( $stops_of->(
		'ivy',
		"SELECT insider_guard.set_threshold('ivy', 5, '2 hours', 'block', 'customers')",
		"SELECT insider_guard.set_threshold('ivy', 200, '3 hours', 'log', 'customers')"),
	'block 1 9, log 1 0',
	'a rule added while a scan runs: one record of ten stops; the scan crossed a log rule');
is( $stops_of->(
		'ian',
		"SELECT insider_guard.set_threshold('ian', 5, '1 hour', 'block', 'customers')",
		'SELECT 1'),
	'block 1 9', 'a rule lowered while a scan runs: one record of ten stops');

# the flood: bob breaks once; then mallory breaks 300 rules, one record
# each (of some 8 kB: the query is long), far more than the 1 MB store
# holds
$node->safe_psql('postgres', q{
	CREATE ROLE bob LOGIN;
	CREATE ROLE mallory LOGIN;
	GRANT SELECT ON customers TO bob;
	SELECT insider_guard.set_threshold('bob', 5, '1 hour', 'block', 'customers');
});
$node->psql('postgres', 'SELECT count(*) FROM customers', extra_params => [ '-U', 'bob' ]);
my $bob_id = $node->safe_psql('postgres',
	"SELECT violation_id FROM insider_guard.violations WHERE role_name = 'bob'");
ok($bob_id > 0, "bob's record is there");
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1 .. 300 LOOP
			EXECUTE format('CREATE TABLE flood_%s (id int)', i);
			EXECUTE format('INSERT INTO flood_%s VALUES (1), (2)', i);
			EXECUTE format('GRANT SELECT ON flood_%s TO mallory', i);
			PERFORM insider_guard.set_threshold('mallory', 1, '1 hour', 'block',
												format('flood_%s', i)::regclass);
		END LOOP;
	END
	$$;
});
my $padding = '/* ' . ('x' x 8000) . ' */';
my $flood = join('', map { "SELECT * FROM flood_$_ $padding;\n" } 1 .. 300);
$node->psql('postgres', $flood, extra_params => [ '-U', 'mallory' ], on_error_stop => 0);
my ($mallory, $oldest, $newest) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), min(table_name), max(violation_id) = (SELECT max(violation_id) FROM insider_guard.violations)
	FROM insider_guard.violations WHERE role_name = 'mallory'});
ok($mallory > 0 && $mallory < 300, "the store kept $mallory of mallory's 300 records");
is($newest, 't', "mallory's newest record is kept");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM insider_guard.violations WHERE violation_id = $bob_id"),
	1, "bob's record was not pushed out");
is($alice_records->(), '2 ' . ($repeats_after + 30), "nor alice's, with her repeats");

# making room dropped the repeats records that later ones superseded
my %repeats_records;
for my $segment (glob($node->data_dir . '/pg_insider_guard/violations.*'))
{
	my $data = slurp_file($segment);
	while ($data =~ /1RGI/g)
	{
		my $id = unpack('q<', substr($data, pos($data) - 4 + 16, 8));
		$repeats_records{$id}++;
	}
}
my ($most) = sort { $b <=> $a } values %repeats_records;
is($most, 1, 'one repeats record per incident is left');
like(slurp_file($node->logfile),
	qr/dropped \d+ violation records .*: the oldest of the role holding the most space\n.*DETAIL:  Dropped \d+ of role "mallory"/,
	'the log says whose records were dropped');

$node->stop;
done_testing();
