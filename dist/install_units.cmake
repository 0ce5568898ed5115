# Runs at install time (install(SCRIPT)): writes the units with the paths of the prefix actually
# installed to (`cmake --install --prefix P` may differ from the configured one), so
# ExecStart= and the config path are right wherever localsa lands. Expects LOCALSA_DIST_SRC,
# LOCALSA_SBINDIR, LOCALSA_SYSCONFDIR (relative or absolute), LOCALSA_SYSTEMD_UNIT_DIR.
foreach(dir SBINDIR SYSCONFDIR)
  set(d "${LOCALSA_${dir}}")
  if(NOT IS_ABSOLUTE "${d}")
    # GNUInstallDirs' rule: under /usr, etc lives in /etc.
    if(dir STREQUAL "SYSCONFDIR" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
      set(d "/${d}")
    else()
      set(d "${CMAKE_INSTALL_PREFIX}/${d}")
    endif()
  endif()
  set(CMAKE_INSTALL_FULL_${dir} "${d}")
endforeach()
set(unit_dir "${LOCALSA_SYSTEMD_UNIT_DIR}")
if(NOT IS_ABSOLUTE "${unit_dir}")
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/${unit_dir}")
endif()
configure_file("${LOCALSA_DIST_SRC}/localsad.service.in" "$ENV{DESTDIR}${unit_dir}/localsad.service" @ONLY)
message(STATUS "Installing: $ENV{DESTDIR}${unit_dir}/localsad.service")
