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
equal_everywhere() {
	local n
	for n in "${NODES[@]}"; do
		[ "$(path_now "$n" "$1")" == "$(opensm_path "$n" "$1")" ] || return 1
	done
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

"$LAB" console --dir "$D" 'ReLink "Hca4"'
ms=$(wait_until 5 equal_everywhere "$HCA4") || true
ms_ok "ReLink reflected, equal to OpenSM" "$ms" 1000
for n in "${NODES[@]}"; do
	expect_eq "$n trap 65 count" 1 "$(stat "$n" 65)"
	expect_eq "$n trap 64 count" 1 "$(stat "$n" 64)"
done

# Move Hca3 from Switch1 port 2 to Switch2 port 4: its paths get another hop.
before=$(path_now Hca1 fe80::10:7)
"$LAB" console --dir "$D" 'Unlink "Hca3"'
sleep 0.5
"$LAB" console --dir "$D" 'Link "Switch2"[4] "Hca3"[1]'
all_equal() {
	local n g
	for n in Hca1 Hca2; do
		for g in fe80::10:1 fe80::10:4 fe80::10:7 fe80::10:a fe80::20:0 fe80::20:1; do
			[ "$(path_now "$n" "$g")" == "$(opensm_path "$n" "$g")" ] || return 1
		done
	done
}
ms=$(wait_until 10 all_equal) || true
ms_ok "after moving a cable every answer equals OpenSM's" "$ms" 5000
after=$(path_now Hca1 fe80::10:7)
[ "$before" != "$after" ] && pass || fail "moving the cable did not change the path to Hca3"
finish
