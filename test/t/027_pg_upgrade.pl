# pg_upgrade from PostgreSQL 15 to 18 keeps every rule and every violation
# record.  A 15 cluster gets rules of every kind (thresholds per table and
# for all tables, log and block, of a role, a group and every role; an
# exemption; baseline rules; a peer group with seeded history), in one
# database at version 0.1.0 and in another at the default version, and
# reads that make counts, a block record with a repeat and a log record.
# pg_upgrade (18's) then makes two 18 clusters from it:
#
#  - "bare" (--copy), without tools/pg_upgrade_insider_guard.sh: the
#    rules are there, but no record, count or history: alice gets a fresh
#    budget and violation id 1 again.  The script refuses it (running,
#    already has records), a cluster that is not an upgrade of the old
#    one, and its arguments swapped.
#  - "new" (--link), with the script run before its first start: every
#    rule row, every record (every column), the counts, the history and
#    the baselines are what they were; enforcement counts the reads made
#    on 15 (bob is stopped after 350 more rows, not 500); the next record
#    gets the next id; the 0.1.0 database updates on 18 to exactly what a
#    fresh install has.
#
# Runs under the 18 harness, with IG_UPGRADE_FROM naming the 15
# installation (its bin/ and lib/); both must have insider_guard installed:
#
#   IG_UPGRADE_FROM=/opt/pgcopy/C/lib/postgresql/15 \
#   IG_PG_CONFIG=/opt/pg18copy/C/bin/pg_config \
#   PROVE_TESTS=test/t/027_pg_upgrade.pl ./test.sh tap
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $from = $ENV{IG_UPGRADE_FROM};
if (!$from)
{
	plan skip_all =>
	  'set IG_UPGRADE_FROM to a PostgreSQL 15 installation with insider_guard (the parent of its bin/ and lib/), e.g. '
	  . 'IG_UPGRADE_FROM=/opt/pgcopy/C/lib/postgresql/15 IG_PG_CONFIG=/opt/pg18copy/C/bin/pg_config '
	  . 'PROVE_TESTS=test/t/027_pg_upgrade.pl ./test.sh tap';
}

my $top = "$FindBin::RealBin/../..";
my $carry = "$top/tools/pg_upgrade_insider_guard.sh";

# both installations have the same insider_guard (so the same file formats)
my %install;
for my $side ([ old => "$from/bin/pg_config" ], [ new => 'pg_config' ])
{
	my ($name, $pg_config) = @$side;
	my $pkglib = `$pg_config --pkglibdir`;
	BAIL_OUT("IG_UPGRADE_FROM=$from: no PostgreSQL installation there ($pg_config failed)")
	  if $? || !$pkglib;
	my $share = `$pg_config --sharedir`;
	chomp($pkglib, $share);
	$install{$name} = { lib => $pkglib, ext => "$share/extension" };
}
for my $name ('old', 'new')
{
	my $where = $name eq 'old' ? "$from/bin/pg_config" : 'pg_config (PATH)';
	ok(-f "$install{$name}{lib}/insider_guard.so"
		  && -f "$install{$name}{ext}/insider_guard.control",
		"the $name installation has insider_guard")
	  or BAIL_OUT("no insider_guard in the $name installation ($where): "
		  . "make PG_CONFIG=$where with_llvm=no install");
}
# the control file and every script, whatever versions there are
opendir(my $dh, $install{new}{ext}) or die "$install{new}{ext}: $!";
my @scripts = sort grep { /^insider_guard(--[0-9.]+)+\.sql$/ } readdir $dh;
closedir $dh;
for my $file ('insider_guard.control', @scripts)
{
	is(slurp_file("$install{old}{ext}/$file"),
		slurp_file("$install{new}{ext}/$file"),
		"the same $file in both installations");
}

