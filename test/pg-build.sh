#!/usr/bin/env bash
#
# test/pg-build.sh MAJOR: build PostgreSQL MAJOR from Debian's source
# package, for the majors Debian 12 has no binaries of (17: trixie's need a
# newer libc, 18: unstable's, 19: experimental's).  The source comes from
# deb-src lines for trixie, unstable and experimental through a private apt
# state -- the machine's own apt sources are not touched -- taking the
# newest version of postgresql-MAJOR any of them lists (17: trixie, 18:
# unstable, 19: experimental's newest beta or release candidate), and is
# built with TAP tests enabled and installed into a cache outside the
# repository, which later runs reuse:
#
#     $IG_PG_CACHE/pg-MAJOR/bin/pg_config     (IG_PG_CACHE: /var/cache/insider_guard)
#
# Prints that pg_config's path on its last line.  Needs root (or sudo) for
# apt-get; builds as the invoking user.
#
set -euo pipefail

major=${1:?usage: test/pg-build.sh MAJOR}
cache=${IG_PG_CACHE:-/var/cache/insider_guard}
prefix="$cache/pg-$major"
# not "$cache/apt", which earlier versions of this script fill with
# unstable alone: two runs must not rewrite each other's sources.list
apt_state="$cache/apt-src"
src_dir="$cache/src-$major"
suites="trixie unstable experimental"

if [ -x "$prefix/bin/pg_config" ]; then
    echo "$prefix/bin/pg_config"
    exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# what building PostgreSQL needs, from the machine's own sources; other
# jobs may be running apt-get: wait for their lock rather than fail
build_deps="build-essential bison flex libreadline-dev zlib1g-dev pkg-config libipc-run-perl dpkg-dev"
missing=""
for p in $build_deps; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=600 $missing >&2
fi

# the source package, through a private apt state with those suites' deb-src
as_root mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial"
mkdir -p "$src_dir"
for suite in $suites; do
    echo "deb-src http://deb.debian.org/debian $suite main"
done | as_root tee "$apt_state/sources.list" >/dev/null
apt_opts=(-o "Dir::Etc::SourceList=$apt_state/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache"
          -o "APT::Sandbox::User=root")
as_root apt-get "${apt_opts[@]}" update -q >&2

# the newest version any suite has (experimental may list several: 19~beta2-1
# and 19~rc1-1); apt-get source alone would skip experimental's
version=""
for v in $(apt-cache "${apt_opts[@]}" showsrc "postgresql-$major" 2>/dev/null |
           sed -n 's/^Version: //p'); do
    if [ -z "$version" ] || dpkg --compare-versions "$v" gt "$version"; then
        version=$v
    fi
done
if [ -z "$version" ]; then
    echo "no source package postgresql-$major in: $suites" >&2
    exit 1
fi
echo "postgresql-$major $version" >&2
if ! (cd "$src_dir" && as_root apt-get "${apt_opts[@]}" source --download-only -q \
        "postgresql-$major=$version" >&2); then
    # seen: an archive whose index lists a version its pool does not serve
    echo "postgresql-$major $version is listed but its source could not be downloaded" >&2
    exit 1
fi

# unpack the upstream tarball only (Debian's patches are packaging); its
# name has the upstream version: no epoch, no Debian revision
upstream=${version#*:}
upstream=${upstream%-*}
tarball=$(ls "$src_dir"/postgresql-"$major"_"$upstream".orig.tar.* | head -1)
rm -rf "$src_dir/build"
mkdir -p "$src_dir/build"
tar -xf "$tarball" -C "$src_dir/build" --strip-components=1

cd "$src_dir/build"
./configure --prefix="$prefix" --enable-tap-tests --without-icu --with-readline \
    >"$src_dir/configure.log" 2>&1 || { tail -30 "$src_dir/configure.log" >&2; exit 1; }
make -s -j"$(nproc)" world-bin >"$src_dir/make.log" 2>&1 || { tail -30 "$src_dir/make.log" >&2; exit 1; }
as_root make -s install-world-bin >"$src_dir/install.log" 2>&1 || { tail -30 "$src_dir/install.log" >&2; exit 1; }
echo "$prefix/bin/pg_config"
