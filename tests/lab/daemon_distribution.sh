#!/usr/bin/env bash
# Distribution (issue 9) on an 18-HCA fabric: six receivers and one
# distributor. At start-up the master SA gets exactly one PathRecord query
# (the distributor's all-pairs GetTable), and every receiver's cache equals
# OpenSM's answers for its SGID. Unlink / ReLink of a node is pushed and
# reflected within 1 s with no receiver querying the SA. A push with a wrong
# key, or with the right key from a node that is not the distributor, is
# refused by every receiver; with the distributor stopped, receivers fall back
# to their own GetTable within the configured time.
. "$(dirname "$0")/daemon_common.sh"
RECEIVERS=(Hca2 Hca3 Hca4 Hca5 Hca6 Hca7)
KEY=0x5eed
"$LAB" up --dir "$D" --fat-tree 18
# Receivers take pushes from their distributor (Hca1), named by its port GUID.
printf 'role receiver\nsa_sm_key %s\nreceiver_timeout_s 4\ndistributor_gid %s\n' "$KEY" \
	"$(port_guid Hca1)" >"$TMP/receiver.conf"
for n in "${RECEIVERS[@]}"; do "$LAB" daemon --dir "$D" start "$n" --conf "$TMP/receiver.conf"; done
targets=""
for n in "${RECEIVERS[@]}"; do targets+="${targets:+,}$(stat "$n" gid)"; done
printf 'role distributor\nsa_sm_key %s\ndistribute_to %s\ndistribute_heartbeat_ms 500\n' \
	"$KEY" "$targets" >"$TMP/distributor.conf"
"$LAB" daemon --dir "$D" start Hca1 --conf "$TMP/distributor.conf"
mapfile -t GIDS < <(fabric_gids Hca8)
SM=$(stat Hca2 sm_lid)

all_filled() {
	local n
	for n in "${RECEIVERS[@]}"; do [ "$(stat "$n" entries)" == "${#GIDS[@]}" ] || return 1; done
}
ms=$(wait_until 15 all_filled) || true
ms_ok "every receiver holds its slice" "$ms" 10000
expect_eq "distributor: PathRecord queries at start-up" 1 "$(pr_queries Hca1)"
for n in "${RECEIVERS[@]}"; do
	expect_eq "$n: PathRecord queries at start-up" 0 "$(pr_queries "$n")"
done
differ=0
for n in "${RECEIVERS[@]}"; do
	for g in "${GIDS[@]}"; do
		[ "$(path_now "$n" "$g")" == "$(opensm_path "$n" "$g")" ] || differ=$((differ + 1))
	done
done
expect_eq "receiver answers differing from OpenSM's (of $((${#RECEIVERS[@]} * ${#GIDS[@]})))" 0 "$differ"

# Hca10's port GID, by its node description, printed as saquery prints GIDs.
guid=$(port_guid Hca10)
HCA10=$("$CLI" -s "$(sock Hca2)" path --dgid "$guid" --format saquery | sed -n 's/^[[:space:]]*dgid\.*//p')
echo "Hca10 is $HCA10"
gone_everywhere() {
	local n
	for n in "${RECEIVERS[@]}"; do [ -z "$(path_now "$n" "$HCA10")" ] || return 1; done
}
present_everywhere() {
	local n
	for n in "${RECEIVERS[@]}"; do [ -n "$(path_now "$n" "$HCA10")" ] || return 1; done
}
back_everywhere() {
	local n
	for n in "${RECEIVERS[@]}"; do
		[ "$(path_now "$n" "$HCA10")" == "$(opensm_path "$n" "$HCA10")" ] || return 1
	done
}
[ -n "$(path_now Hca2 "$HCA10")" ] && pass || fail "no path to Hca10 before the unlink"
"$LAB" console --dir "$D" 'Unlink "Hca10"'
ms=$(wait_until 5 gone_everywhere) || true
ms_ok "Unlink of Hca10 reflected by every receiver" "$ms" 1000
"$LAB" console --dir "$D" 'ReLink "Hca10"'
ms=$(wait_until 5 present_everywhere) || true
ms_ok "ReLink of Hca10 pushed to every receiver" "$ms" 1000
# Timed on the daemons alone (a saquery per check would dominate); then the
# content, against OpenSM.
back_everywhere && pass || fail "after the ReLink a receiver's path to Hca10 differs from OpenSM's"
for n in "${RECEIVERS[@]}"; do
	expect_eq "$n: PathRecord queries after the unlink and relink" 0 "$(pr_queries "$n")"
done
echo "distributor: $(pr_queries Hca1) PathRecord queries in all (one per fabric change)"

# A push with the wrong key, to every receiver.
"$LAB" exec --dir "$D" Hca8 -- "$LOCALSA_BUILD/bin/lsa_samad" --lid "$SM" gettable \
	--sgid "$(stat Hca2 gid)" --format hex | sed -n 2p >"$TMP/one.hex"
for n in "${RECEIVERS[@]}"; do
	before=$(stat "$n" entries)
	out=$("$LAB" exec --dir "$D" Hca8 -- "$LOCALSA_BUILD/bin/lsa_samad" --lid "$(stat "$n" lid)" \
		set --records "$TMP/one.hex" --sm-key 0xbad --format count || true)
	expect_eq "$n refuses a push with a wrong key" "status 0x0700 (REQ_DENIED)" \
		"$(cut -d' ' -f1-3 <<<"$out")"
	expect_eq "$n entries after the refused push" "$before" "$(stat "$n" entries)"
	out=$("$LAB" exec --dir "$D" Hca8 -- "$LOCALSA_BUILD/bin/lsa_samad" --lid "$(stat "$n" lid)" \
		set --records "$TMP/one.hex" --sm-key "$KEY" --format count || true)
	expect_eq "$n refuses a push with the right key from Hca8 (not its distributor)" \
		"status 0x0700 (REQ_DENIED)" "$(cut -d' ' -f1-3 <<<"$out")"
	expect_eq "$n entries after that push" "$before" "$(stat "$n" entries)"
done

"$LAB" daemon --dir "$D" stop Hca1
fell_back() {
	local n
	for n in "${RECEIVERS[@]}"; do
		[ "$(stat "$n" fallbacks)" == 1 ] && [ "$(stat "$n" get_table)" -ge 1 ] || return 1
	done
}
ms=$(wait_until 15 fell_back) || true
ms_ok "distributor stopped: every receiver filled from the SA itself" "$ms" 7000
finish