# the setting every node of this test has
my $conf = "shared_preload_libraries = 'insider_guard'\n"
  . "max_parallel_workers_per_gather = 0\n";

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $from);
$old->init(force_initdb => 1);
$old->append_conf('postgresql.conf', $conf);
$old->start;
my $old_major = $old->pg_version->major;
ok($old_major < 18, "the old cluster runs PostgreSQL $old_major");

my @members = qw(carol dave erin frank gina hank);
$old->safe_psql('postgres', qq{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE etl LOGIN;
	CREATE ROLE support NOLOGIN;
	-- the memberships 15 days old: a younger one raises no limit
	SET insider_guard.test_clock_offset = '-15d';
	@{[ map { "CREATE ROLE $_ LOGIN IN ROLE support;\n" } @members ]}
	RESET insider_guard.test_clock_offset;
	-- and one joined now: young, across the upgrade too
	CREATE ROLE newjoin LOGIN IN ROLE support;
	CREATE DATABASE shop;
	CREATE DATABASE legacy;
});

# shop: the default version, every kind of rule
$old->safe_psql('shop', q{
	CREATE EXTENSION insider_guard;
	CREATE TABLE customers (id int PRIMARY KEY, email text);
	INSERT INTO customers SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 1000) g;
	CREATE TABLE orders (id int PRIMARY KEY, customer int);
	INSERT INTO orders SELECT g, g % 1000 + 1 FROM generate_series(1, 500) g;
	ANALYZE;
	GRANT SELECT ON customers, orders TO alice, bob, etl, support;
	SELECT insider_guard.set_threshold('alice', 300, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('bob', 500, '1 hour', 'block', 'customers');
	SELECT insider_guard.set_threshold('bob', 100, '1 day', 'log');
	SELECT insider_guard.set_threshold(NULL, 100000, '30 days', 'log');
	SELECT insider_guard.set_threshold('support', 2000, '1 hour', 'block', 'orders');
	SELECT insider_guard.exempt('etl');
	SELECT insider_guard.add_peer_group('support');
	SELECT insider_guard.set_baseline_rule('support', 5, '1 hour', 100, 'self', 'log');
	SELECT insider_guard.set_baseline_rule('support', 3, '1 day', 500, 'both', 'block', 'customers');
	-- a gap in the ids: the sequence, not the rows, says what comes next
	SELECT insider_guard.drop_threshold(insider_guard.set_threshold('etl', 1, '1 minute'));
	-- a grant on a view
	GRANT SELECT ON insider_guard.violations TO etl;
});

# the peers' history (they read nothing here: no window of theirs closes
# during the test): 10 days of hours over all tables, 20 days of customers
$old->safe_psql('shop', qq{
	SELECT count(insider_guard.record_history(m::regrole, NULL, '1 hour',
				date_trunc('hour', now(), 'UTC') - make_interval(hours => h), 4 + (h + k) % 5))
	FROM unnest('{@{[ join ',', @members ]}}'::text[]) WITH ORDINALITY AS u(m, k),
		 generate_series(1, 240) h;
	SELECT count(insider_guard.record_history(m::regrole, 'customers', '1 day',
				date_trunc('day', now(), 'UTC') - make_interval(days => d), 40 + (d * k) % 30))
	FROM unnest('{@{[ join ',', @members ]}}'::text[]) WITH ORDINALITY AS u(m, k),
		 generate_series(1, 20) d;
	SELECT insider_guard.record_history('newjoin', NULL, '1 hour',
				date_trunc('hour', now(), 'UTC') - interval '1 hour', 5);
});

# legacy: version 0.1.0, updated only after pg_upgrade
$old->safe_psql('legacy', q{
	CREATE EXTENSION insider_guard VERSION '0.1.0';
	CREATE TABLE accounts (id int PRIMARY KEY);
	INSERT INTO accounts SELECT generate_series(1, 200);
	GRANT SELECT ON accounts TO bob;
	SELECT insider_guard.set_threshold('bob', 50, '1 hour', 'block', 'accounts');
	SELECT insider_guard.exempt('etl');
	GRANT SELECT ON insider_guard.violations TO alice;
});

