#!/usr/bin/perl
#
# test/perl/with_dev_log.pl: runs a command whose syslog messages go to a
# syslog daemon of the test's own, without touching the system's /dev/log.
#
# Usage (unprivileged):
#   unshare --user --mount --map-current-user --keep-caps \
#       perl with_dev_log.pl SOCKET DIR -- COMMAND [ARG...]
#
# The C library sends syslog messages to /dev/log, a fixed path.  In the
# user and mount namespace unshare made, this script replaces /dev by a
# tmpfs of symbolic links to the real /dev (bind-mounted under DIR), plus
# /dev/log pointing at SOCKET, where the test's rsyslogd listens; then it
# drops the namespace's capabilities and runs COMMAND as the calling
# user.  Processes COMMAND starts (a postmaster and its children) keep
# this view; nothing changes outside the namespace.  Used by
# test/t/028_json_events.pl.
#
use strict;
use warnings;

require 'syscall.ph';

my ($socket, $dir, $separator, @command) = @ARGV;
die "usage: with_dev_log.pl SOCKET DIR -- COMMAND [ARG...]\n"
  unless defined $separator && $separator eq '--' && @command;

my ($MS_BIND, $MS_REC, $MS_PRIVATE) = (4096, 16384, 1 << 18);
my ($PR_CAP_AMBIENT, $PR_CAP_AMBIENT_CLEAR_ALL) = (47, 4);

# mount(2): the util-linux mount command refuses a user that is not root
sub mount_or_die
{
	my ($source, $target, $type, $flags, $data) = @_;
	# syscall() wants lvalues or numbers, not constants
	my ($s, $t, $y, $d) = ($source, $target, $type // 0, $data // 0);
	syscall(&SYS_mount, $s, $t, $y, $flags, $d) == 0
	  or die "with_dev_log.pl: mount $target: $!\n";
}

# nothing mounted here propagates anywhere
mount_or_die('none', '/', undef, $MS_REC | $MS_PRIVATE);

my $real = "$dir/realdev";
mkdir $real or $!{EEXIST} or die "with_dev_log.pl: mkdir $real: $!\n";
mount_or_die('/dev', $real, undef, $MS_BIND | $MS_REC);
mount_or_die('tmpfs', '/dev', 'tmpfs', 0, 'mode=755');
opendir(my $dh, $real) or die "with_dev_log.pl: $real: $!\n";
for my $entry (readdir $dh)
{
	next if $entry eq '.' || $entry eq '..' || $entry eq 'log';
	symlink("$real/$entry", "/dev/$entry")
	  or die "with_dev_log.pl: /dev/$entry: $!\n";
}
closedir $dh;
symlink($socket, '/dev/log') or die "with_dev_log.pl: /dev/log: $!\n";

# the command runs with no capability, as the caller
syscall(&SYS_prctl, $PR_CAP_AMBIENT, $PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0
  or die "with_dev_log.pl: prctl: $!\n";
exec { $command[0] } @command or die "with_dev_log.pl: $command[0]: $!\n";
