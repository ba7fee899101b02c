# Install rules for Oscar-C, included by the top-level CMakeLists.txt once
# the library targets exist.
#
# `cmake --install <build> [--prefix <dir>]` installs:
#   <libdir>/liboscar.so*, <libdir>/liboscar.a   targets oscar, oscar_static
#   <includedir>/oscar/*.h                        the public headers, only
#   <libdir>/pkgconfig/oscar.pc                   for `pkg-config oscar`
#   <libdir>/cmake/oscar/                         for `find_package(oscar)`,
#                                                 giving oscar::oscar and
#                                                 oscar::oscar_static
#
# The CMake package finds its prefix from its own location, so an installed
# tree can be moved. oscar.pc is written at install time with the prefix
# actually installed to, so `cmake --install --prefix` gives a correct file;
# with DESTDIR it names the final prefix, as packaging expects.

include(CMakePackageConfigHelpers)

# OSCAR_INSTALL defaults to on only when Oscar-C is the top-level project,
# so that a parent project using add_subdirectory() does not install it.
if(CMAKE_SOURCE_DIR STREQUAL PROJECT_SOURCE_DIR)
  set(_oscar_install_default ON)
else()
  set(_oscar_install_default OFF)
endif()
option(OSCAR_INSTALL "Generate the install rules" ${_oscar_install_default})
unset(_oscar_install_default)
if(NOT OSCAR_INSTALL)
  return()
endif()

set(OSCAR_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/oscar)
set(OSCAR_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The libraries. Their include directories carry an INSTALL_INTERFACE of
# ${CMAKE_INSTALL_INCLUDEDIR}, so the exported targets find the headers.
install(TARGETS oscar oscar_static
  EXPORT oscar-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The public headers: include/oscar/*.h and nothing else. Cross-module and
# private headers live next to the sources and are never installed.
file(GLOB OSCAR_PUBLIC_HEADERS CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/include/oscar/*.h)
install(FILES ${OSCAR_PUBLIC_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/oscar)

# The CMake package. oscar-config.cmake finds the dependencies that the
# exported targets name (Threads, nng, and libuv and mpack through
# pkg-config), then loads oscar-targets.cmake.
install(EXPORT oscar-targets
  NAMESPACE oscar::
  FILE oscar-targets.cmake
  DESTINATION ${OSCAR_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/oscar-config.cmake.in
  ${PROJECT_BINARY_DIR}/oscar-config.cmake
  INSTALL_DESTINATION ${OSCAR_INSTALL_CMAKEDIR})
# Before 1.0 a minor release may break the API, hence SameMinorVersion.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/oscar-config-version.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/oscar-config.cmake
  ${PROJECT_BINARY_DIR}/oscar-config-version.cmake
  DESTINATION ${OSCAR_INSTALL_CMAKEDIR})

# The pkg-config file. Its prefix is only known at install time (`cmake
# --install --prefix` overrides CMAKE_INSTALL_PREFIX then), so the template
# is filled in by an install step that runs before the file is copied.
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(_oscar_pc_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(_oscar_pc_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
install(CODE "
  set(OSCAR_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(OSCAR_PC_LIBDIR [[${_oscar_pc_LIBDIR}]])
  set(OSCAR_PC_INCLUDEDIR [[${_oscar_pc_INCLUDEDIR}]])
  set(OSCAR_PC_VERSION [[${PROJECT_VERSION}]])
  configure_file([[${CMAKE_CURRENT_LIST_DIR}/oscar.pc.in]]
                 [[${PROJECT_BINARY_DIR}/oscar.pc]] @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/oscar.pc
  DESTINATION ${OSCAR_INSTALL_PKGCONFIGDIR})
unset(_oscar_pc_LIBDIR)
unset(_oscar_pc_INCLUDEDIR)
