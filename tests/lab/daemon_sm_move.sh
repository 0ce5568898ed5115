#!/usr/bin/env bash
# Following the SM (issue 5): OpenSM stopped on Switch1 and started on
# Switch2 (a new SM LID): every daemon re-subscribes and refreshes within
# 10 s, and an Unlink afterwards is reflected within 1 s. Then OpenSM is
# restarted without its subscription database: the daemons subscribe again
# (the time it took is printed) and traps work again.
. "$(dirname "$0")/daemon_common.sh"
NODES=(Hca1 Hca2 Hca3)
HCA4=fe80::10:a
printf 'sm_poll_ms 1000\ninform_refresh_s 5\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --daemons "$(IFS=,; echo "${NODES[*]}")" --localsad-conf "$TMP/localsad.conf"
old_sm=$(stat Hca1 sm_lid)

no_path_everywhere() {
	local n
	for n in "${NODES[@]}"; do [ -z "$(path_now "$n" "$1")" ] || return 1; done
}
path_everywhere() {
	local n
	for n in "${NODES[@]}"; do [ -n "$(path_now "$n" "$1")" ] || return 1; done
}
followed() { # every daemon: new SM LID, 2 subscriptions confirmed after the move, a refresh
	local n
	for n in "${NODES[@]}"; do
		[ "$(stat "$n" sm_lid)" != "$old_sm" ] || return 1
		[ "$(stat "$n" subscribe_ok)" -ge $((subs[$n] + 2)) ] || return 1
		[ "$(stat "$n" fills)" -gt "${fills[$n]}" ] || return 1
	done
}
declare -A subs fills
for n in "${NODES[@]}"; do subs[$n]=$(stat "$n" subscribe_ok); fills[$n]=$(stat "$n" fills); done

"$LAB" opensm --dir "$D" stop
"$LAB" opensm --dir "$D" start --node Switch2
ms=$(wait_until 15 followed) || true
ms_ok "SM moved to Switch2: every daemon re-subscribed and refreshed" "$ms" 10000
echo "SM LID $old_sm -> $(stat Hca1 sm_lid)"
for n in "${NODES[@]}"; do expect_eq "$n SM changes" 1 "$(stat "$n" sm_changes)"; done
"$LAB" console --dir "$D" 'Unlink "Hca4"'
ms=$(wait_until 5 no_path_everywhere "$HCA4") || true
ms_ok "Unlink after the SM move reflected" "$ms" 1000
"$LAB" console --dir "$D" 'ReLink "Hca4"'
ms=$(wait_until 5 path_everywhere "$HCA4") || true
ms_ok "ReLink after the SM move reflected" "$ms" 1000

# OpenSM restarts on the same node and forgets every subscription.
"$LAB" opensm --dir "$D" stop
# Counted once the old OpenSM is gone: a periodic re-subscription may still
# have reached it while it was shutting down.
for n in "${NODES[@]}"; do subs[$n]=$(stat "$n" subscribe_ok); done
"$LAB" opensm --dir "$D" start --node Switch2
resubscribed() {
	local n
	for n in "${NODES[@]}"; do [ "$(stat "$n" subscribe_ok)" -ge $((subs[$n] + 2)) ] || return 1; done
}
ms=$(wait_until 15 resubscribed) || true
ms_ok "OpenSM restarted without its SA database: every daemon subscribed again" "$ms" 10000
"$LAB" console --dir "$D" 'Unlink "Hca4"'
ms=$(wait_until 5 no_path_everywhere "$HCA4") || true
ms_ok "Unlink after the OpenSM restart reflected" "$ms" 1000
echo "subscriptions refused while OpenSM started: $(stat Hca1 subscribe_failed)"
finish
