# Two sessions of one role add up, whether they read one after the other
# or interleaved, and each session counts for its own session user.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('sessions');
setup_reader($node, 1000);
$node->safe_psql('postgres', 'CREATE ROLE bob LOGIN; GRANT SELECT ON customers TO bob');

my $s1 = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
my $s2 = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
my $s3 = $node->background_psql('postgres', extra_params => [ '-U', 'bob' ]);

$s1->query_safe('SELECT count(*) FROM customers');
$s2->query_safe('SELECT * FROM customers WHERE id <= 300');
is(reads($node, 'alice', 'customers'), 1300, 'two sessions of alice add up');

# interleaved cursors, one per session
$s1->query_safe('BEGIN');
$s2->query_safe('BEGIN');
$s1->query_safe('DECLARE c CURSOR FOR SELECT * FROM customers');
$s2->query_safe('DECLARE c CURSOR FOR SELECT * FROM customers');
for my $i (1 .. 5)
{
	$s1->query_safe('FETCH 10 FROM c');
	$s2->query_safe('FETCH 7 FROM c');
}
is(reads($node, 'alice', 'customers'), 1300 + 50 + 35,
	'interleaved fetches of two sessions add up as they run');
$s1->query_safe('COMMIT');
$s2->query_safe('COMMIT');

$s3->query_safe('SELECT count(*) FROM customers WHERE id <= 10');
is(reads($node, 'bob', 'customers'), 10, 'a third session counts for its own user');
is(reads($node, 'alice', 'customers'), 1385, 'and not for alice');

is( $node->safe_psql(
		'postgres',
		"SELECT statements FROM insider_guard.role_activity WHERE role_name = 'alice' AND table_name IS NULL"
	),
	4,
	'statements: 2 selects and 2 cursors (a cursor is one statement, however many fetches)');

$s1->quit;
$s2->quit;
$s3->quit;
$node->stop;
done_testing();
