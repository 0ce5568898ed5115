# daemon_common.sh - sourced by the daemon's lab tests: a private lab dir that
# is always torn down, and assertions that print expected and actual values.
set -euo pipefail
: "${LOCALSA_SRC:?}" "${LOCALSA_BUILD:?}"
export LOCALSA_BUILD
LAB=$LOCALSA_SRC/tools/lab
CLI=$LOCALSA_BUILD/bin/localsa
TMP=$(mktemp -d "/tmp/lsa-test-$(basename "$0" .sh).XXXXXX")
D=$TMP/lab
FAILS=0
PASSES=0
cleanup() {
	"$LAB" down --dir "$D" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { PASSES=$((PASSES + 1)); }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # WHAT EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}
finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
}

sock() { echo "$D/$1/localsa.sock"; }
# stat NODE KEY: a number (or string) member of the daemon's stats JSON
stat() { "$CLI" -s "$(sock "$1")" stats --json | sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# Every port GID of the fabric, from OpenSM's all-pairs table.
fabric_gids() {
	"$LAB" exec --dir "$D" "$1" -- saquery -p | sed -n 's/^[[:space:]]*dgid\.*//p' | sort -u
}
