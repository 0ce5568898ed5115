#!/usr/bin/env bash
# lab.netlink_transport (issue 19): the lab's NETLINK_RDMA (the shim's transport) and the kernel
# double lsa_nlkernel, without the daemon, against lab_nl_responder (the wire codec in an epoll
# loop) on one node of the small fabric:
#  - no listener: the double sends nothing and reports that the kernel would ask the SA;
#  - the responder answers with the SA's own record (lsa_samad): the double prints it exactly as
#    `saquery -p --sgid-to-dgid` does, for every path_use and both kernel generations, with the
#    timeout the responder set (SET_TIMEOUT sent before the double started);
#  - --count 10000 --concurrency 64: every answer matched to its sequence number;
#  - 10,000 malformed requests: each gets the error reply or, when no local-service request
#    header can be read, is dropped; the responder goes on answering;
#  - the error reply; a silent responder costs the kernel exactly its timeout; leaving the group
#    (DROP_MEMBERSHIP, SIGTERM) makes the double report no listener;
#  - misbehaviours are caught: answers sent twice (exit 3), all-PRIMARY LMC paths (a 6.1 kernel
#    takes the third).
. "$(dirname "$0")/lab_common.sh"

"$LAB" up --dir "$D"
N=Hca2
NK=$BIN/lsa_nlkernel
SGID=$(on "$N" ibaddr | awk '{print $2}')
DGID=$(on Hca4 ibaddr | awk '{print $2}')
SM=$(on "$N" sminfo | sed -n 's/^sminfo: sm lid \([0-9]*\) .*/\1/p')
echo "node $N ($SGID), destination $DGID, SM LID $SM"

nk() { on "$N" "$NK" --dgid "$DGID" --sgid "$SGID" "$@"; }
# nk_rc OUT ARGS...: the double's output in OUT, its exit status printed
nk_rc() { local out=$1; shift; if nk "$@" >"$out" 2>&1; then echo 0; else echo $?; fi; }
field() { sed -n "s/.* $1 \([0-9]*\).*/\1/p; s/^$1 \([0-9]*\).*/\1/p" "$2" | head -n 1; }

RESP_PID=
resp_start() { # ARGS...: a responder on N, ready once it has joined the group
	rm -f "$TMP/ready"
	bg "$TMP/resp.out" "$N" "$BIN/lab_nl_responder" --ready "$TMP/ready" "$@"
	RESP_PID=$!
	[ "$(wait_until 10 test -e "$TMP/ready")" != timeout ] || fail "the responder did not join"
}
resp_stop() {
	kill -TERM "$RESP_PID" 2>/dev/null || true
	wait "$RESP_PID" 2>/dev/null || true
	echo "responder: $(tail -n 1 "$TMP/resp.out")"
	expect_eq "datagrams the responder got without the kernel's address" 0 \
		"$(field bad-source "$TMP/resp.out")"
}

# --- no listener ---------------------------------------------------------------------
rc=$(nk_rc "$TMP/out")
expect_eq "no listener: exit status" 2 "$rc"
expect_eq "no listener: outcome" "no listener: the kernel would ask the SA" "$(cat "$TMP/out")"

# --- the SA's record, as saquery prints it --------------------------------------------
REC=$(on "$N" "$BIN/lsa_samad" --lid "$SM" get --sgid "$SGID" --dgid "$DGID" --format hex |
	grep -E '^[0-9a-f]{128}$')
on "$N" saquery -p --sgid-to-dgid "$SGID-$DGID" >"$TMP/saquery.txt"
DLID=$(sed -n 's/^[[:space:]]*dlid\.*//p' "$TMP/saquery.txt")
resp_start --record "$REC" --set-timeout 300
for args in "" "--path-use all" "--path-use gmp" "--path-use unidirectional" "--kernel legacy" \
	"--kernel legacy --path-use unidirectional"; do
	# shellcheck disable=SC2086
	rc=$(nk_rc "$TMP/out" --format saquery $args)
	expect_eq "saquery block ${args:-(defaults)}: exit status" 0 "$rc"
	if cmp -s "$TMP/saquery.txt" "$TMP/out"; then
		pass "saquery block ${args:-(defaults)} = saquery -p --sgid-to-dgid"
	else
		fail "saquery block ${args:-(defaults)} differs from saquery:"
		diff "$TMP/saquery.txt" "$TMP/out" >&2 || true
	fi
done
rc=$(nk_rc "$TMP/out" --summary)
expect_eq "timeout set by the responder before the double started (ms)" 300 \
	"$(field timeout-ms "$TMP/out")"

