#!/usr/bin/env bash
#
# test/pg-build.sh MAJOR: build PostgreSQL MAJOR from Debian's source
# package, for the majors Debian 12 has no binaries of (18: its binaries in
# unstable need a newer libc).  The source comes from unstable's deb-src
# through a private apt state -- the machine's own apt sources are not
# touched -- and is built with TAP tests enabled and installed into a
# cache outside the repository, which later runs reuse:
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
apt_state="$cache/apt"
src_dir="$cache/src-$major"

if [ -x "$prefix/bin/pg_config" ]; then
    echo "$prefix/bin/pg_config"
    exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# what building PostgreSQL needs, from the machine's own sources
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    build-essential bison flex libreadline-dev zlib1g-dev \
    pkg-config libipc-run-perl dpkg-dev >&2

# the source package, through a private apt state with unstable's deb-src
mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial" "$src_dir"
echo "deb-src http://deb.debian.org/debian unstable main" > "$apt_state/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_state/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache"
          -o "APT::Sandbox::User=root")
as_root apt-get "${apt_opts[@]}" update -q >&2
(cd "$src_dir" && as_root apt-get "${apt_opts[@]}" source --download-only -q "postgresql-$major" >&2)

# unpack the upstream tarball only (Debian's patches are packaging)
tarball=$(ls "$src_dir"/postgresql-"$major"_*.orig.tar.* | head -1)
rm -rf "$src_dir/build"
mkdir -p "$src_dir/build"
tar -xf "$tarball" -C "$src_dir/build" --strip-components=1

cd "$src_dir/build"
./configure --prefix="$prefix" --enable-tap-tests --without-icu --with-readline \
    >"$src_dir/configure.log" 2>&1 || { tail -30 "$src_dir/configure.log" >&2; exit 1; }
make -s -j"$(nproc)" world-bin >"$src_dir/make.log" 2>&1 || { tail -30 "$src_dir/make.log" >&2; exit 1; }
as_root make -s install-world-bin >"$src_dir/install.log" 2>&1 || { tail -30 "$src_dir/install.log" >&2; exit 1; }
echo "$prefix/bin/pg_config"
