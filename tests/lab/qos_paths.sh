#!/usr/bin/env bash
# QoS-exact caching (issue 8). OpenSM runs the QoS policy and partitions of tests/lab/qos/
# (ServiceIDs 0x1000/0x2000/0x3000, QoS classes 1/2 and P_Keys 0x8001/0x8002 each with its own
# SL, some with MTU/rate limits or a forced P_Key); daemons on Hca1 (a member of every partition)
# and Hca3 (not a member of 0x8002) prefetch ServiceIDs 0x1000, 0x2000 and P_Key 0x8001.
# For every destination x {3 ServiceIDs, 2 QoS classes, 2 P_Keys, none}:
#  - `localsa path --format saquery` prints what `saquery -p` with the same options prints;
#  - the SA door (lsa_samad to the daemon's LID) answers a Get exactly as OpenSM answers it
#    (status and record) and a GetTable with the records saquery prints;
#  - the ACM door, asked in path form with the same fields, answers OpenSM's path or ENODATA;
# a P_Key the node is not a member of is refused as OpenSM refuses it (no path / NO_RECORDS /
# empty table / ENODATA); prefetched tuples cost no Get and whole-table queries for them are
# answered locally, other tuples cost exactly one Get per destination, shared by all doors.
. "$(dirname "$0")/daemon_common.sh"
QOS=$LOCALSA_SRC/tests/lab/qos
SAMAD=$LOCALSA_BUILD/bin/lsa_samad
ACMPATH=$LOCALSA_BUILD/bin/lab_qos_acm_path
NODES=(Hca1 Hca3)
# Each case: saquery's options, then the same for localsa / lsa_samad / the ACM client.
CASES=("" "--service_id 0x1000" "--service_id 0x2000" "--service_id 0x3000"
       "--qos_class 1" "--qos_class 2" "--pkey 0x8001" "--pkey 0x8002")
PREFETCHED=3	# of the 7 QoS cases above: the daemons' prefetch_* options below
prefetched() { case "$1" in "--service_id 0x1000"|"--service_id 0x2000"|"--pkey 0x8001") return 0 ;; esac; return 1; }
declare -A NONE_PREFETCHED	# per node: (destination, prefetched case) without a path
ours_opts() { sed -e 's/--service_id/--service-id/; s/--qos_class/--qos-class/' <<<"$1"; }
# expect_same WHAT EXPECTED ACTUAL: expect_eq for whole records (printed only when they differ)
expect_same() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi; }

# (No full refresh follows a trap: the trap section checks what trap 64 alone fetches.)
printf 'prefetch_service_ids 0x1000,0x2000\nprefetch_pkeys 0x8001\nnegative_ttl_ms 600000\n' \
	>"$TMP/localsad.conf"
"$LAB" up --dir "$D" --opensm-conf "$QOS/opensm.conf" --daemons "$(IFS=,; echo "${NODES[*]}")" \
	--localsad-conf "$TMP/localsad.conf"
grep -q "Loading QoS policy file" "$D/opensm/opensm.log" && pass "OpenSM loaded the QoS policy" ||
	fail "OpenSM did not load the QoS policy"
SM=$(stat Hca1 sm_lid)
samad() { on "$1" "$SAMAD" "${@:2}" 2>&1 || true; }
mapfile -t GIDS < <(fabric_gids Hca1)
echo "fabric: ${#GIDS[@]} ports, ${#CASES[@]} cases each, daemons on ${NODES[*]}"

# --- the policy is live: OpenSM's answers differ per case ---------------------------------
sgid1=$(stat Hca1 gid)
hca2=$(grep -m1 '::10:4$' <<<"$(printf '%s\n' "${GIDS[@]}")")
declare -A SEEN
for c in "${CASES[@]}"; do
	# shellcheck disable=SC2086
	f=$(on Hca1 saquery -p --sgid-to-dgid "$sgid1-$hca2" $c |
		sed -n 's/^[[:space:]]*\(pkey\|sl\|mtu\|rate\)\.\.*/\1=/p' | tr '\n' ' ')
	echo "OpenSM Hca1 -> Hca2 ${c:-(none)}: $f"
	SEEN[$f]=1
