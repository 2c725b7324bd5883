#!/usr/bin/env bash
#
# test/deb-test.sh: build the Debian package postgresql-15-insider-guard
# from a temporary copy of this tree, install it, and check that what it
# installed is what a server loads and that it stops a role over its
# threshold.  Then remove the package again.
#
# As root, or as a user with sudo (apt, dpkg).  Checks that
# insider_guard.control, debian/changelog and META.json (valid JSON) give
# the same version.  Installs the build dependencies debian/control names,
# builds with dpkg-buildpackage -us -uc -b (warning-free, the production
# build), installs the .deb with apt, checks with dpkg -S and dpkg --verify
# that the library and the extension files come from the package, starts a
# throwaway cluster (preloading the library; socket and data in a temporary
# directory), lets a role read a 200-row table past a 100-row block
# threshold, and checks the error and the violation record.  Always stops
# the cluster and removes the package; extension files an earlier `make
# install` had put where the package goes are set aside first and put back
# after.  Exits non-zero, saying what failed, on any failure.
#
# The package installs into the system PostgreSQL 15 (/usr/lib/postgresql/15)
# whatever IG_PG_CONFIG says; while it runs, nothing else may use that
# installation's insider_guard.
#
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/prepare.sh
. "$src/test/prepare.sh"

PKG=postgresql-$PG_MAJOR-insider-guard
SYS_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

fail() { printf 'deb-test: FAILED: %s\n' "$*" >&2; exit 1; }
step() { printf -- '--- %s\n' "$*"; }

# the version, one for everything: insider_guard.control, debian/changelog,
# META.json (valid JSON, for PGXN)
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$src/insider_guard.control")
[ -n "$version" ] || fail "no default_version in insider_guard.control"
got=$(sed -n '1s/^insider-guard (\(.*\)-[^-]*).*/\1/p' "$src/debian/changelog")
[ "$got" = "$version" ] || fail "debian/changelog is at ${got:-?}, insider_guard.control at $version"
got=$(perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>);
    print "$m->{version} $m->{provides}{insider_guard}{version}"' <"$src/META.json") ||
    fail "META.json is not valid JSON"
[ "$got" = "$version $version" ] || fail "META.json has versions $got, insider_guard.control $version"

# the test removes the package at the end: it must not be one the machine had
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed"; then
    fail "$PKG is already installed; remove it first (this test installs and removes it)"
fi

tmp=$(mktemp -d /tmp/insider_guard_deb.XXXXXX)
# readable by the server's user and by apt's sandbox user
chmod 755 "$tmp"
data=$tmp/data
installed=""
started=""

