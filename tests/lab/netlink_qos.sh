#!/usr/bin/env bash
# lab.netlink_qos (issue 19): the netlink door under the QoS lab policy (tests/lab/qos/:
# ServiceIDs 0x1000/0x2000/0x3000, QoS classes 1/2, P_Keys 0x8001/0x8002, each its own SL; Hca3
# is no member of 0x8002). Daemons on Hca1 and Hca3 prefetch ServiceID 0x1000. For every
# destination x {no field, 3 ServiceIDs, 2 QoS classes, 2 P_Keys}, the kernel double's request
# with those attributes gets the SA's answer for that tuple: what `saquery -p` prints given the
# same fields, or the error reply where OpenSM has no path; never the default tuple's SL.
# SA cost: requests the table or a prefetched table answers cost no Get, each other
# (destination, tuple) one Get, and no more on the second pass; simultaneous misses for one
# request share one Get.
. "$(dirname "$0")/daemon_common.sh"
QOS=$LOCALSA_SRC/tests/lab/qos
NK=$BIN/lsa_nlkernel
NODES=(Hca1 Hca3)
CASES=("" "--service_id 0x1000" "--service_id 0x2000" "--service_id 0x3000"
       "--qos_class 1" "--qos_class 2" "--pkey 0x8001" "--pkey 0x8002")
nk_opts() { sed -e 's/--service_id/--service-id/; s/--qos_class/--qos-class/' <<<"$1"; }
field() { sed -n "s/.* $1 \([0-9]*\).*/\1/p; s/^$1 \([0-9]*\).*/\1/p" "$2" | head -n 1; }
sent() { # NODE get|get_table: the daemon's PathRecord queries (the shim's count)
	local f
	f=$D/shim-stats/$(cat "$D/$1/localsad.pid")
	[ -f "$f" ] || { echo 0; return; }
	sed -n "s/.* $2 \([0-9]*\).*/\1/p" "$f"
}

printf 'prefetch_service_ids 0x1000\nnegative_ttl_ms 600000\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --opensm-conf "$QOS/opensm.conf" --daemons "$(IFS=,; echo "${NODES[*]}")" \
	--localsad-conf "$TMP/localsad.conf"
mapfile -t GIDS < <(fabric_gids Hca1)
printf '%s\n' "${GIDS[@]}" >"$TMP/dgids"
echo "fabric: ${#GIDS[@]} ports, ${#CASES[@]} cases each, daemons on ${NODES[*]}"

# pass NODE CASE OUT: the double's answers for every destination (one process, in order)
nk_pass() {
	# shellcheck disable=SC2046
	on "$1" "$NK" --dgids "$TMP/dgids" --sgid "$(stat "$1" gid)" $(nk_opts "$2") \
		--format saquery >"$3" 2>&1 || true
}

for n in "${NODES[@]}"; do
	sgid=$(stat "$n" gid)
	none=0
	bad=0
	for c in "${CASES[@]}"; do
		: >"$TMP/want"
		i=0
		for g in "${GIDS[@]}"; do
			i=$((i + 1))
			# shellcheck disable=SC2086
			theirs=$(on "$n" saquery -p --sgid-to-dgid "$sgid-$g" $c 2>/dev/null || true)
			if [ -n "$theirs" ]; then
				printf '%s\n' "$theirs" >>"$TMP/want"
			else
				echo "seq $i: error reply" >>"$TMP/want"
				none=$((none + 1))
				[ "$c" != "--service_id 0x1000" ] || NONE_PREFETCHED=$((${NONE_PREFETCHED:-0} + 1))
			fi
		done
		nk_pass "$n" "$c" "$TMP/got"
		if cmp -s "$TMP/want" "$TMP/got"; then
			pass "$n ${c:-(no field)}: the door's answers = saquery -p for ${#GIDS[@]} destinations"
		else
			bad=$((bad + 1))
			fail "$n ${c:-(no field)}: the door's answers differ from saquery -p:"
			diff "$TMP/want" "$TMP/got" | head -n 10 >&2 || true
		fi
		cp "$TMP/got" "$TMP/first.$n.${c// /_}"
	done
	echo "$n: ${#GIDS[@]} x ${#CASES[@]} requests, $none without a path at OpenSM"
	# 6 tuples neither in the table nor prefetched: one Get per destination; the prefetched
	# ServiceID one per destination its table lacks
	expect_eq "$n: Gets for the whole matrix" \
		$((${#GIDS[@]} * (${#CASES[@]} - 2) + ${NONE_PREFETCHED:-0})) "$(sent "$n" get)"
	expect_eq "$n: GetTables (default + prefetched)" 2 "$(sent "$n" get_table)"
	NONE_PREFETCHED=0
done

# never the default tuple's SL: the policy's SL for each field, Hca1 -> Hca2
hca2=$(grep -m1 '::10:4$' "$TMP/dgids")
for c in "--service_id 0x1000:1" "--service_id 0x2000:2" "--qos_class 1:4" "--pkey 0x8002:7" ":0"; do
	# shellcheck disable=SC2046
	sl=$(on Hca1 "$NK" --dgid "$hca2" --sgid "$(stat Hca1 gid)" $(nk_opts "${c%:*}") \
		--format saquery | sed -n 's/^[[:space:]]*sl\.*0x//p')
	expect_eq "Hca1 -> Hca2 ${c%:*}: SL" "${c#*:}" "$sl"
done

# the second pass: all from the cache (paths and "no path"), no Get
for n in "${NODES[@]}"; do
	gets=$(sent "$n" get)
	same=0
	for c in "${CASES[@]}"; do
		nk_pass "$n" "$c" "$TMP/got"
		cmp -s "$TMP/first.$n.${c// /_}" "$TMP/got" && same=$((same + 1))
	done
	expect_eq "$n: second pass, cases answered as the first time" "${#CASES[@]}" "$same"
	expect_eq "$n: second pass, Gets" "$gets" "$(sent "$n" get)"
done

# 16 simultaneous misses for one request: one Get, 16 answers
gets=$(sent Hca3 get)
on Hca3 "$NK" --dgid "$hca2" --sgid "$(stat Hca3 gid)" --service-id 0x5000 --count 16 \
	--concurrency 16 --summary >"$TMP/out" 2>&1 || true
cat "$TMP/out"
expect_eq "16 simultaneous misses: paths" 16 "$(field paths "$TMP/out")"
expect_eq "16 simultaneous misses: Gets" $((gets + 1)) "$(sent Hca3 get)"
echo "Hca3: $("$CLI" -s "$(sock Hca3)" stats | grep -E '^netlink_(resolves|cache|fetched|error|no_path)' | tr -s ' ' | tr '\n' ' ')"
finish
