# Calls for a Citus session that reach the coordinator late, and calls
# made by a role itself (issue 14, attacker round 7): with log rules only,
# reads are reported as they settle, so a transaction rolled back and a
# session that ends at once are still counted (K5, K1); a role that could
# pose as another role's session while that session ran its SECURITY
# DEFINER function (documented) cannot, once that window closed, charge
# it (K3: 50,000 rows and a log record for vic) nor leave rows held for it
# to count as read (K4: vic blocked on a table she never read) -- nor for
# a session on a worker (L1, L2), nor by naming the session from many
# connections in the window (L3, attacker round 8).  K0: the plain case;
# L4-L6: a role ending its own lease backends or changing role before
# COMMIT still has every row it read counted.
#
# Needs Citus installed into the PostgreSQL under test (test.sh does it on
# 15); skipped without it, or with IG_CITUS=0.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use CitusCluster;

citus_skip_unless_available();

my $limit = 1500;
my $rows = 4000;

my %node = citus_nodes({}, "log_line_prefix = '%m [%p] user=%u app=%a '",
	"insider_guard.citus_sync_interval = 1", "wal_level = logical");
my $coord = $node{coordinator};
my @workers = ($node{worker1}, $node{worker2});
my @all = ($coord, @workers);
for my $n (@all) { $n->append_conf("postgresql.conf", "citus.local_hostname = '" . $n->host . "'\n"); $n->reload; }
citus_join($coord, @workers);

$coord->safe_psql('postgres', qq{
	CREATE ROLE terry LOGIN;
	CREATE ROLE vic LOGIN;
	CREATE ROLE staff NOLOGIN;
	GRANT staff TO terry;
	SET citus.shard_count = 4;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	SELECT create_distributed_table('customers', 'id', colocate_with => 'none');
	INSERT INTO customers
		SELECT g, 'user' || g || '\@example.com' FROM generate_series(1, $rows) g;
	GRANT SELECT ON customers TO terry, vic;
	GRANT USAGE ON SCHEMA insider_guard TO terry;
	SELECT insider_guard.set_threshold('terry', $limit, '1 hour', 'log', 'customers');
	SELECT insider_guard.set_threshold('vic', $limit, '1 hour', 'log', 'customers');
	CREATE TABLE accounts (id int PRIMARY KEY, note text);
	SELECT create_distributed_table('accounts', 'id', colocate_with => 'none');
	INSERT INTO accounts SELECT g, 'n' || g FROM generate_series(1, 3000) g;
	GRANT SELECT ON accounts TO vic;
	SELECT insider_guard.set_threshold('vic', 1000, '1 hour', 'block', 'accounts');
	SELECT * FROM insider_guard.sync_rules();
});
$coord->safe_psql('postgres', q{
	CREATE FUNCTION public.terry_lookup(n int) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
	AS $f$ DECLARE c bigint; BEGIN EXECUTE format('SELECT count(*) FROM customers WHERE id <= %s AND pg_sleep(0.02) IS NOT NULL', n) INTO c; RETURN c; END $f$;
	ALTER FUNCTION public.terry_lookup(int) OWNER TO terry;
	GRANT EXECUTE ON FUNCTION public.terry_lookup(int) TO vic;
});
for my $w (@workers)
{
	is( $w->safe_psql('postgres',
			q{SELECT count(*) FROM insider_guard.thresholds WHERE role_name = 'terry'::regrole}),
		1, $w->name . ': terry\'s rule is there');
}

# waits until no backend of application $app is left on the coordinator
sub gone
{
	my ($app) = @_;
	$coord->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = '$app'")
	  or die "backends of $app are left";
}

# waits until the coordinator counts at least $n rows of customers for $role
sub counted
{
	my ($role, $n) = @_;
	return $coord->poll_query_until('postgres',
		"SELECT insider_guard.rows_read('$role', '1 hour', 'customers') >= $n");
}

