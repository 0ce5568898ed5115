#!/usr/bin/env bash
# lab.multiport_linkstate (issue 16): Unlink port 2 of the dual-port HCA whose
# daemon serves both ports: within 1 s the daemon stops serving port 2's SGID
# (a lookup from it fails; stats: state down, served false) and keeps serving
# port 1; ReLink: within 1 s port 2 is served again and equals OpenSM. "Within
# 1 s" is measured from the console command to the first poll (every 50 ms)
# that sees the change.
. "$(dirname "$0")/multiport_common.sh"
export LOCALSA_SHM=none
printf 'port_poll_ms 100\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --topology "$DUAL_TOPO" --daemons Hca5 --localsad-conf "$TMP/localsad.conf"
need_ports Hca5
G1=$(port_field Hca5 ibsim0:1 gid)
G2=$(port_field Hca5 ibsim0:2 gid)
DGID=$(on Hca3 ibaddr | awk '{ print $2 }')
expect_eq "port 2 served before" "$(sa_path Hca5 2 "$G2" "$DGID")" "$(cli_path Hca5 "$G2" "$DGID")"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# gap_until LIMIT_MS CMD...: polls CMD every 50 ms; prints ms from T0 to the first success
gap_until() {
	local limit=$1 t
	shift
	while :; do
		if "$@"; then echo $(($(now_ms) - T0)); return 0; fi
		t=$(now_ms)
		[ $((t - T0)) -lt "$limit" ] || { echo timeout; return 1; }
		sleep 0.05
	done
}
port2_refused() { ! cli_path Hca5 "$G2" "$DGID" >/dev/null 2>&1; }
port2_back() { cli_path Hca5 "$G2" "$DGID" >/dev/null 2>&1; }

T0=$(now_ms)
"$LAB" console --dir "$D" 'Unlink "Hca5"[2]'
ms=$(gap_until 5000 port2_refused) || true
ms_ok "port 2's SGID no longer served after Unlink" "$ms" 1000
set +e
msg=$(cli_path Hca5 "$G2" "$DGID" 2>&1); rc=$?
set -e
echo "lookup from port 2 while down: exit $rc: $msg"
[ "$rc" != 0 ] && pass "non-zero exit" || fail "lookup from a down port succeeded"
grep -qiE "port|$G2" <<<"$msg" && pass "message names the port" || fail "message names neither a port nor $G2: $msg"
expect_eq "stats: port 2 state" down "$(pstat Hca5 ibsim0:2 state)"
expect_eq "stats: port 2 served" false "$(pstat Hca5 ibsim0:2 served)"
expect_eq "stats: port 1 served" true "$(pstat Hca5 ibsim0:1 served)"
expect_eq "port 1 still answers as OpenSM" "$(sa_path Hca5 1 "$G1" "$DGID")" "$(cli_path Hca5 "$G1" "$DGID")"

T0=$(now_ms)
"$LAB" console --dir "$D" 'ReLink "Hca5"[2]'
ms=$(gap_until 5000 port2_back) || true
ms_ok "port 2's SGID served again after ReLink" "$ms" 1000
expect_eq "stats: port 2 state" active "$(pstat Hca5 ibsim0:2 state)"
expect_eq "port 2 equals OpenSM after ReLink" "$(sa_path Hca5 2 "$G2" "$DGID")" "$(cli_path Hca5 "$G2" "$DGID")"
finish
