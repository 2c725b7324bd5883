#!/usr/bin/env bash
#
# test/debian-archive.sh: what test/pg-build.sh and
# test/pg-debian-binaries.sh share (sourced, not run): a private apt state
# that lists several Debian suites -- the machine's own apt sources are
# not touched -- and the newest version of a package it lists.
#
#   private_apt STATE_DIR "LINE PREFIX" SUITE...
#       writes STATE_DIR/sources.list ("LINE PREFIX http://deb.debian.org/
#       debian SUITE main" for each suite), sets the array apt_opts that
#       points apt-get and apt-cache at it, and updates its lists
#   newest_version show|showsrc PACKAGE
#       prints the newest version of PACKAGE any suite lists, or nothing
#

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

private_apt() {
    local state=$1 prefix=$2 suite
    shift 2
    as_root mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
    for suite in "$@"; do
        echo "$prefix http://deb.debian.org/debian $suite main"
    done | as_root tee "$state/sources.list" >/dev/null
    # no dpkg status: nothing is installed from it, only fetched
    apt_opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=-"
              -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
              -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
    as_root apt-get "${apt_opts[@]}" update -q >&2
}

# (experimental may list several: 19~beta2-1 and 19~rc1-1)
newest_version() {
    local how=$1 package=$2 version="" v
    for v in $(apt-cache "${apt_opts[@]}" "$how" "$package" 2>/dev/null |
               sed -n 's/^Version: //p'); do
        if [ -z "$version" ] || dpkg --compare-versions "$v" gt "$version"; then
            version=$v
        fi
    done
    echo "$version"
}