sub node_rows
{
	my ($n, $role, $table) = @_;
	$table //= 'customers';
	return $n->safe_psql('postgres',
		"SELECT insider_guard.rows_read('$role', '1 hour', '$table')");
}
sub reset_all
{
	for my $n (@all) { $n->safe_psql('postgres', "SELECT insider_guard.reset('$_')") for qw(terry vic); }
}
sub records
{
	my ($role, $like) = @_;
	return $coord->safe_psql('postgres', qq{SELECT count(*) FROM insider_guard.cluster_violations()
		WHERE role_name = '$role' AND query LIKE '%$like%'});
}

# an interactive psql session of terry's on the coordinator
sub session
{
	my ($app, $user, $node) = @_;
	$user //= 'terry';
	$node //= $coord;
	my %s = (in => '', out => '', err => '');
	local $ENV{PGAPPNAME} = $app;
	$s{h} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=0', '-U', $user, '-d', $node->connstr('postgres') ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%s;
}
my $mark = 0;
sub run_in
{
	my ($s, $sql) = @_;
	$mark++;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql\n\\echo MARK$mark\n";
	pump_until($s->{h}, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default), \$s->{out}, qr/MARK$mark/);
	$s->{h}->pump_nb;
	my $o = $s->{out};
	$o =~ s/MARK$mark\n?//;
	return ($o, $s->{err});
}
sub finish
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}


# K0 (control). terry reads 2,000 rows (about 1,000 a worker) of
# customers, log rule 1,500 set on the coordinator: one record, coordinator
# counts 2,000.
reset_all();
{
	my $s = session('k0');
	my ($o, $e) = run_in($s, "SELECT count(*) FROM customers WHERE id <= 2000 /* k0 */;");
	finish($s);
	gone('k0');
	ok(counted('terry', 2000), 'K0 (control) the coordinator counted 2,000 rows for terry');
	is(records('terry', ''), 1, 'K0 (control) one record for terry');
}

# K1. Log-only keys: the worker's first call for a session is made at
# COMMIT; the coordinator answers only while the session acts as the
# lease connection's login.  terry (a member of group role staff) reads,
# then SET ROLE staff and runs any statement before COMMIT: the give-back
# is refused, retried at the next commit and at the worker backend's
# exit -- still as staff -- and the rows are never counted on the
# coordinator: no record for 2,000 rows against a 1,500 log rule.
reset_all();
{
	my $before = records('terry', '');
	my $s = session('k1');
	my ($o, $e) = run_in($s, "BEGIN;\nSELECT count(*) FROM customers WHERE id <= 2000 /* k1 */;\nSET ROLE staff;\nSELECT 1;\nCOMMIT;\nSELECT 2;");
	note("K1 session: $o $e");
	finish($s);
	gone('k1');
	counted('terry', 2000);
	my @w = map { node_rows($_, 'terry') } @workers;
	note("K1 workers counted @w");
	my $c = node_rows($coord, 'terry');
	ok($c >= 2000, "K1 SET ROLE before COMMIT: the coordinator counted $c of the 2,000 rows terry read (workers: @w)");
	is(records('terry', '') - $before, 1, 'K1 SET ROLE before COMMIT: one record of terry\'s 2,000 rows (log rule 1,500)');
}

# K5. Log-only keys: reads are reported at COMMIT.  terry reads 2,000
# rows in a transaction, ROLLBACKs and disconnects: at the ROLLBACK each
# worker backend's first call for the session is refused ("no session of gpid
# ... acts as the caller"), so again at its exit: the coordinator never counts them.
reset_all();
{
	my $before = records('terry', '');
	my $s = session('k5');
	my ($o, $e) = run_in($s, "BEGIN;\nSELECT count(*) FROM customers WHERE id <= 2000 /* k5 */;\nROLLBACK;");
	note("K5 session: $o $e");
	finish($s);
	gone('k5');
	counted('terry', 2000);
	my @w = map { node_rows($_, 'terry') } @workers;
	my $c = node_rows($coord, 'terry');
	ok($c >= 2000, "K5 read, ROLLBACK, disconnect: the coordinator counted $c of the 2,000 rows terry read (workers: @w)");
	is(records('terry', '') - $before, 1, 'K5 read, ROLLBACK, disconnect: one record of terry\'s 2,000 rows (log rule 1,500)');
}

