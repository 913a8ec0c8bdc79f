# The install round trip, run by the CTest test cpp_consumer (cmake -P this file):
#   1. cmake --install the build tree into a fresh prefix
#   2. configure bindings/cpp/tests/consumer against that prefix only (find_package(nvs), pkg-config)
#   3. build it and run its tests (shared, static and pkg-config programs)
#
# Inputs (-D): NVS_BUILD_DIR, NVS_CONSUMER_SOURCE, NVS_WORK_DIR, NVS_CONFIG, NVS_GENERATOR,
# NVS_C_COMPILER, NVS_CXX_COMPILER, NVS_PKG_CONFIG (may be empty), NVS_EXPECT_VERSION.
cmake_minimum_required(VERSION 3.20)

set(prefix "${NVS_WORK_DIR}/prefix")
set(build "${NVS_WORK_DIR}/build")
file(REMOVE_RECURSE "${prefix}" "${build}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

set(config_args "")
if(NVS_CONFIG)
  set(config_args --config "${NVS_CONFIG}")
endif()

run("${CMAKE_COMMAND}" --install "${NVS_BUILD_DIR}" --prefix "${prefix}" ${config_args})

set(configure_args
  -S "${NVS_CONSUMER_SOURCE}" -B "${build}" -G "${NVS_GENERATOR}"
  "-DCMAKE_C_COMPILER=${NVS_C_COMPILER}"
  "-DCMAKE_CXX_COMPILER=${NVS_CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  # Only the fresh prefix may satisfy find_package(nvs): no package registries.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
  "-DNVS_EXPECT_PREFIX=${prefix}"
  "-DNVS_EXPECT_VERSION=${NVS_EXPECT_VERSION}")
if(NVS_CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${NVS_CONFIG}")
endif()
# Fully static programs need a static libc: glibc hosts have one (Apple has none).
if(CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND configure_args -DNVS_CONSUMER_FULLY_STATIC=ON)
endif()
if(NVS_PKG_CONFIG)
  list(APPEND configure_args "-DPKG_CONFIG_EXECUTABLE=${NVS_PKG_CONFIG}" -DNVS_CONSUMER_PKG_CONFIG=ON)
  # pkg-config must find our nvs.pc, and only ours.
  file(GLOB pc_dirs "${prefix}/*/pkgconfig" "${prefix}/*/*/pkgconfig")
  string(REPLACE ";" ":" pc_path "${pc_dirs}")
  set(ENV{PKG_CONFIG_PATH} "${pc_path}")
  set(ENV{PKG_CONFIG_LIBDIR} "${pc_path}")
endif()

run("${CMAKE_COMMAND}" ${configure_args})
run("${CMAKE_COMMAND}" --build "${build}" ${config_args})
set(ctest_args "")
if(NVS_CONFIG)
  set(ctest_args -C "${NVS_CONFIG}")
endif()
run("${CMAKE_CTEST_COMMAND}" --test-dir "${build}" --output-on-failure ${ctest_args})
