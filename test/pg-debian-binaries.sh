#!/usr/bin/env bash
#
# test/pg-debian-binaries.sh MAJOR: PostgreSQL MAJOR from Debian's binary
# packages, made to run on Debian 12, for the majors whose source package
# test/pg-build.sh cannot fetch here (17 and 19: the archive's indexes list
# postgresql-17 17.12-0+deb13u1 and postgresql-19 19~rc1-1, its pool
# serves their .deb files but answers 404 for their sources).
#
# Takes the newest postgresql-MAJOR that trixie, unstable or experimental
# list, through a private apt state (the machine's own apt sources are not
# touched), with the libraries of the same suite it needs -- its libc
# among them: Debian 12's is older than the one it was built against --
# and unpacks them into one directory, then:
#
#   - points every executable and library at that directory's dynamic
#     loader and libraries (patchelf), so the server, psql, pg_regress and
#     the rest run with the libc they were built for;
#   - leaves out the LLVM JIT, whose libLLVM is not there: without
#     llvmjit.so the server runs with JIT unavailable instead of failing
#     to load it;
#   - makes the headers and PGXS say what this machine's compiler and libc
#     have, as configure would have found here: no strlcat/strlcpy in
#     libc 2.36 (port.h declares them; a module resolves them at run time
#     in the newer libc the server runs with), no typeof_unqual in gcc 12,
#     and none of the warning options gcc 12 does not know (19's
#     -Wmissing-variable-declarations).
#
# Relocated like any PostgreSQL installation, it is used through
#
#     $IG_PG_CACHE/debbin-MAJOR/usr/lib/postgresql/MAJOR/bin/pg_config
#
# (IG_PG_CACHE: /var/cache/insider_guard), which it prints on its last
# line; a second run reuses it.  Needs root (or sudo) for apt-get.
#
set -euo pipefail

major=${1:?usage: test/pg-debian-binaries.sh MAJOR}
cache=${IG_PG_CACHE:-/var/cache/insider_guard}
root="$cache/debbin-$major"
bindir="$root/usr/lib/postgresql/$major/bin"
apt_state="$cache/apt-bin"
suites="trixie unstable experimental"

if [ -x "$bindir/pg_config" ]; then
    echo "$bindir/pg_config"
    exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v patchelf >/dev/null || ! command -v file >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=600 patchelf file >&2
fi

as_root mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial"
for suite in $suites; do
    echo "deb [arch=amd64] http://deb.debian.org/debian $suite main"
