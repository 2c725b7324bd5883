# What a crash costs, and what it must not: after an immediate stop the
# counts of the last save come back (nothing is saved over shared memory
# that killed backends may have left inconsistent); a role stopped by a
# block rule starts again over that limit whatever the counts lost, since
# its durable record proves it read past it; and a damaged or missing
# counts file gives way to the previous save.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = new_node('crashes');
setup_reader($node, 1000);
my $alice_reads = sub {
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', $sql, extra_params => [ '-U', 'alice' ],
		stdout => \$out, stderr => \$err);
	return $err;
};
# the pid of the saver (a child of this node's postmaster, not connected
# to a database: not in pg_stat_activity)
my $saver_pid = sub {
	my $pid = `pgrep -P $node->{_pid} -f 'insider_guard saver'`;
	chomp $pid;
	return $pid;
};

# an immediate stop brings back the last save, not the counts at the stop
$alice_reads->('SELECT * FROM customers WHERE id <= 10');
my $offset = -s $node->logfile;
$node->wait_for_log(qr/insider_guard: saved the counters/, $offset);
my $saver = $saver_pid->();
ok($saver =~ /^\d+$/, 'the saver runs');
kill 'STOP', $saver;    # it saves no more
$alice_reads->('SELECT * FROM customers WHERE id <= 20');
is(reads($node, 'alice', 'customers'), 30, '30 rows read, 10 of them saved');
$node->stop('immediate');
$node->start;
is(reads($node, 'alice', 'customers'), 10,
	'after an immediate stop, the counts of the last save come back');

# a stopped role is still over its limit after a crash that lost its reads
$node->safe_psql('postgres', q{
	SELECT insider_guard.reset('alice');
	SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'block', 'customers');
});
$offset = -s $node->logfile;
$node->wait_for_log(qr/insider_guard: saved the counters/, $offset);
kill 'STOP', $saver_pid->();
like($alice_reads->('SELECT count(*) FROM customers'), qr/may not read more rows/,
	'alice is stopped at 101 rows');
$node->stop('immediate');
$offset = -s $node->logfile;
$node->start;
ok($node->log_contains(qr/insider_guard: 1 violation records still in their window: each role's count is at least what they prove/, $offset),
	'at start, the record restores what it proves');
like($alice_reads->('SELECT id FROM customers WHERE id = 1'), qr/may not read more rows/,
	'after the crash alice is still stopped, at her first row');
ok(reads($node, 'alice', 'customers') > 100, 'her count is over the limit');

# also when the counts files are lost altogether
$node->stop;
unlink glob($node->data_dir . '/pg_stat/insider_guard.counts*');
$node->start;
like($alice_reads->('SELECT id FROM customers WHERE id = 1'), qr/may not read more rows/,
	'with the counts files gone, alice is still stopped');
$node->safe_psql('postgres', "SELECT insider_guard.reset('alice')");
is($alice_reads->('SELECT id FROM customers WHERE id = 1'), '',
	'until an admin resets her');

# a damaged counts file gives way to the previous save
$alice_reads->('SELECT id FROM customers WHERE id <= 7');
$node->stop;
$node->start;    # the next clean stop keeps this one's save as the previous
$alice_reads->('SELECT id FROM customers WHERE id <= 5');
$node->stop;
my $file = $node->data_dir . '/pg_stat/insider_guard.counts';
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, 40, 0);
print $fh "garbage";
close $fh;
$node->start;
is(reads($node, 'alice', 'customers'), 8,
	'a damaged counts file: the previous save (8 rows, not 13, not 0)');

$node->stop;
done_testing();
