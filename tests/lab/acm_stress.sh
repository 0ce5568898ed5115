#!/usr/bin/env bash
# The ACM door under abuse (issue 6): 100 clients send garbage, truncated, oversized,
# undersized, mis-versioned, pipelined and byte-by-byte messages, stall, flood or never read,
# while 20 well-formed clients resolve every destination of a 64-HCA fat tree three times over
# (by GID, by LID, with address entries, and verified by the SA). Every bad client gets error
# replies or a closed connection; every good one gets exactly the path OpenSM gives; the daemon
# lives on, frees every connection, and turns clients beyond acm_max_clients away.
# usage: acm_stress.sh [NODE]
. "$(dirname "$0")/daemon_common.sh"
. "$(dirname "$0")/acm_common.sh"
N=${1:-Hca1}
CAP=200
printf 'acm_max_clients %d\n' "$CAP" >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --fat-tree 64 --daemons "$N" --localsad-conf "$TMP/localsad.conf"
ACM=$(acm_sock "$N")
SGID=$(stat "$N" gid)

# The expected destinations: OpenSM's table for this SGID, as "DGID DLID" lines.
opensm_pr "$N" --sgid "$SGID" | normalize_saquery |
	sed -n 's/^dgid=\([^ ]*\) .* dlid=\([0-9]*\) .*/\1 \2/p' >"$TMP/expect"
ndest=$(wc -l <"$TMP/expect")
expect_eq "destinations in OpenSM's table" 72 "$ndest"

set +e
"$STRESS" -S "$ACM" -e "$TMP/expect" -s "$SGID" -g 20 -b 100 -r 3 -d 40; rc=$?
set -e
expect_eq "stress clients: exit status" 0 "$rc"
ms=$(wait_until 5 test "$(stat "$N" acm_clients)" = 0 || true)
ms_ok "every connection closed" "$ms" 5000
expect_eq "SA verifications that failed" 0 "$(stat "$N" acm_verify_failures)"
errs=$(stat "$N" acm_protocol_errors)
[ "${errs:-0}" -ge 40 ] && pass || fail "protocol errors counted: '$errs', want >= 40"
echo "protocol errors: $errs; resolves: $(stat "$N" acm_resolves)"

# Still serving, and right.
g=$(sed -n 5p "$TMP/expect" | cut -d' ' -f1)
ours=$(acme -S "$ACM" -f g -d "$g" | normalize_acme)
theirs=$(opensm_pr "$N" --sgid-to-dgid "$SGID-$g" | normalize_saquery)
expect_eq "ib_acme after the storm" "$theirs" "$ours"

# The client cap: of CAP + 50 idle connections, 50 are turned away.
out=$("$STRESS" -S "$ACM" -e "$TMP/expect" -g 0 -b 0 -H $((CAP + 50)) -d 20 | tail -n 1)
expect_eq "holders" "$((CAP + 50)) holders: $CAP held, 50 turned away" "$out"
expect_eq "clients rejected" 50 "$(stat "$N" acm_clients_rejected)"
expect_eq "error lines in the log" 0 "$(grep -c '] err ' "$D/$N/localsad.log" || true)"
finish
