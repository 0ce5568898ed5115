# The lab's NETLINK_RDMA transport (tools/shim/shim_netlink.c) and the kernel double
# (tools/nlkernel) without the daemon (issue 19): a test responder built on the wire codec.
add_executable(lab_nl_responder nl_responder.c)
target_link_libraries(lab_nl_responder PRIVATE lsa_wire)
localsa_target_flags(lab_nl_responder)

lab_test(netlink_transport 120 netlink.sh)
# The daemon's netlink door (src/doors/nl_door.c) asked by the double: the fat tree, the QoS lab.
lab_test(netlink_door 240 netlink_door.sh)
lab_test(netlink_qos 180 netlink_qos.sh)