done
expect_eq "distinct (pkey, SL, MTU, rate) answers among the ${#CASES[@]} cases" "${#CASES[@]}" "${#SEEN[@]}"

for n in "${NODES[@]}"; do
	expect_eq "$n GetTables at start (default + $PREFETCHED prefetched)" $((1 + PREFETCHED)) \
		"$(stat "$n" get_table)"
	expect_eq "$n Gets at start" 0 "$(stat "$n" get)"
done

# --- every destination x every case, through every door -----------------------------------
compare_node() { # NODE CASE...
	local n=$1 sgid lid g c o theirs ours get_sm get_ours rc bad_cli=0 bad_get=0 bad_table=0
	local bad_acm=0 none=0 total=0
	shift
	sgid=$(stat "$n" gid)
	lid=$(stat "$n" lid)
	for g in "${GIDS[@]}"; do
		for c in "$@"; do
			o=$(ours_opts "$c")
			total=$((total + 1))
			# shellcheck disable=SC2086
			theirs=$(on "$n" saquery -p --sgid-to-dgid "$sgid-$g" $c 2>/dev/null || true)
			if [ -z "$theirs" ]; then
				none=$((none + 1))
				! prefetched "$c" || NONE_PREFETCHED[$n]=$((${NONE_PREFETCHED[$n]:-0} + 1))
			fi
			# shellcheck disable=SC2086
			ours=$("$CLI" -s "$(sock "$n")" path --dgid "$g" $o --format saquery 2>/dev/null || true)
			[ "$ours" == "$theirs" ] || { bad_cli=$((bad_cli + 1)); echo "$n $g ${c:-none}: localsa path differs" >&2; }
			# shellcheck disable=SC2086
			get_sm=$(samad "$n" --lid "$SM" get --sgid "$sgid" --dgid "$g" $o)
			# shellcheck disable=SC2086
			get_ours=$(samad "$n" --lid "$lid" get --sgid "$sgid" --dgid "$g" $o)
			[ "$get_ours" == "$get_sm" ] || { bad_get=$((bad_get + 1)); echo "$n $g ${c:-none}: SA door Get: '$(head -n1 <<<"$get_ours")' vs OpenSM '$(head -n1 <<<"$get_sm")'" >&2; }
			# shellcheck disable=SC2086
			ours=$(samad "$n" --lid "$lid" gettable --sgid "$sgid" --dgid "$g" $o | tail -n +2)
			[ "$ours" == "$theirs" ] || { bad_table=$((bad_table + 1)); echo "$n $g ${c:-none}: SA door GetTable differs" >&2; }
			# shellcheck disable=SC2086
			ours=$("$ACMPATH" -S "$D/$n/acm.sock" --sgid "$sgid" --dgid "$g" $o || true)
			if [ -z "$theirs" ]; then
				[ "$ours" == "ACM status 3" ] || { bad_acm=$((bad_acm + 1)); echo "$n $g ${c:-none}: ACM: '$ours' where OpenSM has no path" >&2; }
			else
				[ "$ours" == "$theirs" ] || { bad_acm=$((bad_acm + 1)); echo "$n $g ${c:-none}: ACM path differs" >&2; }
			fi
		done
	done
	echo "$n: $total requests, $none without a path at OpenSM"
	expect_eq "$n: localsa path differing from saquery -p (of $total)" 0 "$bad_cli"
	expect_eq "$n: SA door Get differing from OpenSM's Get (of $total)" 0 "$bad_get"
	expect_eq "$n: SA door GetTable differing from saquery -p (of $total)" 0 "$bad_table"
	expect_eq "$n: ACM path-form RESOLVE differing from OpenSM (of $total)" 0 "$bad_acm"
}
t0=$(date +%s%N)
compare_node Hca1 "${CASES[@]}"
# Hca3 asks in the reverse order: the refused P_Key first, the default request last.
mapfile -t REV < <(printf '%s\n' "${CASES[@]}" | tac)
compare_node Hca3 "${REV[@]}"
echo "matrix: $((($(date +%s%N) - t0) / 1000000)) ms"

