# Install rules: headers, both libraries, a CMake package (find_package(nvs)) and nvs.pc.
#
#   PREFIX/include/nvs.h, PREFIX/include/nvs/nvs.hpp
#   PREFIX/<libdir>/libnvs.so.X.Y.Z with the links libnvs.so.X.Y (the SONAME) and libnvs.so
#   (.dylib names the same way on Apple), PREFIX/<libdir>/libnvs.a
#   PREFIX/<libdir>/cmake/nvs/{nvsConfig,nvsConfigVersion,nvsTargets}.cmake
#   PREFIX/<libdir>/pkgconfig/nvs.pc
#
# The libraries are built by cargo, not by CMake, so install(EXPORT) cannot describe them;
# nvsTargets.cmake is written here instead and defines the same two imported targets as the
# build tree, with every path relative to its own location (the prefix is relocatable).

include(CMakePackageConfigHelpers)

# The package locates everything relative to its own folder, so the install directories must
# be relative to the prefix (some distribution helpers pass absolute ones).
foreach(_dir CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
  if(IS_ABSOLUTE "${${_dir}}")
    message(FATAL_ERROR "nvs: ${_dir}=${${_dir}} must be relative to CMAKE_INSTALL_PREFIX "
                        "(the installed package is relocatable)")
  endif()
endforeach()

set(NVS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/nvs" CACHE STRING
  "Where nvsConfig.cmake is installed, relative to the prefix")
mark_as_advanced(NVS_INSTALL_CMAKEDIR)

install(FILES "${NVS_SOURCE_DIR}/include/nvs.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT nvs_development)
install(FILES "${NVS_SOURCE_DIR}/bindings/cpp/include/nvs/nvs.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/nvs" COMPONENT nvs_development)

if(WIN32)
  install(FILES "$<TARGET_FILE:nvs::nvs>" DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT nvs_runtime)
  install(FILES "$<TARGET_LINKER_FILE:nvs::nvs>" DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT nvs_development)
  set(NVS_INSTALLED_SHARED "${CMAKE_INSTALL_BINDIR}/${NVS_SHARED_NAME}")
  set(NVS_INSTALLED_IMPLIB "${CMAKE_INSTALL_LIBDIR}/${NVS_IMPLIB_NAME}")
else()
  # The usual versioned layout: the file under its full version, the SONAME (what programs
  # record) pointing at it, and the development name (what -lnvs finds) pointing at the SONAME.
  install(PROGRAMS "$<TARGET_FILE:nvs::nvs>" DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RENAME "${NVS_REAL_NAME}" COMPONENT nvs_runtime)
  set(_links "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/links")
  file(MAKE_DIRECTORY "${_links}")
  file(CREATE_LINK "${NVS_REAL_NAME}" "${_links}/${NVS_SONAME}" SYMBOLIC)
  file(CREATE_LINK "${NVS_SONAME}" "${_links}/${NVS_SHARED_NAME}" SYMBOLIC)
  install(FILES "${_links}/${NVS_SONAME}" DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT nvs_runtime)
  install(FILES "${_links}/${NVS_SHARED_NAME}" DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT nvs_development)
  unset(_links)
  set(NVS_INSTALLED_SHARED "${CMAKE_INSTALL_LIBDIR}/${NVS_REAL_NAME}")
  set(NVS_INSTALLED_IMPLIB "")
endif()
install(FILES "$<TARGET_FILE:nvs::nvs_static>" DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT nvs_development)
set(NVS_INSTALLED_STATIC "${CMAKE_INSTALL_LIBDIR}/${NVS_STATIC_NAME}")

# From PREFIX/<cmakedir> back up to PREFIX, e.g. "../../.." for lib/cmake/nvs.
file(RELATIVE_PATH NVS_CMAKEDIR_TO_PREFIX
  "/prefix/${NVS_INSTALL_CMAKEDIR}" "/prefix")
# From PREFIX/<libdir>/pkgconfig back up to PREFIX, for pkg-config's ${pcfiledir}.
file(RELATIVE_PATH NVS_PCDIR_TO_PREFIX
  "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" NVS_CMAKEDIR_TO_PREFIX "${NVS_CMAKEDIR_TO_PREFIX}")
string(REGEX REPLACE "/$" "" NVS_PCDIR_TO_PREFIX "${NVS_PCDIR_TO_PREFIX}")

# The link items as the installed nvsTargets.cmake spells them (a CMake list in a string).
set(NVS_INSTALLED_STATIC_LINK_ITEMS "${NVS_STATIC_LINK_ITEMS}")
if(APPLE OR WIN32)
  set(NVS_INSTALLED_SONAME "")
else()
  set(NVS_INSTALLED_SONAME "${NVS_SONAME}")
endif()

configure_file("${CMAKE_CURRENT_LIST_DIR}/nvsTargets.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsTargets.cmake" @ONLY)
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/nvsConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsConfig.cmake"
  INSTALL_DESTINATION "${NVS_INSTALL_CMAKEDIR}")
# 0.x releases may break the ABI in a minor release; from 1.0 on, the major version decides.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_nvs_compat SameMinorVersion)
else()
  set(_nvs_compat SameMajorVersion)
endif()
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY ${_nvs_compat})
unset(_nvs_compat)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsConfigVersion.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvsTargets.cmake"
  DESTINATION "${NVS_INSTALL_CMAKEDIR}" COMPONENT nvs_development)

# pkg-config: Libs links the shared library; Libs.private lists what `--static` adds.
set(NVS_PC_LIBS_PRIVATE "${NVS_NATIVE_STATIC_LIBS}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/nvs.pc.in"
  "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvs.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/nvs-package/nvs.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT nvs_development)