# Runs $sql as $role in $db of $node: returns (stdout, stderr).
sub read_as
{
	my ($node, $db, $role, $sql) = @_;
	my ($out, $err);
	$node->psql($db, $sql, extra_params => [ '-U', $role ],
		stdout => \$out, stderr => \$err);
	return ($out, $err);
}
my $stopped = qr/insider_guard: role "\w+" may not read more rows/;

my (undef, $err) = read_as($old, 'shop', 'alice', 'SELECT * FROM customers');
like($err, $stopped, 'on 15, alice is stopped at her block threshold');
(undef, $err) = read_as($old, 'shop', 'alice', 'SELECT count(*) FROM customers');
like($err, $stopped, 'and stopped again (a repeat of the incident)');
read_as($old, 'shop', 'alice', 'SELECT * FROM orders WHERE id <= 50');
my ($out) = read_as($old, 'shop', 'bob', 'SELECT count(*) FROM (SELECT * FROM customers LIMIT 150) s');
is($out, '150', 'bob reads 150 customers, over his log threshold');
read_as($old, 'shop', 'etl', 'SELECT count(*) FROM orders');
(undef, $err) = read_as($old, 'legacy', 'bob', 'SELECT * FROM accounts');
like($err, $stopped, 'bob is stopped in the 0.1.0 database');

