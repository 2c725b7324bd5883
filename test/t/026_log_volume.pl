# A flood does not flood the server log: a stopped statement's query is
# logged once (in its record's line, not again as the ERROR's STATEMENT),
# and lines that every statement would repeat while shared memory is
# full come at most once a second, saying how many were suppressed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('log_volume', 'insider_guard.max_tracked = 10');
setup_reader($node, 10);

# a stopped statement's ERROR carries no STATEMENT line
$node->safe_psql('postgres',
	"SELECT insider_guard.set_threshold('alice', 1, '1 hour', 'block', 'customers')");
my $offset = -s $node->logfile;
$node->psql('postgres', "SELECT email FROM customers /* marker */",
	extra_params => [ '-U', 'alice' ]);
my $log = slurp_file($node->logfile, $offset);
like($log, qr/ERROR:  insider_guard: role "alice" may not read more rows/, 'alice is stopped');
# (log_statement = all logs every statement anyway: not those lines)
my @mentions = grep { /marker/ && !/LOG:  statement:/ } split /\n/, $log;
is(scalar @mentions, 1, "the query is logged once, in the record's line");
unlike($log, qr/STATEMENT:  SELECT email FROM customers/, 'not again as STATEMENT');

# every counter pinned by bob's 30-day rules: carol's reads cannot be
# recorded, and 300 statements of hers over 3 seconds say so a few times,
# not 300
$node->safe_psql('postgres', q{
	SELECT insider_guard.reset();
	DELETE FROM insider_guard.thresholds;
	CREATE ROLE bob LOGIN;
	CREATE ROLE carol LOGIN;
	GRANT SELECT ON customers TO carol;
	DO $$
	BEGIN
		FOR i IN 1..10 LOOP
			EXECUTE format('CREATE TABLE pin_%s AS SELECT 1 AS a', i);
			EXECUTE format('GRANT SELECT ON pin_%s TO bob', i);
			PERFORM insider_guard.set_threshold('bob', 1000, '30 days', 'log',
												format('pin_%s', i)::regclass);
		END LOOP;
	END $$;
});
$node->psql('postgres', join('', map { "SELECT * FROM pin_$_;\n" } 1 .. 10),
	extra_params => [ '-U', 'bob' ], on_error_stop => 0);
$offset = -s $node->logfile;
$node->psql('postgres',
	"SELECT * FROM customers WHERE id = 1;\nSELECT pg_sleep(0.01);\n" x 300,
	extra_params => [ '-U', 'carol' ], on_error_stop => 0);
$log = slurp_file($node->logfile, $offset);
my $lines = () = $log =~ /insider_guard: could not record \d+ rows read: every counter is in use/g;
ok($lines >= 1, "that the reads could not be recorded is logged ($lines lines)");
ok($lines < 30, 'a few times, not once per statement');
like($log, qr/DETAIL:  \d+ more such lines were suppressed/,
	'saying how many lines were suppressed') if $lines > 1;

$node->stop;
done_testing();
