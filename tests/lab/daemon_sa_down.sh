#!/usr/bin/env bash
# The daemon without its SA (issue 3): with OpenSM stopped, cached paths are
# served, a miss fails with a clear error within the configured timeout, the
# daemon keeps running; after OpenSM restarts, `localsa refresh --wait` works.
. "$(dirname "$0")/daemon_common.sh"
printf 'sa_timeout_ms 400\nsa_retries 1\nsa_backoff_max_ms 400\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --daemons Hca2 --localsad-conf "$TMP/localsad.conf"
S=$(sock Hca2)
known=$("$CLI" -s "$S" path --dgid fe80::20:0)

"$LAB" opensm --dir "$D" stop
expect_eq "cached path with the SA down" "$known" "$("$CLI" -s "$S" path --dgid fe80::20:0)"
set +e
t0=$(date +%s%N)
out=$("$CLI" -s "$S" path --dgid fe80::77:1 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
set -e
expect_eq "miss with the SA down: exit code" 1 "$rc"
expect_eq "miss with the SA down: message" "localsa: path: the SA did not answer" "$out"
# Two attempts of 400 ms and one 400 ms pause; allow scheduling slack.
if [ "$ms" -ge 800 ] && [ "$ms" -le 3000 ]; then pass; else fail "miss failed after $ms ms, want 0.8-3 s"; fi
echo "miss failed after $ms ms"
set +e
"$CLI" -s "$S" refresh --wait >/dev/null 2>&1; rc=$?
set -e
expect_eq "refresh with the SA down fails" 1 "$rc"
expect_eq "daemon still serving" "$known" "$("$CLI" -s "$S" path --dgid fe80::20:0)"

"$LAB" opensm --dir "$D" start
out=$("$CLI" -s "$S" refresh --wait)
expect_eq "refresh after OpenSM restarted" "records=6" "${out%% *}"
expect_eq "fills" 2 "$(stat Hca2 fills)"
expect_eq "fill failures" 1 "$(stat Hca2 fill_failures)"
finish
