# Every admin action -- the functions that change rules, counts, history
# or violation records, and direct DML on the rules tables, a restore and
# TRUNCATE included -- writes one "insider_guard: admin" line to the
# server log naming the session user, the action and its arguments (for
# DML the table and the row), by a superuser and by a rules administrator
# granted EXECUTE alike; a function's own changes of a table add no line;
# no name can split the line.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use InsiderGuardTest;
use PostgreSQL::Test::Utils;
use Test::More;

# no statement logging: every line that mentions an admin action is ours
my $node = new_node('admin_log', "log_statement = 'none'");
setup_reader($node, 100);
my $superuser = $node->safe_psql('postgres', 'SELECT session_user');
my $rule_tables = 'insider_guard.thresholds, insider_guard.exemptions, '
  . 'insider_guard.baseline_rules, insider_guard.peer_group_roles';
my @functions = (
	'set_threshold(regrole, bigint, interval, text, regclass)',
	'drop_threshold(bigint)',
	'exempt(regrole)',
	'unexempt(regrole)',
	'reset(regrole)',
	'reset_history(regrole)',
	'record_history(regrole, regclass, interval, timestamptz, bigint)',
	'set_baseline_rule(regrole, float8, interval, bigint, text, text, regclass)',
	'add_peer_group(regrole)',
	'drop_peer_group(regrole)',
	'prune_violations(interval)');
my $grants = join('',
	map { "GRANT EXECUTE ON FUNCTION insider_guard.$_ TO rules_admin;\n" }
	  @functions);
$node->safe_psql('postgres', qq{
	CREATE ROLE rules_admin LOGIN;
	CREATE ROLE support NOLOGIN;
	GRANT support TO alice;
	$grants
	GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON $rule_tables TO rules_admin;
	GRANT USAGE ON SEQUENCE insider_guard.rule_id_seq TO rules_admin;
});

# Runs $sql as $user; returns its output and the admin lines it logged.
sub run_logged
{
	my ($user, $sql, %opts) = @_;
	my $offset = -s $node->logfile;
	my ($out, $err);

	$node->psql('postgres', $sql,
		extra_params => [ '-U', $user ],
		on_error_stop => $opts{on_error_stop} // 1,
		stdout => \$out, stderr => \$err);
	my $log = slurp_file($node->logfile, $offset);
	return ($out, $err, grep { /insider_guard: admin / } split /\n/, $log);
}

# The pattern of one admin line: $expected, where <n> stands for a number
# and <time> for a time, is all of the line after "LOG:  insider_guard: ".
sub line_pattern
{
	my ($expected) = @_;
	my $pattern = quotemeta($expected);

	$pattern =~ s/\\<n\\>/-?\\d+/g;
	$pattern =~ s/\\<time\\>/\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?\\+00/g;
	return qr/LOG:  insider_guard: $pattern$/;
}

