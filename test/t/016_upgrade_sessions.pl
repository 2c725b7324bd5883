# A session that read the rules before ALTER EXTENSION ... UPDATE added
# the baseline tables still applies a baseline rule set afterwards, from
# its next statement: a change to any rules table reaches every backend
# that read the rules, whatever tables it knew of.  Neither CREATE
# EXTENSION nor ALTER EXTENSION ... UPDATE logs the tables its script is
# making as look-alikes ("ignoring ... CREATE EXTENSION insider_guard did
# not make it"), though its own statements find them before it registers
# them with the extension (pg_extension_config_dump).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $lookalike = qr/insider_guard: ignoring/;
my $node = new_node('upgrade_sessions');
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE EXTENSION insider_guard VERSION '0.1.0';
	CREATE ROLE alice LOGIN;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	INSERT INTO customers SELECT g, 'user' || g FROM generate_series(1, 1000) g;
	GRANT SELECT ON customers TO alice;
});
ok(!$node->log_contains($lookalike, $offset),
	'CREATE EXTENSION logs none of its own tables as a look-alike');

my $alice = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
my ($out, $err) = session_query($alice, 'SELECT count(*) FROM customers');
is($out, '1000', 'alice reads under version 0.1.0, which has no baselines');

# upgrade, seed ~5 rows an hour for 10 days, and block at 5 x p99 (floor 100)
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER EXTENSION insider_guard UPDATE TO '0.2.0';
	SELECT count(insider_guard.record_history('alice', NULL, '1 hour',
	           date_trunc('hour', now()) - make_interval(hours => h), 4 + h % 3))
	FROM generate_series(1, 240) h;
	SELECT insider_guard.set_baseline_rule('alice', 5, '1 hour', 100, 'self', 'block');
});
ok(!$node->log_contains($lookalike, $offset),
	'ALTER EXTENSION ... UPDATE logs none of its own tables as a look-alike');
is($node->safe_psql('postgres',
		"SELECT limit_now FROM insider_guard.baselines WHERE role_name = 'alice'"),
	'100', 'the rule limits alice to 100 rows an hour');

($out, $err) = session_query($alice, 'SELECT count(*) FROM customers');
like($err, qr/insider_guard: role "alice" may not read more rows from table "public.customers"/,
	"the session opened before the upgrade is stopped by the new rule");

# a peer group registered later reaches it too (nothing to enforce: no error)
$node->safe_psql('postgres', q{
	CREATE ROLE team NOLOGIN;
	GRANT team TO alice;
	SELECT insider_guard.add_peer_group('team');
});
($out, $err) = session_query($alice, 'SELECT 1');
is($err, '', 'the session runs on after the peer group is added');

$alice->quit;

# the whole chain of scripts at once, in another database
$node->safe_psql('postgres', 'CREATE DATABASE other');
$offset = -s $node->logfile;
$node->safe_psql('other', 'CREATE EXTENSION insider_guard');
ok(!$node->log_contains($lookalike, $offset),
	'CREATE EXTENSION of the latest version logs no look-alike');

$node->stop;
done_testing();
