# multiport_common.sh - sourced by the multi-port tests (issue 16), after
# nothing else: one localsad serving both ports of a dual-port HCA on
# tests/lab/topologies/dual2sw.net (Hca5, Hca6: port 1 on Switch1, port 2 on
# Switch2; programs there see ibsim0:1 and ibsim0:2, docs/lab.md).
. "$(dirname "${BASH_SOURCE[0]}")/daemon_common.sh"
DUAL_TOPO=$LOCALSA_SRC/tests/lab/topologies/dual2sw.net
PORTS_BIN=$LOCALSA_BUILD/bin/lab_ports

# node_ports NODE: "CA:N state STATE lid L gid GID" per port, as a program on NODE sees them
node_ports() { on "$1" "$PORTS_BIN"; }
# port_field NODE CA:N FIELD(state|lid|gid)
port_field() { node_ports "$1" | awk -v p="$2" -v f="$3" '$1 == p { for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1) }'; }

# pstat NODE CA:N KEY[.KEY...]: a member of that port's object in the stats JSON's
# `ports` array ("absent" when the daemon has no such array or port)
pstat() {
	"$CLI" -s "$(sock "$1")" stats --json 2>/dev/null | python3 -c '
import json, sys
ca, port = sys.argv[1].rsplit(":", 1)
try:
    d = json.load(sys.stdin)
except ValueError:
    print("absent"); sys.exit()
for p in d.get("ports") or []:
    if p.get("ca") == ca and str(p.get("port")) == port:
        v = p
        for k in sys.argv[2].split("."):
            v = v.get(k, "absent") if isinstance(v, dict) else "absent"
        print(str(v).lower() if isinstance(v, bool) else v)
        break
else:
    print("absent")' "$2" "$3"
}

# need_ports NODE: the test cannot go on unless the daemon reports both ports
need_ports() {
	if [ "$(pstat "$1" ibsim0:2 gid)" = absent ]; then
		fail "localsad on $1 reports no port ibsim0:2 in stats --json .ports: the multi-port daemon (issue 16) is missing"
		finish
		exit 1
	fi
}

# cli_path NODE SGID DGID [ARGS...]: the daemon's saquery-format answer for the pair
cli_path() { "$CLI" -s "$(sock "$1")" path --sgid "$2" --dgid "$3" --format saquery "${@:4}"; }
# sa_path NODE PORTNUM SGID DGID: OpenSM's answer, asked from that port of NODE
sa_path() { "$LAB" exec --dir "$D" "$1" -- saquery -C ibsim0 -P "$2" -p --sgid-to-dgid "$3-$4" 2>/dev/null || true; }
