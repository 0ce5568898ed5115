#!/usr/bin/env bash
# lab.teardown (issue 2): `tools/lab down` leaves nothing of the lab behind:
# no ibsim, OpenSM or console writer (by the PIDs the lab recorded before
# down), no process attached to the lab's simulator (IBSIM_SOCKNAME in its
# environment: a program still running under `lab exec` is stopped too), no
# sys-* directory (umad2sim leaves one for a program killed with -9). And the
# same holds when a test fails midway: a child test script (lab_common.sh, as
# every lab test) brings a lab up, starts a MAD program, kill -9s it, and then
#   (a) exits with an error (set -e), or
#   (b) is sent SIGTERM while blocked, as its watchdog would;
# its EXIT trap must leave no process and no directory.
. "$(dirname "$0")/lab_common.sh"

# A process is alive when it exists and is not a zombie.
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [[ $st != Z* ]]
}
# Processes whose environment names the simulator instance SOCK.
attached() {
	grep -lsza "^IBSIM_SOCKNAME=$1\$" /proc/[0-9]*/environ 2>/dev/null |
		sed 's|/proc/\([0-9]*\)/environ|\1|' | while read -r p; do
			alive "$p" && echo "$p"
		done | xargs
}
# check_gone WHAT PIDFILE...: every PID in the files is gone.
check_gone() {
	local what=$1 f left=""
	shift
	for f in "$@"; do
		alive "$(cat "$f")" && left="$left $(basename "$f" .pid)=$(cat "$f")"
	done
	expect_eq "$what: recorded processes still alive" "" "${left# }"
}

# --- 1. a normal `lab down` ---
"$LAB" up --dir "$D"
SOCK=$(sed -n 's/^LAB_SOCKNAME=//p' "$D/lab.env")
cp "$D"/ibsim.pid "$D"/opensm.pid "$D"/console-writer.pid "$TMP/"
for f in "$TMP"/*.pid; do
	alive "$(cat "$f")" || fail "$(basename "$f" .pid) not running after up"
done
on Hca2 saquery -p >/dev/null
# One program killed with -9 (its sys-<pid>/ stays), one left running.
bg "$TMP/sub1.out" Hca3 "$BIN/lab_trap_sub" -t 60 64
bg "$TMP/sub2.out" Hca4 "$BIN/lab_trap_sub" -t 60 64
for f in sub1 sub2; do
	wait_for 10 "$TMP/$f.out" '^ready' >/dev/null || fail "trap subscriber $f not ready"
done
killed=$(pgrep -P "${BG_PIDS[0]}" || true)
running=$(pgrep -P "${BG_PIDS[1]}" || true)
kill -9 "$killed"
sleep 0.2
expect_eq "sys-$killed/ left by the kill -9" yes "$([ -d "$D/Hca3/sys-$killed" ] && echo yes || echo no)"
echo "lab up: ibsim $(cat "$TMP/ibsim.pid"), opensm $(cat "$TMP/opensm.pid"), attached: $(attached "$SOCK")"
t0=$(date +%s%N)
"$LAB" down --dir "$D"
echo "lab down: $((($(date +%s%N) - t0) / 1000000)) ms"
check_gone "after lab down" "$TMP"/*.pid
alive "$running" && fail "the program left running under lab exec ($running) survived down" ||
	pass "lab down stopped the program still running under lab exec"
expect_eq "after lab down: processes attached to '$SOCK'" "" "$(attached "$SOCK")"
expect_eq "after lab down: sys-* directories" "" "$(find "$D" -name 'sys-*' | xargs)"
expect_eq "after lab down: lab.env and console fifo" "" "$(ls "$D"/lab.env "$D"/console.fifo 2>/dev/null | xargs)"

# --- 2. a test that fails midway, (a) by error and (b) by SIGTERM ---
cat >"$TMP/child.sh" <<'EOF'
# A lab test that dies midway; reports its lab to $REPORT first.
. "$LAB_COMMON"
"$LAB" up --dir "$D"
{
	echo "TMP=$TMP"
	echo "SOCK=$(sed -n 's/^LAB_SOCKNAME=//p' "$D/lab.env")"
	for f in ibsim opensm console-writer; do echo "PID_$f=$(cat "$D/$f.pid")"; done
} >"$REPORT"
bg "$TMP/sub.out" Hca3 "$BIN/lab_trap_sub" -t 60 64
wait_for 10 "$TMP/sub.out" '^ready' >/dev/null
prog=$(pgrep -P "${BG_PIDS[-1]}" || true)
echo "PID_program=$prog" >>"$REPORT"
kill -9 "$prog"
sleep 0.2
echo "SYS_DIR=$([ -d "$D/Hca3/sys-$prog" ] && echo yes || echo no)" >>"$REPORT"
echo "READY=1" >>"$REPORT"
case "$MODE" in
error) false ;; # set -e ends the script here
term) while :; do sleep 0.1; done ;; # blocked until SIGTERM
esac
echo "not reached"
EOF
for mode in error term; do
	report=$TMP/report.$mode
	t0=$(date +%s%N)
	MODE=$mode REPORT=$report LAB_COMMON="$(dirname "$0")/lab_common.sh" \
		LAB_TEST_WATCHED=1 bash "$TMP/child.sh" >"$TMP/child.$mode.out" 2>&1 &
	child=$!
	if [ "$mode" = term ]; then
		wait_for 20 "$report" '^READY=1' >/dev/null || fail "($mode) child never got its lab up"
		kill -TERM "$child"
	fi
	if wait "$child"; then rc=0; else rc=$?; fi
	echo "($mode) child exited $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
	sed 's/^/  child: /' "$TMP/child.$mode.out"
	[ "$rc" != 0 ] && pass "($mode) the child test failed ($rc)" || fail "($mode) the child test passed"
	grep -q '^READY=1' "$report" || { fail "($mode) child did not get midway"; continue; }
	TMP_C=$(sed -n 's/^TMP=//p' "$report")
	SOCK_C=$(sed -n 's/^SOCK=//p' "$report")
	expect_eq "($mode) sys-<pid>/ left by the kill -9 before cleanup" yes \
		"$(sed -n 's/^SYS_DIR=//p' "$report")"
	left=""
	for p in $(sed -n 's/^PID_\(.*\)=\([0-9]*\)$/\1=\2/p' "$report"); do
		alive "${p#*=}" && left="$left $p"
	done
	expect_eq "($mode) recorded processes alive after the child's cleanup" "" "${left# }"
	expect_eq "($mode) processes attached to '$SOCK_C'" "" "$(attached "$SOCK_C")"
	expect_eq "($mode) the child's temp dir is gone" "no" "$([ -e "$TMP_C" ] && echo yes || echo no)"
done
finish