# What is compared before and after: text, in UTC, OIDs beside names.
my $utc = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres';\n";
my %rules = (
	thresholds => q{SELECT threshold_id, role_name, role_name::oid, table_name, table_name::oid,
		max_rows, per, action, created_at, created_by
		FROM insider_guard.thresholds ORDER BY threshold_id},
	exemptions => q{SELECT role_name, role_name::oid, created_at, created_by
		FROM insider_guard.exemptions ORDER BY 1},
	sequence => q{SELECT last_value, is_called FROM insider_guard.rule_id_seq},
	# what each role may do, not how the catalog spells it: pg_upgrade
	# restores an ACL equal to 15's default as NULL (18's default, which
	# gives owners MAINTAIN, a privilege 15 does not have)
	privileges => q{SELECT object, string_agg(privilege, ',' ORDER BY privilege)
		FROM (SELECT c.relname AS object, a.grantee, a.privilege_type, a.is_grantable, c.relowner AS owner
			  FROM pg_class c, aclexplode(coalesce(c.relacl,
					acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a
			  WHERE c.relnamespace = 'insider_guard'::regnamespace AND c.relkind IN ('r', 'v', 'S')
			  UNION ALL
			  SELECT p.oid::regprocedure::text, a.grantee, a.privilege_type, a.is_grantable, p.proowner
			  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
			  WHERE p.pronamespace = 'insider_guard'::regnamespace) acl,
			 LATERAL (SELECT format('%s:%s%s', CASE grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(grantee) END,
									privilege_type, CASE WHEN is_grantable THEN '*' END)) f(privilege)
		WHERE NOT (privilege_type = 'MAINTAIN' AND grantee = owner)
		GROUP BY object ORDER BY object},
	tables => q{SELECT relname, oid FROM pg_class
		WHERE relnamespace = 'public'::regnamespace ORDER BY 1},);
my %shop_rules = (
	%rules,
	baseline_rules => q{SELECT rule_id, role_name, role_name::oid, table_name, table_name::oid,
		per, factor, min_rows, compare_to, action, created_at, created_by
		FROM insider_guard.baseline_rules ORDER BY rule_id},
	peer_group_roles => q{SELECT group_role, group_role::oid, created_at, created_by
		FROM insider_guard.peer_group_roles ORDER BY 1},
	peer_groups => q{SELECT * FROM insider_guard.peer_groups ORDER BY 1},);
my $readers = q{'{alice,bob,etl}'::text[]};
my %shop_state = (
	violations =>
	  q{SELECT * FROM insider_guard.violations ORDER BY violation_id},
	# rows_last_minute: the minute may be over by then
	activity => qq{SELECT role_name, table_name, rows_last_hour, rows_last_day, statements,
		last_read_at FROM insider_guard.role_activity
		WHERE role_name = ANY ($readers) ORDER BY 1, 2 NULLS FIRST},
	rows_read => qq{SELECT r, t, p, insider_guard.rows_read(r::regrole, p::interval, t::regclass)
		FROM unnest($readers) r, unnest('{NULL,customers,orders}'::text[]) t,
			 unnest('{1 hour,1 day,30 days}'::text[]) p
		ORDER BY 1, 2 NULLS FIRST, 3},
	baselines => q{SELECT * FROM insider_guard.baselines
		ORDER BY role_name, table_name NULLS FIRST, per},);
# the columns of 0.1.0's view
my $v1_columns = 'violation_id, occurred_at, role_name, current_role_name, '
  . 'table_oid, table_name, threshold_id, max_rows, per, rows_in_window, '
  . 'statement_rows, action, query, application_name, client_addr, backend_pid';
my %legacy_state = (
	violations =>
	  "SELECT $v1_columns FROM insider_guard.violations ORDER BY violation_id",
	rows_read => q{SELECT insider_guard.rows_read('bob', '1 hour', 'accounts'),
		insider_guard.rows_read('bob', '1 day')},);
my %cluster = (
	roles => q{SELECT rolname, oid FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1},
	databases => q{SELECT datname, oid FROM pg_database ORDER BY 1},);

sub capture
{
	my ($node, $db, $queries) = @_;
	my %result;
	$result{$_} = $node->safe_psql($db, $utc . $queries->{$_})
	  for keys %$queries;
	return \%result;
}

sub same
{
	my ($after, $before, $what) = @_;
	is($after->{$_}, $before->{$_}, "$what: $_") for sort keys %$before;
}

my %before = (
	shop_rules => capture($old, 'shop', \%shop_rules),
	shop_state => capture($old, 'shop', \%shop_state),
	legacy_rules => capture($old, 'legacy', \%rules),
	legacy_state => capture($old, 'legacy', \%legacy_state),
	cluster => capture($old, 'postgres', \%cluster),);

# what is compared is not empty
is($old->safe_psql('shop', q{
	SELECT string_agg(concat_ws(' ', violation_id, role_name, action, threshold_id,
		rows_in_window, statement_rows, repeats), ', ' ORDER BY violation_id)
	FROM insider_guard.violations}),
	'1 alice block 1 301 301 1, 2 bob log 3 101 101 0',
	'on 15: a block record with a repeat, a log record');
is($old->safe_psql('legacy',
		'SELECT violation_id, threshold_id, rows_in_window FROM insider_guard.violations'),
	'3|1|51', 'and a block record in the 0.1.0 database');
is($old->safe_psql('shop', q{SELECT count(*) FROM insider_guard.thresholds}), '5',
	'five thresholds');
is($old->safe_psql('shop', q{
	SELECT count(*), count(peer_high_rows), count(limit_now) FROM insider_guard.baselines
	WHERE role_name <> 'newjoin'}),
	'12|12|12', 'twelve history series of the old members, each with a peer p99 and a limit');
like($old->safe_psql('shop', q{
		SELECT no_limit_reason FROM insider_guard.baselines WHERE role_name = 'newjoin'}),
	qr/peer group membership younger than 14 days/,
	'the member who joined now has none from its peers');
is($old->safe_psql('shop', q{SELECT insider_guard.rows_read('bob', '1 hour', 'customers')}),
	'150', 'bob read 150 customers');

# PostgreSQL 15.20 keeps "attribute versions" as a column option,
# pg_attver, that 18.6 (an older release than 15.20) rejects:
# pg_upgrade's restore of any table fails ('unrecognized parameter
# "pg_attver"').  Not insider_guard's: where the new server rejects the
# option, take it out of the old catalog first.
my $new = PostgreSQL::Test::Cluster->new('new');
# 18's initdb turns data checksums on, 15's did not: pg_upgrade needs both alike
$new->init(no_data_checksums => 1);
$new->append_conf('postgresql.conf', $conf);
# started once before pg_upgrade: it has insider_guard's (empty) files
$new->start;
my ($probe_out, $probe_err);
$new->psql('postgres',
	'CREATE TEMP TABLE probe (a int); ALTER TABLE probe ALTER COLUMN a SET (pg_attver = 1)',
	stdout => \$probe_out, stderr => \$probe_err);
$new->stop;
if ($probe_err =~ /unrecognized parameter "pg_attver"/)
{
	note 'the new server rejects pg_attver: removing it from the old catalog';
	for my $db ('postgres', 'template1', 'shop', 'legacy')
	{
		$old->safe_psql($db, q{
			UPDATE pg_attribute
			SET attoptions = NULLIF(ARRAY(SELECT o FROM unnest(attoptions) o
										  WHERE o NOT LIKE 'pg_attver=%'), '{}')
			WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%'});
	}
}
$old->stop;

my $newbindir = $new->config_data('--bindir');
# pg_upgrade writes its scripts into the current directory
chdir $PostgreSQL::Test::Utils::tmp_check;

# Runs pg_upgrade from the old cluster into $to.
sub pg_upgrade
{
	my ($to, @mode) = @_;
	command_ok(
		[
			"$newbindir/pg_upgrade", '--no-sync',
			'--old-datadir' => $old->data_dir,
			'--new-datadir' => $to->data_dir,
			'--old-bindir' => "$from/bin",
			'--new-bindir' => $newbindir,
			'--socketdir' => $to->host,
			'--old-port' => $old->port,
			'--new-port' => $to->port,
			@mode
		],
		"pg_upgrade @mode into " . $to->name);
}

#
# Without carrying the files: the rules only.
#
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init(no_data_checksums => 1);
$bare->append_conf('postgresql.conf', $conf);
pg_upgrade($bare, '--copy', '--check');
pg_upgrade($bare, '--copy');
$bare->start;
same(capture($bare, 'shop', \%shop_rules), $before{shop_rules}, 'bare, shop rules');
same(capture($bare, 'legacy', \%rules), $before{legacy_rules}, 'bare, legacy rules');
same(capture($bare, 'postgres', \%cluster), $before{cluster}, 'bare, OIDs');
is($bare->safe_psql('shop', q{
	SELECT (SELECT count(*) FROM insider_guard.violations), (SELECT count(*) FROM insider_guard.baselines),
		insider_guard.rows_read('alice', '1 hour', 'customers')}),
	'0|0|0', 'bare: no record, no history, no count');
is($bare->safe_psql('legacy', 'SELECT count(*) FROM insider_guard.violations'),
	'0', 'bare: no record in the 0.1.0 database');
(undef, $err) = read_as($bare, 'shop', 'alice', 'SELECT * FROM customers');
like($err, $stopped, 'bare: alice is stopped ...');
is($bare->safe_psql('shop', q{
	SELECT violation_id, statement_rows FROM insider_guard.violations}),
	'1|301', '... only after 300 more rows, and her record reuses id 1');

# the script refuses what it must not touch
command_fails_like([ $carry, $old->data_dir, $bare->data_dir ],
	qr/a server is running on/, 'the script refuses a running new server');
$bare->stop;
my $listing = sub {
	my ($dir) = @_;
	return join "\n", map { basename($_) . ' ' . (-s $_) . ' ' . (stat $_)[9] }
	  sort glob("$dir/pg_insider_guard/* $dir/pg_stat/insider_guard.*");
};
my $bare_files = $listing->($bare->data_dir);
command_fails_like([ $carry, $old->data_dir, $bare->data_dir ],
	qr/already holds violation records/,
	'the script refuses a new cluster that has records');
is($listing->($bare->data_dir), $bare_files, 'and leaves its files as they were');
command_fails_like([ $carry, $bare->data_dir, $old->data_dir ],
	qr/is of PostgreSQL 18, later than/, 'the script refuses its arguments swapped');
my $stranger = PostgreSQL::Test::Cluster->new('stranger');
$stranger->init(no_data_checksums => 1);
command_fails_like([ $carry, $old->data_dir, $stranger->data_dir ],
	qr/lacks databases of .*: it is not a pg_upgrade of it/,
	'the script refuses a cluster that is not an upgrade of the old one');
ok(!-e $stranger->data_dir . '/pg_insider_guard'
	  && !glob($stranger->data_dir . '/pg_stat/insider_guard.*'),
	'and writes nothing there');

#
# With them: everything.
#
pg_upgrade($new, '--link', '--check');
pg_upgrade($new, '--link');
command_like([ $carry, $old->data_dir, $new->data_dir ],
	qr{carried 1 violation segment.*carried pg_stat/insider_guard\.counts\n.*carried pg_stat/insider_guard\.history\n}s,
	'the script carries the records, the counts and the history');
my @carried = sort glob($new->data_dir . '/pg_insider_guard/* '
	  . $new->data_dir . '/pg_stat/insider_guard.*');
is( join(' ', map { sprintf '%s:%o:%d', basename($_), (stat $_)[2] & 07777, (stat $_)[4] == $> } @carried),
	join(' ', map { sprintf '%s:600:1', basename($_) } @carried),
	'the copies are the server\'s: mode 0600, its owner');
is( join(' ', map { basename($_) } @carried),
	join(' ', map { basename($_) } sort glob($old->data_dir . '/pg_insider_guard/* '
		  . $old->data_dir . '/pg_stat/insider_guard.*')),
	'every file of the old cluster is there');

my $offset = -s $new->logfile;
$new->start;
ok( $new->log_contains(
		qr/insider_guard: loaded file "pg_stat\/insider_guard.counts", written by PostgreSQL $old_major$/m,
		$offset),
	'18 loads the counts file 15 wrote');
ok( $new->log_contains(
		qr/insider_guard: loaded file "pg_stat\/insider_guard.history", written by PostgreSQL $old_major$/m,
		$offset),
	'and the history file');
ok(!$new->log_contains(qr/insider_guard: ignoring/, $offset), 'and ignores nothing');

same(capture($new, 'shop', \%shop_rules), $before{shop_rules}, 'shop rules');
same(capture($new, 'shop', \%shop_state), $before{shop_state}, 'shop state');
like($new->safe_psql('shop', q{
		SELECT no_limit_reason FROM insider_guard.baselines WHERE role_name = 'newjoin'}),
	qr/peer group membership younger than 14 days/,
	'a membership young before the upgrade is young after it');
same(capture($new, 'legacy', \%rules), $before{legacy_rules}, 'legacy rules');
same(capture($new, 'legacy', \%legacy_state), $before{legacy_state}, 'legacy state');
same(capture($new, 'postgres', \%cluster), $before{cluster}, 'OIDs');
is($new->safe_psql('legacy',
		q{SELECT extversion FROM pg_extension WHERE extname = 'insider_guard'}),
	'0.1.0', 'legacy is still at 0.1.0');

# enforcement on 18 counts what was read on 15
(undef, $err) = read_as($new, 'shop', 'alice', 'SELECT count(*) FROM customers');
like($err, $stopped, 'alice is still stopped on 18');
is($new->safe_psql('shop', q{
	SELECT repeats FROM insider_guard.violations WHERE violation_id = 1}),
	'2', 'as a repeat of her incident on 15');
(undef, $err) = read_as($new, 'shop', 'bob', 'SELECT * FROM customers');
like($err, $stopped, 'bob is stopped on 18 ...');
is($new->safe_psql('shop', q{
	SELECT string_agg(concat_ws(' ', violation_id, role_name, threshold_id, rows_in_window,
		statement_rows), ', ' ORDER BY violation_id)
	FROM insider_guard.violations WHERE violation_id > 3}),
	'4 bob 2 501 351',
	'... at the 351st row (150 read on 15), in the next id\'s record, the only new one');
is($new->safe_psql('shop', q{SELECT insider_guard.rows_read('bob', '1 hour', 'customers')}),
	'501', 'his count goes on from 15\'s');

# 0.1.0 updates on 18 to what a fresh install is
$new->safe_psql('legacy', 'ALTER EXTENSION insider_guard UPDATE');
my $default_version = $new->safe_psql('legacy',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'insider_guard'});
is($new->safe_psql('legacy',
		q{SELECT extversion FROM pg_extension WHERE extname = 'insider_guard'}),
	$default_version, "ALTER EXTENSION insider_guard UPDATE on 18 (to $default_version)");
my $updated = capture($new, 'legacy', \%rules);
# the update adds objects and drops a function (_violations): every
# table, view and sequence of 0.1.0, and every function it keeps, keeps
# its privileges
my @after = split /\n/, delete $updated->{privileges};
my %after_line = map { $_ => 1 } @after;
my %after_object = map { (split /\|/)[0] => 1 } @after;
my @lost = grep {
	my $object = (split /\|/)[0];
	!$after_line{$_} && ($object !~ /\(/ || $after_object{$object})
} split /\n/, $before{legacy_rules}{privileges};
is("@lost", '', 'legacy rules, updated: the privileges of 0.1.0\'s objects');
my %kept = %{ $before{legacy_rules} };
delete $kept{privileges};
same($updated, \%kept, 'legacy rules, updated');
same(capture($new, 'legacy', \%legacy_state), $before{legacy_state}, 'legacy state, updated');
is($new->safe_psql('legacy', q{
	SELECT has_table_privilege('alice', 'insider_guard.violations', 'SELECT')}),
	't', 'the grant on violations is kept');

# the facts sql/upgrade.sql compares, with each ACL as what it means: a
# NULL one as its default (see privileges above)
my ($facts_sql) = slurp_file("$top/sql/upgrade.sql")
  =~ /^(CREATE FUNCTION ig_install_facts\(\).*?^\$\$;)$/ms
  or die 'no ig_install_facts in sql/upgrade.sql';
for my $acl (
	[ 'n.nspacl' => "coalesce(n.nspacl, acldefault('n', n.nspowner))" ],
	[ 'c.relacl' => q{coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))} ],
	[ 'p.proacl' => "coalesce(p.proacl, acldefault('f', p.proowner))" ])
{
	$facts_sql =~ s/\Q$acl->[0]\E/$acl->[1]/ or die "no $acl->[0] in ig_install_facts";
}
# the grants this test made are not in a fresh install
$new->safe_psql('legacy', 'REVOKE SELECT ON insider_guard.violations FROM alice');
$new->safe_psql('shop', 'REVOKE SELECT ON insider_guard.violations FROM etl');
$new->safe_psql('postgres', 'CREATE DATABASE fresh');
$new->safe_psql('fresh', 'CREATE EXTENSION insider_guard');
my %facts;
for my $db ('fresh', 'legacy', 'shop')
{
	$new->safe_psql($db, $facts_sql);
	$facts{$db} = $new->safe_psql($db,
		'SELECT kind, object, fact FROM ig_install_facts() ORDER BY 1, 2, 3');
}
ok(scalar(() = $facts{fresh} =~ /\n/g) > 100, 'a fresh install on 18 has its facts');
is($facts{legacy}, $facts{fresh},
	'0.1.0 upgraded and updated on 18 has exactly the objects of a fresh install');
is($facts{shop}, $facts{fresh}, 'and so has the default version upgraded');

$new->stop;
done_testing();
