# The daemon's integration tests on the simulated fabric (issues 3 and 5).
# Each gets lab_test()'s watchdog (tests/lab/CMakeLists.txt): 240 s of its own.
function(localsa_lab_test name script)
  lab_test(${name} 240 ${script} ${ARGN})
endfunction()

localsa_lab_test(daemon_saquery_small daemon_saquery.sh default Hca1,Hca2,Hca3)
localsa_lab_test(daemon_saquery_fat64 daemon_saquery.sh "--fat-tree 64"
                 Hca1,Hca9,Hca20,Hca33,Hca50,Hca64)
localsa_lab_test(daemon_sa_down daemon_sa_down.sh)
localsa_lab_test(daemon_traps daemon_traps.sh)
localsa_lab_test(daemon_sm_move daemon_sm_move.sh)
localsa_lab_test(daemon_sa_door daemon_sa_door.sh)
localsa_lab_test(daemon_spoofed_trap daemon_spoofed_trap.sh)

add_executable(lab_sa_fuzz sa_fuzz.c)
target_link_libraries(lab_sa_fuzz PRIVATE lsa_fabric)
localsa_target_flags(lab_sa_fuzz)
localsa_lab_test(daemon_distribution daemon_distribution.sh)
