# liblocalsa on the simulated fabric (issue 7). tests/lab/CMakeLists.txt: include(lib.cmake)
add_executable(lab_lib_resolve lib_resolve.c)
target_link_libraries(lab_lib_resolve PRIVATE liblocalsa lsa_wire)
localsa_target_flags(lab_lib_resolve)

add_test(NAME lab.lib_saquery COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lib_saquery.sh)
set_tests_properties(lab.lib_saquery PROPERTIES
  ENVIRONMENT "LOCALSA_SRC=${PROJECT_SOURCE_DIR};LOCALSA_BUILD=${CMAKE_BINARY_DIR}"
  LABELS lab TIMEOUT 300)
