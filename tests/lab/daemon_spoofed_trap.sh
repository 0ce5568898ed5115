#!/usr/bin/env bash
# Trap Reports from another fabric node (issue 13, item 3): a node that is not the SM sends
# Report(Notice trap 65) for a GID the daemon serves, to the daemon's LID. The daemon must
# refuse it (no ReportResp, reports_refused counted) and keep answering the path, equal to
# OpenSM's; a real Unlink of that node (trap 65 from OpenSM) still drops the path at once.
. "$(dirname "$0")/daemon_common.sh"
# OpenSM runs on Hca1; the daemon on Hca2; Hca3 forges; Hca4 is the GID reported.
"$LAB" up --dir "$D" --topology "$(dirname "$0")/net.2sw1x4hca" --daemons Hca2
HCA4=fe80::10:a
SAMAD=$LOCALSA_BUILD/bin/lsa_samad
LID=$(stat Hca2 lid)
FORGED=5

want=$(opensm_path Hca2 "$HCA4")
[ -n "$want" ] && pass "OpenSM has a path Hca2 -> Hca4" || fail "OpenSM gives no path Hca2 -> Hca4"
expect_eq "the path before the forged traps equals OpenSM's" "$want" "$(path_now Hca2 "$HCA4")"
refused0=$(stat Hca2 reports_refused)
traps0=$(stat Hca2 65)

answered=0
for i in $(seq "$FORGED"); do
	if on Hca3 "$SAMAD" --lid "$LID" --timeout 200 report --trap 65 --dgid "$HCA4" \
		>/dev/null 2>&1; then
		answered=$((answered + 1))
	fi
done
expect_eq "forged Reports answered with a ReportResp" 0 "$answered"
refused_all() { [ "$(stat Hca2 reports_refused)" -ge $((refused0 + FORGED)) ]; }
ms=$(wait_until 5 refused_all) || true
expect_eq "reports_refused rose by the forged Reports" $((refused0 + FORGED)) \
	"$(stat Hca2 reports_refused)"
expect_eq "trap 65 count unchanged by the forged Reports" "$traps0" "$(stat Hca2 65)"
expect_eq "the path after the forged traps still equals OpenSM's" "$want" \
	"$(path_now Hca2 "$HCA4")"

# The SM's own trap 65 still works.
"$LAB" console --dir "$D" 'Unlink "Hca4"'
no_path() { [ -z "$(path_now Hca2 "$HCA4")" ]; }
ms=$(wait_until 5 no_path) || true
ms_ok "a real Unlink (OpenSM's trap 65) drops the path" "$ms" 1000
expect_eq "trap 65 counted once" $((traps0 + 1)) "$(stat Hca2 65)"
expect_eq "nothing more refused" $((refused0 + FORGED)) "$(stat Hca2 reports_refused)"
finish
