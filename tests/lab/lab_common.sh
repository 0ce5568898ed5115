# lab_common.sh - sourced by the lab's own tests (issue 2). Gives each test a
# private lab dir under a mktemp dir that is always torn down: an EXIT trap
# runs `tools/lab down` and removes the dir, also when a command fails midway
# (set -e), on SIGTERM, and on the test's own watchdog, which fires before
# CTest's TIMEOUT (CTest kills without letting the trap run). Assertions print
# the expected and the actual value.
#
# Environment (from tests/lab/CMakeLists.txt): LOCALSA_SRC, LOCALSA_BUILD,
# LAB_TEST_LIMIT (seconds).
set -euo pipefail
: "${LOCALSA_SRC:?set by CTest: the source tree}" "${LOCALSA_BUILD:?set by CTest: the build dir}"

# The watchdog: run this script again under timeout(1), which sends SIGTERM
# to the script alone when the limit passes (--foreground: not to the lab's
# processes), so that the EXIT trap below still tears the lab down in order.
if [ -z "${LAB_TEST_WATCHED:-}" ] && [ -n "${LAB_TEST_LIMIT:-}" ]; then
	export LAB_TEST_WATCHED=1
	exec timeout --foreground -k 20 "$LAB_TEST_LIMIT" bash "$0" "$@"
fi

export LOCALSA_BUILD
LAB=$LOCALSA_SRC/tools/lab
BIN=$LOCALSA_BUILD/bin
UMAD2SIM=${UMAD2SIM:-/usr/lib/x86_64-linux-gnu/umad2sim/libumad2sim.so}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lsa-$(basename "$0" .sh).XXXXXX")
D=$TMP/lab
PASSES=0
FAILS=0
BG_PIDS=()
T_START=$(date +%s%N)
FINISHED=
# The test's own stdout and stderr: a signal can arrive while a function such
# as `on` runs with its output redirected to a file, and the trap inherits that.
exec {LAB_STDOUT}>&1 {LAB_STDERR}>&2

lab_cleanup() {
	local rc=$? p
	trap - EXIT
	exec 1>&"$LAB_STDOUT" 2>&"$LAB_STDERR"
	if [ "$rc" = 0 ] && [ -z "$FINISHED" ]; then
		echo "interrupted before finish (a signal, or the watchdog after ${LAB_TEST_LIMIT:-?} s)" >&2
		rc=1
	fi
	for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	if [ "$rc" != 0 ] && [ -f "$D/opensm/opensm.log" ]; then
		echo "--- last lines of OpenSM's log ---" >&2
		tail -n 25 "$D/opensm/opensm.log" >&2 || true
	fi
	"$LAB" down --dir "$D" >/dev/null 2>&1 || true
	rm -rf "$TMP"
	echo "$(basename "$0"): $(elapsed_ms) ms, exit $rc"
	exit "$rc"
}
trap lab_cleanup EXIT

elapsed_ms() { echo $((($(date +%s%N) - T_START) / 1000000)); }

pass() { PASSES=$((PASSES + 1)); echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # WHAT EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then pass "$1 = $3"; else fail "$1: expected '$2', got '$3'"; fi
}
expect_lt() { # WHAT SMALLER LARGER (numbers)
	if [ "$2" -lt "$3" ]; then pass "$1 ($2 < $3)"; else fail "$1: expected $2 < $3"; fi
}
finish() {
	FINISHED=1
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
}

# on NODE CMD...: CMD attached to NODE under the shim, bounded in time.
on() {
	local node=$1
	shift
	timeout -k 5 "${ON_TIMEOUT:-30}" "$LAB" exec --dir "$D" "$node" -- "$@"
}
# stock NODE CMD...: the same under stock umad2sim alone, without the shim.
stock() {
	local node=$1
	shift
	on "$node" env LD_PRELOAD="$UMAD2SIM" "$@"
}
# bg OUT NODE CMD...: `on`, in the background, output to OUT; its PID (that of
# timeout(1), which passes a SIGTERM on) in BG_PIDS.
bg() {
	local out=$1 node=$2
	shift 2
	timeout -k 5 "${ON_TIMEOUT:-30}" "$LAB" exec --dir "$D" "$node" -- "$@" >"$out" 2>&1 &
	BG_PIDS+=($!)
}

# wait_until SECONDS CMD...: until CMD succeeds (polled every 20 ms); prints the ms waited
wait_until() {
	local limit_ms=$(($1 * 1000)) t0 now
	shift
	t0=$(date +%s%N)
	while :; do
		if "$@"; then
			now=$(date +%s%N)
			echo $(((now - t0) / 1000000))
			return 0
		fi
		now=$(date +%s%N)
		[ $(((now - t0) / 1000000)) -lt "$limit_ms" ] || { echo "timeout"; return 1; }
		sleep 0.02
	done
}
# wait_for SECONDS FILE REGEX: until a line of FILE matches; prints the ms waited.
wait_for() { wait_until "$1" grep -qE "$3" "$2"; }

# ms_ok WHAT MS LIMIT: asserts that MS (a number from wait_until) is <= LIMIT
ms_ok() {
	if [ "$2" != timeout ] && [ "$2" -le "$3" ]; then pass; else fail "$1: took $2 ms, limit $3 ms"; fi
	echo "$1: $2 ms"
}

# topology_ports FILE: the ports that carry a LID and a GID, hence the sources
# and destinations of the all-pairs PathRecord table: every connected HCA port,
# plus port 0 of every switch.
topology_ports() {
	awk '
		/^[ \t]*(Switch|Hca|Rtr)[ \t]/ { type = $1; if (type == "Switch") n++; next }
		/^[ \t]*$/ { type = ""; next }
		/^[ \t]*\[[0-9]+\]/ && type == "Hca" { n++ }
		END { print n + 0 }' "$1"
}

lab_topology() { sed -n 's/^LAB_TOPOLOGY=//p' "$D/lab.env"; }
