#!/usr/bin/env bash
# The SA door on QP1 (issue 4), on a 64-HCA fat tree:
#  - a Get PathRecord sent to the local SA's LID returns, for every
#    destination, the record OpenSM returns for the same request, and a
#    GetTable with SGID only returns OpenSM's table byte for byte;
#  - a SetTable of 500 records from another node with the right SM_Key is
#    accepted and served by the doors; from a node push_from does not list, or
#    with a wrong key, it is denied and the
#    cache is unchanged; a Delete by DGID removes exactly the matching entries;
#  - 1,000 malformed SA MADs each get an error status or are dropped, while
#    correct queries from another node are answered correctly throughout.
# Writes are taken from Hca2 (push_from: the SM and Hca2's port GUID) and no other node.
. "$(dirname "$0")/daemon_common.sh"
"$LAB" up --dir "$D" --fat-tree 64
printf 'sa_sm_key 0x1234\nsa_max_set_records 1000\npush_from sm,%s\n' "$(port_guid Hca2)" \
	>"$TMP/localsad.conf"
"$LAB" daemon --dir "$D" start Hca1 --conf "$TMP/localsad.conf"
SAMAD=$LOCALSA_BUILD/bin/lsa_samad
LID=$(stat Hca1 lid)
SM=$(stat Hca1 sm_lid)
SGID=$(stat Hca1 gid)
samad() { "$LAB" exec --dir "$D" "$1" -- "$SAMAD" "${@:2}"; }
mapfile -t GIDS < <(fabric_gids Hca2)

differ=0
for g in "${GIDS[@]}"; do
	ours=$(samad Hca2 --lid "$LID" get --sgid "$SGID" --dgid "$g" --format hex)
	theirs=$(samad Hca2 --lid "$SM" get --sgid "$SGID" --dgid "$g" --format hex)
	[ "$ours" == "$theirs" ] || { differ=$((differ + 1)); echo "differs for $g" >&2; }
done
expect_eq "Get answers differing from OpenSM's (of ${#GIDS[@]})" 0 "$differ"
ours=$(samad Hca2 --lid "$LID" gettable --sgid "$SGID" --format hex)
theirs=$(samad Hca2 --lid "$SM" gettable --sgid "$SGID" --format hex)
expect_eq "GetTable SGID-only equals OpenSM's" "$theirs" "$ours"
expect_eq "GetTable record count" "$((${#GIDS[@]} + 1))" "$(wc -l <<<"$ours")"
expect_eq "SA queries the door sent to OpenSM for all that" 0 "$(stat Hca1 get)"

# 500 records for destinations that do not exist, made from the table's first
# one: DGID (hex 16..47) fe80::abcd:N, DLID (hex 80..83) 0x100 + N.
base=$(sed -n 2p <<<"$ours")
for i in $(seq 0 499); do
	printf '%s%s%04x%s%04x%s\n' "${base:0:16}" fe8000000000000000000000abcd "$i" \
		"${base:48:32}" $((0x100 + i)) "${base:84}"
done >"$TMP/set.hex"
expect_eq "records to push" 500 "$(grep -c '^[0-9a-f]\{128\}$' "$TMP/set.hex")"
before=$(stat Hca1 entries)
out=$(samad Hca2 --lid "$LID" set --records "$TMP/set.hex" --sm-key 0x9999 --format count || true)
expect_eq "SetTable with a wrong key" "status 0x0700 (REQ_DENIED)" "$(cut -d' ' -f1-3 <<<"$out")"
expect_eq "entries after the refused SetTable" "$before" "$(stat Hca1 entries)"
out=$(samad Hca3 --lid "$LID" set --records "$TMP/set.hex" --sm-key 0x1234 --format count || true)
expect_eq "SetTable with the right key from a node push_from does not list" \
	"status 0x0700 (REQ_DENIED)" "$(cut -d' ' -f1-3 <<<"$out")"
