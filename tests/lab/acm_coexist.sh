#!/usr/bin/env bash
# The ACM door next to another ACM service, and on TCP (issue 6). A second localsad pointed at
# a socket that a live service holds (as ibacm would) leaves it alone, logs why, and runs
# without its ACM door while the first keeps answering. A localsad serving ACM on TCP 127.0.0.1
# answers well-formed clients and survives hostile ones there too; when port 6125 (ibacm's, the
# one ib_acme dials) is free, the unmodified `ib_acme -S 127.0.0.1` is served as well.
. "$(dirname "$0")/daemon_common.sh"
. "$(dirname "$0")/acm_common.sh"
"$LAB" up --dir "$D" --daemons Hca1
A=Hca1 B=Hca2
mkdir -p "$D/$B"
B_PID=
stop_b() {
	[ -n "$B_PID" ] || return 0
	kill -TERM "$B_PID" 2>/dev/null || true
	wait "$B_PID" 2>/dev/null || true
	B_PID=
}
# stop_b first, then the lab's teardown, keeping the test's exit status.
trap 'rc=$?; stop_b; (exit $rc); lab_cleanup' EXIT
start_b() { # ARGS...: a localsad on B, waiting until it is ready
	rm -f "$D/$B/ready"
	"$LAB" exec --dir "$D" "$B" -- "$LOCALSA_BUILD/bin/localsad" --foreground \
		--control-socket "$D/$B/localsa.sock" --ready-file "$D/$B/ready" \
		--log-file "$D/$B/localsad.log" "$@" >/dev/null 2>&1 </dev/null &
	B_PID=$!
	wait_until 10 test -e "$D/$B/ready" >/dev/null || fail "localsad on $B not ready"
}

# --- a live socket is never taken over ----------------------------------------------
start_b --acm-socket "$(acm_sock "$A")"
grep -q "ACM socket $(acm_sock "$A"): Address already in use (is ibacm running?)" "$D/$B/localsad.log" &&
	pass || fail "no 'is ibacm running?' in $B's log"
grep -q "the ACM door is off" "$D/$B/localsad.log" && pass || fail "no 'door is off' in $B's log"
out=$(acme -S "$(acm_sock "$A")" -f l -d 1 | normalize_acme | sed -n 's/.* sgid=\([^ ]*\) .*/\1/p')
expect_eq "the socket still answers for $A" "$(stat "$A" gid)" "$out"
expect_eq "$B serves its CLI all the same" "$(stat "$B" gid | cut -c1-4)" fe80
stop_b

# --- TCP on loopback ---------------------------------------------------------------
PORT=6125
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
	PORT=$((20000 + $$ % 20000))
	echo "port 6125 is taken here: TCP tests on $PORT, without ib_acme"
fi
start_b --acm-socket none -o acm_tcp_port=$PORT
grep -q "ACM service on 127.0.0.1 (TCP)" "$D/$B/localsad.log" && pass || fail "no TCP door on $B"
SGID=$(stat "$B" gid)
opensm_pr "$B" --sgid "$SGID" | normalize_saquery |
	sed -n 's/^dgid=\([^ ]*\) .* dlid=\([0-9]*\) .*/\1 \2/p' >"$TMP/expect"
set +e
"$STRESS" -T "$PORT" -e "$TMP/expect" -s "$SGID" -g 10 -b 45 -r 2 -d 30; rc=$?
set -e
expect_eq "stress clients over TCP: exit status" 0 "$rc"
if [ "$PORT" = 6125 ] && [ ! -e /run/ibacm-tcp.port ]; then
	g=$(sed -n 3p "$TMP/expect" | cut -d' ' -f1)
	ours=$(acme -S 127.0.0.1 -f g -d "$g" -v | normalize_acme)
	theirs=$(opensm_pr "$B" --sgid-to-dgid "$SGID-$g" | normalize_saquery)
	expect_eq "ib_acme over TCP" "$theirs
verify=success" "$ours"
fi
ms=$(wait_until 5 test "$(stat "$B" acm_clients)" = 0 || true)
ms_ok "every TCP connection closed" "$ms" 5000
stop_b
expect_eq "$B's socket files removed at exit" "" "$(ls "$D/$B" | grep '\.sock$' || true)"

# --- socket activation, as dist/localsa-acm.socket does it ---------------------------
# systemd-socket-activate listens, and on the first connection execs localsad with the socket
# as fd 3 (LISTEN_FDS); that first client waits in the backlog meanwhile.
if command -v systemd-socket-activate >/dev/null; then
	SOCK=$D/$B/activated.sock
	rm -f "$D/$B/ready"
	"$LAB" exec --dir "$D" "$B" -- systemd-socket-activate -E LD_PRELOAD -E IBSIM_SOCKNAME \
		-E SIM_HOST -E ASAN_OPTIONS -E UBSAN_OPTIONS -E OSM_CACHE_DIR -l "$SOCK" \
		"$LOCALSA_BUILD/bin/localsad" --foreground --control-socket "$D/$B/localsa.sock" \
		--acm-socket "$SOCK" --ready-file "$D/$B/ready" --log-file "$D/$B/localsad.log" \
		>/dev/null 2>&1 </dev/null &
	B_PID=$!	# systemd-socket-activate execs localsad: the same process
	wait_until 5 test -S "$SOCK" >/dev/null || fail "no listening socket from systemd-socket-activate"
	out=$(acme -S "$SOCK" -f l -d 1 | normalize_acme | sed -n 's/.* sgid=\([^ ]*\) .*/\1/p')
	wait_until 10 test -e "$D/$B/ready" >/dev/null || fail "localsad on $B not ready"
	expect_eq "first client through the activated socket" "$(stat "$B" gid)" "$out"
	grep -q "ACM service on $SOCK (socket from systemd)" "$D/$B/localsad.log" && pass ||
		fail "no 'socket from systemd' in $B's log"
	stop_b
	[ -S "$SOCK" ] && pass || fail "the activated socket file (systemd's) was removed"
	rm -f "$SOCK"
else
	echo "no systemd-socket-activate here: socket activation not tested"
fi
finish
