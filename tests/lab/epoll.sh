#!/usr/bin/env bash
# lab.epoll (issue 2): a program on a node puts its umad fd (libibumad,
# umad_open_port) in epoll beside a connected unix socket and a timerfd, and
# is woken by each in turn: the timer, a byte on the socket, and the SA's
# response to a SubnAdmGet ClassPortInfo (lab_epoll_wake checks that each
# wakeup names exactly the descriptor that became ready). For contrast it
# prints what the same program gets under stock umad2sim (no shim).
. "$(dirname "$0")/lab_common.sh"

"$LAB" up --dir "$D"
if on Hca2 "$BIN/lab_epoll_wake" >"$TMP/out" 2>&1; then rc=0; else rc=$?; fi
cat "$TMP/out"
expect_eq "lab_epoll_wake exit status" 0 "$rc"
for src in timerfd socket umad; do
	expect_eq "woken by the $src" 1 "$(grep -c "^woken by $src after" "$TMP/out" || true)"
done

# Without the shim the umad "fd" is umad2sim's fake number (BRIEF §4 g).
if stock Hca2 "$BIN/lab_epoll_wake" >"$TMP/stock" 2>&1; then rc=0; else rc=$?; fi
echo "under stock umad2sim (exit $rc): $(grep -m1 -E 'FAIL|epoll:' "$TMP/stock" || tail -n 1 "$TMP/stock")"
finish