expect_eq "entries after it" "$before" "$(stat Hca1 entries)"
expect_eq "writes refused for their source" 1 "$(stat Hca1 denied_source)"
out=$(samad Hca2 --lid "$LID" set --records "$TMP/set.hex" --sm-key 0x1234 --format count || true)
expect_eq "SetTable with the right key" "status 0x0000 (SUCCESS) method GetResp attr_mod 500" \
	"$(cut -d' ' -f1-7 <<<"$out")"
expect_eq "entries after the SetTable" "$((before + 500))" "$(stat Hca1 entries)"
pushed=$(sed -n 17p "$TMP/set.hex")
# Every door serves the pushed paths: liblocalsa's snapshot (localsa path),
# the SA door, and the ACM door (ib_acme, unmodified).
expect_eq "a pushed path through liblocalsa (localsa path)" \
	"$(samad Hca2 --lid "$LID" get --sgid "$SGID" --dgid fe80::abcd:10 --format saquery | tail -n +2)" \
	"$("$CLI" -s "$(sock Hca1)" path --dgid fe80::abcd:10 --format saquery)"
expect_eq "the pushed record, byte for byte, through the SA door" "$pushed" \
	"$(samad Hca3 --lid "$LID" get --sgid "$SGID" --dgid fe80::abcd:10 --format hex | tail -n +2)"
acme_out=$(ib_acme -S "$D/Hca1/acm.sock" -f g -s "$SGID" -d fe80::abcd:10 2>&1 || true)
grep -q "dlid: 0x$(printf '%x' $((0x100 + 16)))\|dlid: $((0x100 + 16))\b" <<<"$acme_out" && pass ||
	fail "the ACM door does not give the pushed path: $acme_out"
out=$(samad Hca2 --lid "$LID" delete --dgid fe80::abcd:10 --sm-key 0x1234 --format count || true)
expect_eq "Delete by DGID" "status 0x0000 (SUCCESS) method DeleteResp attr_mod 1" \
	"$(cut -d' ' -f1-7 <<<"$out")"
expect_eq "entries after the Delete" "$((before + 499))" "$(stat Hca1 entries)"
[ -z "$(path_now Hca1 fe80::abcd:10)" ] && pass || fail "the deleted path is still served"
[ -n "$(path_now Hca1 fe80::abcd:11)" ] && pass || fail "a neighbour of the deleted path is gone"

# Garbage from Hca3 while Hca2 asks real questions.
"$LAB" exec --dir "$D" Hca3 -- "$LOCALSA_BUILD/bin/lab_sa_fuzz" "$LID" "$SM" 1000 42 >"$TMP/fuzz.out" 2>&1 &
fuzz=$!
good=0 bad=0
for g in "${GIDS[@]:0:40}"; do
	ours=$(samad Hca2 --lid "$LID" get --sgid "$SGID" --dgid "$g" --format hex || true)
	theirs=$(samad Hca2 --lid "$SM" get --sgid "$SGID" --dgid "$g" --format hex || true)
	if [ -n "$ours" ] && [ "$ours" == "$theirs" ]; then good=$((good + 1)); else bad=$((bad + 1)); fi
done
set +e
wait "$fuzz"; rc=$?
set -e
cat "$TMP/fuzz.out"
expect_eq "malformed MADs answered with success (lab_sa_fuzz exit code)" 0 "$rc"
expect_eq "correct queries during the fuzzing answered wrongly" 0 "$bad"
expect_eq "sent malformed MADs" 1000 "$(sed -n 's/^sent \([0-9]*\).*/\1/p' "$TMP/fuzz.out")"
[ "$(stat Hca1 malformed)" -gt 0 ] && pass || fail "no MAD counted malformed"
expect_eq "daemon alive after the fuzzing" "$theirs" \
	"$(samad Hca2 --lid "$LID" get --sgid "$SGID" --dgid "${GIDS[0]}" --format hex | head -n 0; \
	   samad Hca2 --lid "$SM" get --sgid "$SGID" --dgid "${GIDS[39]}" --format hex)"
finish
