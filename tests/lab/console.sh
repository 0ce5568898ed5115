#!/usr/bin/env bash
# lab.console_single, lab.console_split: `tools/lab console` exits 0 on every
# call, on a fabric without split ports (empty ports.map) and on one with a
# dual-port HCA (dual2sw.net). It once piped the command into a block that
# never read its stdin: the writer died of SIGPIPE (exit 141) on about 1 call
# in 10 after delivering the command, and a test under set -e died with it.
. "$(dirname "$0")/lab_common.sh"
case "${1:-}" in
single) topo=$LOCALSA_SRC/tests/lab/net.2sw1x4hca ;;
split) topo=$LOCALSA_SRC/tests/lab/topologies/dual2sw.net ;;
*) echo "usage: $0 single | split" >&2; exit 2 ;;
esac
"$LAB" up --dir "$D" --topology "$topo"
N=60
codes=""
for ((i = 0; i < N; i++)); do
	rc=0
	"$LAB" console --dir "$D" 'Help' >/dev/null 2>&1 || rc=$?
	[ "$rc" = 0 ] || codes="$codes $rc"
done
expect_eq "exit codes other than 0 of $N calls" "" "${codes# }"
finish
