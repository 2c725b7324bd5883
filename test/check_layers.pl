#!/usr/bin/perl
#
# test/check_layers.pl: fails if insider_guard's sources break their
# layering (see the Makefile's OBJS and docs/design.md, "Source layout").
#
# Each folder of src/ is a layer, lowest first:
#
#     base  shmem  cache  exec  sql  (src/ itself: top)
#
# A file may include the headers of its own layer and the layers below,
# and call (as the built objects show: nm) functions and use variables
# defined in those layers only.  And no files may call each other in a
# cycle, within a layer too: every file can be read, and changed, knowing
# only the files below it.
#
# Usage: test/check_layers.pl [src-dir]   (after the objects are built)
# Prints every offending include, call and cycle; exits 1 if any.
#
use strict;
use warnings;

my $src = shift // 'src';
my @order = qw(base shmem cache exec sql top);
my %rank;
@rank{@order} = (0 .. $#order);

sub layer_of
{
	my ($path) = @_;    # relative to src/
	return $path =~ m{^([a-z]+)/} ? $1 : 'top';
}

my @problems;

# the sources and their objects
my @files = sort(glob("$src/*.[ch]"), glob("$src/*/*.[ch]"));
die "no sources under $src\n" unless @files;
my %is_project = map { (substr($_, length($src) + 1) => 1) } @files;

# 1. includes
for my $file (@files)
{
	my $rel = substr($file, length($src) + 1);
	my $layer = layer_of($rel);
	open(my $fh, '<', $file) or die "$file: $!";
	while (my $line = <$fh>)
	{
		next unless $line =~ /^\s*#\s*include\s+"([^"]+)"/;
		my $header = $1;
		next unless $is_project{$header};
		my $hl = layer_of($header);
		push @problems,
		  "$rel:$.: includes $header, of layer $hl above its own ($layer)"
		  if $rank{$hl} > $rank{$layer};
	}
	close $fh;
}

# 2. calls, from the symbols each object defines and needs
my (%defines, %needs);
for my $c (grep { /\.c$/ } @files)
{
	(my $o = $c) =~ s/\.c$/.o/;
	die "$o is not built: run make first\n" unless -f $o;
	my $rel = substr($c, length($src) + 1);
	for my $line (`nm $o`)
	{
		if ($line =~ /^\s+U\s+(\S+)$/)
		{
			$needs{$rel}{$1} = 1;
		}
		elsif ($line =~ /^[0-9a-f]+\s+[TDBRC]\s+(\S+)$/)
		{
			$defines{$1} = $rel;
		}
	}
}
my %calls;    # file -> file -> [symbols]
for my $file (sort keys %needs)
{
	for my $sym (sort keys %{ $needs{$file} })
	{
		my $owner = $defines{$sym};
		next unless defined $owner && $owner ne $file;
		push @{ $calls{$file}{$owner} }, $sym;
	}
}
for my $file (sort keys %calls)
{
	my $layer = layer_of($file);
	for my $owner (sort keys %{ $calls{$file} })
	{
		my $ol = layer_of($owner);
		push @problems,
		  "$file uses " . join(', ', @{ $calls{$file}{$owner} })
		  . " of $owner, of layer $ol above its own ($layer)"
		  if $rank{$ol} > $rank{$layer};
	}
}

# 3. cycles: strongly connected components of the call graph (Tarjan)
my (%index, %low, %on_stack, @stack);
my $next_index = 0;
my @cycles;

sub visit
{
	my ($v) = @_;
	$index{$v} = $low{$v} = $next_index++;
	push @stack, $v;
	$on_stack{$v} = 1;
	for my $w (sort keys %{ $calls{$v} || {} })
	{
		if (!defined $index{$w})
		{
			visit($w);
			$low{$v} = $low{$w} if $low{$w} < $low{$v};
		}
		elsif ($on_stack{$w})
		{
			$low{$v} = $index{$w} if $index{$w} < $low{$v};
		}
	}
	if ($low{$v} == $index{$v})
	{
		my @component;
		my $w;
		do
		{
			$w = pop @stack;
			$on_stack{$w} = 0;
			push @component, $w;
		} while ($w ne $v);
		push @cycles, [ sort @component ] if @component > 1;
	}
}
visit($_) for grep { !defined $index{$_} } sort keys %needs;
for my $cycle (@cycles)
{
	my %in = map { ($_ => 1) } @$cycle;
	my @edges;
	for my $a (@$cycle)
	{
		for my $b (sort keys %{ $calls{$a} || {} })
		{
			push @edges, "  $a -> $b: " . join(', ', @{ $calls{$a}{$b} })
			  if $in{$b};
		}
	}
	push @problems,
	  "files calling each other in a cycle: @$cycle\n" . join("\n", @edges);
}

if (@problems)
{
	print "layering: $_\n" for @problems;
	exit 1;
}
printf "layering: %d files in %d layers, no upward include or call, no cycle\n",
  scalar(@files), scalar(@order);
exit 0;
