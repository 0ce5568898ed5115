#!/usr/bin/env bash
# lab.sa_server (issue 2): a program on a node that is not the SM's registers
# as an SA-class server (Get, Set, GetTable, Delete; the shim claims IsSM for
# it); a client on another node sends it, to its LID and QP1, SubnAdmGet,
# SubnAdmGetTable, SubnAdmSet and SubnAdmDelete PathRecord, and every answer
# arrives whole: GetTable with 300 records (19,256 bytes, an RMPP-size
# message), each record's byte pattern checked, Set and Delete echoed.
# After that, with the server still holding IsSM, OpenSM still sweeps: a
# subscriber on a third node gets trap 65 for `Unlink "Hca1"` and trap 64 for
# the `ReLink` that follows (two sweeps, each past the SMInfo exchange).
#
# Nodes (net.2sw2path4hca, SM on Switch1): server Hca3, client Hca4,
# subscriber Hca2, unlinked Hca1. Simulator slots: OpenSM + 3.
. "$(dirname "$0")/lab_common.sh"
RECORDS=300

"$LAB" up --dir "$D"
bg "$TMP/server.out" Hca3 "$BIN/lab_sa_server" -n 4 -r $RECORDS -t 40 -q "$TMP/server.quit"
SERVER=${BG_PIDS[-1]}
ms=$(wait_for 10 "$TMP/server.out" '^ready lid') || { cat "$TMP/server.out"; exit 1; }
LID=$(sed -n 's/^ready lid //p' "$TMP/server.out")
echo "server on Hca3 (lid $LID) ready after $ms ms"

if on Hca4 "$BIN/lab_sa_client" "$LID" $RECORDS >"$TMP/client.out" 2>&1; then rc=0; else rc=$?; fi
cat "$TMP/client.out"
expect_eq "lab_sa_client exit status" 0 "$rc"
expect_eq "Get answered whole" 1 "$(grep -c 'Get: 1 record, 256 bytes, pattern ok' "$TMP/client.out" || true)"
expect_eq "GetTable answered whole" 1 \
	"$(grep -c "GetTable: $RECORDS records, $((56 + RECORDS * 64)) bytes, pattern ok" "$TMP/client.out" || true)"
expect_eq "Set answered" 1 "$(grep -c 'Set: 1 record, 256 bytes, echo ok' "$TMP/client.out" || true)"
expect_eq "Delete answered" 1 "$(grep -c 'Delete: 1 record, 256 bytes, echo ok' "$TMP/client.out" || true)"
expect_eq "requests the server saw" "Get GetTable Set Delete" \
	"$(sed -n 's/^served \([A-Za-z]*\):.*/\1/p' "$TMP/server.out" | xargs)"

# The claim is visible to the SM: the server's port is listed as IsSM.
issm_lids() {
	on Hca4 saquery -s | sed -n '/^IsSM ports/,/^IsSMdisabled/s/^[[:space:]]*EndPortLid\.*//p' | xargs
}
for _ in $(seq 50); do
	[[ " $(issm_lids) " == *" $LID "* ]] && break
	sleep 0.1
done
ISSM=$(issm_lids)
[[ " $ISSM " == *" $LID "* ]] && pass "OpenSM lists lid $LID as IsSM (IsSM ports: $ISSM)" ||
	fail "OpenSM's IsSM ports ($ISSM) lack the server's lid $LID"

# OpenSM still sweeps while the server holds IsSM.
bg "$TMP/sub.out" Hca2 "$BIN/lab_trap_sub" -n 2 -t 30 64 65
SUB=${BG_PIDS[-1]}
wait_for 10 "$TMP/sub.out" '^ready' >/dev/null || { cat "$TMP/sub.out"; exit 1; }
"$LAB" console --dir "$D" 'Unlink "Hca1"'
ms=$(wait_for 10 "$TMP/sub.out" '^trap 65 ') && pass "trap 65 after Unlink, $ms ms" ||
	fail "no trap 65 within 10 s of Unlink"
"$LAB" console --dir "$D" 'ReLink "Hca1"'
ms=$(wait_for 10 "$TMP/sub.out" '^trap 64 ') && pass "trap 64 after ReLink, $ms ms" ||
	fail "no trap 64 within 10 s of ReLink"

touch "$TMP/server.quit"
if wait "$SERVER"; then rc=0; else rc=$?; fi
cat "$TMP/server.out"
expect_eq "lab_sa_server exit status" 0 "$rc"
if wait "$SUB"; then rc=0; else rc=$?; fi
cat "$TMP/sub.out"
expect_eq "lab_trap_sub exit status" 0 "$rc"
finish
