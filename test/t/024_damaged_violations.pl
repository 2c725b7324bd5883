# Records are evidence: damage to a violations file costs the damaged
# record only.  Recovery skips it, resynchronising on the next valid
# record, logs what it skipped, and never deletes intact records; only a
# torn tail of the newest segment is cut.  Ids never repeat, even when
# the segment that held the last records is lost.  And records written by
# earlier versions' libraries read as they were written: those of 0.2.0,
# which did not say their rule's kind, take it from their rule while it
# exists; those of 0.1.0 are thresholds'.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('damaged', 'insider_guard.violations_max_size = 1MB');
setup_reader($node, 10);
my $dir = $node->data_dir . '/pg_insider_guard';

# alice breaks a 1-row block threshold $n times, each a new incident (a
# reset between them, through a function she may call)
$node->safe_psql('postgres', q{
	SELECT insider_guard.set_threshold('alice', 1, '1 hour', 'block', 'customers');
	CREATE FUNCTION reset_alice() RETURNS void SECURITY DEFINER
		LANGUAGE sql AS $$SELECT insider_guard.reset('alice')$$;
	GRANT EXECUTE ON FUNCTION reset_alice() TO alice;
});
my $make = sub {
	my ($n) = @_;
	$node->safe_psql('postgres', qq{
		SET SESSION AUTHORIZATION alice;
		DO \$\$
		BEGIN
			FOR i IN 1..$n LOOP
				PERFORM reset_alice();
				BEGIN
					PERFORM * FROM customers;
				EXCEPTION WHEN insufficient_privilege THEN NULL;
				END;
			END LOOP;
		END \$\$;
	});
};
my $ids = sub {
	return $node->safe_psql('postgres',
		"SELECT count(*) || ' ' || min(violation_id) || ' ' || max(violation_id) FROM insider_guard.violations");
};

$make->(96);
is($ids->(), '96 1 96', '96 records');
$node->stop;
my @segments = sort glob("$dir/violations.*");
is(scalar @segments, 1, 'in one segment');
my $data = slurp_file($segments[0]);

# the offsets of the violation records (each starts with the magic "2VGI";
# reset records, "1ZGI", come between them)
my @starts;
while ($data =~ /2VGI/g) { push @starts, pos($data) - 4; }
is(scalar @starts, 96, 'the records are found by their magic number');

# flips a byte at $offset of the file
sub flip
{
	my ($path, $offset) = @_;
	open(my $fh, '+<', $path) or die $!;
	binmode $fh;
	seek($fh, $offset, 0);
	read($fh, my $byte, 1);
	seek($fh, $offset, 0);
	print $fh chr(ord($byte) ^ 0x20);
	close $fh;
}

# a flipped byte in the middle of record 33: only record 33 is lost
flip($segments[0], $starts[32] + 40);
my $offset = -s $node->logfile;
$node->start;
is($ids->(), '95 1 96', 'one damaged record costs that record only');
ok($node->log_contains(qr/insider_guard: skipped \d+ bytes of damaged records in "pg_insider_guard\/violations\.00000001"; the 95 intact violation records around them are kept/, $offset),
	'what was skipped is logged');
ok(!$node->log_contains(qr/cutting \d+ bytes/, $offset), 'nothing is cut');
is(-s $segments[0], length($data), 'no byte of the file is deleted');
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM insider_guard.violations WHERE violation_id = 33'),
	0, 'record 33 is the one missing');

# a damaged length field of record 50: that record only
$node->stop;
flip($segments[0], $starts[49] + 5);
$node->start;
is($ids->(), '94 1 96', 'a damaged length costs its record only');

# new records follow, with new ids
$make->(2);
is($ids->(), '96 1 98', 'new records follow, ids 97 and 98 (no gap after a clean restart)');

# a torn tail (a crash mid-write) is cut; the records before it stay
$node->stop;
$data = slurp_file($segments[0]);
open(my $fh, '>>', $segments[0]) or die $!;
binmode $fh;
print $fh substr($data, $starts[0], 60);
close $fh;
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/cutting 60 bytes of an incomplete record off/, $offset),
	'a torn tail is cut');
is($ids->(), '96 1 98', 'and the records before it stay');

# the segment holding the latest records is lost: ids do not start over
$node->stop;
unlink $segments[0] or die $!;
$node->start;
is( $node->safe_psql('postgres', 'SELECT count(*) FROM insider_guard.violations'),
	0, 'the records are gone with their file');
$make->(1);
my $id = $node->safe_psql('postgres', 'SELECT violation_id FROM insider_guard.violations');
ok($id > 98, "the next id ($id) is past every id handed out before");

# CRC-32C, as PostgreSQL's pg_crc32c computes it
sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	for my $byte (unpack('C*', $data))
	{
		$crc ^= $byte;
		$crc = ($crc & 1) ? (($crc >> 1) ^ 0x82F63B78) : ($crc >> 1) for 1 .. 8;
	}
	return $crc ^ 0xFFFFFFFF;
}

# A record as an earlier library wrote it, from one of this one's: the
# header (magic, length, CRC-32C of the rest, 0), the fixed part (id at 0,
# threshold_id at 24, rule_kind at 69: padding before 0.3.0, zeroed; 0.1.0
# had only the first 72 bytes, no role nor rule table), the strings.
sub old_record
{
	my ($template, $version, $violation_id, $rule_id) = @_;
	my $fixed = substr($template, 16, 80);
	my $strings = substr($template, 96);
	substr($fixed, 0, 8) = pack('q<', $violation_id);
	substr($fixed, 24, 8) = pack('q<', $rule_id);
	substr($fixed, 69, 1) = "\0";
	$fixed = substr($fixed, 0, 72) if $version eq '0.1.0';
	my $body = $fixed . $strings;
	my $magic = $version eq '0.1.0' ? 0x49475631 : 0x49475632;
	return pack('L<L<L<L<', $magic, 16 + length($body), crc32c($body), 0) . $body;
}

my ($threshold_id, $baseline_id) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT threshold_id FROM insider_guard.thresholds),
	       insider_guard.set_baseline_rule('alice', on_table => 'customers')});
$node->stop;
@segments = sort glob("$dir/violations.*");
$data = slurp_file($segments[-1]);
$data =~ /2VGI/g or die 'no record to copy';
my $at = pos($data) - 4;
my $template = substr($data, $at, unpack('L<', substr($data, $at + 4, 4)));
open($fh, '>>', $segments[-1]) or die $!;
binmode $fh;
print $fh old_record($template, '0.2.0', 900001, $threshold_id);
print $fh old_record($template, '0.2.0', 900002, $baseline_id);
print $fh old_record($template, '0.2.0', 900003, 999999);
print $fh old_record($template, '0.1.0', 900004, 999999);
close $fh;
$offset = -s $node->logfile;
$node->start;
ok(!$node->log_contains(qr/skipped|cutting/, $offset), 'the records of earlier versions check');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(violation_id || ' ' || coalesce(rule_kind, '?') || ' '
		                  || (database_name = current_database()), ', ' ORDER BY violation_id)
		FROM insider_guard.violations WHERE violation_id > 900000}),
	'900001 threshold true, 900002 baseline true, 900003 ? true, 900004 threshold true',
	"0.2.0's records take their rule's kind, while it exists; 0.1.0's are thresholds'");
is( $node->safe_psql('postgres',
		'SELECT violation_records = (SELECT count(*) FROM insider_guard.violations) FROM insider_guard.info'),
	't', 'info counts them');

$node->stop;
done_testing();