# Runs $sql as $user, checks that it logged exactly one admin line, and
# that the line is $expected (see line_pattern); returns the output and
# the line.  It runs without a message, or one like $message.
sub one_line
{
	my ($user, $sql, $expected, $name, $message) = @_;
	my ($out, $err, @lines) = run_logged($user, $sql);

	if (defined $message)
	{
		like($err, $message, "$name: runs, and says so");
	}
	else
	{
		is($err, '', "$name: runs") or diag($err);
	}
	is(scalar @lines, 1, "$name: one admin line") or diag(join("\n", @lines));
	like($lines[0] // '', line_pattern($expected),
		"$name: names the session user, the action and its arguments");
	return ($out, $lines[0] // '');
}

my $window_end = $node->safe_psql('postgres',
	"SELECT date_trunc('hour', now(), 'UTC') - interval '1 hour'");
my $window_end_utc = $node->safe_psql('postgres',
	"SET TIME ZONE 'UTC'; SELECT '$window_end'::timestamptz");

foreach my $user ($superuser, 'rules_admin')
{
	my $admin = "admin %s by session user \"$user\" in database \"postgres\": ";
	my ($out, $line, $id, $rule);

	# the functions: one line each, with the arguments and the result
	($id, $line) = one_line($user,
		"SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers')",
		sprintf($admin, 'set_threshold')
		  . 'role_name "alice", max_rows "10", per "01:00:00", action "block", on_table "public.customers"; result "<n>"',
		"$user: set_threshold");
	like($line, qr/; result "$id"$/, "$user: set_threshold: the result is the id");
	one_line($user,
		"SELECT insider_guard.set_threshold(NULL, 5000, '1 day')",
		sprintf($admin, 'set_threshold')
		  . 'role_name NULL (every role), max_rows "5000", per "1 day", action "log", on_table NULL (all tables); result "<n>"',
		"$user: set_threshold for every role");
	($out, $line) = one_line($user,
		"SELECT insider_guard.drop_threshold($id)",
		sprintf($admin, 'drop_threshold') . qq{threshold_id "$id"; result "true"},
		"$user: drop_threshold");
	one_line($user,
		"SELECT insider_guard.drop_threshold($id)",
		sprintf($admin, 'drop_threshold') . qq{threshold_id "$id"; result "false"},
		"$user: drop_threshold of an id that is gone");
	one_line($user, 'SELECT insider_guard.drop_threshold(NULL)',
		sprintf($admin, 'drop_threshold') . 'threshold_id NULL; result "false"',
		"$user: drop_threshold of NULL");
	one_line($user, "SELECT insider_guard.exempt('alice')",
		sprintf($admin, 'exempt') . 'role_name "alice"', "$user: exempt");
	one_line($user, "SELECT insider_guard.exempt('alice')",
		sprintf($admin, 'exempt') . 'role_name "alice"',
		"$user: exempt of a role already exempt");
	one_line($user, "SELECT insider_guard.unexempt('alice')",
		sprintf($admin, 'unexempt') . 'role_name "alice"', "$user: unexempt");
	one_line($user, "SELECT insider_guard.reset('alice')",
		sprintf($admin, 'reset') . 'role_name "alice"', "$user: reset");
	one_line($user, 'SELECT insider_guard.reset()',
		sprintf($admin, 'reset') . 'role_name NULL (every role)',
		"$user: reset of every role");
	($rule) = one_line($user,
		"SELECT insider_guard.set_baseline_rule('support', 5, '1 hour', 1000, 'peers', 'log', 'customers')",
		sprintf($admin, 'set_baseline_rule')
		  . 'role_name "support", factor "5", per "01:00:00", min_rows "1000", compare_to "peers", action "log", on_table "public.customers"; result "<n>"',
		"$user: set_baseline_rule",
		qr/NOTICE:  insider_guard: baseline rule limits nobody yet\n/);
	one_line($user, "SELECT insider_guard.add_peer_group('support')",
		sprintf($admin, 'add_peer_group') . 'group_role "support"',
		"$user: add_peer_group");
	# changing a registered peer group's members is logged too
	if ($user eq $superuser)
	{
		one_line($user, 'CREATE ROLE newcomer; GRANT support TO newcomer',
			sprintf($admin, 'GRANT peer group membership') . 'group_role "support", member "newcomer"',
			"$user: GRANT of a peer group");
		one_line($user, 'REVOKE support FROM newcomer; DROP ROLE newcomer',
			sprintf($admin, 'REVOKE peer group membership') . 'group_role "support", member "newcomer"',
			"$user: REVOKE of a peer group");
	}
	one_line($user, "SELECT insider_guard.drop_peer_group('support')",
		sprintf($admin, 'drop_peer_group') . 'group_role "support"',
		"$user: drop_peer_group");
	one_line($user,
		"SELECT insider_guard.record_history('alice', 'customers', '1 hour', '$window_end', 7)",
		sprintf($admin, 'record_history')
		  . qq{role_name "alice", on_table "public.customers", per "01:00:00", window_end "$window_end_utc", rows "7"},
		"$user: record_history");
	one_line($user, "SELECT insider_guard.reset_history('alice')",
		sprintf($admin, 'reset_history') . 'role_name "alice"; result "1"',
		"$user: reset_history");
	one_line($user, 'SELECT insider_guard.reset_history()',
		sprintf($admin, 'reset_history') . 'role_name NULL (every role); result "<n>"',
		"$user: reset_history of every role");
	one_line($user, "SELECT insider_guard.prune_violations('90 days')",
		sprintf($admin, 'prune_violations') . 'older_than "90 days"; result "0"',
		"$user: prune_violations");
	one_line($user, "SELECT insider_guard.drop_threshold($rule)",
		sprintf($admin, 'drop_threshold') . qq{threshold_id "$rule"; result "true"},
		"$user: drop_threshold of a baseline rule");

	# direct DML: one line per row, with the row as stored
	my $created = qq{created_at "<time>", created_by "$user"};
	($id) = one_line($user,
		"INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) "
		  . "VALUES ('alice', 77, '2 hours', 'log') RETURNING threshold_id",
		sprintf($admin, 'INSERT')
		  . qq{table "insider_guard.thresholds", new row (threshold_id "<n>", role_name "alice", table_name NULL (all tables), max_rows "77", per "02:00:00", action "log", $created)},
		"$user: INSERT into thresholds");
	one_line($user,
		"UPDATE insider_guard.thresholds SET max_rows = 78 WHERE threshold_id = $id",
		sprintf($admin, 'UPDATE')
		  . qq{table "insider_guard.thresholds", old row (threshold_id "$id", role_name "alice", table_name NULL (all tables), max_rows "77", per "02:00:00", action "log", $created), }
		  . qq{new row (threshold_id "$id", role_name "alice", table_name NULL (all tables), max_rows "78", per "02:00:00", action "log", $created)},
		"$user: UPDATE of thresholds");
	one_line($user,
		"DELETE FROM insider_guard.thresholds WHERE threshold_id = $id",
		sprintf($admin, 'DELETE')
		  . qq{table "insider_guard.thresholds", old row (threshold_id "$id", role_name "alice", table_name NULL (all tables), max_rows "78", per "02:00:00", action "log", $created)},
		"$user: DELETE from thresholds");
	one_line($user,
		"INSERT INTO insider_guard.exemptions (role_name) VALUES ('alice')",
		sprintf($admin, 'INSERT')
		  . qq{table "insider_guard.exemptions", new row (role_name "alice", $created)},
		"$user: INSERT into exemptions");
	one_line($user,
		"DELETE FROM insider_guard.exemptions WHERE role_name = 'alice'::regrole",
		sprintf($admin, 'DELETE')
		  . qq{table "insider_guard.exemptions", old row (role_name "alice", $created)},
		"$user: DELETE from exemptions");
	one_line($user,
		"INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action) "
		  . "VALUES (NULL, '1 day', 3, 10, 'self', 'block')",
		sprintf($admin, 'INSERT')
		  . qq{table "insider_guard.baseline_rules", new row (rule_id "<n>", role_name NULL (every role), table_name NULL (all tables), per "1 day", factor "3", min_rows "10", compare_to "self", action "block", $created)},
		"$user: INSERT into baseline_rules");
	one_line($user,
		"INSERT INTO insider_guard.peer_group_roles (group_role) VALUES ('support')",
		sprintf($admin, 'INSERT')
		  . qq{table "insider_guard.peer_group_roles", new row (group_role "support", $created)},
		"$user: INSERT into peer_group_roles");

	# a restore: one line per row copied in
	my ($err, @lines);
	($out, $err, @lines) = run_logged($user,
		"COPY insider_guard.thresholds (role_name, max_rows, per, action) FROM STDIN;\n"
		  . "alice\t100\t1 hour\tlog\n"
		  . "\\N\t200\t2 days\tblock\n"
		  . "\\.\n");
	is($err, '', "$user: COPY into thresholds runs");
	is(scalar @lines, 2, "$user: COPY of two rows into thresholds: two lines");
	like($lines[0] // '', qr/admin INSERT by session user "\Q$user\E" .*table "insider_guard\.thresholds", new row \(threshold_id "\d+", role_name "alice", table_name NULL \(all tables\), max_rows "100"/,
		"$user: the first row copied");
	like($lines[1] // '', qr/admin INSERT by session user "\Q$user\E" .*table "insider_guard\.thresholds", new row \(threshold_id "\d+", role_name NULL \(every role\), table_name NULL \(all tables\), max_rows "200", per "2 days", action "block"/,
		"$user: the second row copied");

	# TRUNCATE: one line per table, with the rows it removes
	one_line($user, 'TRUNCATE insider_guard.thresholds',
		sprintf($admin, 'TRUNCATE') . 'table "insider_guard.thresholds", rows "3"',
		"$user: TRUNCATE of thresholds");
	one_line($user, 'TRUNCATE insider_guard.exemptions',
		sprintf($admin, 'TRUNCATE') . 'table "insider_guard.exemptions", rows "0"',
		"$user: TRUNCATE of an empty table");
	($out, $err, @lines) = run_logged($user,
		'TRUNCATE insider_guard.baseline_rules, insider_guard.peer_group_roles');
	is($err, '', "$user: TRUNCATE of two tables runs");
	is_deeply([ map { s/^.*LOG:  insider_guard: //r } @lines ],
		[ sprintf($admin, 'TRUNCATE') . 'table "insider_guard.baseline_rules", rows "1"',
		  sprintf($admin, 'TRUNCATE') . 'table "insider_guard.peer_group_roles", rows "1"' ],
		"$user: TRUNCATE of two tables: a line for each");
}

# a TRUNCATE needs no SELECT privilege to count the rows it removes
$node->safe_psql('postgres', q{
	CREATE ROLE truncator LOGIN;
	GRANT TRUNCATE ON insider_guard.exemptions TO truncator;
	SELECT insider_guard.exempt('alice');
});
one_line('truncator', 'TRUNCATE insider_guard.exemptions',
	'admin TRUNCATE by session user "truncator" in database "postgres": table "insider_guard.exemptions", rows "1"',
	'TRUNCATE without SELECT');

# the session user is named, not the role set
one_line($superuser, "SET ROLE rules_admin; SELECT insider_guard.exempt('alice')",
	qq{admin exempt by session user "$superuser" in database "postgres": role_name "alice"},
	'the session user, not the current role');

# dropping a table drops its thresholds: those rows are logged too
$node->safe_psql('postgres', q{
	CREATE TABLE doomed (a int);
	SELECT insider_guard.set_threshold('alice', 5, '1 hour', 'log', 'doomed');
});
my ($out, $err, @lines) = run_logged($superuser, 'DROP TABLE doomed');
is(scalar @lines, 1, 'DROP TABLE with a threshold: one line');
like($lines[0] // '', qr/admin DELETE by session user "\Q$superuser\E" in database "postgres": table "insider_guard\.thresholds", old row \(threshold_id "\d+", role_name "alice", table_name "\d+", max_rows "5"/,
	'the threshold dropped with its table, the table by OID');

# a function that fails while it changes a table leaves the triggers
# logging: the next direct change in the session is logged
$node->safe_psql('postgres', q{
	CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.max_rows = 13 THEN RAISE EXCEPTION 'no 13'; END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_13 BEFORE INSERT OR UPDATE ON insider_guard.thresholds
		FOR EACH ROW EXECUTE FUNCTION refuse_13();
});
($out, $err, @lines) = run_logged($superuser, q{
	SELECT insider_guard.set_threshold('alice', 13);
	INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action)
		VALUES ('alice', 14, '1 hour', 'log');
}, on_error_stop => 0);
like($err, qr/no 13/, 'set_threshold fails inside its change of the table');
is(scalar @lines, 1, 'after the failed call, one line: the direct INSERT');
like($lines[0] // '', qr/admin INSERT by session user .*max_rows "14"/,
	'the direct INSERT after the failed call is logged');
$node->safe_psql('postgres', q{
	DROP TRIGGER refuse_13 ON insider_guard.thresholds;
	TRUNCATE insider_guard.thresholds;
});

# names cannot split the line: role, table and session user names with
# newlines that look like log lines of their own.  PostgreSQL 19 refuses
# role names with a newline: there the role's only looks like a log line.
my $evil = "evil\nLOG:  insider_guard: admin reset";
my $role_err = '';
$node->psql('postgres', qq{CREATE ROLE "$evil" LOGIN}, stderr => \$role_err);
if ($role_err ne '')
{
	like($role_err, qr/role name .* contains a newline or carriage return character/s,
		'the server refuses a role name with a newline');
	$evil = 'evil LOG:  insider_guard: admin reset';
	$node->safe_psql('postgres', qq{CREATE ROLE "$evil" LOGIN});
}
(my $evil_quoted = qq{"$evil"}) =~ s/\n/\\n/g;
$node->safe_psql('postgres', qq{
	CREATE TABLE "odd\ntable" (a int);
	GRANT EXECUTE ON FUNCTION insider_guard.reset(regrole),
		insider_guard.set_threshold(regrole, bigint, interval, text, regclass)
		TO "$evil";
});
my $offset = -s $node->logfile;
(undef, my $line) = one_line($superuser,
	qq{SELECT insider_guard.set_threshold('"$evil"', 1, '1 hour', 'log', '"odd\ntable"')},
	qq{admin set_threshold by session user "$superuser" in database "postgres": role_name $evil_quoted, max_rows "1", per "01:00:00", action "log", on_table "public.\\"odd\\ntable\\""; result "<n>"},
	'a role and a table with newlines');
one_line($evil, qq{SELECT insider_guard.reset('"$evil"')},
	qq{admin reset by session user $evil_quoted in database "postgres": role_name $evil_quoted},
	'a session user with a newline');
one_line($superuser,
	qq{UPDATE insider_guard.thresholds SET max_rows = 2 WHERE role_name = '"$evil"'::regrole},
	qq{admin UPDATE by session user "$superuser" in database "postgres": table "insider_guard.thresholds", }
	  . qq{old row (threshold_id "<n>", role_name $evil_quoted, table_name "public.\\"odd\\ntable\\"", max_rows "1", per "01:00:00", action "log", created_at "<time>", created_by "$superuser"), }
	  . qq{new row (threshold_id "<n>", role_name $evil_quoted, table_name "public.\\"odd\\ntable\\"", max_rows "2", per "01:00:00", action "log", created_at "<time>", created_by "$superuser")},
	'a row with newlines in its names');
my $log = slurp_file($node->logfile, $offset);
unlike($log, qr/^LOG:  insider_guard: admin reset/m,
	'no role name starts a log line of its own');
unlike($log, qr/^table"/m, 'nor does a table name');

$node->stop;
done_testing();
