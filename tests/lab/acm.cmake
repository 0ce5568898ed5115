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
