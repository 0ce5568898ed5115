#!/usr/bin/env bash
# install.prefix - localsa installed to a temporary prefix works from there:
#  - a C program builds against the installed liblocalsa with pkg-config alone (no
#    --define-variable: the .pc file finds its prefix from where it lies);
#  - the installed CLI runs without LD_LIBRARY_PATH (its RPATH is relative to itself):
#    `localsa --version` prints the version of the build;
#  - the installed units name the installed paths and pass `systemd-analyze verify`, in both
#    setups (beside ibacm: localsad.service; instead of ibacm: + the socket unit and drop-in).
#   install.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/lsa_install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }

cmake --install "$build" --prefix "$prefix" >/dev/null

pcdir=$(dirname "$(find "$prefix" -name liblocalsa.pc | head -1)")
flags=$(env -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs liblocalsa)
cat >"$prefix/app.c" <<'EOC'
#include <localsa.h>
int main(void)
{
	struct localsa *h;
	return localsa_open("/nonexistent/localsa.sock", "none", &h) == 0 ? (localsa_close(h), 0) : 1;
}
EOC
# The library of a sanitizer build needs the sanitizer runtime at link time too.
san=$(grep -q 'LOCALSA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo "-fsanitize=address,undefined" || true)
# shellcheck disable=SC2086
if cc $san "$prefix/app.c" $flags -o "$prefix/app"; then
	ok "a program builds against the installed library with pkg-config ($flags)"
else
	fail "cannot build against the installed library with: $flags"
fi

want=$(sed -n 's/^project(localsa VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")
got=$(env -u LD_LIBRARY_PATH "$prefix/bin/localsa" --version 2>&1 | head -1 || true)
if [ "$got" = "localsa $want" ]; then
	ok "the installed localsa --version runs without LD_LIBRARY_PATH: $got"
else
	fail "the installed localsa --version: want 'localsa $want', got '$got'"
fi
grep -q '^Type=notify$' "$(find "$prefix" -name localsad.service | head -1)" ||
	fail "localsad.service is not Type=notify"


unit=$(find "$prefix" -name localsad.service | head -1)
grep -q "^ExecStart=$prefix/sbin/localsad " "$unit" || fail "ExecStart does not name the installed localsad: $(grep ExecStart "$unit")"
grep -q -- "--config $prefix/etc/localsa/localsad.conf" "$unit" || fail "the unit does not name the installed config"
if ! command -v systemd-analyze >/dev/null; then
	echo "skipped: systemd-analyze verify (systemd-analyze is not installed here)"
else
	export MANPATH=$prefix/share/man
	if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify localsad.service"
	else
		fail "systemd-analyze verify localsad.service: $out"
	fi
	# The "replace ibacm" setup: the example units next to the service, with its drop-in.
	units=$prefix/units
	mkdir -p "$units/localsad.service.d"
	cp "$unit" "$units/"
	cp "$prefix/share/localsa/examples/localsa-acm.socket" "$units/"
	cp "$prefix/share/localsa/examples/replace-ibacm.conf" "$units/localsad.service.d/"
	if out=$(SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify "$units/localsa-acm.socket" \
		"$units/localsad.service" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify the replace-ibacm setup"
	else
		fail "systemd-analyze verify the replace-ibacm setup: $out"
	fi
fi
[ $status = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
