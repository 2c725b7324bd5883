# Rolling windows on the real clock: rows read within the last minute
# count; more than a minute (plus its one-second precision) ago, they no
# longer count for the 1-minute window, but still do for longer ones.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = new_node('window');
setup_reader($node, 100);

$node->safe_psql('postgres',
	'SET SESSION AUTHORIZATION alice; SELECT count(*) FROM customers');
my $read_done = time();

is(reads($node, 'alice', 'customers', '1 minute'), 100, 'counted at once');

sleep(50 - (time() - $read_done)) if time() - $read_done < 50;
is(reads($node, 'alice', 'customers', '1 minute'), 100,
	'still counted 50 s later');

sleep(63 - (time() - $read_done)) if time() - $read_done < 63;
is(reads($node, 'alice', 'customers', '1 minute'), 0,
	'no longer counted for the last minute 63 s later');
is(reads($node, 'alice', 'customers', '1 hour'), 100,
	'but still for the last hour');
is( $node->safe_psql(
		'postgres',
		"SELECT rows_last_minute || ' ' || rows_last_hour || ' ' || rows_last_day FROM insider_guard.role_activity WHERE table_name = 'public.customers'"
	),
	'0 100 100',
	'role_activity agrees');

$node->stop;
done_testing();
