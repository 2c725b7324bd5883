# InsiderGuardTest.pm: helpers shared by insider_guard's TAP tests.
#
# new_node() starts a throwaway cluster that preloads insider_guard, with
# the extension, a reader role "alice" and a "customers" table; reads()
# asks how many rows a role read; session_query() runs a query in a
# session kept open.
package InsiderGuardTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(new_node setup_reader reads wait_for_save session_query
  wait_for_lock_waiters start_as create_login_role_named);

# A started node with insider_guard preloaded.  Extra lines go to
# postgresql.conf.
sub new_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf',
		join("\n",
			"shared_preload_libraries = 'insider_guard'",
			"log_min_messages = debug1",
			@conf)
		  . "\n");
	$node->start;
	return $node;
}

# The extension, role alice (may log in, read customers), and customers
# with $rows rows, in database postgres.
sub setup_reader
{
	my ($node, $rows) = @_;

	$node->safe_psql('postgres', qq{
		CREATE EXTENSION insider_guard;
		CREATE ROLE alice LOGIN;
		CREATE TABLE customers (id int PRIMARY KEY, email text);
		INSERT INTO customers
			SELECT g, 'user' || g || '\@example.com' FROM generate_series(1, $rows) g;
		ANALYZE customers;
		GRANT SELECT ON customers TO alice;
	});
}

# Rows $role read from $table (all tables if undef) within $per.
sub reads
{
	my ($node, $role, $table, $per) = @_;
	my $tbl = defined $table ? "'$table'" : 'NULL';

	$per //= '1 hour';
	return $node->safe_psql('postgres',
		"SELECT insider_guard.rows_read('$role', '$per', $tbl)");
}

# Waits until $n sessions wait for advisory lock $key (dies, saying
# $what did not get there, if they do not).
sub wait_for_lock_waiters
{
	my ($node, $key, $n, $what) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = $n FROM pg_locks
		WHERE locktype = 'advisory' AND objid = $key AND NOT granted})
	  or die "$what did not reach the lock";
}

# Starts $sql as $role in a psql of its own, in the background: returns
# {handle, out, err}; $run->{handle}->finish waits for it.
sub start_as
{
	my ($node, $role, $sql) = @_;
	my %run = (out => '', err => '');
	$run{handle} = IPC::Run::start(
		[ 'psql', '-XAtq', '-U', $role, '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$run{out}, '2>', \$run{err});
	return \%run;
}

# Runs a query in a background psql session (on_error_stop off); returns
# its stdout and stderr, and clears the stderr for the next one.
sub session_query
{
	my ($session, $sql) = @_;
	my $out = $session->query($sql);
	my $err = $session->{stderr};

	$session->{stderr} = '';
	return ($out, $err);
}

# Waits until the background worker has saved the counters after now:
# returns once the log shows a save that follows $offset.
sub wait_for_save
{
	my ($node, $offset) = @_;

	return $node->wait_for_log(qr/insider_guard: saved the counters/, $offset);
}

# Creates a login role named $name -- one with a newline, to try to split
# log lines -- and returns its name.  PostgreSQL 19 refuses role names
# with a newline: there the refusal is checked, and the role is named
# $fallback instead.
sub create_login_role_named
{
	my ($node, $name, $fallback) = @_;
	my $err = '';

	$node->psql('postgres', qq{CREATE ROLE "$name" LOGIN}, stderr => \$err);
	return $name if $err eq '';
	like($err, qr/role name .* contains a newline or carriage return character/s,
		'the server refuses a role name with a newline');
	$node->safe_psql('postgres', qq{CREATE ROLE "$fallback" LOGIN});
	return $fallback;
}

1;