# One Get per (destination, tuple not prefetched), whichever door asked first, and one per
# destination missing from a prefetched table (the cache fetches what it cannot prove); no more.
for n in "${NODES[@]}"; do
	expect_eq "$n Gets sent for the whole matrix" \
		$((${#GIDS[@]} * (${#CASES[@]} - 1 - PREFETCHED) + ${NONE_PREFETCHED[$n]:-0})) \
		"$(stat "$n" get)"
	expect_eq "$n GetTables sent for the whole matrix" $((1 + PREFETCHED)) "$(stat "$n" get_table)"
done

# --- the refused P_Key, door by door --------------------------------------------------------
sgid3=$(stat Hca3 gid)
lid3=$(stat Hca3 lid)
hca1=$sgid1
expect_eq "OpenSM for Hca3 -> Hca1 with P_Key 0x8002 (saquery)" "" \
	"$(on Hca3 saquery -p --sgid-to-dgid "$sgid3-$hca1" --pkey 0x8002)"
set +e
out=$("$CLI" -s "$(sock Hca3)" path --dgid "$hca1" --pkey 0x8002 2>&1); rc=$?
set -e
expect_eq "localsa path, non-member P_Key: exit code" 3 "$rc"
expect_eq "localsa path, non-member P_Key: message" "localsa: path: no path (the SA has no record)" "$out"
expect_eq "SA door Get, non-member P_Key" "status 0x0300 (NO_RECORDS) method GetResp attr_mod 0 records 0" \
	"$(samad Hca3 --lid "$lid3" get --sgid "$sgid3" --dgid "$hca1" --pkey 0x8002)"
expect_eq "OpenSM Get, non-member P_Key" "status 0x0300 (NO_RECORDS) method GetResp attr_mod 0 records 0" \
	"$(samad Hca3 --lid "$SM" get --sgid "$sgid3" --dgid "$hca1" --pkey 0x8002)"
expect_eq "SA door GetTable, non-member P_Key" "status 0x0000 (SUCCESS) method GetTableResp attr_mod 0 records 0" \
	"$(samad Hca3 --lid "$lid3" gettable --sgid "$sgid3" --dgid "$hca1" --pkey 0x8002)"
expect_eq "ACM RESOLVE, non-member P_Key" "ACM status 3" \
	"$("$ACMPATH" -S "$D/Hca3/acm.sock" --dgid "$hca1" --pkey 0x8002 || true)"
# ... while the member gets its path on that partition.
out=$("$CLI" -s "$(sock Hca1)" path --dgid "$hca2" --pkey 0x8002 --format json)
[[ $out == *'"sl": 7,'* ]] && pass "Hca1 -> Hca2 with P_Key 0x8002: SL 7" || fail "Hca1 -> Hca2 with P_Key 0x8002: SL 7 expected: $out"

# --- whole tables: prefetched ones answered locally, others relayed ----------------------
relayed=$(stat Hca1 relayed)
for c in "--service-id 0x1000" "--service-id 0x2000" "--pkey 0x8001"; do
	# shellcheck disable=SC2086
	expect_same "whole table ${c}: SA door = OpenSM" "$(samad Hca1 --lid "$SM" gettable --sgid "$sgid1" $c)" \
		"$(samad Hca1 --lid "$(stat Hca1 lid)" gettable --sgid "$sgid1" $c)"
done
expect_eq "whole prefetched tables relayed to OpenSM" "$relayed" "$(stat Hca1 relayed)"
expect_same "whole table --service-id 0x3000 (not prefetched): SA door = OpenSM" \
	"$(samad Hca1 --lid "$SM" gettable --sgid "$sgid1" --service-id 0x3000)" \
	"$(samad Hca1 --lid "$(stat Hca1 lid)" gettable --sgid "$sgid1" --service-id 0x3000)"
expect_eq "... relayed" $((relayed + 1)) "$(stat Hca1 relayed)"
# Without SGID OpenSM answers for every source port: never from this port's cache.
expect_same "GetTable without SGID: SA door = OpenSM" \
	"$(samad Hca1 --lid "$SM" gettable --dgid "$hca2")" \
	"$(samad Hca1 --lid "$(stat Hca1 lid)" gettable --dgid "$hca2")"
expect_eq "... relayed" $((relayed + 2)) "$(stat Hca1 relayed)"

# --- a refresh reloads the prefetched tuples; a flush forgets them -----------------------
before=$(stat Hca1 get_table)
"$CLI" -s "$(sock Hca1)" refresh --wait >/dev/null
expect_eq "GetTables of a refresh" $((1 + PREFETCHED)) $(($(stat Hca1 get_table) - before))
"$CLI" -s "$(sock Hca1)" flush
expect_same "whole table --service-id 0x1000 after a flush: SA door = OpenSM" \
	"$(samad Hca1 --lid "$SM" gettable --sgid "$sgid1" --service-id 0x1000)" \
	"$(samad Hca1 --lid "$(stat Hca1 lid)" gettable --sgid "$sgid1" --service-id 0x1000)"
expect_eq "... relayed, the cache no longer holds it" $((relayed + 3)) "$(stat Hca1 relayed)"
"$CLI" -s "$(sock Hca1)" refresh --wait >/dev/null

# --- trap 64: a GID back in service is fetched for every prefetched tuple too --------------
HCA4=fe80::10:a
gt0=$(stat Hca1 get_table)
"$LAB" console --dir "$D" 'Unlink "Hca4"'
trap_seen() { [ "$(stat Hca1 "$1")" == 1 ]; }
fetched_back() { [ "$(stat Hca1 get_table)" == $((gt0 + 1 + PREFETCHED)) ] && [ "$(stat Hca1 sa_outstanding)" == 0 ]; }
ms=$(wait_until 5 trap_seen 65) || true
ms_ok "trap 65 after Unlink" "$ms" 2000
# A tuple that is not prefetched learns "no path" while Hca4 is out ...
set +e
"$CLI" -s "$(sock Hca1)" path --dgid "$HCA4" --qos-class 1 >/dev/null 2>&1; rc=$?
set -e
expect_eq "Hca1 -> Hca4 --qos-class 1 while Hca4 is out: exit code" 3 "$rc"
"$LAB" console --dir "$D" 'ReLink "Hca4"'
ms=$(wait_until 5 trap_seen 64) || true
ms_ok "trap 64 after ReLink" "$ms" 2000
ms=$(wait_until 5 fetched_back) || true
ms_ok "one GetTable per tuple (default + $PREFETCHED prefetched) for the returning GID" "$ms" 2000
gets=$(stat Hca1 get)
for c in "" "--service_id 0x1000" "--service_id 0x2000" "--pkey 0x8001"; do
	# shellcheck disable=SC2086
	expect_same "Hca1 -> Hca4 ${c:-(none)} after the ReLink" \
		"$(on Hca1 saquery -p --sgid-to-dgid "$sgid1-$HCA4" $c)" \
		"$("$CLI" -s "$(sock Hca1)" path --dgid "$HCA4" $(ours_opts "$c") --format saquery)"
done
expect_eq "Gets for those (all in the cache)" "$gets" "$(stat Hca1 get)"
# ... and forgets it when trap 64 says Hca4 is back: one Get, OpenSM's answer.
expect_same "Hca1 -> Hca4 --qos_class 1 after the ReLink" \
	"$(on Hca1 saquery -p --sgid-to-dgid "$sgid1-$HCA4" --qos_class 1)" \
	"$("$CLI" -s "$(sock Hca1)" path --dgid "$HCA4" --qos-class 1 --format saquery 2>&1)"
expect_eq "Gets for it" $((gets + 1)) "$(stat Hca1 get)"
finish
