# Counts survive a clean restart (saved at shutdown), a crash (saved every
# insider_guard.save_interval seconds: at most that much is lost), and
# single-user mode; a damaged counts file is ignored, not trusted.  A clean
# shutdown stops the saver without a FATAL line.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('persistence', 'insider_guard.save_interval = 2',
	'restart_after_crash = on');
setup_reader($node, 1000);
my $read = sub {
	my ($sql) = @_;
	$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; $sql");
};

# clean restart: saved at shutdown, loaded at start
$read->('SELECT count(*) FROM customers');
my $offset = -s $node->logfile;
$node->restart;
is(reads($node, 'alice', 'customers'), 1000, 'counts survive a clean restart');
ok(!$node->log_contains(qr/FATAL:.*insider_guard saver/, $offset),
	'the saver stops at a clean shutdown without a FATAL line');
is( $node->safe_psql(
		'postgres',
		"SELECT statements FROM insider_guard.role_activity WHERE table_name = 'public.customers'"
	),
	1,
	'statement counts too');

# crash: what the worker saved survives
$offset = -s $node->logfile;
$read->('SELECT * FROM customers WHERE id <= 250');
wait_for_save($node, $offset);
$node->stop('immediate');
$node->start;
is(reads($node, 'alice', 'customers'), 1250,
	'counts saved before a crash survive it');

# what was read after the last save may be lost, nothing older
$offset = -s $node->logfile;
$read->('SELECT * FROM customers WHERE id <= 100');
wait_for_save($node, $offset);
$read->('SELECT * FROM customers WHERE id <= 10');
$node->stop('immediate');
$node->start;
my $after = reads($node, 'alice', 'customers');
ok($after >= 1350 && $after <= 1360,
	"a crash loses at most the reads since the last save ($after)");

# a backend that crashes makes the postmaster reinitialize shared memory:
# the counters come back from the last save
$offset = -s $node->logfile;
$read->('SELECT * FROM customers WHERE id <= 40');
wait_for_save($node, $offset);
my $victim = $node->background_psql('postgres');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
die "not a backend pid: '$pid'" unless $pid =~ /^[1-9][0-9]*$/;
kill 'KILL', $pid;
$victim->{run}->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'no recovery';
ok($node->log_contains(qr/terminated by signal 9/, $offset),
	'a backend crashed and the server reinitialized');
$after = reads($node, 'alice', 'customers');
ok($after >= 1390 && $after <= 1400,
	"counters reloaded after the crash of a backend ($after)");

# single-user mode counts too, and saves at exit
$node->stop;
my $single = IPC::Run::run(
	[
		'postgres', '--single', '-D', $node->data_dir,
		'-c', 'shared_preload_libraries=insider_guard', 'postgres'
	],
	'<',
	\"SET SESSION AUTHORIZATION alice;\nSELECT count(*) FROM customers;\n",
	'>', \my $out, '2>', \my $err);
ok($single, 'single-user backend ran');
$node->start;
is(reads($node, 'alice', 'customers'), $after + 1000,
	'single-user mode counts, and its counts are saved');

# a damaged file is ignored at start, and the server still runs, with the
# previous good save (the one before single-user mode's)
$node->stop;
my $file = $node->data_dir . '/pg_stat/insider_guard.counts';
ok(-f $file, 'the counts file exists after shutdown');
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, 40, 0);
print $fh "garbage";
close $fh;
$offset = -s $node->logfile;
$node->start;
ok( $node->log_contains(
		qr/insider_guard: ignoring file "pg_stat\/insider_guard.counts": its checksum does not match/,
		$offset),
	'a damaged counts file is reported');
is(reads($node, 'alice', 'customers'), $after,
	'its counts are not trusted: the previous save comes back, not zero');
ok( $node->log_contains(
		qr/insider_guard: loaded the previous save "pg_stat\/insider_guard.counts.prev"/,
		$offset),
	'and the log says so');

$node->stop;
done_testing();
