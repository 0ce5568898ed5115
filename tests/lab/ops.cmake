# Operating localsad (issue 17): start-up without --foreground, status, Prometheus text, reload,
# an ordinary user's reads and refused writes, dump in the SA's order, a peer that is not
# localsad, rate-limited warnings during an SA outage.
lab_test(ops 180 ops.sh)