# vic, connected to $vnode, runs terry's SECURITY DEFINER function (a
# slow distributed query).  During it (the documented window) terry, an
# ordinary client of the coordinator, has _citus_lease answer for vic's
# gpid.  After it ($c): terry reports 50,000 rows for vic (log rule 1,500,
# vic read 400): nothing charged, no record.  Once vic left ($h): terry
# leases vic's rows of accounts (block 1,000 for vic; terry has no access)
# and disconnects: nothing counted for vic, whose next read is served.
sub window_case
{
	my ($c, $h, $vnode, $where) = @_;
	reset_all();
	my $v = session("$c-vic", 'vic', $vnode);
	my ($vpid) = run_in($v, 'SELECT pg_backend_pid();');
	chomp $vpid;
	my $nodeid = $coord->safe_psql('postgres', sprintf(
		'SELECT nodeid FROM pg_dist_node WHERE nodeport = %d', $vnode->port));
	my $gpid = $nodeid * 10000000000 + $vpid;
	my $t = session("$c-terry");
	my $vmark = ++$mark;
	$v->{in} .= "SELECT public.terry_lookup(400);\n\\echo MARK$vmark\n";
	$v->{h}->pump_nb;
	my ($o, $e);
	for (1 .. 60)
	{
		select(undef, undef, undef, 0.1);
		$v->{h}->pump_nb;
		($o, $e) = run_in($t, "SELECT insider_guard._citus_lease($gpid, 'public', 'customers', 0, 0, 0, 'x', 'x');");
		last if $e eq '';
	}
	is($e, '', "$c during vic's run of terry's function$where, the coordinator answers terry for vic's gpid (the documented window)");
	pump_until($v->{h}, IPC::Run::timeout(60), \$v->{out}, qr/MARK$vmark/);
	($o) = run_in($v, 'SELECT 1;');
	my $before = records('vic', '');
	($o, $e) = run_in($t, "SELECT insider_guard._citus_lease($gpid, 'public', 'customers', 50000, 0, 0, 'x', 'x');");
	my $count = node_rows($coord, 'vic');
	ok($count < 5000, "$c vic's count on the coordinator after terry's report of 50,000 rows: $count (vic read 400)");
	is(records('vic', '') - $before, 0, "$c no record of vic crossing her log rule (she read 400 of 1,500)");

	finish($v);
	gone("$c-vic");
	my $held = 0;
	for (1 .. 15)
	{
		($o, $e) = run_in($t, "SELECT insider_guard._citus_lease($gpid, 'public', 'accounts', 0, $held, 100000, 'x', 'x');");
		chomp $o;
		$held += $o if $o =~ /^\d+$/ && $o < 100000;
	}
	finish($t);
	gone("$c-terry");
	my $va = $coord->safe_psql('postgres', "SELECT insider_guard.rows_read('vic', '1 hour', 'accounts')");
	is($va, 0, "$h vic never read accounts; after terry's lease backend ended, the coordinator counts $va rows of it for vic");
	my $v2 = session("$h-vic", 'vic');
	($o, $e) = run_in($v2, 'SELECT count(*) FROM accounts WHERE id <= 100;');
	is("$o$e", "100\n", "$h vic's first read of accounts (100 rows, limit 1,000) is served");
	finish($v2);
}
# K3, K4 (round 7): vic's session on the coordinator
window_case('K3', 'K4', $coord, '');

# Round 8 (L1-L6)
# the function on the workers too (a query planned there)
for my $w (@workers)
{
	next if $w->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'terry_lookup'});
	$w->safe_psql('postgres', q{
	CREATE FUNCTION public.terry_lookup(n int) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
	AS $f$ DECLARE c bigint; BEGIN EXECUTE format('SELECT count(*) FROM customers WHERE id <= %s AND pg_sleep(0.02) IS NOT NULL', n) INTO c; RETURN c; END $f$;
	ALTER FUNCTION public.terry_lookup(int) OWNER TO terry;
	GRANT EXECUTE ON FUNCTION public.terry_lookup(int) TO vic;});
}
note('owner on worker1: ' . $workers[0]->safe_psql('postgres', q{SELECT proowner::regrole FROM pg_proc WHERE proname = 'terry_lookup'}));

