#!/usr/bin/env bash
# A node reboot costs the SA O(N), never O(N^2) (issue 15), on an 18-HCA fat tree with
# localsad on 6 nodes: Unlink then ReLink of Hca10 (traps 65 then 64). The Unlink costs no
# query; after the ReLink each daemon's PathRecord queries (the shim's per-process count)
# grow by exactly 1 (the trap-64 GetTable SGID+DGID) within 1 s; 10 s later still no
# full-table fetch (none was spread for later either); every daemon's answers equal OpenSM's.
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca2 Hca3 Hca4 Hca5 Hca6 Hca7)
"$LAB" up --dir "$D" --fat-tree 18 --daemons "$(IFS=,; echo "${NODES[*]}")"
mapfile -t GIDS < <(fabric_gids Hca8)
HCA10=$("$CLI" -s "$(sock Hca2)" path --dgid "$(port_guid Hca10)" --format saquery |
	sed -n 's/^[[:space:]]*dgid\.*//p')
echo "Hca10 is $HCA10; ${#GIDS[@]} ports"
declare -A before
for n in "${NODES[@]}"; do before[$n]=$(pr_queries "$n"); done

gone_everywhere() {
	local n
	for n in "${NODES[@]}"; do [ -z "$(path_now "$n" "$HCA10")" ] || return 1; done
}
# every daemon: $1 more PathRecord queries than before the reboot
grown_by() {
	local n
	for n in "${NODES[@]}"; do [ "$(pr_queries "$n")" == $((before[$n] + $1)) ] || return 1; done
}
"$LAB" console --dir "$D" 'Unlink "Hca10"'
ms=$(wait_until 5 gone_everywhere) || true
ms_ok "Unlink of Hca10 reflected by every daemon" "$ms" 1000
sleep 1
grown_by 0 && pass "the Unlink (trap 65) cost no PathRecord query" ||
	fail "PathRecord queries after the Unlink: $(for n in "${NODES[@]}"; do
		echo -n "$n +$(($(pr_queries "$n") - before[$n])) "; done)"

"$LAB" console --dir "$D" 'ReLink "Hca10"'
ms=$(wait_until 5 grown_by 1) || true
ms_ok "ReLink: every daemon sent its one trap-64 GetTable" "$ms" 1000
sleep 10
for n in "${NODES[@]}"; do
	expect_eq "$n: PathRecord queries 10 s after the ReLink" $((before[$n] + 1)) "$(pr_queries "$n")"
	expect_eq "$n: trap fetches" 1 "$(stat "$n" trap_fetches)"
	expect_eq "$n: no full fetch scheduled" false "$(stat "$n" full_fetch_scheduled)"
done
differ=0
for n in "${NODES[@]}"; do
	for g in "${GIDS[@]}"; do
		[ "$(path_now "$n" "$g")" == "$(opensm_path "$n" "$g")" ] || {
			differ=$((differ + 1)); echo "$n -> $g differs from OpenSM" >&2; }
	done
done
expect_eq "answers differing from OpenSM's (of $((${#NODES[@]} * ${#GIDS[@]})))" 0 "$differ"
grown_by 1 && pass "the comparison was served from the caches" || fail "lookups queried the SA"
finish
