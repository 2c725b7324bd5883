# pg_dump and restore into a new database keep the thresholds (with their
# ids), the exemptions and the grants on insider_guard's objects.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('dump');
setup_reader($node, 100);
$node->safe_psql('postgres', q{
	CREATE ROLE auditor LOGIN;
	CREATE ROLE bulk_loader LOGIN;
	CREATE SCHEMA crm;
	CREATE TABLE crm.leads (id int);
	SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold(NULL, 5000, '1 day', 'log');
	SELECT insider_guard.set_threshold('alice', 7, '15 minutes', 'log', 'crm.leads');
	SELECT insider_guard.drop_threshold(2);
	SELECT insider_guard.exempt('bulk_loader');
	GRANT SELECT ON insider_guard.violations TO auditor;
	GRANT EXECUTE ON FUNCTION insider_guard.rows_read(regrole, interval, regclass) TO auditor;
});
my $list = q{
	SELECT string_agg(format('%s %s %s %s %s %s', threshold_id, coalesce(role_name::text, '-'),
		coalesce(table_name::text, '-'), max_rows, per, action), E'\n' ORDER BY threshold_id)
	FROM insider_guard.thresholds
};
my $before = $node->safe_psql('postgres', $list);

my $dump = $node->basedir . '/dump.custom';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');

is($node->safe_psql('restored', $list), $before, 'the thresholds, ids included');
is($node->safe_psql('restored', 'SELECT string_agg(role_name::text, \',\') FROM insider_guard.exemptions'),
	'bulk_loader', 'the exemptions');
is( $node->safe_psql('restored',
		"SELECT has_table_privilege('auditor', 'insider_guard.violations', 'SELECT')::text || ' ' || "
		  . "has_function_privilege('auditor', 'insider_guard.rows_read(regrole, interval, regclass)', 'EXECUTE')::text || ' ' || "
		  . "has_table_privilege('alice', 'insider_guard.thresholds', 'SELECT')::text"),
	'true true false', 'the grants, and nothing more');
ok( $node->safe_psql('restored',
		"SELECT insider_guard.set_threshold('alice', 1, '1 hour', 'log') > 3"),
	'new ids continue after the restored ones');

# the restored threshold is enforced in the new database
my ($stdout, $stderr);
$node->psql('restored', 'SELECT count(*) FROM customers',
	extra_params => [ '-U', 'alice' ], stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/may not read more rows from table "public.customers"/,
	'and enforced there');

$node->stop;
done_testing();
