#!/usr/bin/env bash
# Keeping the cache true with traps (issue 5): Unlink an HCA and within 1 s
# no daemon returns a path to it; ReLink and within 1 s the path is back and
# equals OpenSM's; move a cable (Unlink + Link) so that paths change, and
# after the sweep every daemon's answer equals OpenSM's again.
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca1 Hca2 Hca3)
"$LAB" up --dir "$D" --topology "$(dirname "$0")/net.2sw1x4hca" --daemons "$(IFS=,; echo "${NODES[*]}")"
HCA4=fe80::10:a

no_path_everywhere() {
	local n
	for n in "${NODES[@]}"; do [ -z "$(path_now "$n" "$1")" ] || return 1; done
}
# Each daemon's answer when it first appears, kept to be compared with OpenSM's afterwards:
# the time measured is the daemons' alone, not that of the saquery runs checking them.
first_answers() {
	local n a
	for n in "${NODES[@]}"; do
		[ -s "$D/first_$n" ] && continue
		a=$(path_now "$n" "$1")
		[ -z "$a" ] || printf '%s\n' "$a" >"$D/first_$n"
	done
	for n in "${NODES[@]}"; do [ -s "$D/first_$n" ] || return 1; done
}
for n in "${NODES[@]}"; do
	[ -n "$(path_now "$n" "$HCA4")" ] && pass || fail "$n has no path to Hca4 before the unlink"
done

"$LAB" console --dir "$D" 'Unlink "Hca4"'
ms=$(wait_until 5 no_path_everywhere "$HCA4") || true
ms_ok "Unlink reflected by every daemon" "$ms" 1000
set +e
msg=$("$CLI" -s "$(sock Hca1)" path --dgid "$HCA4" 2>&1); rc=$?
set -e
expect_eq "no path after unlink: exit code" 3 "$rc"
expect_eq "no path after unlink: message" "localsa: path: no path (the SA has no record)" "$msg"

rm -f "$D"/first_*
"$LAB" console --dir "$D" 'ReLink "Hca4"'
ms=$(wait_until 5 first_answers "$HCA4") || true
ms_ok "ReLink reflected by every daemon" "$ms" 1000
for n in "${NODES[@]}"; do
	expect_eq "$n: its first path after the ReLink is OpenSM's" "$(opensm_path "$n" "$HCA4")" \
		"$(cat "$D/first_$n" 2>/dev/null)"
done
for n in "${NODES[@]}"; do
	expect_eq "$n trap 65 count" 1 "$(stat "$n" 65)"
	expect_eq "$n trap 64 count" 1 "$(stat "$n" 64)"
done

# Move Hca3 from Switch1 port 2 to Switch2 port 4: its paths get another hop. Once OpenSM's
# own answer has changed, its answers are taken once; then only the daemons are polled.
before=$(path_now Hca1 fe80::10:7)
GIDS=(fe80::10:1 fe80::10:4 fe80::10:7 fe80::10:a fe80::20:0 fe80::20:1)
t0=$(date +%s%N)
"$LAB" console --dir "$D" 'Unlink "Hca3"'
sleep 0.5
"$LAB" console --dir "$D" 'Link "Switch2"[4] "Hca3"[1]'
opensm_moved() { local p; p=$(opensm_path Hca1 fe80::10:7); [ -n "$p" ] && [ "$p" != "$before" ]; }
wait_until 10 opensm_moved >/dev/null || fail "OpenSM's path to Hca3 did not change"
for n in Hca1 Hca2; do
	for g in "${GIDS[@]}"; do opensm_path "$n" "$g" >"$D/sa_${n}_$g"; done
done
all_equal() {
	local n g
	for n in Hca1 Hca2; do
		for g in "${GIDS[@]}"; do
			[ "$(path_now "$n" "$g")" == "$(cat "$D/sa_${n}_$g")" ] || return 1
		done
	done
}
wait_until 10 all_equal >/dev/null || true
ms_ok "after moving a cable every answer equals OpenSM's" $((($(date +%s%N) - t0) / 1000000)) 5000
after=$(path_now Hca1 fe80::10:7)
[ "$before" != "$after" ] && pass || fail "moving the cable did not change the path to Hca3"
finish
