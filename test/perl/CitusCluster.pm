# CitusCluster.pm: a real Citus cluster on this machine for insider_guard's
# TAP tests and benchmarks (test/t/034_citus.pl, 037_citus_budget.pl,
# test/bench/citus/).
#
# citus_skip_unless_available() skips the test (plan skip_all) when Citus
# is not installed in the PostgreSQL under test or IG_CITUS=0;
# citus_nodes(...) starts a coordinator and two workers, each preloading
# citus (first) and insider_guard and having both extensions, not yet
# joined; citus_join(...) makes them one cluster.
package CitusCluster;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(citus_skip_unless_available citus_conf citus_nodes citus_join);

# Skips the whole test unless Citus is installed into the PostgreSQL
# under test (test/citus-build.sh PG_CONFIG; test.sh does it on 15), or
# if IG_CITUS=0.
sub citus_skip_unless_available
{
	my $pkglibdir = `pg_config --pkglibdir`;
	chomp $pkglibdir;
	if (($ENV{IG_CITUS} // '1') eq '0')
	{
		plan skip_all => 'IG_CITUS=0';
	}
	elsif (!-f "$pkglibdir/citus.so")
	{
		plan skip_all =>
		  "Citus is not installed in $pkglibdir (test/citus-build.sh PG_CONFIG installs it)";
	}
	return;
}

# The postgresql.conf lines every node gets; $preload is
# shared_preload_libraries (default 'citus,insider_guard').
sub citus_conf
{
	my ($preload) = @_;
	$preload //= 'citus,insider_guard';
	return (
		"shared_preload_libraries = '$preload'",
		"max_connections = 100",
		# no telemetry: the build has libcurl, this machine no network
		"citus.enable_statistics_collection = off",
		# unix sockets, trust: the workers are reached as the reader himself
		"citus.node_conninfo = 'sslmode=prefer'");
}

# Starts nodes coordinator, worker1 and worker2 with citus_conf() and the
# extra lines @conf; each has the citus extension and, unless
# $opts{no_insider_guard}, insider_guard.  Options: preload (as
# citus_conf), no_insider_guard.  Returns a hash name => node.
sub citus_nodes
{
	my ($opts, @conf) = @_;
	my %node;

	for my $name (qw(coordinator worker1 worker2))
	{
		my $n = PostgreSQL::Test::Cluster->new($name);
		$n->init;
		$n->append_conf('postgresql.conf',
			join("\n", citus_conf($opts->{preload}), @conf) . "\n");
		$n->start;
		$n->safe_psql('postgres',
			'CREATE EXTENSION citus;'
			  . ($opts->{no_insider_guard} ? '' : ' CREATE EXTENSION insider_guard;'));
		$node{$name} = $n;
	}
	return %node;
}

# Makes the coordinator the coordinator of the workers (metadata synced).
sub citus_join
{
	my ($coord, @workers) = @_;

	$coord->safe_psql('postgres',
		sprintf(q{SELECT citus_set_coordinator_host('%s', %d);}, $coord->host, $coord->port)
		  . join('', map {
				sprintf(q{SELECT citus_add_node('%s', %d);}, $_->host, $_->port)
			} @workers));
	return;
}

1;