done | as_root tee "$apt_state/sources.list" >/dev/null
# no dpkg status: nothing here is installed, every package is downloaded
apt_opts=(-o "Dir::Etc::SourceList=$apt_state/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache"
          -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
as_root apt-get "${apt_opts[@]}" update -q >&2

# the newest version, and the suite that lists it
version=""
for v in $(apt-cache "${apt_opts[@]}" show "postgresql-$major" 2>/dev/null |
           sed -n 's/^Version: //p'); do
    if [ -z "$version" ] || dpkg --compare-versions "$v" gt "$version"; then
        version=$v
    fi
done
if [ -z "$version" ]; then
    echo "no package postgresql-$major in: $suites" >&2
    exit 1
fi
suite=$(apt-cache "${apt_opts[@]}" madison "postgresql-$major" |
        awk -F'|' -v v="$version" '{gsub(/ /, "", $2)} $2 == v {print $3}' |
        head -1 | awk '{print $2}' | cut -d/ -f1)
echo "postgresql-$major $version ($suite)" >&2

# the server's, psql's and the PGXS tools' libraries, from that suite
# (experimental's packages are built against unstable's)
lib_suite=$suite
[ "$suite" = experimental ] && lib_suite=unstable
libs="libc6 libgcc-s1 libstdc++6 zlib1g liblz4-1 libzstd1 liblzma5
      libssl3t64 libxml2 libxml2-16 libxslt1.1 libicu76 libicu78
      libldap2 libsasl2-2 libsasl2-modules-db libdb5.3t64
      libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2
      libkeyutils1 libgnutls30t64 libnettle8t64 libhogweed6t64 libgmp10
      libidn2-0 libunistring5 libtasn1-6 libp11-kit0 libffi8
      libsystemd0 libcap2 libselinux1 libpcre2-8-0 libpam0g libaudit1
      libcap-ng0 libuuid1 libgcrypt20 libgpg-error0 libreadline8t64
      libtinfo6 liburing2 libnuma1"
wanted="postgresql-$major=$version postgresql-client-$major=$version
        postgresql-server-dev-$major=$version libpq5=$version libpq-dev=$version"
for lib in $libs; do
    # a library the suite does not have (libicu76 or libicu78...) is not needed
    # (no grep -q: apt-cache must not die of a closed pipe under pipefail)
    if apt-cache "${apt_opts[@]}" madison "$lib" | grep " $lib_suite/main " >/dev/null; then
        wanted="$wanted $lib/$lib_suite"
    fi
done

debs="$cache/debbin-$major.debs"
rm -rf "$debs" "$root"
mkdir -p "$debs" "$root"
# shellcheck disable=SC2086
(cd "$debs" && as_root apt-get "${apt_opts[@]}" download -q $wanted >&2)
for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$root"
done

# trixie's libc6 and later's are in /usr/lib alone
loader="$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
[ -e "$loader" ] || { echo "no dynamic loader in $root" >&2; exit 1; }
rpath="$root/usr/lib/x86_64-linux-gnu:$root/usr/lib/postgresql/$major/lib"
find "$root/usr/lib/postgresql/$major" "$root/usr/lib/x86_64-linux-gnu" \
     -type f | while read -r f; do
    case "$(file -b "$f")" in
        ELF*) ;;
        *) continue ;;
    esac
    case "$f" in
        */ld-linux-x86-64.so.2|*/libc.so.6) continue ;;
    esac
    if readelf -l "$f" 2>/dev/null | grep INTERP >/dev/null; then
        patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$rpath" "$f"
    else
        patchelf --force-rpath --set-rpath "$rpath" "$f"
    fi
done

# no JIT: its libLLVM is not unpacked
pkglib="$root/usr/lib/postgresql/$major/lib"
rm -rf "$pkglib/llvmjit.so" "$pkglib/llvmjit_types.bc" "$pkglib/bitcode"

# the headers and PGXS as configure would have made them here
h="$root/usr/include/postgresql/$major/server/pg_config.h"
probe() { printf '%s\n' "$1" | gcc -Werror -x c -c -o /dev/null - 2>/dev/null; }
if ! probe '#include <string.h>
int main(void) { char b[4] = ""; return (int) strlcat(b, "x", sizeof(b)); }'; then
    sed -i -e 's/^#define HAVE_DECL_STRLCAT 1/#define HAVE_DECL_STRLCAT 0/' \
           -e 's/^#define HAVE_DECL_STRLCPY 1/#define HAVE_DECL_STRLCPY 0/' \
           -e 's|^#define HAVE_STRLCAT 1|/* #undef HAVE_STRLCAT */|' \
           -e 's|^#define HAVE_STRLCPY 1|/* #undef HAVE_STRLCPY */|' "$h"
fi
if ! probe 'int x; typeof_unqual(x) y;'; then
    sed -i 's|^#define HAVE_TYPEOF_UNQUAL 1|/* #undef HAVE_TYPEOF_UNQUAL */|' "$h"
fi
mk="$pkglib/pgxs/src/Makefile.global"
for flag in $(sed -n 's/^CFLAGS = //p' "$mk"); do
    case "$flag" in
        -W*) echo 'int x;' | gcc -Wformat "$flag" -Werror -x c -c -o /dev/null - 2>/dev/null ||
                 sed -i "/^CFLAGS = /s/ $flag\\b//" "$mk" ;;
    esac
done

"$bindir/postgres" --version >&2
echo "$bindir/pg_config"
