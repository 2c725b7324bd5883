# With more (role, table) pairs than insider_guard.max_tracked, the least
# recently used counters are evicted, counted and logged; the newest stay.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('eviction', 'insider_guard.max_tracked = 20');
setup_reader($node, 10);
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1..40 LOOP
			EXECUTE format('CREATE TABLE t%s AS SELECT g FROM generate_series(1, %s) g', i, i);
			EXECUTE format('GRANT SELECT ON t%s TO alice', i);
		END LOOP;
	END $$;
});

my $offset = -s $node->logfile;
my $session = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
for my $i (1 .. 40)
{
	$session->query_safe("SELECT count(*) FROM t$i");
}
$session->quit;

my $tracked = $node->safe_psql('postgres',
	'SELECT count(*) FROM insider_guard.role_activity');
ok($tracked <= 20, "no more counters than max_tracked ($tracked)");
ok($node->log_contains(qr/insider_guard: evicted \d+ least recently used counters/, $offset),
	'evictions are logged');
ok($node->log_contains(qr/insider_guard.max_tracked is 20; \d+ counters evicted since the server started/, $offset),
	'with the setting and a running total');

is(reads($node, 'alice', 't40'), 40, 'the table read last is still counted');
is(reads($node, 'alice', 't39'), 39, 'and the one before');
is(reads($node, 'alice', 't1'), 0, 'the table read first was evicted');
# the all-tables counter is used by every statement: never the oldest
my $total = 40 * 41 / 2;
is(reads($node, 'alice'), $total, 'the all-tables total is kept');

$node->stop;
done_testing();
