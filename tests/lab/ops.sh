#!/usr/bin/env bash
# Operating localsad (issue 17) on the simulated fabric:
#  - started without --foreground on a host with no port, it exits non-zero and says why on
#    stderr (it used to fork first: exit 0, nothing printed, the error in syslog only); on a
#    node with a port it returns once serving, having made its socket's missing directory;
#  - `localsa status` and `stats --format prometheus` parse (a small exposition-format check);
#  - SIGHUP with a changed log_level takes effect (a miss is then logged at debug), a bad file
#    changes nothing, `localsa reload` says what it applied;
#  - an ordinary user's `localsa path` works by default, its `flush` is refused;
#  - `dump --format saquery` of the default tuple equals `saquery -p --sgid` (the SA's order);
#  - `-s` at the ACM socket is found out within a second; an SA outage's repeated warnings are
#    rate-limited.
. "$(dirname "$0")/daemon_common.sh"
printf 'log_level info\nsa_timeout_ms 200\nsa_retries 0\nsa_backoff_max_ms 200\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --daemons Hca2 --localsad-conf "$TMP/localsad.conf"
S=$(sock Hca2)
LOG=$D/Hca2/localsad.log

# --- start-up without --foreground --------------------------------------------------------
set +e
t0=$(date +%s%N)
err=$("$BIN/localsad" -s "$TMP/noport/ctl.sock" --acm-socket none --shm-name none 2>&1 >/dev/null)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
set -e
expect_eq "no port, detached: exit status" 1 "$rc"
[[ $err == *"no usable InfiniBand port"* ]] && pass "no port: the reason on stderr" ||
	fail "no port: stderr says '$err'"
expect_lt "no port: exit within 5 s (ms)" "$ms" 5000
[ ! -e "$TMP/noport" ] && pass "no port: nothing created" || fail "no port: $TMP/noport exists"

# With a port: the parent returns once the daemon serves; its socket directory was made.
on Hca3 "$BIN/localsad" -s "$TMP/run3/localsa/ctl.sock" --acm-socket none \
	--shm-name "/lsa-ops-$$" -l "$TMP/d3.log"
expect_eq "detached daemon: socket directory mode" 755 "$(command stat -c %a "$TMP/run3/localsa")"
pid3=$("$CLI" -s "$TMP/run3/localsa/ctl.sock" status --json | jq -r .pid)
BG_PIDS+=("$pid3")	# stopped by the teardown if the test fails before it stops it
[ -n "$pid3" ] && kill -0 "$pid3" && pass "detached daemon serves (pid $pid3)" ||
	fail "detached daemon: no pid"
kill -TERM "$pid3"
wait_until 10 bash -c "! kill -0 $pid3 2>/dev/null" >/dev/null || fail "detached daemon did not stop"

# --- status and Prometheus text ------------------------------------------------------------
"$CLI" -s "$S" status --json >"$TMP/status.json"
expect_eq "status: SA reachable, entries, doors" "true 6 true true" \
	"$(jq -r '[.ports[0].sa_reachable, .ports[0].entries, .doors.control, .subscriptions.ok] | map(tostring) | join(" ")' "$TMP/status.json")"
"$CLI" status -s "$S" >"$TMP/status.txt"	# global options anywhere
grep -q "^  SA  *reachable" "$TMP/status.txt" && grep -q "^  last fill .* 6 paths" "$TMP/status.txt" &&
	pass "status text" || fail "status text: $(cat "$TMP/status.txt")"

