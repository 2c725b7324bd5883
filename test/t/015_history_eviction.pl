# When insider_guard.max_history is full, series with the least to lose
# are evicted first: the empty series made when a rule first covers a role
# never push out the history a limit is computed from.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('history_eviction', 'insider_guard.max_history = 40');
setup_reader($node, 1000);

# alice's usable history; a rule for every role
$node->safe_psql('postgres', q{
	SELECT count(insider_guard.record_history('alice', NULL, '1 hour',
				date_trunc('hour', now()) - make_interval(hours => h), 5))
	FROM generate_series(1, 480) h;
	SELECT insider_guard.set_baseline_rule(NULL, 5, '1 hour', 100, 'self', 'block');
});
# 60 new roles read once each: each gets an empty series, 60 > 40
$node->safe_psql('postgres', q{
	DO $$ BEGIN
		FOR i IN 1..60 LOOP
			EXECUTE format('CREATE ROLE newcomer%s LOGIN', i);
			EXECUTE format('GRANT SELECT ON customers TO newcomer%s', i);
		END LOOP;
	END $$;
});
for my $i (1 .. 60)
{
	$node->safe_psql('postgres',
		"SET SESSION AUTHORIZATION newcomer$i; SELECT id FROM customers WHERE id = $i");
}
ok($node->log_contains(qr/insider_guard: evicted \d+ history series to make room/),
	'the store was full: series were evicted, and the log says so');
is( $node->safe_psql('postgres', q{
		SELECT active_windows FROM insider_guard.baselines
		WHERE role_name = 'alice' AND table_name IS NULL}),
	480,
	"alice's usable history was kept");
my ($ret, $out, $err) = $node->psql('postgres',
	'SET SESSION AUTHORIZATION alice; SELECT count(*) FROM customers');
like($err, qr/may not read more rows/, 'and her limit still applies');
is(reads($node, 'alice', 'customers'), 101, 'at row 101');

done_testing();
