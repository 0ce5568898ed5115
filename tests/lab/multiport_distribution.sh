#!/usr/bin/env bash
# lab.multiport_distribution (issue 16): a receiver daemon serving both ports
# of a dual-port HCA (Hca5), a distributor on Hca1 whose targets are the
# receiver's two port GIDs: each port gets its slice (every destination, as
# OpenSM answers from that port) without the receiver querying the SA.
. "$(dirname "$0")/multiport_common.sh"
export LOCALSA_SHM=none
KEY=0x5eed
"$LAB" up --dir "$D" --topology "$DUAL_TOPO"
printf 'role receiver\nsa_sm_key %s\nreceiver_timeout_s 20\ndistributor_gid %s\n' "$KEY" \
	"$(port_guid Hca1)" >"$TMP/receiver.conf"
"$LAB" daemon --dir "$D" start Hca5 --conf "$TMP/receiver.conf"
need_ports Hca5
G1=$(port_field Hca5 ibsim0:1 gid)
G2=$(port_field Hca5 ibsim0:2 gid)
printf 'role distributor\nsa_sm_key %s\ndistribute_to %s,%s\ndistribute_heartbeat_ms 500\n' \
	"$KEY" "$G1" "$G2" >"$TMP/distributor.conf"
"$LAB" daemon --dir "$D" start Hca1 --conf "$TMP/distributor.conf"
mapfile -t GIDS < <(fabric_gids Hca3)
both_filled() {
	local g
	for g in "$G1" "$G2"; do
		[ -n "$(cli_path Hca5 "$g" "${GIDS[-1]}" 2>/dev/null)" ] || return 1
	done
}
ms=$(wait_until 15 both_filled) || true
ms_ok "both ports of the receiver hold their slice" "$ms" 10000
for p in 1 2; do
	sgid=$(port_field Hca5 "ibsim0:$p" gid)
	differ=0
	for g in "${GIDS[@]}"; do
		[ "$(cli_path Hca5 "$sgid" "$g" 2>/dev/null)" == "$(sa_path Hca5 "$p" "$sgid" "$g")" ] ||
			differ=$((differ + 1))
	done
	expect_eq "ibsim0:$p: answers differing from OpenSM's (of ${#GIDS[@]})" 0 "$differ"
done
expect_eq "receiver: PathRecord queries to the SA" 0 "$(pr_queries Hca5)"
expect_eq "distributor: PathRecord queries to the SA" 1 "$(pr_queries Hca1)"
finish
