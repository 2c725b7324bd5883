# With more (role, table) pairs than insider_guard.max_tracked, the least
# recently used counters are evicted, counted and logged; the newest stay.
# When every counter is pinned by a block rule, a statement that needs
# one more fails closed (53200), and a role under log rules only is read
# unchecked.  The info view counts each, from the server's start.
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

my $info = sub {
	my ($columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM insider_guard.info");
};
my ($evicted) = slurp_file($node->logfile) =~
  /.*insider_guard.max_tracked is 20; (\d+) counters evicted since the server started/s;
is($info->('evictions'), $evicted, "info counts the evictions the log reports ($evicted)");
is($info->('max_tracked'), 20, 'info shows max_tracked');
my $in_use = $info->('counters_in_use');
ok($in_use > 0 && $in_use <= 20, "and the counters in use ($in_use)");
is($info->('fail_closed_statements || \' \' || rule_checks_skipped'), '0 0',
	'nothing failed for lack of room yet');

# a block rule for every role pins each reader's all-tables counter for
# its window: 25 readers cannot all have one
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold(NULL, 1000000, '1 hour', 'block');
	DO $$
	BEGIN
		FOR i IN 1..25 LOOP
			EXECUTE format('CREATE ROLE r%s LOGIN', i);
			EXECUTE format('GRANT SELECT ON t1 TO r%s', i);
		END LOOP;
	END $$;
});
my $failed = 0;
for my $i (1 .. 25)
{
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM t1',
		extra_params => [ '-U', "r$i" ]);
	$failed++ if $err =~ /ERROR:  insider_guard: no room in shared memory to track the reads of role "r$i"/;
}
ok($failed > 0, "readers past what the counters hold fail closed ($failed of 25)");
is($info->('fail_closed_statements'), $failed, 'info counts each statement that failed closed');

# a role under log rules only reads on, unchecked: a check skipped
my $skipped = $info->('rule_checks_skipped');
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE ROLE logged LOGIN;
	GRANT SELECT ON t1 TO logged;
	SELECT insider_guard.exempt('logged');
	SELECT insider_guard.set_threshold('logged', 1000000, '1 hour', 'log');
});
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM t1',
	extra_params => [ '-U', 'logged' ]);
is($out, '1', 'a role under log rules only reads without room for its counters');
ok($node->log_contains(qr/insider_guard: no room in shared memory to check the thresholds of role "logged"/, $offset),
	'the log says its thresholds were not checked');
ok($info->('rule_checks_skipped') > $skipped, 'info counts the checks skipped');
is($info->('fail_closed_statements'), $failed, 'and no statement more failed closed');

# the totals count from the start of the server
my $reset_before = $info->('stats_reset_at');
$node->restart;
is($info->('evictions || \' \' || fail_closed_statements || \' \' || rule_checks_skipped'),
	'0 0 0', 'after a restart the totals start from 0');
is($info->("stats_reset_at > '$reset_before'"), 't', 'stats_reset_at says since when');
ok($node->poll_query_until('postgres',
		'SELECT last_save_at BETWEEN stats_reset_at AND clock_timestamp() FROM insider_guard.info'),
	'the saver has saved since the start');

$node->stop;
done_testing();
