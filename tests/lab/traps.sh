#!/usr/bin/env bash
# lab.traps (issue 2): a subscriber on a node that is not the SM's (an SA-class
# server for Report; the shim claims IsSM) subscribes with InformInfo to traps
# 64 and 65 at OpenSM, answers each Report with a ReportResp, and receives
# trap 65 within a few seconds of `Unlink "Hca4"`, then trap 64 after
# `ReLink "Hca4"`, both naming Hca4's GID.
. "$(dirname "$0")/lab_common.sh"

"$LAB" up --dir "$D"
GID=$(on Hca4 ibaddr | awk '{ print $2 }')
echo "Hca4: GID $GID"
bg "$TMP/sub.out" Hca3 "$BIN/lab_trap_sub" -n 2 -t 30 64 65
SUB=${BG_PIDS[-1]}
ms=$(wait_for 10 "$TMP/sub.out" '^ready') || { cat "$TMP/sub.out"; exit 1; }
echo "subscribed after $ms ms"

"$LAB" console --dir "$D" 'Unlink "Hca4"'
if ms=$(wait_for 5 "$TMP/sub.out" '^trap 65 '); then
	pass "trap 65 after Unlink, $ms ms"
	expect_eq "trap 65 GID" "$GID" "$(sed -n 's/^trap 65 .* gid //p' "$TMP/sub.out" | head -n 1)"
else
	fail "no trap 65 within 5 s of Unlink"
fi
"$LAB" console --dir "$D" 'ReLink "Hca4"'
if ms=$(wait_for 5 "$TMP/sub.out" '^trap 64 '); then
	pass "trap 64 after ReLink, $ms ms"
	expect_eq "trap 64 GID" "$GID" "$(sed -n 's/^trap 64 .* gid //p' "$TMP/sub.out" | head -n 1)"
else
	fail "no trap 64 within 5 s of ReLink"
fi
expect_eq "traps in order" "65 64" "$(sed -n 's/^trap \([0-9]*\) .*/\1/p' "$TMP/sub.out" | xargs)"

if wait "$SUB"; then rc=0; else rc=$?; fi
cat "$TMP/sub.out"
expect_eq "lab_trap_sub exit status (unsubscribed)" 0 "$rc"
finish
