# On a hot standby: thresholds arrive by replication (and their changes
# apply from the next statement), reads are counted and blocked by the
# standby itself, and violations are recorded and visible there.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf',
	"shared_preload_libraries = 'insider_guard'\n");
$primary->start;
setup_reader($primary, 100);
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers')");
$primary->wait_for_catchup($standby);

is( $standby->safe_psql('postgres',
		'SELECT max_rows FROM insider_guard.thresholds'),
	10, 'the threshold arrived by replication');

my ($stdout, $stderr);
$standby->psql('postgres', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ], stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/insider_guard: role "alice" may not read more rows from table "public.customers"/,
	'the standby blocks');
is(reads($standby, 'alice', 'customers'), 11, 'the standby counted 11 rows');
is(reads($primary, 'alice', 'customers'), 0, 'the primary counted nothing');
is( $standby->safe_psql('postgres',
		"SELECT role_name || ' ' || action || ' ' || rows_in_window FROM insider_guard.violations"),
	'alice block 11',
	'the violation is recorded and visible on the standby');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.violations'),
	0, 'and not on the primary');

# a change on the primary applies on the standby from its next statement
my $session = $standby->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
$primary->safe_psql('postgres', 'UPDATE insider_guard.thresholds SET max_rows = 1000');
$primary->wait_for_catchup($standby);
is($session->query_safe('SELECT count(*) FROM customers'), '100',
	'the raised threshold applies on the standby');
$session->quit;

$standby->stop;
$primary->stop;
done_testing();
