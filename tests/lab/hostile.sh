#!/usr/bin/env bash
# Hostile load (issue 13): an ordinary local user (nobody) attacks both socket doors at once -
# 300 idle connections, 50 slowloris writers, 20 pipelining clients that never read, and a
# flood of requests each for a new ServiceID (a new cache tuple), on the control socket and on
# the ACM socket alike - for 25 s. Meanwhile root's well-behaved client (bench_lookup, on the
# daemon's node) resolves random destinations through every door: the shared-memory snapshot,
# the ACM socket, the control socket, and the SA door on QP1. Each door must keep answering with
# no error and p99 under 10 ms, and the daemon's resident memory must stay under the bound
# documented in docs/doors.md (RSS_BOUND_MIB below, sanitized build).
# The ACM door is kept small (ACM_MAX clients) so that nobody's idle connections really fill
# it: root's client gets in by the per-user fair share (eviction). Idle timeouts are short, and
# the idle connections must be seen closed (the doors' idle_closed counters) within the run.
. "$(dirname "$0")/daemon_common.sh"
N=Hca1
SECONDS_UNDER_ATTACK=25
RSS_BOUND_MIB=${RSS_BOUND_MIB:-256}
P99_LIMIT_NS=10000000
ACM_MAX=64
IDLE_S=3
command -v setpriv >/dev/null || { echo "setpriv (util-linux) is needed"; exit 1; }

# Readable by any local user, as the doors are meant to be; the lab dir must be traversable.
printf 'socket_mode 0666\nacm_max_clients %s\nidle_timeout_s %s\nacm_idle_timeout_s %s\n' \
	"$ACM_MAX" "$IDLE_S" "$IDLE_S" >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --fat-tree 18 --daemons "$N" --localsad-conf "$TMP/localsad.conf"
chmod a+x "$TMP" "$D" "$D/$N"
CTL=$(sock "$N")
ACM=$D/$N/acm.sock
PID=$(cat "$D/$N/localsad.pid")
list() { "$LAB" exec --dir "$D" "$N" -- saquery -N | awk '
	/^NodeRecord dump/ { t = ""; g = ""; l = "" }
	/node_type/ { t = $0 }
	/port_guid/ { g = $0; sub(/.*\.\.+/, "", g) }
	/^[ \t]*lid\./ { l = $0; sub(/.*\.\.+/, "", l) }
	/NodeDescription/ { d = $0; sub(/.*\.\.+/, "", d); if (t ~ /Channel Adapter/) print g, l, d }'; }
list >"$TMP/nodes"
DGID=$(fabric_gids "$N" | sed -n 3p)
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$PID/status"; }
RSS0=$(rss_kib)
# good ROUND: root's client through every door; prints "DOOR N ERRORS P99_NS" lines
good() {
	"$LAB" exec --dir "$D" "$N" -- "$BIN/bench_lookup" --nodes "$TMP/nodes" --socket "$CTL" \
		--acm "$ACM" --count 2000 --mad-count 300 --seconds 3 \
		--doors shm,acm,control,sa_door >"$TMP/good.$1" 2>&1 || true
	sed -n 's/^door=\([a-z_]*\) n=\([0-9]*\) errors=\([0-9]*\) .*p99_ns=\([0-9]*\).*/\1 \2 \3 \4/p' \
		"$TMP/good.$1"
}
# The same client before any attack, for the record (machine noise vs. the attack's effect).
while read -r door n errs p99; do
	echo "baseline, $door: $n lookups, p99 $((p99 / 1000)) us"
done < <(good 0)

# CPU time the daemon used (clock ticks), to tell its own cost from the machine's load.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
CPU0=$(cpu_ticks) T0=$(date +%s%N)

# The attack, as nobody.
setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$BIN/lsa_hostile" --ctl "$CTL" \
	--acm "$ACM" --dgid "$DGID" --seconds "$SECONDS_UNDER_ATTACK" >"$TMP/hostile.out" 2>&1 &
HOSTILE=$!
BG_PIDS+=("$HOSTILE")
sleep 5	# let it take every slot it can
acm_now=$(stat "$N" acm_clients)
echo "under attack: $acm_now ACM clients (cap $ACM_MAX), $(stat "$N" control_clients) control clients"
expect_eq "nobody's connections fill the ACM door" "$ACM_MAX" "$acm_now"

# Root's client, through every door, twice while the attack goes on.
for round in 1 2; do
	good "$round" >"$TMP/good.$round.lines"
	for door in shm acm control sa_door; do
		read -r _ n errs p99 < <(grep "^$door " "$TMP/good.$round.lines" || echo "$door 0 0 0")
		if [ "${n:-0}" -lt 100 ]; then
			fail "round $round, $door: too few lookups ($n)"; cat "$TMP/good.$round"; continue
		fi
		expect_eq "round $round, $door: failed lookups" 0 "$errs"
		expect_lt "round $round, $door: p99 (ns) under 10 ms" "$p99" "$P99_LIMIT_NS"
		echo "round $round, $door: $n lookups, p99 $((p99 / 1000)) us"
	done
	rss=$(rss_kib)
	echo "round $round: daemon RSS $((rss / 1024)) MiB (before the attack: $((RSS0 / 1024)) MiB)"
	expect_lt "round $round: daemon RSS (KiB) under $RSS_BOUND_MIB MiB" "$rss" $((RSS_BOUND_MIB * 1024))
done

wait "$HOSTILE" || true
cat "$TMP/hostile.out"
cpu=$(( ($(cpu_ticks) - CPU0) * 100 * 1000000000 / $(getconf CLK_TCK) / ($(date +%s%N) - T0) ))
echo "localsad used $cpu% of one CPU during the attack (and root's lookups); machine load: $(cut -d' ' -f1-3 /proc/loadavg)"
# The attacks were felt (limits hit), not merely survived.
refused=$(stat "$N" tuple_quota_refused)
[ "${refused:-0}" -gt 0 ] && pass "tuple quota refused $refused new tuples" || fail "tuple quota never refused: '$refused'"
# The ACM door was full: root got in by taking a slot of nobody's (eviction) or nobody was
# turned away; and idle connections were closed by the timeout, at both doors.
for k in acm_clients_evicted acm_clients_rejected acm_idle_closed control_idle_closed \
	control_clients_evicted control_clients_rejected; do
	echo "$k $(stat "$N" "$k")"
done
full=$(( $(stat "$N" acm_clients_evicted) + $(stat "$N" acm_clients_rejected) ))
[ "$full" -gt 0 ] && pass "the ACM door was full ($full evicted or turned away)" ||
	fail "the ACM door was never full"
for k in acm_idle_closed control_idle_closed; do
	v=$(stat "$N" "$k")
	[ "${v:-0}" -gt 0 ] && pass "$k: $v idle connections closed after $IDLE_S s" ||
		fail "$k: no idle connection closed ('$v')"
done
# Still serving, and right, once they are gone.
expect_eq "a lookup after the attack" "$(opensm_path "$N" "$DGID")" "$(path_now "$N" "$DGID")"
kill -0 "$PID" && pass "localsad still running" || fail "localsad died"
expect_eq "error lines in the log" 0 "$(grep -c '] err ' "$D/$N/localsad.log" || true)"
finish
