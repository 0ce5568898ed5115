# liblocalsa on the simulated fabric (issue 7). tests/lab/CMakeLists.txt: include(lib.cmake)
add_executable(lab_lib_resolve lib_resolve.c)
target_link_libraries(lab_lib_resolve PRIVATE liblocalsa lsa_wire)
localsa_target_flags(lab_lib_resolve)

lab_test(lib_saquery 240 lib_saquery.sh)
