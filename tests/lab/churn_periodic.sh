#!/usr/bin/env bash
# Periodic refreshes of nodes booted together do not hit the SA together (issue 15): six
# daemons on an 18-HCA fat tree, started at once, refresh every 10 s; their full fetches
# start at their own slots of the spread window (spread_records_per_s 100: 19 ports of 19
# records, a window of 19 x 44 / 100 = 8.4 s, slots of 440 ms), so no two start within the
# same 50 ms. The moments come from the daemons' logs; the spread is printed.
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca2 Hca3 Hca4 Hca5 Hca6 Hca7)
INTERVAL=10
"$LAB" up --dir "$D" --fat-tree 18
printf 'refresh_interval_s %s\nspread_records_per_s 100\n' "$INTERVAL" >"$TMP/localsad.conf"
start_together "$TMP/localsad.conf" "${NODES[@]}"
window=$(stat Hca2 spread_window_ms)
echo "spread window: $window ms"
[ "$window" -ge 5000 ] && [ "$window" -le 12000 ] && pass || fail "spread window $window ms"
# ms of the day of NODE's first periodic full fetch, from its log
fetched_at() {
	local t
	t=$(grep -m 1 'full fetch (periodic): one GetTable' "$D/$1/localsad.log" | cut -d' ' -f1) ||
		return 1
	[ -n "$t" ] || return 1
	echo $(($(date -d "${t%.*}" +%s) * 1000 + 10#${t##*.}))
}
all_fetched() {
	local n
	for n in "${NODES[@]}"; do fetched_at "$n" >/dev/null || return 1; done
}
ms=$(wait_until $((INTERVAL + 15)) all_fetched) || true
[ "$ms" != timeout ] && pass || fail "not every daemon made its periodic fetch"
mapfile -t T < <(for n in "${NODES[@]}"; do echo "$(fetched_at "$n") $n"; done | sort -n)
first=${T[0]%% *} last=${T[-1]%% *} min_gap=999999
for ((i = 0; i < ${#T[@]}; i++)); do
	t=${T[i]%% *}
	echo "  ${T[i]#* }: +$((t - first)) ms"
	if [ "$i" -gt 0 ]; then
		gap=$((t - ${T[i - 1]%% *}))
		[ "$gap" -ge "$min_gap" ] || min_gap=$gap
	fi
done
echo "periodic full fetches spread over $((last - first)) ms, closest two $min_gap ms apart"
[ "$min_gap" -ge 50 ] && pass "no two within 50 ms" || fail "two fetches $min_gap ms apart"
[ $((last - first)) -ge 1000 ] && pass "spread over more than 1 s" ||
	fail "spread over $((last - first)) ms only"
for n in "${NODES[@]}"; do
	expect_eq "$n: periodic full fetches" 1 "$(stat "$n" periodic)"
	expect_eq "$n: PathRecord queries (the start fill, one periodic)" 2 "$(pr_queries "$n")"
done
finish
