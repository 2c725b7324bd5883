# Violation records are durable (restart, immediate stop), survive a torn
# write, stay within insider_guard.violations_max_size (the oldest of the
# role holding most dropped, counted and logged), and their log lines
# cannot be split by names.  The info view counts the records stored, their
# bytes and the records dropped.  (A reset between stops makes each a new
# incident, hence a record: see 023_incidents.pl for repeats.)
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('violations', 'insider_guard.violations_max_size = 1MB');
setup_reader($node, 100);
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('alice', 1, '1 hour', 'block', 'customers');
});
my $records = sub {
	$node->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.violations');
};
my $block = sub {
	my ($stdout, $stderr);
	$node->psql('postgres', 'SELECT * FROM customers',
		extra_params => [ '-U', 'alice' ], stdout => \$stdout, stderr => \$stderr);
	return $stderr;
};

like($block->(), qr/may not read more rows/, 'alice is stopped');
is($records->(), 1, 'one record');

$node->restart;
is($records->(), 1, 'the record survives a clean restart');
my $reset = sub {
	$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
};
$reset->();
$block->();
$node->stop('immediate');
$node->start;
is($records->(), 2, 'a record written just before an immediate stop survives it');

# a torn record at the end is cut off; the others stay readable
$node->stop;
my $dir = $node->data_dir . '/pg_insider_guard';
my @segments = sort glob("$dir/violations.*");
ok(@segments >= 1, 'records are in segment files');
open(my $fh, '>>', $segments[-1]) or die $!;
binmode $fh;
print $fh "\x31\x56\x47\x49\x00\x10\x00\x00partial record";
close $fh;
my $offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/insider_guard: cutting 22 bytes of an incomplete record off/, $offset),
	'the torn record is cut off at start');
is($records->(), 2, 'the records before it are intact');
$reset->();
$block->();
is($records->(), 3, 'and new records follow them');

# names cannot split the log line.  PostgreSQL 19 refuses role names
# with a newline: there only the table's name and the query have one.
my $evil = "evil\nrole";
my $role_err = '';
$node->psql('postgres', qq{CREATE ROLE "$evil" LOGIN}, stderr => \$role_err);
if ($role_err ne '')
{
	like($role_err, qr/role name .* contains a newline or carriage return character/s,
		'the server refuses a role name with a newline');
	$evil = 'evil role';
	$node->safe_psql('postgres', qq{CREATE ROLE "$evil" LOGIN});
}
(my $evil_logged = $evil) =~ s/\n/\\n/g;
$node->safe_psql('postgres', qq{
	CREATE TABLE "odd\ntable" (a int);
	INSERT INTO "odd\ntable" VALUES (1), (2);
	GRANT SELECT ON "odd\ntable" TO "$evil";
	SELECT insider_guard.set_threshold('"$evil"', 1, '1 hour', 'block');
});
$offset = -s $node->logfile;
my ($stdout, $stderr);
$node->psql('postgres', "SELECT a\n, 'x\ny' FROM \"odd\ntable\"",
	extra_params => [ '-U', $evil ], stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/may not read more rows/, 'the odd role is stopped');
my $log = slurp_file($node->logfile, $offset);
my @lines = grep { /insider_guard: violation/ } split /\n/, $log;
is(scalar @lines, 1, 'one log line for the record');
like($lines[0], qr/role "\Q$evil_logged\E".*table "public\.\\"odd\\ntable\\"".*query "SELECT a\\n, 'x\\ny' FROM \\"odd\\ntable\\""/,
	'newlines and quotes are escaped: it stays one line');
unlike($log, qr/^role"/m, 'nothing of it starts a line of its own');

# a small cap: the oldest records go first, counted and logged; alice
# may reset herself here, so that each stop is a new incident
my $pad = 'x' x 900;
$offset = -s $node->logfile;
$node->safe_psql('postgres', qq{
	CREATE FUNCTION reset_alice() RETURNS void SECURITY DEFINER
		LANGUAGE sql AS \$\$SELECT insider_guard.reset('alice')\$\$;
	SET SESSION AUTHORIZATION alice;
	DO \$\$
	BEGIN
		FOR i IN 1..1500 LOOP
			BEGIN
				PERFORM reset_alice();
				PERFORM * FROM customers;
			EXCEPTION WHEN insufficient_privilege THEN NULL;
			END;
		END LOOP;
	END \$\$ /* $pad */;
});
ok($node->log_contains(qr/insider_guard: dropped \d+ violation records to stay within insider_guard.violations_max_size: the oldest of the role holding the most space/, $offset),
	'dropping the oldest records is logged');
my $size = 0;
$size += -s $_ for glob("$dir/violations.*");
ok($size <= 1024 * 1024, "the records take at most 1 MB on disk ($size bytes)");
my ($first, $count) = split /\|/, $node->safe_psql('postgres',
	'SELECT min(violation_id), count(*) FROM insider_guard.violations');
ok($first > 1, "the oldest records are gone (first id now $first, $count kept)");

# the info view: the records and bytes stored, the records dropped as the
# log counts them
my $info = sub {
	return $node->safe_psql('postgres',
		'SELECT violation_records || \' \' || violation_bytes || \' \' || records_dropped FROM insider_guard.info');
};
my ($dropped) = slurp_file($node->logfile) =~
  /.*Dropped .*; (\d+) records dropped since the server started/s;
is($info->(), "$count $size $dropped",
	"info: $count records in $size bytes, $dropped dropped since the start");
# after a restart: the records and bytes found on disk; none dropped since
$node->restart;
is($info->(), "$count $size 0", 'after a restart, the store as found, nothing dropped yet');

$node->stop;
done_testing();
