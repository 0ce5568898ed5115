#!/usr/bin/env bash
# lab.multiport_badport (issue 16): a config naming a port that does not exist
# (ports ibsim9:1) stops localsad at start with a non-zero exit, and its stderr
# names the bad port and lists every port that does exist (ibsim0:1, ibsim0:2).
. "$(dirname "$0")/multiport_common.sh"
"$LAB" up --dir "$D" --topology "$DUAL_TOPO"
printf 'ports ibsim9:1\n' >"$TMP/bad.conf"
mkdir -p "$D/Hca5"
set +e
ON_TIMEOUT=20 on Hca5 "$BIN/localsad" --foreground --config "$TMP/bad.conf" \
	--control-socket "$TMP/bad.sock" --acm-socket "$TMP/bad-acm.sock" \
	--shm-name "/localsa-badport-$$" >"$TMP/out" 2>"$TMP/err"
rc=$?
set -e
cat "$TMP/err"
[ "$rc" != 0 ] && [ "$rc" != 124 ] && pass "localsad exits non-zero ($rc)" || fail "localsad exit status $rc (0: started; 124: still running after 20 s)"
for p in ibsim9:1 $(node_ports Hca5 | awk '{ print $1 }'); do
	grep -qF "$p" "$TMP/err" && pass "stderr names $p" || fail "stderr does not name $p"
done
finish
