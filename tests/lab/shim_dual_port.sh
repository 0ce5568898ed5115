#!/usr/bin/env bash
# lab.shim_dual_port (issue 16): a program on a dual-port HCA sees one CA with
# both ports (distinct LIDs and GIDs, both ACTIVE; their live state files not
# rewritten while unchanged), opens and uses both at once (a PathRecord Get
# from each comes back on the port that asked, with its SLID), runs saquery
# from port 2, receives Reports as an IsSM client on port 2 (the shim's SMInfo
# answers there keep OpenSM sweeping: trap 64 after a ReLink), and a
# long-running process sees port 2 go DOWN after
# `Unlink "Hca5"[2]` and ACTIVE again after the ReLink while port 1 stays up.
. "$(dirname "$0")/lab_common.sh"

"$LAB" up --dir "$D" --topology "$LOCALSA_SRC/tests/lab/topologies/dual2sw.net"
on Hca5 "$BIN/lab_ports" >"$TMP/ports"
cat "$TMP/ports"
expect_eq "ports of Hca5" "ibsim0:1 ibsim0:2" "$(awk '{ print $1 }' "$TMP/ports" | xargs)"
expect_eq "states" "ACTIVE ACTIVE" "$(awk '{ print $3 }' "$TMP/ports" | xargs)"
expect_eq "distinct LIDs" 2 "$(awk '{ print $5 }' "$TMP/ports" | sort -u | wc -l)"
expect_eq "distinct GIDs" 2 "$(awk '{ print $7 }' "$TMP/ports" | sort -u | wc -l)"
LID2=$(awk '$1 == "ibsim0:2" { print $5 }' "$TMP/ports")
GID2=$(awk '$1 == "ibsim0:2" { print $7 }' "$TMP/ports")
GID3=$(on Hca3 ibaddr | awk '{ print $2 }')

# A live port file is rewritten only when its text changes: each open asks
# ibsim, but an open with O_TRUNC is a journal transaction (1-4 ms on a busy
# ext4) and saquery opens 18 of them (on every open they made lab.daemon_traps'
# saquery checks ~40 ms slower each). Read twice, the file keeps its mtime.
# (stderr: umad2sim's receiver thread reports each SIGCHLD of the shell.)
for p in 1 2; do
	out=$(on Hca5 bash -c 'f=/sys/class/infiniband/ibsim0/ports/$1/state s=./sys-$$$f
		read -r a <"$f"; m1=$(stat -c %y "$s"); sleep 0.05
		read -r b <"$f"; m2=$(stat -c %y "$s")
		if [ "$m1" == "$m2" ]; then echo "$b, not rewritten"; else echo "$b, rewritten"; fi' _ "$p" 2>/dev/null)
	expect_eq "port $p state read twice" "4: ACTIVE, not rewritten" "$out"
done

if on Hca5 "$BIN/lab_ports" -q >"$TMP/q" 2>&1; then pass "both ports used at once"; else fail "both ports at once"; fi
cat "$TMP/q"

# saquery from port 2: the path leaves port 2 (its LID as SLID)
slid=$(on Hca5 saquery -C ibsim0 -P 2 -p --sgid-to-dgid "$GID2-$GID3" | sed -n 's/^[[:space:]]*slid\.*//p')
expect_eq "saquery -P 2: slid" "$LID2" "$slid"

# IsSM on port 2: Reports reach a subscriber there
bg "$TMP/sub.out" Hca5 env LAB_PORT=ibsim0:2 "$BIN/lab_trap_sub" -n 2 -t 30 64 65
wait_for 10 "$TMP/sub.out" '^ready' >/dev/null || { cat "$TMP/sub.out"; fail "no subscription from port 2"; }
"$LAB" console --dir "$D" 'Unlink "Hca4"'
wait_for 5 "$TMP/sub.out" '^trap 65 ' >/dev/null && pass "trap 65 on port 2" || fail "no trap 65 on port 2"
"$LAB" console --dir "$D" 'ReLink "Hca4"'
wait_for 5 "$TMP/sub.out" '^trap 64 ' >/dev/null && pass "trap 64 on port 2 (sweeps go on)" || fail "no trap 64 on port 2"
cat "$TMP/sub.out"

# port state follows the fabric, in a process that keeps running
bg "$TMP/down" Hca5 "$BIN/lab_ports" -w ibsim0:2 DOWN 3000
sleep 0.3
"$LAB" console --dir "$D" 'Unlink "Hca5"[2]'
wait "${BG_PIDS[-1]}" && pass "port 2 DOWN after Unlink" || fail "port 2 not DOWN after Unlink"
cat "$TMP/down"
on Hca5 "$BIN/lab_ports" >"$TMP/ports"
expect_eq "port 1 after Unlink of port 2" ACTIVE "$(awk '$1 == "ibsim0:1" { print $3 }' "$TMP/ports")"
bg "$TMP/up" Hca5 "$BIN/lab_ports" -w ibsim0:2 ACTIVE 5000
"$LAB" console --dir "$D" 'ReLink "Hca5"[2]'
wait "${BG_PIDS[-1]}" && pass "port 2 ACTIVE after ReLink" || fail "port 2 not ACTIVE after ReLink"
cat "$TMP/up"
finish
