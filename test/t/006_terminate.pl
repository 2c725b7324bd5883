# A backend that dies mid-read (pg_terminate_backend, a lost client: a
# FATAL error, which no PG_CATCH sees) still counts what it read, both in
# the executor and in COPY table TO, which bypasses it.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('terminate');
setup_reader($node, 300000);

# the pid of alice's backend once it waits for $wait_event
sub backend_waiting
{
	my ($wait_event) = @_;
	my $query = "SELECT pid FROM pg_stat_activity WHERE usename = 'alice' AND wait_event = '$wait_event'";
	$node->poll_query_until('postgres', "SELECT EXISTS ($query)")
	  or die "alice's backend never waited for $wait_event";
	return $node->safe_psql('postgres', $query);
}

# executor: stopped in the 10th row, which it has read
my $session = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0, wait => 1);
$session->query_until(qr/^$/,
	"SELECT id, pg_sleep(CASE WHEN id = 10 THEN 600 ELSE 0 END) FROM customers WHERE id <= 20 ORDER BY id;\n"
);
my $pid = backend_waiting('PgSleep');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $pid)");
is(reads($node, 'alice', 'customers'), 10,
	'a terminated SELECT counts the rows it read');
$session->{run}->kill_kill;

# COPY TO a client that stopped reading: the backend blocks in a write;
# terminated there, it counts the rows it had sent
$node->safe_psql('postgres', 'SELECT insider_guard.reset()');
my $connstr = $node->connstr('postgres') . ' user=alice';
# (psql writes into a pipe nobody reads: it and then the backend block)
my $copy = IPC::Run::start(
	[ 'psql', '-X', '-d', $connstr, '-c', 'COPY customers TO STDOUT' ],
	'>pipe', \*COPY_OUT);
$pid = backend_waiting('ClientWrite');
my $progress = $node->safe_psql('postgres',
	"SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = $pid");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $pid)");
my $counted = reads($node, 'alice', 'customers');
ok($counted > 0 && $counted < 300000,
	"a terminated COPY TO counts the rows it sent ($counted)");
ok($counted >= $progress,
	"at least as many as it had reported sending before ($progress)");
is( $node->safe_psql(
		'postgres',
		"SELECT statements FROM insider_guard.role_activity WHERE table_name = 'public.customers'"
	),
	1,
	'as one statement');
$copy->kill_kill;
close COPY_OUT;

$node->stop;
done_testing();
