# The ACM door's integration tests on the simulated fabric (issue 6), with the unmodified
# ib_acme of Debian's ibacm package and a stress client of our own (acm_stress.c), which builds
# its messages from <infiniband/acm.h> and needs no fabric: it only talks to the ACM socket.
add_executable(lsa_acm_stress ${CMAKE_CURRENT_SOURCE_DIR}/acm_stress.c)
localsa_target_flags(lsa_acm_stress)

# lab_test() (tests/lab/CMakeLists.txt) gives each its watchdog and teardown.
function(localsa_acm_test name script)
  lab_test(${name} 90 ${script} ${ARGN})
endfunction()

localsa_acm_test(acm_ib_acme acm_ib_acme.sh)
localsa_acm_test(acm_stress acm_stress.sh)
localsa_acm_test(acm_coexist acm_coexist.sh)

# Hostile load on every door at once, from an ordinary user (issue 13).
add_executable(lsa_hostile ${CMAKE_CURRENT_SOURCE_DIR}/hostile.c)
localsa_target_flags(lsa_hostile)
lab_test(hostile 120 hostile.sh)
# Latency under attack is measured alone, not beside another lab's simulator and daemons.
set_tests_properties(lab.hostile PROPERTIES RUN_SERIAL TRUE)
