# daemon_common.sh - sourced by the daemon's lab tests: what they share beyond
# lab_common.sh: the daemon's sockets and stats, OpenSM's answers to compare
# with, and timed waits.
# The lab dir, the teardown, the watchdog and the assertions come from lab_common.sh.
. "$(dirname "${BASH_SOURCE[0]}")/lab_common.sh"
CLI=$LOCALSA_BUILD/bin/localsa

sock() { echo "$D/$1/localsa.sock"; }
# stat NODE KEY: a number (or string) member of the daemon's stats JSON
stat() { "$CLI" -s "$(sock "$1")" stats --json | sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# Every port GID of the fabric, from OpenSM's all-pairs table.
fabric_gids() {
	"$LAB" exec --dir "$D" "$1" -- saquery -p | sed -n 's/^[[:space:]]*dgid\.*//p' | sort -u
}

# path_now NODE GID: the daemon's saquery-format answer (empty on no path)
path_now() { "$CLI" -s "$(sock "$1")" path --dgid "$2" --format saquery 2>/dev/null || true; }
# opensm_path NODE GID: OpenSM's answer for (NODE's GID, GID)
opensm_path() {
	"$LAB" exec --dir "$D" "$1" -- saquery -p --sgid-to-dgid "$(stat "$1" gid)-$2" 2>/dev/null || true
}
# pr_queries NODE: PathRecord queries NODE's daemon process sent, from the shim's counters
pr_queries() {
	local f
	f=$D/shim-stats/$(cat "$D/$1/localsad.pid")
	[ -f "$f" ] || { echo 0; return; }
	awk '{ print $4 + $6 + $8 }' "$f"
}
# port_guid NODE: the port GUID of NODE's HCA (0x...), from OpenSM's NodeRecord
port_guid() {
	"$LAB" exec --dir "$D" "$1" -- saquery -N "$1" |
		sed -n 's/.*port_guid\.*\(0x[0-9a-f]*\).*/\1/p' | head -n 1
}
# start_together CONF NODE...: a daemon on each NODE, all launched at once with config CONF
# (each `lab daemon start` waits for its own daemon to be ready)
start_together() {
	local conf=$1 n pids=() rc=0 p
	shift
	for n in "$@"; do
		"$LAB" daemon --dir "$D" start "$n" --conf "$conf" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}
