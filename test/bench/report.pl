#!/usr/bin/perl
#
# test/bench/report.pl: the tables of test/bench/run.sh, from its results
# file: "memory per_entry BYTES", "throughput CONFIG WORKLOAD RATE" (one
# per round) and "instructions NAME TOTAL" (NAME is CONFIG.WORKLOAD or
# scale_CASE.STATEMENTS).  A workload that only insider_guard runs
# (insider_guard.fast_scans off, COPY under a block rule) is compared with
# the workload none runs in its place (%none_runs).
#
use strict;
use warnings;

my ($file, $configs) = @ARGV;
my @configs = split ' ', $configs;
my (%memory, %rates, %instr);

open my $fh, '<', $file or die "$file: $!";
while (<$fh>)
{
	my @f = split;
	if ($f[0] eq 'memory') { $memory{ $f[1] } = $f[2]; }
	elsif ($f[0] eq 'throughput' && defined $f[3] && $f[3] ne '')
	{
		push @{ $rates{ $f[2] }{ $f[1] } }, $f[3];
	}
	elsif ($f[0] eq 'instructions' && defined $f[2]) { $instr{ $f[1] } = $f[2]; }
}
close $fh;

# what none runs in place of a workload only insider_guard runs: without
# insider_guard there are no fast paths and no block rules
my %none_runs = (
	count_off    => 'count',
	countseq_off => 'countseq',
	copyblock    => 'copy');