"$CLI" -s "$S" stats --format prometheus >"$TMP/prom.txt"
# The exposition format: TYPE before its samples, once per name; samples "name{labels} value";
# counters end in _total; names in Prometheus' alphabet and under localsa_.
prom_errors=$(awk '
	/^# TYPE / { if ($3 in typed) print "TYPE twice: " $3; typed[$3] = $4
		     if ($4 != "counter" && $4 != "gauge") print "bad type: " $0
		     if ($4 == "counter" && $3 !~ /_total$/) print "counter without _total: " $3; next }
	/^#/ { next }
	{ name = $1; sub(/\{.*/, "", name)
	  if (!(name in typed)) print "sample before its TYPE: " $0
	  if (name !~ /^localsa_[a-zA-Z0-9_]+$/) print "bad name: " name
	  if (NF != 2 || $2 !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) print "bad sample: " $0
	  if ($1 ~ /\{/ && $1 !~ /^[a-zA-Z0-9_]+\{([a-z_]+="[^"]*",?)+\}$/) print "bad labels: " $0
	  if (name in seen) print "sample twice: " name; seen[name] = 1; n++ }
	END { if (n < 50) print "only " n " samples" }' "$TMP/prom.txt")
[ -z "$prom_errors" ] && pass "Prometheus text parses ($(grep -vc '^#' "$TMP/prom.txt") samples)" ||
	fail "Prometheus text: $prom_errors"
for m in localsa_cache_hits_total localsa_entries localsa_uptime_seconds \
	localsa_sa_queries_inform_info_total localsa_operator_refreshes_total; do
	grep -q "^$m " "$TMP/prom.txt" && pass "has $m" || fail "no $m"
done
grep -q '^localsa_info{version="[0-9.]*",ca=' "$TMP/prom.txt" && pass "info labels" ||
	fail "no localsa_info"

# --- reload ----------------------------------------------------------------------------------
"$CLI" -s "$S" path --dgid fe80::77:1 >/dev/null 2>&1 || true
if grep -q " debug .*miss: dgid fe80::77:1" "$LOG"; then fail "a debug line at log_level info"; fi
sed -i 's/^log_level info/log_level debug/' "$TMP/localsad.conf"
kill -HUP "$(cat "$D/Hca2/localsad.pid")"
ms=$(wait_for 10 "$LOG" "log_level: info -> debug") && pass "SIGHUP: log_level change logged" ||
	fail "SIGHUP: no log_level change in the log"
"$CLI" -s "$S" path --dgid fe80::77:2 >/dev/null 2>&1 || true
grep -q " debug .*miss: dgid fe80::77:2" "$LOG" && pass "SIGHUP: log_level debug in effect" ||
	fail "SIGHUP: no debug line after the reload"
printf 'refresh_interval_s 120\nca elsewhere\n' >>"$TMP/localsad.conf"
out=$("$CLI" -s "$S" reload)
expect_eq "localsa reload: applied and waiting" "applied=refresh_interval_s restart=ca" "$out"
echo "bogus_option 1" >>"$TMP/localsad.conf"
set +e
out=$("$CLI" -s "$S" reload 2>&1); rc=$?
set -e
expect_eq "reload of a bad file: exit status" 1 "$rc"
[[ $out == *"localsad.conf:7: unknown option 'bogus_option'"* ]] && pass "reload names the bad line" ||
	fail "reload of a bad file: $out"
expect_eq "still serving after a bad reload" 6 "$(stat Hca2 entries)"

# --- an ordinary user ------------------------------------------------------------------------
chmod o+x "$TMP" "$D" "$D/Hca2"
# (LeakSanitizer cannot stop the world without privileges: leaks are checked as root)
as_nobody() { ASAN_OPTIONS=detect_leaks=0 setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
expect_eq "nobody's path = root's" "$("$CLI" -s "$S" path --dgid fe80::20:0)" \
	"$(as_nobody "$CLI" -s "$S" path --dgid fe80::20:0 2>&1)"
set +e
out=$(as_nobody "$CLI" -s "$S" flush 2>&1); rc=$?
set -e
expect_eq "nobody's flush: exit status" 1 "$rc"
[[ $out == *"only root or the daemon's user"* ]] && pass "nobody's flush refused" ||
	fail "nobody's flush: $out"
expect_eq "nothing flushed" 6 "$(stat Hca2 entries)"

# --- dump in the SA's order ------------------------------------------------------------------
gid=$(stat Hca2 gid)
"$LAB" exec --dir "$D" Hca2 -- saquery -p --sgid "$gid" >"$TMP/saquery.txt" 2>/dev/null
"$CLI" -s "$S" dump --tuple 0 --format saquery >"$TMP/dump.txt"
if diff -u "$TMP/saquery.txt" "$TMP/dump.txt" >"$TMP/dump.diff"; then
	pass "dump --format saquery = saquery -p --sgid (order included)"
else
	fail "dump differs from saquery: $(head -20 "$TMP/dump.diff")"
fi

# --- a peer that is not localsad ---------------------------------------------------------------
set +e
t0=$(date +%s%N)
out=$("$CLI" -s "$D/Hca2/acm.sock" stats 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
set -e
expect_eq "-s at the ACM socket: exit status" 1 "$rc"
[[ $out == *"not localsad"* || $out == *"does not answer as localsad"* ]] &&
	pass "-s at the ACM socket: said so" || fail "-s at the ACM socket: $out"
expect_lt "-s at the ACM socket: found out within 1.5 s (ms)" "$ms" 1500

# --- an SA outage: repeated warnings rate-limited ----------------------------------------------
n0=$(wc -l <"$LOG")
"$LAB" opensm --dir "$D" stop
for i in $(seq 10 30); do "$CLI" -s "$S" path --dgid "fe80::88:$i" >/dev/null 2>&1 || true; done
warns=$(tail -n +"$n0" "$LOG" | grep -c " warn .*no answer after" || true)
if [ "$warns" -ge 1 ] && [ "$warns" -le 2 ]; then pass "21 unanswered queries: $warns warning lines"
else fail "21 unanswered queries: $warns warning lines, want 1-2"; fi
"$LAB" opensm --dir "$D" start
finish