cleanup() {
    local rc=$?
    set +e
    if [ -n "$started" ]; then
        (cd "$tmp" && as_pg "$SYS_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null)
    fi
    if [ -n "$installed" ]; then
        step "removing $PKG"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "$PKG" >"$tmp/remove.log" 2>&1 ||
            { cat "$tmp/remove.log"; rc=1; echo "deb-test: FAILED: apt-get remove $PKG" >&2; }
        if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed"; then
            echo "deb-test: FAILED: $PKG is still installed" >&2
            rc=1
        fi
    fi
    # what make install had put there before, back where it was
    if [ -d "$tmp/saved" ]; then
        (cd "$tmp/saved" && find . -type f) | while read -r f; do
            as_root mkdir -p "$(dirname "/${f#./}")"
            as_root cp -p "$tmp/saved/$f" "/${f#./}"
        done
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "kept $tmp"
    else
        as_root rm -rf "$tmp"
    fi
    [ $rc -eq 0 ] && echo "deb-test: passed"
    exit $rc
}
trap cleanup EXIT

# 1. build from a copy: dpkg-buildpackage writes into the tree and its parent
step "copying the tree"
mkdir "$tmp/build"
cp -a "$src/." "$tmp/build/insider-guard/"
rm -rf "$tmp/build/insider-guard/.git"
cd "$tmp/build/insider-guard"

if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
    step "installing build dependencies"
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get build-dep -y -q --no-install-recommends ./ >"$tmp/build-dep.log" 2>&1 ||
        { cat "$tmp/build-dep.log"; fail "apt-get build-dep"; }
fi

step "dpkg-buildpackage -us -uc -b"
# IG_TESTING=1, as test.sh exports it: debian/rules must build the
# production library all the same (checked below and on the server)
if ! env IG_TESTING=1 dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1; then
    tail -n 60 "$tmp/build.log"
    fail "dpkg-buildpackage (log above)"
fi
if grep 'warning:' "$tmp/build.log"; then
    fail "the package build has warnings (above)"
fi
if grep -E -e '-DIG_TESTING' "$tmp/build.log" >/dev/null; then
    fail "the package was built as the test build (-DIG_TESTING)"
fi
deb=$(ls "$tmp"/build/"${PKG}"_*.deb)
echo "built $(basename "$deb")"

# 2. install it, setting aside files a make install left where it goes
step "installing $(basename "$deb")"
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|p' | while read -r f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then
        if dpkg -S "$f" >/dev/null 2>&1; then
            fail "$f already belongs to a package: $(dpkg -S "$f")"
        fi
        mkdir -p "$tmp/saved$(dirname "$f")"
        cp -p "$f" "$tmp/saved$f"
    fi
done
installed=1
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "apt-get install $deb"; }

step "checking what the package installed"
pkglibdir=$("$SYS_BIN/pg_config" --pkglibdir)
sharedir=$("$SYS_BIN/pg_config" --sharedir)
for f in "$pkglibdir/insider_guard.so" "$sharedir/extension/insider_guard.control" \
    "$sharedir/extension/insider_guard--0.1.0.sql" "$sharedir/extension/insider_guard--0.1.0--0.2.0.sql" \
    "$sharedir/extension/insider_guard--0.2.0--0.3.0.sql" "$sharedir/extension/insider_guard--0.3.0--0.4.0.sql" \
    "$sharedir/extension/insider_guard--0.4.0--0.5.0.sql" \
    "$sharedir/extension/insider_guard--0.5.0--0.6.0.sql"; do
    owner=$(dpkg -S "$f" 2>/dev/null) || fail "$f: installed by no package (dpkg -S)"
    [ "${owner%%:*}" = "$PKG" ] || fail "$f belongs to ${owner%%:*}, not $PKG"
    echo "$owner"
done
# every file as the package has it (checksums), not one left by make install
dpkg --verify "$PKG" || fail "dpkg --verify $PKG: installed files differ from the package"
if grep -q test_clock_offset "$pkglibdir/insider_guard.so"; then
    fail "the installed library is the test build (it has insider_guard.test_clock_offset)"
fi
dpkg-query -W -f='${Version}\n' "$PKG" | grep -q "^$version-" ||
    fail "package version $(dpkg-query -W -f='${Version}' "$PKG") is not $version-N (insider_guard.control)"

# 3. a throwaway cluster that preloads the packaged library
step "a cluster preloading insider_guard"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$tmp"
cd "$tmp"
as_pg "$SYS_BIN/initdb" -D "$data" --auth=trust --no-locale -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log"; fail "initdb"; }
# no TCP: the port only names the socket file in $tmp
port=$((20000 + RANDOM % 40000))
cat >>"$data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$tmp'
shared_preload_libraries = 'insider_guard'
fsync = off
EOF
as_pg "$SYS_BIN/pg_ctl" -D "$data" -l "$tmp/server.log" -w start >/dev/null ||
    { cat "$tmp/server.log"; fail "the server did not start"; }
started=1

psql_as() {
    local user=$1
    shift
    as_pg env PGHOST="$tmp" PGPORT="$port" PGUSER="$user" PGDATABASE=postgres \
        "$SYS_BIN/psql" -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@"
}

step "CREATE EXTENSION, a 200-row table, a 100-row block threshold"
psql_as "$PG_USER" -At <<'SQL' || fail "setting up the extension, table and threshold"
CREATE EXTENSION insider_guard;
CREATE TABLE customers AS
    SELECT g AS id, 'customer ' || g AS name FROM generate_series(1, 200) g;
CREATE ROLE terry LOGIN;
GRANT SELECT ON customers TO terry;
SELECT 'threshold ' || insider_guard.set_threshold('terry', 100, '1 hour', 'block', 'customers');
SQL
got=$(psql_as "$PG_USER" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'insider_guard'")
[ "$got" = "$version" ] || fail "extension version $got, not $version"
got=$(psql_as "$PG_USER" -At -c "SELECT count(*) FROM pg_settings WHERE name LIKE 'insider\_guard.%'")
[ "$got" -gt 0 ] || fail "no insider_guard settings: the library is not loaded"
# the production build
got=$(psql_as "$PG_USER" -At -c "SELECT count(*) FROM pg_settings WHERE name = 'insider_guard.test_clock_offset'")
[ "$got" = 0 ] || fail "insider_guard.test_clock_offset exists: the test build is installed"

step "terry reads all of customers"
if psql_as terry -c "SELECT * FROM customers" >"$tmp/terry.out" 2>"$tmp/terry.err"; then
    fail "terry read all 200 rows of customers past a 100-row block threshold"
fi
cat "$tmp/terry.err"
grep -q '^ERROR:  42501: insider_guard: role "terry" may not read more rows from table "public.customers"' "$tmp/terry.err" ||
    fail "terry's statement failed, but not with insider_guard's 42501 error"
[ ! -s "$tmp/terry.out" ] || fail "terry's blocked statement returned rows"

step "the violation"
psql_as "$PG_USER" -c "SELECT violation_id, role_name, table_name, max_rows, per, action, rows_in_window, query FROM insider_guard.violations"
got=$(psql_as "$PG_USER" -At -F ' ' -c "SELECT role_name, table_name, max_rows, action, query FROM insider_guard.violations")
[ "$got" = "terry public.customers 100 block SELECT * FROM customers" ] ||
    fail "insider_guard.violations does not have the one record of terry's block: '$got'"

