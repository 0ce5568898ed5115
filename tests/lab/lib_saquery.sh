#!/usr/bin/env bash
# liblocalsa against OpenSM (issue 7), on a 64-HCA fat tree with localsad on two nodes:
# - for every destination, the library's answer (a shared-memory hit, no request to the daemon)
#   prints exactly as `saquery -p --sgid-to-dgid` prints OpenSM's answer; the daemon sends no Get;
# - `localsa path` (the CLI, through the library) agrees;
# - a request for a QoS tuple not in the snapshot goes to the daemon once (one SA Get), then is a
#   hit once the daemon has republished;
# - after `Unlink` of a destination the library stops returning its path within 1 s, and
#   `localsa stats` shows the snapshot.
. "$(dirname "$0")/daemon_common.sh"
RES=$LOCALSA_BUILD/bin/lab_lib_resolve
NODES=(Hca1 Hca40)
printf 'negative_ttl_ms 30000\nsa_timeout_ms 500\nsa_retries 1\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --fat-tree 64 --daemons "$(IFS=,; echo "${NODES[*]}")" \
	--localsad-conf "$TMP/localsad.conf"

mapfile -t GIDS < <(fabric_gids "${NODES[0]}")
echo "fabric: ${#GIDS[@]} ports; daemons on ${NODES[*]}"
[ "${#GIDS[@]}" -ge 72 ] && pass || fail "only ${#GIDS[@]} ports in the fabric"
# field VALUE-LINE KEY: KEY=N out of lab_lib_resolve's stats line
field() { sed -n "s/.*[ ]$2=\([0-9]*\).*/\1/p" <<<"$1"; }

for n in "${NODES[@]}"; do
	sgid=$(stat "$n" gid)
	expect_eq "$n publishes a snapshot" "/localsa-" "$(stat "$n" shm_name | cut -c1-9)"
	t0=$(date +%s%N)
	printf '%s\n' "${GIDS[@]}" | "$RES" -s "$(sock "$n")" dump >"$TMP/ours.$n" 2>"$TMP/stats.$n"
	t1=$(date +%s%N)
	: >"$TMP/theirs.$n"
	for g in "${GIDS[@]}"; do
		"$LAB" exec --dir "$D" "$n" -- saquery -p --sgid-to-dgid "$sgid-$g" >>"$TMP/theirs.$n"
		echo "==" >>"$TMP/theirs.$n"
	done
	if diff "$TMP/ours.$n" "$TMP/theirs.$n" >"$TMP/diff.$n"; then
		pass
	else
		fail "$n: the library's answers differ from saquery's ($(grep -c '^<' "$TMP/diff.$n") lines)"
		head -20 "$TMP/diff.$n" >&2
	fi
	st=$(cat "$TMP/stats.$n")
	echo "$n: ${#GIDS[@]} destinations through the library in $(((t1 - t0) / 1000000)) ms: $st"
	expect_eq "$n: library lookups" "${#GIDS[@]}" "$(field "$st" lookups)"
	expect_eq "$n: answered from the snapshot" "${#GIDS[@]}" "$(field "$st" shm_hits)"
	expect_eq "$n: sent to the daemon" 0 "$(field "$st" fallbacks)"
	expect_eq "$n: Gets the daemon sent" 0 "$(stat "$n" get)"
	expect_eq "$n: lookups the daemon answered itself" 0 "$(stat "$n" cache_hits)"
	# the CLI goes through the library too
	g=${GIDS[17]}
	expect_eq "$n: localsa path equals saquery" \
		"$("$LAB" exec --dir "$D" "$n" -- saquery -p --sgid-to-dgid "$sgid-$g")" \
		"$("$CLI" -s "$(sock "$n")" path --dgid "$g" --format saquery)"
done

# A QoS tuple nobody asked for: the daemon fetches it (one Get), publishes it, then it is a hit.
n=${NODES[0]}
g=${GIDS[30]}
printf '%s\n' "$g" | "$RES" -s "$(sock "$n")" dump --service-id 0x1234 >"$TMP/qos1" 2>"$TMP/qst1"
expect_eq "QoS tuple: first lookup goes to the daemon" 1 "$(field "$(cat "$TMP/qst1")" fallbacks)"
expect_eq "QoS tuple: one SA Get" 1 "$(stat "$n" get)"
sleep 0.2
printf '%s\n' "$g" | "$RES" -s "$(sock "$n")" dump --service-id 0x1234 >"$TMP/qos2" 2>"$TMP/qst2"
expect_eq "QoS tuple: then a snapshot hit" 1 "$(field "$(cat "$TMP/qst2")" shm_hits)"
expect_eq "QoS tuple: the same answer" "$(cat "$TMP/qos1")" "$(cat "$TMP/qos2")"
expect_eq "QoS tuple: still one SA Get" 1 "$(stat "$n" get)"
# ... and the default tuple's entry is not what answers a PKey request: that one asks the daemon
printf '%s\n' "$g" | "$RES" -s "$(sock "$n")" dump --pkey 0xffff >/dev/null 2>"$TMP/qst3"
expect_eq "PKey tuple: not answered from the default tuple" 1 "$(field "$(cat "$TMP/qst3")" fallbacks)"

# Unlink a destination: the library stops returning its path within 1 s.
victim=Hca33
# the victim's port GUID, from OpenSM's NodeRecords (a bare GUID means fe80::/64 + GUID)
vg=$("$LAB" exec --dir "$D" "$n" -- saquery -N 2>/dev/null |
	awk -v want="$victim" '/port_guid/ { sub(/.*\.\./, ""); pg = $0 }
		/NodeDescription/ { sub(/.*\.\./, ""); if ($0 == want && !done++) print pg }')
[ -n "$vg" ] && pass || fail "no port GUID for $victim"
expect_eq "a path to $victim before the unlink" 0 "$("$CLI" -s "$(sock "$n")" path --dgid "$vg" >/dev/null; echo $?)"
"$LAB" console --dir "$D" "Unlink \"$victim\""
ms=$("$RES" -s "$(sock "$n")" gone "$vg" 3000 2>"$TMP/gone.st") || true
ms_ok "library stops returning the path to $victim" "$ms" 1000
expect_eq "no failed request to the daemon meanwhile" 0 "$(field "$(cat "$TMP/gone.st")" fallback_errors)"
set +e
msg=$("$CLI" -s "$(sock "$n")" path --dgid "$vg" 2>&1); rc=$?
set -e
expect_eq "CLI after the unlink: exit code" 3 "$rc"
expect_eq "CLI after the unlink: message" "localsa: path: no path (the SA has no record)" "$msg"
echo "snapshot of $n: publication $(stat "$n" snapshot_publication), $(stat "$n" snapshot_paths) paths," \
	"last publication $(stat "$n" snapshot_last_publish_us) us"
finish
