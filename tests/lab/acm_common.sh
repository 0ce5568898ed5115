# acm_common.sh - sourced by the ACM door's lab tests (issue 6), after daemon_common.sh:
# paths printed by ib_acme and by saquery, normalised to one comparable line each.

STRESS=$LOCALSA_BUILD/bin/lsa_acm_stress
acm_sock() { echo "$D/$1/acm.sock"; }
# acme ARGS...: the unmodified ib_acme; its exit status is not ours to stop on (-e, pipefail)
acme() { ib_acme "$@" || true; }
# opensm_pr ARGS...: saquery -p on NODE for ARGS ("NODE --sgid-to-dgid A-B"), never failing
opensm_pr() { local n=$1; shift; "$LAB" exec --dir "$D" "$n" -- saquery -p "$@" || true; }

# Both tools print a record field by field; these turn either into
#   dgid=.. sgid=.. dlid=.. slid=.. flow=.. hop=.. tclass=.. rev=.. pkey=.. sl=.. mtu=.. rate=.. life=..
# with numbers in decimal and MTU, rate and lifetime without their selector bits, as ib_acme
# shows them. One line per path, in the order printed; "FAILED <reason>" for a destination
# ib_acme could not resolve, and a line "verify=success|failed" after each path ib_acme verified.
_ACM_AWK_HEX='
function num(s,    v, i) {
	if (s !~ /^0[xX]/) return s + 0
	s = tolower(substr(s, 3)); v = 0
	for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}'

# normalize_acme < ib_acme output
normalize_acme() {
	awk "$_ACM_AWK_HEX"'
	function out() { if (have) printf "dgid=%s sgid=%s dlid=%d slid=%d flow=%d hop=%d tclass=%d rev=%d pkey=%d sl=%d mtu=%d rate=%d life=%d\n", f["dgid"], f["sgid"], f["dlid"], f["slid"], f["flow label"], f["hop limit"], f["tclass"], f["reversible"], f["pkey"], f["sl"], f["mtu"], f["rate"], f["packet lifetime"]; have = 0 }
	/^Path information/ { out(); have = 1; next }
	/^  [a-z ]+: / && have { k = $0; sub(/^  /, "", k); sub(/: .*/, "", k); v = $0; sub(/^[^:]*: /, "", v); f[k] = (k ~ /gid/) ? v : num(v); next }
	/^SA verification: success/ { out(); print "verify=success"; next }
	/^SA verification: failed/ { out(); print "verify=failed"; next }
	/ib_acm_resolve_path failed: / { out(); r = $0; sub(/.*failed: /, "", r); print "FAILED " r; next }
	/^$/ { out() }
	END { out() }'
}

# normalize_saquery < saquery -p output
normalize_saquery() {
	awk "$_ACM_AWK_HEX"'
	function out() { if (have) printf "dgid=%s sgid=%s dlid=%d slid=%d flow=%d hop=%d tclass=%d rev=%d pkey=%d sl=%d mtu=%d rate=%d life=%d\n", f["dgid"], f["sgid"], f["dlid"], f["slid"], int(f["hop_flow_raw"] / 256), f["hop_flow_raw"] % 256, f["tclass"], int(f["num_path_revers"] / 128), f["pkey"], f["sl"], f["mtu"] % 32, f["rate"] % 32, f["pkt_life"] % 32; have = 0 }
	/^PathRecord dump:/ { out(); have = 1; next }
	have && /\.\.\.\./ { k = $1; sub(/\.+.*/, "", k); v = $1; sub(/^[a-z_0-9]+\.+/, "", v); f[k] = (k ~ /gid/) ? v : num(v) }
	END { out() }'
}

# acm_stat NODE KEY: an ACM counter of the daemon's stats JSON
acm_stat() { stat "$1" "$2"; }