sub median
{
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

if (exists $memory{per_entry})
{
	printf "\nShared memory per tracked (role, table) entry: %d bytes (budget 2,048)\n",
	  $memory{per_entry};
}

my @twork = (
	[ 'select_prep',   'pgbench -S, prepared, 2 clients',       'tps' ],
	[ 'select_simple', 'pgbench -S, simple, 2 clients',         'tps' ],
	[ 'count',         'count(*) 2 M rows, no parallel',        'stmt/s' ],
	[ 'count_off',     '  the same, fast_scans off',            'stmt/s' ],
	[ 'count_filter',  '  WHERE bid > 0 (keeps every row)',     'stmt/s' ],
	[ 'count_par',     'count(*) 2 M rows, 2 workers',          'stmt/s' ],
	[ 'fetch500k',     'SELECT * 500 k rows to the client',     'stmt/s' ],
	[ 'copy',          'COPY 2 M rows to the client',           'stmt/s' ],
	[ 'point200',      '2,000 point selects over 200 roles',    'stmt/s' ]);
if (%rates)
{
	my $rounds = 0;
	for my $w (values %rates) { for my $c (values %$w) { $rounds = @$c if @$c > $rounds; } }
	print "\nThroughput: medians of $rounds rounds; in brackets, the ratio to none\n";
	printf "%-38s %-7s" . (" %18s" x @configs) . "\n", 'workload', 'unit', @configs;
	for my $t (@twork)
	{
		my ($w, $label, $unit) = @$t;
		next unless $rates{$w};
		my $base_w = $none_runs{$w} // $w;
		my $none = median(@{ $rates{$base_w}{none} || [] });
		printf "%-38s %-7s", $label, $unit;
		for my $c (@configs)
		{
			my $m = median(@{ $rates{ $c eq 'none' ? $base_w : $w }{$c} || [] });
			if (!defined $m) { printf " %18s", '-'; next; }
			printf " %10.1f (%5.3f)", $m, $none ? $m / $none : 0;
		}
		print "\n";
	}
}

# instructions of a configuration's workload, less its empty run; for
# "steady", the 2,000 point selects that 4,000 make beyond 2,000
sub net
{
	my ($c, $w) = @_;
	if ($w eq 'steady')
	{
		return undef unless defined $instr{"$c.point4000"} && defined $instr{"$c.point"};
		return $instr{"$c.point4000"} - $instr{"$c.point"};
	}
	return undef unless defined $instr{"$c.$w"} && defined $instr{"$c.empty"};
	return $instr{"$c.$w"} - $instr{"$c.empty"};
}

# instructions: per statement or per row, minus the empty run
my @iwork = (
	[ 'point',     '2,000 point selects, one role',        2000,   'stmt' ],
	[ 'steady',    '  of which per statement, steady',     2000,   'stmt' ],
	[ 'point200',  '2,000 point selects over 200 roles',   2000,   'stmt' ],
	[ 'count',     'count(*) 2 M rows (index-only scan)',  2e6,    'row' ],
	[ 'countseq',  'count(*) 2 M rows (seq scan)',         2e6,    'row' ],
	[ 'count_off',    'count(*), index-only, fast_scans off', 2e6, 'row' ],
	[ 'countseq_off', 'count(*), seq scan, fast_scans off',   2e6, 'row' ],
	[ 'countfilter',  'count(*), seq scan, WHERE keeps all',  2e6, 'row' ],
	[ 'copy',      'COPY t TO, role no threshold covers',  250000, 'row' ],
	[ 'copyblock', 'COPY t TO, role a block rule covers',  250000, 'row' ]);
my $budget_over = 0;
if (grep { /^none\./ } keys %instr)
{
	print "\nInstructions (callgrind, single-user backend), per unit; in brackets, the\n"
	  . "change against none.  Budget for ig, ig_rules and ig_base: +1% (COPY by a\n"
	  . "role a block threshold covers: reported, no budget).  fast_scans off: the\n"
	  . "same statement with insider_guard.fast_scans off, against none's.\n"
	  . "\"WHERE keeps all\": WHERE bid > 0, true for every row; a scan with a filter\n"
	  . "has no fast path, so this is what counting costs a row.  \"Steady\": the\n"
	  . "instructions of 2,000 more point selects, (I(4,000) - I(2,000)) / 2,000;\n"
	  . "\"first statement\": what the 2,000 cost beyond 2,000 steady ones (the\n"
	  . "rules read and matched, the counters made: once per backend)\n";
	printf "%-38s %-5s" . (" %19s" x @configs) . "\n", 'workload', 'unit', @configs;
	for my $t (@iwork)
	{
		my ($w, $label, $n, $unit) = @$t;
		my $base_w = $none_runs{$w} // $w;
		next unless defined $instr{"none.$base_w"} || $w eq 'steady';
		next if $w eq 'steady' && !defined $instr{'none.point4000'};
		my $none = net('none', $base_w);
		printf "%-38s %-5s", $label, $unit;
		for my $c (@configs)
		{
			my $net = net($c, $c eq 'none' ? $base_w : $w);
			if (!defined $net)
			{
				printf " %19s", '-';
				next;
			}
			my $pct = ($net - $none) * 100.0 / $none;
			printf " %9.1f (%+6.2f%%)", $net / $n, $pct;
			$budget_over++
			  if $c =~ /^ig/ && $w ne 'copyblock' && $pct > 1.0;
		}
		print "\n";
		next unless $w eq 'steady';
		printf "%-38s %-5s", '  and once, the first statement', 'kinstr';
		for my $c (@configs)
		{
			my ($all, $steady) = (net($c, 'point'), net($c, 'steady'));
			my ($none_all, $none_steady) = (net('none', 'point'), net('none', 'steady'));
			if (!defined $all || !defined $steady) { printf " %19s", '-'; next; }
			printf " %19.0f", (($all - $steady) - ($none_all - $none_steady)) / 1000.0;
		}
		print "\n";
	}
	printf "Budget: %s\n",
	  $budget_over ? "$budget_over figure(s) over +1%" : 'every insider_guard figure within +1%';
}

if (grep { /^scale_/ } keys %instr)
{
	print "\nScaling: instructions per point select, (I(4,000) - I(2,000)) / 2,000\n";
	my @cases = (
		[ 'scale_none',              'no extension' ],
		[ 'scale_thresholds_1',      'insider_guard, 1 threshold' ],
		[ 'scale_thresholds_100',    'insider_guard, 100 thresholds' ],
		[ 'scale_thresholds_10000',  'insider_guard, 10,000 thresholds' ],
		[ 'scale_tracked_100',       'insider_guard, 100 tracked entries' ],
		[ 'scale_tracked_100k',      'insider_guard, 100,000 tracked entries' ]);
	my $none;
	for my $case (@cases)
	{
		my ($k, $label) = @$case;
		next unless defined $instr{"$k.4000"} && defined $instr{"$k.2000"};
		my $per = ($instr{"$k.4000"} - $instr{"$k.2000"}) / 2000.0;
		$none = $per if $k eq 'scale_none';
		printf "%-42s %10.1f", $label, $per;
		printf "  (%+.2f%% against none)", ($per - $none) * 100.0 / $none if defined $none && $k ne 'scale_none';
		print "\n";
	}
}
