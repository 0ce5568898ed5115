#!/usr/bin/env bash
# The ACM door with the unmodified ib_acme (issue 6), on a 64-HCA fat tree: for every
# destination `ib_acme -f g` prints the path OpenSM gives for that pair (saquery --sgid-to-dgid)
# and `-v` reports "SA verification: success"; `-f l` likewise against saquery --src-to-dst;
# `-P` shows exactly the resolves, cache hits and SA queries made; `-e` lists the endpoint;
# `-c` (NODELAY) answers from the cache only and starts the fetch; a foreign source is refused.
# usage: acm_ib_acme.sh [NODE]
. "$(dirname "$0")/daemon_common.sh"
. "$(dirname "$0")/acm_common.sh"
N=${1:-Hca1}
"$LAB" up --dir "$D" --fat-tree 64 --daemons "$N"
ACM=$(acm_sock "$N")
SGID=$(stat "$N" gid)
SLID=$(stat "$N" lid)
mapfile -t GIDS < <(fabric_gids "$N")
echo "fabric: ${#GIDS[@]} ports; localsad on $N (GID $SGID, LID $SLID); ACM socket $ACM"

# --- by GID, verified by the SA ------------------------------------------------
t0=$(date +%s%N)
mismatch=0 verified=0
declare -A LID_OF
for g in "${GIDS[@]}"; do
	ours=$(acme -S "$ACM" -f g -s "$SGID" -d "$g" -v | normalize_acme)
	theirs=$(opensm_pr "$N" --sgid-to-dgid "$SGID-$g" | normalize_saquery)
	if [ "$(head -n 1 <<<"$ours")" != "$theirs" ]; then
		mismatch=$((mismatch + 1))
		[ $mismatch -gt 3 ] || { echo "GID $g: ib_acme: $ours"; echo "GID $g: saquery: $theirs"; } >&2
	fi
	[ "$(sed -n 2p <<<"$ours")" != verify=success ] || verified=$((verified + 1))
	LID_OF[$g]=$(sed -n 's/.* dlid=\([0-9]*\) .*/\1/p' <<<"$theirs")
done
expect_eq "destinations where ib_acme -f g differs from saquery" 0 "$mismatch"
expect_eq "destinations with 'SA verification: success'" "${#GIDS[@]}" "$verified"
echo "ib_acme -f g -v, ${#GIDS[@]} destinations: $((($(date +%s%N) - t0) / 1000000)) ms"

# --- by LID: one ib_acme run for the whole list ---------------------------------
mapfile -t LIDS < <(printf '%s\n' "${LID_OF[@]}" | sort -n)
list=$(IFS=,; echo "${LIDS[*]}")
mapfile -t OURS < <(acme -S "$ACM" -f l -s "$SLID" -d "[$list]" | normalize_acme)
expect_eq "paths printed by ib_acme -f l" "${#LIDS[@]}" "${#OURS[@]}"
mismatch=0
for i in "${!LIDS[@]}"; do
	theirs=$(opensm_pr "$N" --src-to-dst "$SLID:${LIDS[$i]}" | normalize_saquery)
	if [ "${OURS[$i]:-}" != "$theirs" ]; then
		mismatch=$((mismatch + 1))
		[ $mismatch -gt 3 ] || { echo "LID ${LIDS[$i]}: ib_acme: ${OURS[$i]:-}"; echo "LID ${LIDS[$i]}: saquery: $theirs"; } >&2
	fi
done
expect_eq "destinations where ib_acme -f l differs from saquery" 0 "$mismatch"
out=$(acme -S "$ACM" -f l -d "${LIDS[-1]}" -v | normalize_acme | tail -n 1)
expect_eq "ib_acme -f l -v" verify=success "$out"

# --- -P: the counters of exactly what was asked ---------------------------------
# Resolves: 2 per GID (resolve + verify), 1 per LID, 2 for the last LID with -v.
# Every plain resolve hit the cache filled by the one GetTable; every verify asked the SA.
n=${#GIDS[@]}
perf=$(acme -S "$ACM" -P | sed -n 2p)
expect_eq "ib_acme -P" "$ACM,0,$((2 * n + n + 2)),0,0,0,$((n + 1)),$((n + n + 1))" "$perf"
col=$(acme -S "$ACM" -P col | grep -c ' : ')
expect_eq "ib_acme -P col: counters" 7 "$col"
expect_eq "SA Gets: one per verification" "$((n + 1))" "$(stat "$N" get)"
expect_eq "SA GetTables" 1 "$(stat "$N" get_table)"

# --- -e: the endpoint -------------------------------------------------------------
ep=$(acme -S "$ACM" -e | sed -n 2p)
guid=$(cut -d, -f2 <<<"$ep")
expect_eq "ib_acme -e (without the GUID)" "$ACM,1,0xffff,1,localsa,$SGID,lid $SLID" \
	"$(cut -d, -f1,3- <<<"$ep")"
[[ $guid =~ ^0x[0-9a-f]{16}$ ]] && [ "$guid" != 0x0000000000000000 ] && pass ||
	fail "ib_acme -e: node GUID '$guid'"
out=$(acme -S "$ACM" -e 2 | sed -n 1p)
expect_eq "ib_acme -e 2" " Endpoint 2 is not available" "$out"

# --- -c: NODELAY answers from the cache and starts the fetch ----------------------
"$CLI" -s "$(sock "$N")" flush
g=${GIDS[-1]}
out=$(acme -S "$ACM" -f g -d "$g" -c | normalize_acme)
expect_eq "ib_acme -c after a flush" "FAILED No data available" "$out"
ms=$(wait_until 5 bash -c "ib_acme -S '$ACM' -f g -d '$g' -c | grep -q '^Path information'" || true)
ms_ok "ib_acme -c finds the path the miss fetched" "$ms" 2000
expect_eq "prefetches" 1 "$(stat "$N" acm_prefetches)"

# --- refusals ----------------------------------------------------------------------
out=$(acme -S "$ACM" -f g -s fe80::dead:beef:0:1 -d "$g" | normalize_acme)
expect_eq "foreign source GID" "FAILED Cannot assign requested address" "$out"
out=$(acme -S "$ACM" -f l -s 49151 -d "${LIDS[0]}" | normalize_acme)
expect_eq "foreign source LID" "FAILED Cannot assign requested address" "$out"
out=$(acme -S "$ACM" -f g -d fe80::dead:beef:0:1 | normalize_acme)
expect_eq "unknown destination" "FAILED No data available" "$out"
expect_eq "ACM protocol errors" 0 "$(stat "$N" acm_protocol_errors)"
finish
