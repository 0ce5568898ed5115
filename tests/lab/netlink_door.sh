#!/usr/bin/env bash
# lab.netlink_door (issue 19): the daemon's netlink door, asked by the kernel double
# lsa_nlkernel, on a 64-HCA fat tree with daemons on three nodes (one lab for every check):
#  - for every destination, the double prints (--format saquery) exactly what
#    `saquery -p --sgid-to-dgid` prints on that node, and the daemon sent no Get for them
#    (the shim's per-process count): all answered from the table of its one GetTable;
#  - the kernel's wait is the daemon's worst case for a miss (SET_TIMEOUT at bind, 6000 ms with
#    the default SA settings);
#  - a destination that does not exist: the error reply within 100 ms, one Get, then none;
#  - --count 10000 --concurrency 64 over every destination: each answer matched to its sequence
#    number; 10,000 malformed requests: each gets the error reply or is dropped as the kernel
#    would, and the daemon goes on answering;
#  - stopping the daemon leaves the group first and hands the requests waiting for the SA back
#    at once (the error reply, not the kernel's timeout); afterwards the kernel finds no listener;
#  - a daemon started while OpenSM is down does not join the group; it joins after its first
#    fill, and answers.
. "$(dirname "$0")/daemon_common.sh"
NK=$BIN/lsa_nlkernel
NODES=(Hca1 Hca33 Hca64)
"$LAB" up --dir "$D" --fat-tree 64 --daemons "$(IFS=,; echo "${NODES[*]}")"

# The PathRecord queries a daemon's process sent (the shim's count): get or get_table.
sent() {
	local f
	f=$D/shim-stats/$(cat "$D/$1/localsad.pid")
	[ -f "$f" ] || { echo 0; return; }
	sed -n "s/.* $2 \([0-9]*\).*/\1/p" "$f"
}
field() { sed -n "s/.* $1 \([0-9]*\).*/\1/p; s/^$1 \([0-9]*\).*/\1/p" "$2" | head -n 1; }
# nk_rc OUT NODE ARGS...: the double on NODE, its output in OUT, its exit status printed
nk_rc() { local out=$1 n=$2; shift 2; if on "$n" "$NK" "$@" >"$out" 2>&1; then echo 0; else echo $?; fi; }
registered() { compgen -G "$D/$1/netlink/ls.*" >/dev/null; }

mapfile -t GIDS < <(fabric_gids Hca1)
printf '%s\n' "${GIDS[@]}" >"$TMP/dgids"
echo "fabric: ${#GIDS[@]} ports; daemons on ${NODES[*]}"

# --- every destination, from the table ------------------------------------------------------
t0=$(date +%s%N)
for n in "${NODES[@]}"; do
	sgid=$(stat "$n" gid)
	expect_eq "$n joined the group after its fill" true "$(stat "$n" netlink_bound)"
	rc=$(nk_rc "$TMP/nl.$n" "$n" --dgids "$TMP/dgids" --sgid "$sgid" --format saquery)
	expect_eq "$n: the double's exit status for every destination" 0 "$rc"
	: >"$TMP/sa.$n"
	for g in "${GIDS[@]}"; do
		on "$n" saquery -p --sgid-to-dgid "$sgid-$g" >>"$TMP/sa.$n"
	done
	if cmp -s "$TMP/sa.$n" "$TMP/nl.$n"; then
		pass "$n: lsa_nlkernel --format saquery = saquery -p --sgid-to-dgid for ${#GIDS[@]} destinations"
	else
		fail "$n: the netlink answers differ from saquery:"
		diff "$TMP/sa.$n" "$TMP/nl.$n" | head -n 20 >&2 || true
	fi
	expect_eq "$n: netlink requests answered from the cache" "${#GIDS[@]}" "$(stat "$n" netlink_cache_answers)"
	expect_eq "$n: Gets sent (shim)" 0 "$(sent "$n" get)"
	expect_eq "$n: GetTables sent (shim)" 1 "$(sent "$n" get_table)"
done
echo "every destination on ${#NODES[@]} nodes: $((($(date +%s%N) - t0) / 1000000)) ms"

N=Hca33
SGID=$(stat $N gid)
G=${GIDS[5]}
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID" --summary)
expect_eq "the kernel's wait after SET_TIMEOUT: the worst case of a miss (ms)" 6000 \
	"$(field timeout-ms "$TMP/out")"
expect_eq "... as the daemon reports it" 6000 "$(stat $N netlink_timeout_ms)"

