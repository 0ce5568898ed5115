#!/usr/bin/env bash
# lab.multiport_serve (issue 16): one localsad on a dual-port HCA serves both
# ports. For each port's SGID and every destination, `localsa path --sgid
# --format saquery` prints what `saquery -p --sgid-to-dgid` prints from that
# port; liblocalsa (LOCALSA_Q_SGID) and the SA door on each port's LID agree
# for a sample; the SA saw exactly one GetTable per port at start.
. "$(dirname "$0")/multiport_common.sh"
export LOCALSA_SHM=none # the CLI asks the daemon's socket (lab_lib_resolve checks the snapshot)
printf 'negative_ttl_ms 30000\nsa_timeout_ms 500\nsa_retries 1\n' >"$TMP/localsad.conf"
"$LAB" up --dir "$D" --topology "$DUAL_TOPO" --daemons Hca5 --localsad-conf "$TMP/localsad.conf"
need_ports Hca5
mapfile -t GIDS < <(fabric_gids Hca1)
echo "fabric: ${#GIDS[@]} ports"
RES=$LOCALSA_BUILD/bin/lab_lib_resolve
SAMAD=$LOCALSA_BUILD/bin/lsa_samad
SM=$(stat Hca5 sm_lid)
for p in 1 2; do
	P=ibsim0:$p
	sgid=$(port_field Hca5 "$P" gid)
	lid=$(port_field Hca5 "$P" lid)
	expect_eq "$P gid in stats" "$sgid" "$(pstat Hca5 "$P" gid)"
	expect_eq "$P served" true "$(pstat Hca5 "$P" served)"
	expect_eq "$P GetTable at start" 1 "$(pstat Hca5 "$P" sa_queries.get_table)"
	expect_eq "$P Get at start" 0 "$(pstat Hca5 "$P" sa_queries.get)"
	differ=0
	: >"$TMP/theirs.$p"
	for g in "${GIDS[@]}"; do
		theirs=$(sa_path Hca5 "$p" "$sgid" "$g")
		ours=$(cli_path Hca5 "$sgid" "$g" 2>&1 || true)
		if [ "$ours" != "$theirs" ]; then
			differ=$((differ + 1))
			[ $differ -gt 2 ] || diff <(echo "$ours") <(echo "$theirs") >&2 || true
		fi
		printf '%s\n==\n' "$theirs" >>"$TMP/theirs.$p"
	done
	expect_eq "$P: destinations where the CLI differs from saquery (of ${#GIDS[@]})" 0 "$differ"
	expect_eq "$P: SA queries after all that: GetTable" 1 "$(pstat Hca5 "$P" sa_queries.get_table)"
	expect_eq "$P: ... Get" 0 "$(pstat Hca5 "$P" sa_queries.get)"
	# liblocalsa with LOCALSA_Q_SGID, every destination
	printf '%s\n' "${GIDS[@]}" |
		LOCALSA_SHM= "$RES" -s "$(sock Hca5)" dump --sgid "$sgid" >"$TMP/lib.$p" 2>/dev/null || true
	if diff "$TMP/lib.$p" "$TMP/theirs.$p" >/dev/null; then pass "$P: liblocalsa equals saquery"
	else fail "$P: liblocalsa (--sgid $sgid) differs from saquery"; diff "$TMP/lib.$p" "$TMP/theirs.$p" | head -8 >&2; fi
	# the SA door on this port's LID, for a sample of destinations
	differ=0
	for g in "${GIDS[0]}" "${GIDS[3]}" "${GIDS[-1]}"; do
		ours=$(on Hca1 "$SAMAD" --lid "$lid" get --sgid "$sgid" --dgid "$g" --format hex || echo "no answer")
		theirs=$(on Hca1 "$SAMAD" --lid "$SM" get --sgid "$sgid" --dgid "$g" --format hex)
		[ "$ours" == "$theirs" ] || { differ=$((differ + 1)); echo "$P: SA door differs for $g: $ours" >&2; }
	done
	expect_eq "$P: SA door answers differing from OpenSM's (of 3)" 0 "$differ"
done
expect_eq "PathRecord queries the daemon sent (shim count): one GetTable per port" 2 "$(pr_queries Hca5)"
finish
