# QoS-exact caching on the simulated fabric (issue 8): OpenSM with the QoS policy and partitions
# of tests/lab/qos/, daemons that prefetch some tuples, and every door compared with OpenSM.
add_executable(lab_qos_acm_path ${CMAKE_CURRENT_SOURCE_DIR}/qos_acm_path.c)
target_link_libraries(lab_qos_acm_path PRIVATE lsa_wire)
localsa_target_flags(lab_qos_acm_path)

function(localsa_qos_test name seconds script)
  add_test(NAME lab.${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${ARGN})
  math(EXPR hard "${seconds} + 30")
  set_tests_properties(lab.${name} PROPERTIES
    ENVIRONMENT "LOCALSA_SRC=${PROJECT_SOURCE_DIR};LOCALSA_BUILD=${CMAKE_BINARY_DIR}"
    LABELS lab TIMEOUT ${hard})
endfunction()

localsa_qos_test(qos_paths 120 qos_paths.sh)