# --- a destination that does not exist: the error reply at once -----------------------------
NONE=fe80::dead:beef:0:1
t0=$(date +%s%N)
rc=$(nk_rc "$TMP/out" $N --dgid "$NONE" --sgid "$SGID" --summary)
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$TMP/out"
expect_eq "no such destination: the kernel's outcome" 1 "$(field error-replies "$TMP/out")"
expect_eq "no such destination: exit status (the kernel asks the SA)" 2 "$rc"
rtt=$(field rtt-p50-us "$TMP/out")
expect_lt "no such destination: the error reply within 100 ms (${rtt} us)" "$rtt" 100000
echo "no such destination: the double ran $ms ms in all"
expect_eq "no such destination: Gets sent" 1 "$(sent $N get)"
rc=$(nk_rc "$TMP/out" $N --dgid "$NONE" --sgid "$SGID" --summary)
expect_eq "again: the error reply" 1 "$(field error-replies "$TMP/out")"
expect_eq "again: no Get (the SA's 'no path' is cached)" 1 "$(sent $N get)"
expect_eq "no path replies counted" 2 "$(stat $N netlink_no_path)"

# --- 10,000 requests, 64 in flight -------------------------------------------------------------
rc=$(nk_rc "$TMP/out" $N --dgids "$TMP/dgids" --sgid "$SGID" --count 10000 --concurrency 64 \
	--summary --linger 200)
cat "$TMP/out"
expect_eq "10000 requests: exit status" 0 "$rc"
expect_eq "10000 requests: paths" 10000 "$(field paths "$TMP/out")"
for k in unknown-seq duplicates late timeouts error-replies; do
	expect_eq "10000 requests: answers $k" 0 "$(field "$k" "$TMP/out")"
done
expect_eq "10000 requests: in flight at most" 64 "$(field max-in-flight "$TMP/out")"
expect_eq "10000 requests: Gets sent" 1 "$(sent $N get)"

# --- 10,000 malformed requests ---------------------------------------------------------------------
errs=$(stat $N netlink_error_replies)
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID" --malformed 10000 --concurrency 64 --summary)
cat "$TMP/out"
expect_eq "malformed: exit status" 0 "$rc"
expect_eq "malformed answered with the error reply (15 of 20 kinds)" 7500 "$(field error-replies "$TMP/out")"
expect_eq "malformed dropped (no request header to answer, as the kernel's parser)" 2500 \
	"$(field dropped "$TMP/out")"
expect_eq "malformed dropped though answerable" 0 "$(field dropped-answerable "$TMP/out")"
expect_eq "malformed answered otherwise" 0 "$(field answered-otherwise "$TMP/out")"
expect_eq "the valid request after them: a path" 1 "$(field paths "$TMP/out")"
expect_eq "error replies the daemon counted for them" $((errs + 7500)) "$(stat $N netlink_error_replies)"
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID" --format saquery)
expect_eq "the daemon still answers" "$(on $N saquery -p --sgid-to-dgid "$SGID-$G")" "$(cat "$TMP/out")"
echo "daemon on $N: $("$CLI" -s "$(sock $N)" stats | grep -E '^netlink_(resolves|cache|fetched|error|malformed|ip|other)' | tr -s ' ' | tr '\n' ' ')"

# --- a kernel without NETLINK_RDMA (as these machines without the shim): said once, no door -----
bg "$TMP/plain.out" Hca2 env LSA_SHIM_NETLINK_DIR= "$BIN/localsad" --foreground \
	--control-socket "$TMP/plain.sock" --acm-socket none --shm-name none \
	--ready-file "$TMP/plain.ready" --log-file "$TMP/plain.log"
ms=$(wait_until 20 test -e "$TMP/plain.ready") || true
ms_ok "a daemon without NETLINK_RDMA is ready" "$ms" 20000
expect_eq "without NETLINK_RDMA: said once" 1 "$(grep -c 'no NETLINK_RDMA' "$TMP/plain.log")"
"$CLI" -s "$TMP/plain.sock" stats --json | grep -q '"netlink_' && fail "netlink counters without a door" ||
	pass "without NETLINK_RDMA: no netlink counters"
