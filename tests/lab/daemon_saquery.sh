#!/usr/bin/env bash
# The daemon core against OpenSM (issue 3): after one GetTable per daemon,
# `localsa path --format saquery` prints for every destination exactly what
# `saquery -p --sgid-to-dgid` prints; resolving everything sends no SA query;
# an unknown GID costs one Get, then is answered from the negative cache.
# usage: daemon_saquery.sh "<lab up topology args>" NODE,NODE...
. "$(dirname "$0")/daemon_common.sh"
# The daemon's own door: the CLI asks the socket, not liblocalsa's snapshot (whose answers
# never reach the daemon's hit counter; tests/lab/lib_saquery.sh checks the snapshot).
export LOCALSA_SHM=none
TOPO=$1
[ "$TOPO" != default ] || TOPO=""
NODES=$2
printf 'negative_ttl_ms 30000\nsa_timeout_ms 500\nsa_retries 1\n' >"$TMP/localsad.conf"
# shellcheck disable=SC2086
"$LAB" up --dir "$D" $TOPO --daemons "$NODES" --localsad-conf "$TMP/localsad.conf"

mapfile -t GIDS < <(fabric_gids "${NODES%%,*}")
echo "fabric: ${#GIDS[@]} ports; daemons on $NODES"
for n in ${NODES//,/ }; do
	expect_eq "$n GetTable after start" 1 "$(stat "$n" get_table)"
	expect_eq "$n Get after start" 0 "$(stat "$n" get)"
	sgid=$(stat "$n" gid)
	mismatches=0
	for g in "${GIDS[@]}"; do
		ours=$("$CLI" -s "$(sock "$n")" path --dgid "$g" --format saquery)
		theirs=$("$LAB" exec --dir "$D" "$n" -- saquery -p --sgid-to-dgid "$sgid-$g")
		if [ "$ours" != "$theirs" ]; then
			mismatches=$((mismatches + 1))
			[ $mismatches -gt 3 ] || diff <(echo "$ours") <(echo "$theirs") >&2 || true
		fi
	done
	expect_eq "$n: destinations differing from saquery" 0 "$mismatches"
	expect_eq "$n SA queries after resolving every destination: GetTable" 1 "$(stat "$n" get_table)"
	expect_eq "$n ... Get" 0 "$(stat "$n" get)"
	expect_eq "$n cache hits" "${#GIDS[@]}" "$(stat "$n" cache_hits)"
done

n=${NODES%%,*}
set +e
out=$("$CLI" -s "$(sock "$n")" path --dgid fe80::dead:beef:0:1 2>&1); rc=$?
set -e
expect_eq "exit code for no path" 3 "$rc"
expect_eq "message for no path" "localsa: path: no path (the SA has no record)" "$out"
expect_eq "Gets for an unknown GID" 1 "$(stat "$n" get)"
set +e
"$CLI" -s "$(sock "$n")" path --dgid fe80::dead:beef:0:1 >/dev/null 2>&1; rc=$?
set -e
expect_eq "exit code for a cached no path" 3 "$rc"
expect_eq "Gets after the repeat (negative cache)" 1 "$(stat "$n" get)"
expect_eq "negative hits" 1 "$(stat "$n" negative_hits)"
finish