# --- 10,000 requests, 64 in flight ----------------------------------------------------
rc=$(nk_rc "$TMP/out" --count 10000 --concurrency 64 --summary --linger 200)
cat "$TMP/out"
expect_eq "10000 requests: exit status" 0 "$rc"
expect_eq "paths" 10000 "$(field paths "$TMP/out")"
for k in unknown-seq duplicates late timeouts; do
	expect_eq "answers $k" 0 "$(field "$k" "$TMP/out")"
done
expect_eq "requests in flight at most" 64 "$(field max-in-flight "$TMP/out")"
echo "netlink round trip through the lab transport: p50 $(field rtt-p50-us "$TMP/out") us," \
	"p99 $(field rtt-p99-us "$TMP/out") us"

# --- 10,000 malformed requests ------------------------------------------------------------
rc=$(nk_rc "$TMP/out" --malformed 10000 --concurrency 64 --summary)
cat "$TMP/out"
expect_eq "malformed: exit status" 0 "$rc"
expect_eq "malformed answered with the error reply (15 of 20 kinds)" 7500 "$(field error-replies "$TMP/out")"
expect_eq "malformed dropped (no request header to answer)" 2500 "$(field dropped "$TMP/out")"
expect_eq "malformed dropped though answerable" 0 "$(field dropped-answerable "$TMP/out")"
expect_eq "malformed answered otherwise" 0 "$(field answered-otherwise "$TMP/out")"
expect_eq "the valid request after them: a path" 1 "$(field paths "$TMP/out")"

# --- leaving the group ---------------------------------------------------------------------
resp_stop
expect_eq "registrations left in the rendezvous" 0 "$(find "$D/$N/netlink" -name 'ls.*' | wc -l)"
rc=$(nk_rc "$TMP/out")
expect_eq "after SIGTERM: outcome" "no listener: the kernel would ask the SA" "$(cat "$TMP/out")"

resp_start --join setsockopt --leave-after 3
rc=$(nk_rc "$TMP/out" --count 6 --summary)
expect_eq "DROP_MEMBERSHIP at the 3rd, which it still answers: paths" 3 "$(field paths "$TMP/out")"
expect_eq "DROP_MEMBERSHIP at the 3rd: no listener for the rest" 3 "$(field no-listener "$TMP/out")"
resp_stop

# --- the error reply, and silence ---------------------------------------------------------
resp_start --mode error --join setsockopt
rc=$(nk_rc "$TMP/out")
expect_eq "error mode: exit status" 2 "$rc"
expect_eq "error mode: outcome" "error reply" "$(cat "$TMP/out")"
resp_stop

resp_start --mode silent --set-timeout 200
t0=$(date +%s%N)
rc=$(nk_rc "$TMP/out")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "silent: outcome" "timeout: the kernel would now ask the SA" "$(cat "$TMP/out")"
expect_eq "silent: exit status" 2 "$rc"
expect_lt "silent: the 200 ms timeout waited" 199 "$ms"
expect_lt "silent: the kernel's 2000 ms default replaced" "$ms" 2000
resp_stop

# --- misbehaviours the double catches ------------------------------------------------------
resp_start --answer-twice --set-timeout 2000
rc=$(nk_rc "$TMP/out" --count 100 --concurrency 8 --summary --linger 200)
expect_eq "answered twice: exit status" 3 "$rc"
expect_eq "answered twice: duplicates counted" 100 "$(field duplicates "$TMP/out")"
resp_stop

resp_start --record "$REC" --paths 3
rc=$(nk_rc "$TMP/out" --format saquery)
expect_eq "3 paths, alternates flagged: the primary chosen" "$DLID" \
	"$(sed -n 's/^[[:space:]]*dlid\.*//p' "$TMP/out")"
resp_stop
resp_start --record "$REC" --paths 3 --all-primary
rc=$(nk_rc "$TMP/out" --format saquery)
expect_eq "3 paths all PRIMARY: a 6.1 kernel's rdma_cm uses the third" $((DLID + 2)) \
	"$(sed -n 's/^[[:space:]]*dlid\.*//p' "$TMP/out")"
rc=$(nk_rc "$TMP/out" --format saquery --kernel legacy)
expect_eq "3 paths all PRIMARY: a 4.3-6.0 kernel takes the first" "$DLID" \
	"$(sed -n 's/^[[:space:]]*dlid\.*//p' "$TMP/out")"
resp_stop
finish
