# Every change of rules or roles drops a backend's matched rules; running
# statements may still point into them, so the dropped ones are kept
# until no running statement does.  A role may change its own password
# as often as it likes, so what is kept must not grow with the changes --
# also when nothing but FETCHes of an open cursor, or COPY ... TO, runs
# between them (neither starts a statement of its own).  Every statement
# frees what is no longer needed as it starts, so the backend's memory is
# looked at from another session: pg_log_backend_memory_contexts.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $changes = 30;
my $node = new_node('retired_rules');
setup_reader($node, 1000);
$node->safe_psql('postgres', q{
	CREATE TABLE one_row (x int);
	INSERT INTO one_row VALUES (1);
	GRANT SELECT ON one_row TO alice;
	CREATE TABLE a1 AS SELECT 1 AS x;
	CREATE TABLE a2 AS SELECT 1 AS x;
	CREATE TABLE a3 AS SELECT 1 AS x;
	CREATE TABLE a4 AS SELECT 1 AS x;
	CREATE TABLE a5 AS SELECT 1 AS x;
	CREATE TABLE a6 AS SELECT 1 AS x;
	GRANT SELECT ON a1, a2, a3, a4, a5, a6 TO alice;
	CREATE ROLE bob LOGIN;
	CREATE ROLE team;
	GRANT team TO alice WITH ADMIN OPTION;
	SELECT insider_guard.set_threshold('alice', 100000000, '1 hour', 'block', 'customers');
});

my $alice = $node->background_psql('postgres',
	extra_params => [ '-U', 'alice' ], on_error_stop => 0);
my $pid = $alice->query_safe('SELECT pg_backend_pid()');

# The lines of alice's backend's memory contexts, as it logs them when
# asked (it does so between two commands).
sub memory_contexts
{
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$node->wait_for_log(qr/\[$pid\].*Grand total:/, $offset);
	return grep { /\[$pid\]/ } split /\n/, slurp_file($node->logfile, $offset);
}

# How many "insider_guard matched rules" contexts it has.
sub matched_contexts
{
	return scalar grep { /insider_guard matched rules:/ } memory_contexts();
}

# Runs $changes rounds of @sql in alice's session, then checks that her
# backend keeps at most 2 matched rules contexts, not one per round.
sub keeps_few_matches
{
	my ($what, @sql) = @_;
	for my $i (1 .. $changes)
	{
		$alice->query_safe($_ =~ s/\$i/$i/gr) for (@sql);
	}
	my $kept = matched_contexts();
	ok($kept >= 1 && $kept <= 2,
		"$changes $what keep $kept matched rules, not one per change");
}

# the password changes, each followed by a FETCH only
$alice->query_safe('BEGIN; DECLARE c CURSOR FOR SELECT id FROM customers ORDER BY id');
is($alice->query_safe('FETCH 1 FROM c'), '1', 'the cursor reads');
keeps_few_matches('role changes between FETCHes',
	q{ALTER ROLE alice PASSWORD 'fetch$i'}, 'FETCH 1 FROM c');
is($alice->query_safe('FETCH 1 FROM c'), $changes + 2, 'the cursor still reads, in order');
$alice->query_safe('COMMIT');

# the same with COPY ... TO, outside any transaction block
keeps_few_matches('role changes between COPYs',
	q{ALTER ROLE alice PASSWORD 'copy$i'}, 'COPY one_row TO STDOUT');

# the same with GRANT and REVOKE of a role alice administers: utility
# statements, which log membership changes (and so match the rules again)
keeps_few_matches('GRANTs and REVOKEs', 'GRANT team TO bob', 'REVOKE team FROM bob');

# A cursor reading customers after six other tables: its key for customers
# lies beyond those the statement keeps inline, so its rules are allocated
# in the executor state at each new match; the old ones must be freed.
sub executor_state_used
{
	my ($used) = map { /ExecutorState: .* (\d+) used/ ? $1 : () } memory_contexts();
	return $used;
}
$alice->query_safe(q{BEGIN; DECLARE u CURSOR FOR
	SELECT x FROM a1 UNION ALL SELECT x FROM a2 UNION ALL SELECT x FROM a3 UNION ALL
	SELECT x FROM a4 UNION ALL SELECT x FROM a5 UNION ALL SELECT x FROM a6 UNION ALL
	SELECT id FROM customers});
$alice->query_safe('FETCH 7 FROM u');
my @used;
for my $round (1 .. 2)
{
	for my $i (1 .. $changes)
	{
		$alice->query_safe("ALTER ROLE alice PASSWORD 'union$round.$i'");
		$alice->query_safe('FETCH 1 FROM u');
	}
	push @used, executor_state_used();
}
ok(defined $used[0] && defined $used[1], "the cursor's executor state was logged");
cmp_ok($used[1] - $used[0], '<', 2048,
	"$changes more matches of the cursor's rules keep its executor state "
	  . "($used[0] then $used[1] bytes used)");
$alice->query_safe('COMMIT');

# the counts are right all along
# the first cursor fetched $changes + 2 rows, the second 1 + 2 * $changes
is(reads($node, 'alice', 'customers'), 3 * $changes + 3, 'every row fetched counted');
is(reads($node, 'alice', 'one_row'), $changes, 'every row copied counted');

$alice->quit;
$node->stop;
done_testing();
