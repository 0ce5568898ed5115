# The daemon's integration tests on the simulated fabric (issues 3 and 5).
function(localsa_lab_test name script)
  add_test(NAME lab.${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${ARGN})
  set_tests_properties(lab.${name} PROPERTIES
    ENVIRONMENT "LOCALSA_SRC=${PROJECT_SOURCE_DIR};LOCALSA_BUILD=${CMAKE_BINARY_DIR}"
    LABELS lab TIMEOUT 300)
endfunction()

localsa_lab_test(daemon_saquery_small daemon_saquery.sh default Hca1,Hca2,Hca3)
localsa_lab_test(daemon_saquery_fat64 daemon_saquery.sh "--fat-tree 64"
                 Hca1,Hca9,Hca20,Hca33,Hca50,Hca64)
localsa_lab_test(daemon_sa_down daemon_sa_down.sh)
localsa_lab_test(daemon_traps daemon_traps.sh)
localsa_lab_test(daemon_sm_move daemon_sm_move.sh)
localsa_lab_test(daemon_sa_door daemon_sa_door.sh)

add_executable(lab_sa_fuzz sa_fuzz.c)
target_link_libraries(lab_sa_fuzz PRIVATE lsa_fabric)
localsa_target_flags(lab_sa_fuzz)
localsa_lab_test(daemon_distribution daemon_distribution.sh)
