# Multi-port daemons (issue 16), on tests/lab/topologies/dual2sw.net: one
# localsad per node serving both ports of a dual-port HCA.
lab_test(multiport_serve 90 multiport_serve.sh)
lab_test(multiport_acm 60 multiport_acm.sh)
lab_test(multiport_linkstate 60 multiport_linkstate.sh)
lab_test(multiport_badport 60 multiport_badport.sh)
lab_test(multiport_distribution 90 multiport_distribution.sh)
