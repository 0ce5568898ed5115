# QoS-exact caching on the simulated fabric (issue 8): OpenSM with the QoS policy and partitions
# of tests/lab/qos/, daemons that prefetch some tuples, and every door compared with OpenSM.
# Included from tests/lab/CMakeLists.txt after lab_test() (the watchdog: 120 s of its own).
add_executable(lab_qos_acm_path ${CMAKE_CURRENT_SOURCE_DIR}/qos_acm_path.c)
target_link_libraries(lab_qos_acm_path PRIVATE lsa_wire)
localsa_target_flags(lab_qos_acm_path)

lab_test(qos_paths 120 qos_paths.sh)
