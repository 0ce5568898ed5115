#!/usr/bin/env bash
# lab.allpairs_small / lab.allpairs_fat64 (issue 2): through `tools/lab exec`
# (the shim), the all-pairs `saquery -p` returns every PathRecord OpenSM
# serves: ports² records, where ports = every connected HCA port + port 0 of
# every switch, checked against the sources and destinations OpenSM lists.
# Every record equals OpenSM's answer for its (SGID, DGID) pair:
#  - lab_sa_pairs (both nets): one GetTable (mask 0), then one SubnAdmGet
#    (mask SGID|DGID) per record, compared byte for byte;
#  - small net only: `saquery -p --sgid-to-dgid S-D` per pair (saquery sends a
#    GetTable with that mask), compared to the all-pairs block as text.
# The same `saquery -p` under stock umad2sim (no shim) returns only a few
# records: both counts are printed, and stock < shim is asserted.
#
# usage: allpairs.sh small | fat64
. "$(dirname "$0")/lab_common.sh"

case "${1:-}" in
small) NODE=Hca2; "$LAB" up --dir "$D" ;;
fat64) NODE=Hca5; "$LAB" up --dir "$D" --fat-tree 64 ;;
*) echo "usage: allpairs.sh small|fat64" >&2; exit 2 ;;
esac
PORTS=$(topology_ports "$(lab_topology)")
echo "topology $(basename "$(lab_topology)"): $PORTS ports (connected HCA ports + switches)"

# --- the all-pairs table, through the shim ---
t0=$(date +%s%N)
on "$NODE" saquery -p >"$TMP/table.txt"
echo "saquery -p (shim): $((($(date +%s%N) - t0) / 1000000)) ms"
SHIM_COUNT=$(grep -c '^PathRecord dump:' "$TMP/table.txt" || true)
expect_eq "saquery -p records = ports²" $((PORTS * PORTS)) "$SHIM_COUNT"
expect_eq "distinct SGIDs in OpenSM's table = ports" "$PORTS" \
	"$(sed -n 's/^[[:space:]]*sgid\.*//p' "$TMP/table.txt" | sort -u | wc -l)"
expect_eq "distinct DGIDs in OpenSM's table = ports" "$PORTS" \
	"$(sed -n 's/^[[:space:]]*dgid\.*//p' "$TMP/table.txt" | sort -u | wc -l)"
expect_eq "distinct (SGID, DGID) pairs = records" "$SHIM_COUNT" \
	"$(awk '/sgid\.\.\./ { s = $1 } /dgid\.\.\./ { d = $1 } /resv2/ { print s, d }' \
		"$TMP/table.txt" | sort -u | wc -l)"

# --- every record against a single Get, byte for byte ---
if on "$NODE" "$BIN/lab_sa_pairs" >"$TMP/pairs.txt" 2>"$TMP/pairs.err"; then rc=0; else rc=$?; fi
cat "$TMP/pairs.txt"
head -n 20 "$TMP/pairs.err" >&2
expect_eq "lab_sa_pairs exit status" 0 "$rc"
expect_eq "GetTable records (lab_sa_pairs)" $((PORTS * PORTS)) \
	"$(sed -n 's/^table: \([0-9]*\) records.*/\1/p' "$TMP/pairs.txt")"
expect_eq "GetTable sources / destinations" "$PORTS $PORTS" \
	"$(sed -n 's/.* \([0-9]*\) sources, \([0-9]*\) destinations.*/\1 \2/p' "$TMP/pairs.txt")"
expect_eq "Gets equal to the table's record" $((PORTS * PORTS)) \
	"$(sed -n 's/^gets: .* \([0-9]*\) equal.*/\1/p' "$TMP/pairs.txt")"

# --- small net: saquery's own per-pair query, as text ---
if [ "$1" = small ]; then
	mkdir "$TMP/recs"
	awk -v dir="$TMP/recs" '/^PathRecord dump:/ { n++ } { print > (dir "/" n) }' "$TMP/table.txt"
	same=0
	for f in "$TMP"/recs/*; do
		s=$(sed -n 's/^[[:space:]]*sgid\.*//p' "$f")
		d=$(sed -n 's/^[[:space:]]*dgid\.*//p' "$f")
		on "$NODE" saquery -p --sgid-to-dgid "$s-$d" >"$TMP/one.txt"
		if cmp -s "$f" "$TMP/one.txt"; then
			same=$((same + 1))
		else
			echo "pair $s -> $d differs:" >&2
			diff "$f" "$TMP/one.txt" >&2 || true
		fi
	done
	expect_eq "pairs whose saquery --sgid-to-dgid answer equals the table's" \
		$((PORTS * PORTS)) "$same"
fi

# --- the same query without the shim ---
STOCK_COUNT=$(stock "$NODE" saquery -p 2>/dev/null | grep -c '^PathRecord dump:' || true)
echo "records from saquery -p: $SHIM_COUNT with the shim, $STOCK_COUNT under stock umad2sim"
expect_lt "stock umad2sim returns fewer records than the shim" "$STOCK_COUNT" "$SHIM_COUNT"
expect_lt "stock umad2sim returns some (the shim answers it unframed)" 0 "$STOCK_COUNT"
finish
