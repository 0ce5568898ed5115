#!/usr/bin/env bash
# Periodic refreshes of nodes booted together do not hit the SA together (issue 15): six
# daemons on an 18-HCA fat tree, started at once, refresh every 10 s. Each takes its own slot
# of the spread window in every period of the wall clock (spread_records_per_s 100: 19 ports
# of 19 records, a window of 19 x 44 / 100 = 8.4 s, slots of 440 ms), so no two full fetches
# start within the same 50 ms, however skewed their starts. The moments come from the
# daemons' logs; the spread is printed.
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca2 Hca3 Hca4 Hca5 Hca6 Hca7)
INTERVAL=10
"$LAB" up --dir "$D" --fat-tree 18
printf 'refresh_interval_s %s\nspread_records_per_s 100\n' "$INTERVAL" >"$TMP/localsad.conf"
start_together "$TMP/localsad.conf" "${NODES[@]}"
window=$(stat Hca2 spread_window_ms)
echo "spread window: $window ms"
[ "$window" -ge 5000 ] && [ "$window" -le 12000 ] && pass || fail "spread window $window ms"
# NODE's periodic full fetches: ms of the wall clock, one a line, from its log
fetches() {
	grep 'full fetch (periodic): one GetTable' "$D/$1/localsad.log" | cut -d' ' -f1 |
		while read -r t; do echo $(($(date -d "${t%.*}" +%s) * 1000 + 10#${t##*.})); done
}
all_fetched() {
	local n
	for n in "${NODES[@]}"; do [ -n "$(fetches "$n")" ] || return 1; done
}
# The first period may be skipped (a fill less than half a period old is fresh enough).
ms=$(wait_until $((2 * INTERVAL + 15)) all_fetched) || true
[ "$ms" != timeout ] && pass || fail "not every daemon made a periodic fetch"
mapfile -t T < <(for n in "${NODES[@]}"; do fetches "$n" | sed "s/\$/ $n/"; done | sort -n)
first=${T[0]%% *} min_gap=999999
for ((i = 0; i < ${#T[@]}; i++)); do
	t=${T[i]%% *}
	echo "  ${T[i]#* }: +$((t - first)) ms"
	if [ "$i" -gt 0 ]; then
		gap=$((t - ${T[i - 1]%% *}))
		[ "$gap" -ge "$min_gap" ] || min_gap=$gap
	fi
done
echo "${#T[@]} periodic full fetches, the closest two $min_gap ms apart"
[ "$min_gap" -ge 50 ] && pass "no two within 50 ms" || fail "two fetches $min_gap ms apart"
# The daemons go on refreshing while they are counted: a node's log, shim count and stats are
# read between two reads of its stats that agree (no fetch in between).
for n in "${NODES[@]}"; do
	for ((try = 0; try < 10; try++)); do
		s1=$(stat "$n" periodic) p=$(fetches "$n" | wc -l) q=$(pr_queries "$n")
		s2=$(stat "$n" periodic)
		[ "$s1" != "$s2" ] || break
	done
	expect_eq "$n: PathRecord queries (the start fill, $p periodic)" $((1 + p)) "$q"
	expect_eq "$n: periodic full fetches counted" "$p" "$s2"
done
finish