# L1, L2 (round 8): vic's session on worker1 (a query planned there),
# which the coordinator asks worker1 about
window_case('L1', 'L2', $workers[0], ' on worker1');

# L3. Local gpid, many lease backends: during vic's run of terry's function
# on the coordinator (the window; 1,200 rows, under her 1,500 log rule)
# terry names vic's gpid once from each of 30 connections.  After the
# window each connection gets its "one late call" for customers, capped at
# held + 64 = 64: 30 x 64 = 1,920 rows charged to vic, and a log record.
reset_all();
{
	my $before = records('vic', '');
	my $v = session('l3-vic', 'vic');
	my ($vpid) = run_in($v, 'SELECT pg_backend_pid();');
	chomp $vpid;
	my $nodeid = $coord->safe_psql('postgres', 'SELECT nodeid FROM pg_dist_node WHERE groupid = 0');
	my $gpid = $nodeid * 10000000000 + $vpid;
	my @t = map { session("l3-terry$_") } 1 .. 30;
	my $vmark = ++$mark;
	$v->{in} .= "SELECT public.terry_lookup(1200);\n\\echo MARK$vmark\n";
	$v->{h}->pump_nb;
	my ($o, $e);
	my $ok = 0;
	for (1 .. 80)
	{
		select(undef, undef, undef, 0.05);
		$v->{h}->pump_nb;
		($o, $e) = run_in($t[0], "SELECT insider_guard._citus_lease($gpid, 'public', 'customers', 0, 0, 0, 'x', 'x');");
		last if $e eq '';
	}
	if ($e eq '')
	{
		for my $s (@t[1 .. $#t])
		{
			($o, $e) = run_in($s, "SELECT insider_guard._citus_lease($gpid, 'public', 'customers', 0, 0, 0, 'x', 'x');");
			$ok++ if $e eq '';
		}
	}
	ok($ok + 1 >= 10, 'L3 connections answered for vic\'s gpid in the window: ' . ($ok + 1));
	pump_until($v->{h}, IPC::Run::timeout(90), \$v->{out}, qr/MARK$vmark/);
	note("L3 vic's function: $v->{out} $v->{err}");
	run_in($v, 'SELECT 1;');
	my $vc0 = node_rows($coord, 'vic');
	my $late = 0;
	for my $s (@t)
	{
		($o, $e) = run_in($s, "SELECT insider_guard._citus_lease($gpid, 'public', 'customers', 1000, 0, 0, 'x', 'x');");
		$late++ if $e eq '';
	}
	my $c = node_rows($coord, 'vic');
	note("L3 late calls answered: $late; vic's count $vc0 -> $c");
	ok($c - $vc0 <= 64, "L3 after the window, terry's late calls from 30 connections charged vic " . ($c - $vc0) . " rows (vic's count $c; she read 1,200)");
	is(records('vic', '') - $before, 0, 'L3 no record of vic crossing her 1,500 log rule (she read 1,200)');
	finish($_) for @t;
	finish($v);
}

# L4. terry's own log-only reads uncounted: in a transaction terry ends
# her own lease backends on the coordinator (they log in as terry), reads
# 2,000 rows (each worker's report is sent without waiting, on the dead
# connection), SET ROLE staff, COMMIT, disconnects as staff: the report is
# made again on a new connection, where the session acts as staff: refused.
reset_all();
{
	my $before = records('terry', '');
	my $s = session('l4');
	my ($o, $e) = run_in($s, "SELECT count(*) FROM customers WHERE id <= 10 /* l4 warm */;");
	note("L4 warm: $o $e");
	($o, $e) = run_in($s, "SELECT string_agg(application_name || ':' || pg_terminate_backend(pid), ',') FROM (SELECT pid, application_name FROM pg_stat_activity WHERE usename = 'terry' AND pid <> pg_backend_pid() OFFSET 0) s;\nSELECT pg_sleep(0.5);\nBEGIN;\nSELECT count(*) FROM customers WHERE id <= 2000 /* l4 */;\nSET ROLE staff;\nCOMMIT;\nSELECT 2;");
	note("L4 session: $o $e");
	finish($s);
	gone('l4');
	counted('terry', 2010);
	my @w = map { node_rows($_, 'terry') } @workers;
	my $c = node_rows($coord, 'terry');
	ok($c >= 2010, "L4 lease backends ended, read, SET ROLE, COMMIT: the coordinator counted $c of the 2,010 rows terry read (workers: @w)");
	is(records('terry', '') - $before, 1, "L4 one record of terry's 2,010 rows (log rule 1,500)");
}

# L5. terry's own log-only reads vs. an immediate SET ROLE: after a warm
# read (each connection's first call made, so later reports are async),
# one query message reads 600 rows and does SET ROLE staff at once; 3
# sessions: 3 x 610 = 1,830 rows, log rule 1,500.
reset_all();
{
	my $before = records('terry', '');
	for my $i (1 .. 3)
	{
		my $s = session("l5-$i");
		my ($o, $e) = run_in($s, "SELECT count(*) FROM customers WHERE id <= 10 /* l5 warm */;");
		($o, $e) = run_in($s, "SELECT count(*) FROM customers WHERE id <= 600 /* l5 */ \\; SET ROLE staff;\nSELECT 1;");
		note("L5 session $i: $o $e");
		finish($s);
		gone("l5-$i");
	}
	counted('terry', 1830);
	my @w = map { node_rows($_, 'terry') } @workers;
	my $c = node_rows($coord, 'terry');
	ok($c >= 1830, "L5 read + SET ROLE in one message, x3: the coordinator counted $c of the 1,830 rows terry read (workers: @w)");
	is(records('terry', '') - $before, 1, "L5 one record of terry's 1,830 rows (log rule 1,500)");
}

# L6. vic's own block-ruled reads beyond her limit (accounts, block 1,000):
# 5 rounds, each a new session A: BEGIN; read 300 rows; SET ROLE vgrp (a
# group role of hers); another session of hers ends A's lease backends on
# the coordinator (they log in as vic) -- at their exit A does not act as
# vic, so the rows held are given back uncounted; COMMIT (the give-back
# is refused: A acts as vgrp); A leaves as vgrp.
$coord->safe_psql('postgres', 'CREATE ROLE vgrp NOLOGIN; GRANT vgrp TO vic;');
reset_all();
{
	my $served = 0;
	my @log;
	my $b = session('l6-b', 'vic');
	for my $i (1 .. 5)
	{
		my $a = session("l6-a$i", 'vic');
		my ($o, $e) = run_in($a, "BEGIN;\nSELECT count(*) FROM accounts WHERE id > " . (($i - 1) * 300) . " AND id <= " . ($i * 300) . ";\nSET ROLE vgrp;");
		$served += $1 if $o =~ /^(\d+)$/m;
		push @log, "$i: $o $e" =~ s/\n/ /gr;
		my ($k) = run_in($b, "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity WHERE usename = 'vic' AND application_name LIKE 'insider_guard%' OFFSET 0) s;");
		$coord->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'vic' AND application_name LIKE 'insider_guard%'");
		($o, $e) = run_in($a, "COMMIT;");
		push @log, "killed $k commit $o $e" =~ s/\n/ /gr;
		finish($a);
		gone("l6-a$i");
	}
	finish($b);
	note("L6 rounds: @log");
	my $c = node_rows($coord, 'vic', 'accounts');
	my @w = map { node_rows($_, 'vic', 'accounts') } @workers;
	ok($served <= 1064, "L6 vic's reads of accounts served: $served (block limit 1,000); coordinator counts $c (workers: @w)");
}

done_testing();
