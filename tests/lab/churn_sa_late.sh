#!/usr/bin/env bash
# An SA that answers late does not leave the caches empty (issue 15): OpenSM is stopped before
# six daemons start on an 18-HCA fat tree and started 20 s later. Every daemon's first fill,
# retried with the SA-failure backoff and at once when the SA answers anything again, holds
# the full table within 5 s of OpenSM answering (measured from the first answer a client
# gets).
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca2 Hca3 Hca4 Hca5 Hca6 Hca7)
"$LAB" up --dir "$D" --fat-tree 18
PORTS=$(topology_ports "$(lab_topology)")
"$LAB" opensm --dir "$D" stop
: >"$TMP/localsad.conf"	# the defaults
t_start=$(date +%s%N)
start_together "$TMP/localsad.conf" "${NODES[@]}"
for n in "${NODES[@]}"; do expect_eq "$n: entries with the SA down" 0 "$(stat "$n" entries)"; done
sleep $((20 - ($(date +%s%N) - t_start) / 1000000000))
"$LAB" opensm --dir "$D" start
answering() { "$LAB" exec --dir "$D" Hca8 -- saquery -N Hca8 >/dev/null 2>&1; }
ms=$(wait_until 30 answering) || true
[ "$ms" != timeout ] && pass || fail "OpenSM does not answer"
echo "OpenSM answered $ms ms after its start returned"
filled() {
	local n
	for n in "${NODES[@]}"; do [ "$(stat "$n" entries)" == "$PORTS" ] || return 1; done
}
ms=$(wait_until 10 filled) || true
ms_ok "every daemon holds its full table after OpenSM answers" "$ms" 5000
for n in "${NODES[@]}"; do
	echo "$n: $(stat "$n" full_fetch_retries) retries of the first fill, $(pr_queries "$n") PathRecord queries"
	expect_eq "$n: start fills" 1 "$(stat "$n" start)"
done
finish
