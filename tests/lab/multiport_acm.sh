#!/usr/bin/env bash
# lab.multiport_acm (issue 16): the ACM door of a daemon serving both ports of
# a dual-port HCA: `ib_acme -e` lists one endpoint per port (both GIDs), and
# `ib_acme -f g -s SGID2 -d DGID -v` resolves from the second port, prints
# OpenSM's path for (SGID2, DGID) and verifies it.
. "$(dirname "$0")/multiport_common.sh"
. "$(dirname "$0")/acm_common.sh"
"$LAB" up --dir "$D" --topology "$DUAL_TOPO" --daemons Hca5
need_ports Hca5
G1=$(port_field Hca5 ibsim0:1 gid)
G2=$(port_field Hca5 ibsim0:2 gid)
DGID=$(on Hca3 ibaddr | awk '{ print $2 }')
acme -e -S "$(acm_sock Hca5)" >"$TMP/ep" 2>&1
cat "$TMP/ep"
grep -qiF "$G1" "$TMP/ep" && pass "ib_acme -e lists port 1 ($G1)" || fail "ib_acme -e does not list port 1 $G1"
grep -qiF "$G2" "$TMP/ep" && pass "ib_acme -e lists port 2 ($G2)" || fail "ib_acme -e does not list port 2 $G2"
acme -f g -s "$G2" -d "$DGID" -v -S "$(acm_sock Hca5)" >"$TMP/res" 2>&1
cat "$TMP/res"
ours=$(normalize_acme <"$TMP/res")
theirs=$(opensm_pr Hca5 -C ibsim0 -P 2 --sgid-to-dgid "$G2-$DGID" | normalize_saquery)
expect_eq "ib_acme from port 2: path and verification" "$theirs
verify=success" "$ours"
finish
