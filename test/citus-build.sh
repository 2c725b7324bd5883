#!/usr/bin/env bash
#
# test/citus-build.sh PG_CONFIG: install Citus 13.2.2 into the PostgreSQL
# of PG_CONFIG, for test/t/034_citus.pl.  Citus is not part of
# insider_guard: the tests need a real one to run against.
#
# The source is the vendored tarball and its two-line patch (PostgreSQL
# 15.20 exports have_createdb_privilege(), which Citus 13.2.2 still
# defines for 15), in $IG_CITUS_VENDOR (default: ../shared/vendor beside
# the clone; their checksums are checked).  It is built once per
# PostgreSQL version string ("15.20") into a cache outside the clone,
#
#     $IG_PG_CACHE/citus-13.2.2-<version>/     (IG_PG_CACHE: /var/cache/insider_guard)
#         lib/      what Citus installs into pg_config --pkglibdir
#         share/    what it installs into pg_config --sharedir
#         complete  written last: a build cut short is built again
#
# and every run copies those files into PG_CONFIG's installation, so a
# second run (or one for another copy of the same PostgreSQL) takes a
# second.  The build needs Debian's -dev packages of the libraries
# PostgreSQL links (apt-get, as root or with sudo); nothing but the
# Debian archive is downloaded.  Servers that preload Citus must list it
# first: shared_preload_libraries = 'citus,insider_guard'.
#
set -euo pipefail

pg_config=${1:?usage: test/citus-build.sh PG_CONFIG}
here=$(cd "$(dirname "$0")" && pwd)
vendor=${IG_CITUS_VENDOR:-$here/../../shared/vendor}
cache=${IG_PG_CACHE:-/var/cache/insider_guard}
citus_version=13.2.2
tarball=citus-$citus_version.tar.gz
patch_file=citus-$citus_version-pg15.20.patch
tarball_sha256=17f90093b6edaf3e9c43fb695341c70c1f576e88cc6d3d8e2ba88ebbbe4efe77
patch_sha256=4b2f131852572285a918409dadbcb9a55f0a452bdd8860ea800d7ae62abc7572
build_deps="build-essential libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libpam0g-dev libxslt1-dev libxml2-dev libreadline-dev libssl-dev zlib1g-dev"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "$pg_config" ]; then
    echo "citus-build.sh: $pg_config is not an executable pg_config" >&2
    exit 2
fi
# "PostgreSQL 15.20 (Debian 15.20-0+deb12u1)" -> 15.20
pg_version=$("$pg_config" --version | awk '{print $2}')
case $pg_version in
    15.*) ;;
    *)
        echo "citus-build.sh: Citus $citus_version is tested here on PostgreSQL 15 only, not $pg_version" >&2
        exit 2 ;;
esac
prefix=$cache/citus-$citus_version-$pg_version

build() {
    local missing="" p work stage build_pkglib build_share
    for f in "$tarball:$tarball_sha256" "$patch_file:$patch_sha256"; do
        if ! echo "${f#*:}  $vendor/${f%%:*}" | sha256sum -c --quiet - >&2; then
            echo "citus-build.sh: $vendor/${f%%:*} is missing or not the vendored file" >&2
            exit 1
        fi
    done
    for p in $build_deps; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "installing packages:$missing" >&2
        as_root apt-get update -q >&2
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            -o DPkg::Lock::Timeout=600 $missing >&2
    fi

    as_root mkdir -p "$cache"
    work=$(as_root mktemp -d "$cache/citus-build.XXXXXX")
    as_root chown "$(id -u):$(id -g)" "$work"
    # shellcheck disable=SC2064
    trap "as_root rm -rf '$work'" EXIT
    mkdir "$work/src" "$work/stage" "$work/out"
    tar -xzf "$vendor/$tarball" -C "$work/src"
    (cd "$work/src" && patch -s -p0 < "$vendor/$patch_file")
    echo "building Citus $citus_version against PostgreSQL $pg_version (about a minute on 2 cores)" >&2
    (
        cd "$work/src"
        ./configure PG_CONFIG="$pg_config" >"$work/configure.log" 2>&1 ||
            { tail -n 40 "$work/configure.log"; exit 1; }
        make -j"$(nproc)" with_llvm=no >"$work/make.log" 2>&1 ||
            { tail -n 60 "$work/make.log"; exit 1; }
        make with_llvm=no install DESTDIR="$work/stage" >>"$work/make.log" 2>&1 ||
            { tail -n 60 "$work/make.log"; exit 1; }
    ) >&2
    # keep only what lands in the library and share directories, by their
    # place relative to those directories (headers are not needed)
    build_pkglib=$("$pg_config" --pkglibdir)
    build_share=$("$pg_config" --sharedir)
    if [ ! -f "$work/stage$build_pkglib/citus.so" ] ||
        [ ! -f "$work/stage$build_share/extension/citus.control" ]; then
        echo "citus-build.sh: the build installed no citus.so or citus.control" >&2
        exit 1
    fi
    mv "$work/stage$build_pkglib" "$work/out/lib"
    mv "$work/stage$build_share" "$work/out/share"
    # the bitcode, if any, would need the build's paths: not kept
    rm -rf "$work/out/lib/bitcode"
    date -u +%FT%TZ > "$work/out/complete"
    as_root rm -rf "$prefix"
    as_root mv "$work/out" "$prefix"
    as_root chmod -R a+rX "$prefix"
    as_root rm -rf "$work"
    trap - EXIT
}

# one build at a time: two test runs may start together
as_root mkdir -p "$cache"
# (a cache this user cannot write: no lock, and no build either)
if { exec 9>>"$cache/.citus-build.lock"; } 2>/dev/null; then
    flock 9
fi
if [ ! -f "$prefix/complete" ]; then
    build
fi

pkglibdir=$("$pg_config" --pkglibdir)
sharedir=$("$pg_config" --sharedir)
as_root cp -R "$prefix/lib/." "$pkglibdir/"
as_root cp -R "$prefix/share/." "$sharedir/"
echo "Citus $citus_version (cached in $prefix) installed into $pkglibdir" >&2
echo "$pkglibdir/citus.so"