plain_gid=$("$CLI" -s "$TMP/plain.sock" stats --json | sed -n 's/.*"gid": "\([^"]*\)".*/\1/p')
[ "$(on Hca2 saquery -p --sgid-to-dgid "$plain_gid-$G")" == \
  "$("$CLI" -s "$TMP/plain.sock" path --dgid "$G" --format saquery)" ] &&
	pass "without NETLINK_RDMA: the other doors answer as OpenSM" ||
	fail "without NETLINK_RDMA: the control socket's answer differs from OpenSM's"
kill -TERM "${BG_PIDS[-1]}" && wait "${BG_PIDS[-1]}" || true

# --- stopping: out of the group first, waiting requests handed back at once -------------------
N=Hca64
SGID=$(stat $N gid)
"$LAB" opensm --dir "$D" stop
# A ServiceID the table does not hold waits for the SA, which is gone.
t_bg=$(date +%s%N)
bg "$TMP/inflight.out" $N "$NK" --dgid "$G" --sgid "$SGID" --service-id 0x4242 --count 8 \
	--concurrency 8 --summary
waiting() { [ "$(stat $N netlink_pending)" == 8 ]; }
ms=$(wait_until 5 waiting) || true
ms_ok "8 requests waiting for the SA at $N" "$ms" 3000
t_stop=$(date +%s%N)
"$LAB" daemon --dir "$D" stop $N
wait "${BG_PIDS[-1]}" || true
ms=$((($(date +%s%N) - t_stop) / 1000000))
cat "$TMP/inflight.out"
# The double's run less the time it ran before SIGTERM: how long after the signal the answers
# came. Leaving first, at once; after the daemon's other shutdown work (its unsubscription waits
# up to 1 s for the absent SA), not.
delay=$(($(field elapsed-ms "$TMP/inflight.out") - (t_stop - t_bg) / 1000000))
expect_lt "in flight at the stop: handed back right after SIGTERM ($delay ms)" "$delay" 500
expect_eq "in flight at the stop: handed back with the error reply" 8 \
	"$(field error-replies "$TMP/inflight.out")"
expect_eq "in flight at the stop: kernel timeouts" 0 "$(field timeouts "$TMP/inflight.out")"
expect_lt "in flight at the stop: the double was done before its 6000 ms timeout ($ms ms)" "$ms" 6000
grep -q "left RDMA_NL_GROUP_LS; 8 requests waiting" "$D/$N/localsad.log" &&
	pass "the daemon logged the requests it handed back" || fail "no log line for the hand-back"
! registered $N && pass "no registration left after the stop" || fail "a registration is left after the stop"
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID")
expect_eq "after the stop" "no listener: the kernel would ask the SA" "$(cat "$TMP/out")"

# --- a daemon started while OpenSM is down joins after its first fill ---------------------------
printf 'sa_timeout_ms 300\nsa_retries 1\nsa_backoff_max_ms 300\n' >"$TMP/fast.conf"
LOG=$TMP/restarted.log
base=$(wc -l <"$D/$N/localsad.log")
"$LAB" daemon --dir "$D" start $N --conf "$TMP/fast.conf"
log_since() { tail -n +$((base + 1)) "$D/$N/localsad.log" >"$LOG"; }
log_since
grep -q "initial fill failed" "$LOG" && pass "the first fill failed (no SA)" ||
	fail "the first fill did not fail"
sleep 0.5	# longer than the door's look for a fill
expect_eq "before any fill: joined" false "$(stat $N netlink_bound)"
! registered $N && pass "before any fill: not a member" || fail "a member before any fill"
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID")
expect_eq "before any fill" "no listener: the kernel would ask the SA" "$(cat "$TMP/out")"
"$LAB" opensm --dir "$D" start
"$CLI" -s "$(sock $N)" refresh --wait >/dev/null
ms=$(wait_until 5 registered $N) || true
ms_ok "joined after the first fill" "$ms" 1000
log_since
fill=$(grep -n "paths from one GetTable" "$LOG" | head -n 1 | cut -d: -f1)
join=$(grep -n "netlink door: answering" "$LOG" | head -n 1 | cut -d: -f1)
expect_lt "the fill (log line ${fill:-none}) before the join (line ${join:-none})" "${fill:-999999}" "${join:-0}"
expect_eq "its wait: the worst case of a miss with 300 ms x 2 and one 300 ms pause" 900 \
	"$(stat $N netlink_timeout_ms)"
rc=$(nk_rc "$TMP/out" $N --dgid "$G" --sgid "$SGID" --format saquery)
expect_eq "then it answers" "$(on $N saquery -p --sgid-to-dgid "$SGID-$G")" "$(cat "$TMP/out")"
finish
