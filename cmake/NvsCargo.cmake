# Build the Rust library with cargo and define the imported targets nvs::nvs (shared) and
# nvs::nvs_static (static).
#
# Cargo runs on every build (target nvs_cargo) and decides by itself what is stale, so an
# edit to any src/**/*.rs, Cargo.toml, Cargo.lock or a build script rebuilds the library and
# relinks whatever uses it; when nothing changed cargo leaves the files untouched and nothing
# relinks. The build type picks the cargo profile: Debug -> dev (target/debug), anything
# else (including no build type) -> release.
#
# Cache variables:
#   NVS_CARGO               the cargo executable
#   NVS_CARGO_TARGET_DIR    cargo's target directory (default: <build dir>/cargo, so CMake
#                           never writes into the source tree and builds with different
#                           settings do not fight over one directory)
#   NVS_CARGO_FLAGS         extra arguments for `cargo build` (a list), e.g. --locked
#   NVS_RUST_TARGET         a Rust target triple to cross-compile for (e.g.
#                           aarch64-unknown-linux-gnu, with a matching CMAKE_C_COMPILER such as
#                           aarch64-linux-gnu-gcc, which cargo then uses as its linker); empty
#                           builds for the host
#   NVS_NATIVE_STATIC_LIBS  the system libraries a Rust staticlib needs, as rustc prints them
#                           with --print native-static-libs (detected at configure time), less
#                           the ones every C/C++ driver adds itself (see below)

get_filename_component(NVS_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

find_program(NVS_CARGO cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin"
  DOC "cargo, the Rust build tool")
if(NOT NVS_CARGO)
  message(FATAL_ERROR "cargo not found: install a Rust toolchain (rustup) or set NVS_CARGO")
endif()
find_program(NVS_RUSTC rustc HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin"
  DOC "rustc, used once at configure time to ask which system libraries a staticlib needs")

set(NVS_CARGO_TARGET_DIR "${CMAKE_CURRENT_BINARY_DIR}/cargo" CACHE PATH "cargo target directory")
set(NVS_CARGO_FLAGS "" CACHE STRING "Extra arguments for cargo (a ;-list)")
set(NVS_RUST_TARGET "" CACHE STRING "Rust target triple to cross-compile for (empty: the host)")
set(_target_args "")
set(_cargo_env "")
set(_artifact_root "${NVS_CARGO_TARGET_DIR}")
if(NVS_RUST_TARGET)
  set(_target_args --target "${NVS_RUST_TARGET}")
  set(_artifact_root "${NVS_CARGO_TARGET_DIR}/${NVS_RUST_TARGET}")
  # cargo links the shared library with this build's C compiler for that target.
  string(TOUPPER "${NVS_RUST_TARGET}" _triple_var)
  string(REPLACE "-" "_" _triple_var "${_triple_var}")
  set(_cargo_env "${CMAKE_COMMAND}" -E env "CARGO_TARGET_${_triple_var}_LINKER=${CMAKE_C_COMPILER}")
  unset(_triple_var)
endif()

# --- System libraries for the static library -------------------------------------------
# Ask rustc rather than guess: compile an empty staticlib (a fraction of a second, no
# dependencies) and read its "native-static-libs" note. Our crate's dependencies add no
# native libraries of their own, so the standard library's list is the whole list.
if(NOT DEFINED NVS_NATIVE_STATIC_LIBS)
  set(_probe_dir "${CMAKE_CURRENT_BINARY_DIR}/nvs-rustc-probe")
  file(MAKE_DIRECTORY "${_probe_dir}")
  file(WRITE "${_probe_dir}/probe.rs" "// empty: only std's native libraries are wanted\n")
  set(_probe_out "")
  if(NVS_RUSTC)
    # Run inside the source tree so a rust-toolchain file there picks the same toolchain.
    execute_process(
      COMMAND "${NVS_RUSTC}" --crate-type staticlib --crate-name nvs_probe ${_target_args}
              --print native-static-libs -o "${_probe_dir}/libnvs_probe.a" "${_probe_dir}/probe.rs"
      WORKING_DIRECTORY "${NVS_SOURCE_DIR}"
      RESULT_VARIABLE _probe_rc OUTPUT_VARIABLE _probe_stdout ERROR_VARIABLE _probe_out)
  endif()
  if(_probe_out MATCHES "native-static-libs: ([^\n]*)")
    string(STRIP "${CMAKE_MATCH_1}" _libs)
    message(STATUS "nvs: rustc says a staticlib needs: ${_libs}")
  elseif(APPLE)
    set(_libs "-lSystem -lc -lm")
    message(STATUS "nvs: rustc probe failed, assuming: ${_libs}")
  else()
    set(_libs "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc")
    message(STATUS "nvs: rustc probe failed, assuming: ${_libs}")
  endif()
  # gcc and clang link libgcc (libgcc_s when dynamic, libgcc_eh with -static) and libc by
  # themselves. Naming -lgcc_s explicitly breaks `-static` ("cannot find -lgcc_s"), and -lc is
  # always there, so both are dropped from what consumers are told to link.
  separate_arguments(_libs_list UNIX_COMMAND "${_libs}")
  list(REMOVE_ITEM _libs_list -lgcc_s -lc)
  list(REMOVE_DUPLICATES _libs_list)
  string(REPLACE ";" " " _libs "${_libs_list}")
  unset(_libs_list)
  set(NVS_NATIVE_STATIC_LIBS "${_libs}" CACHE STRING
    "System libraries for libnvs.a (rustc --print native-static-libs, less -lgcc_s and -lc)")
  unset(_libs)
endif()

# Turn rustc's linker arguments into CMake link items: -lpthread becomes Threads::Threads
# (the portable spelling), -lfoo becomes foo, "-framework X" stays a pair, MSVC's foo.lib stays.
separate_arguments(_native UNIX_COMMAND "${NVS_NATIVE_STATIC_LIBS}")
set(NVS_STATIC_LINK_ITEMS "")   # for the imported target in this build and the installed one
set(NVS_NEEDS_THREADS OFF)
set(_framework OFF)
foreach(_arg IN LISTS _native)
  if(_framework)
    list(APPEND NVS_STATIC_LINK_ITEMS "-framework ${_arg}")
    set(_framework OFF)
  elseif(_arg STREQUAL "-framework")
    set(_framework ON)
  elseif(_arg STREQUAL "-lpthread" OR _arg STREQUAL "-pthread")
    if(NOT NVS_NEEDS_THREADS)
      list(APPEND NVS_STATIC_LINK_ITEMS Threads::Threads)
      set(NVS_NEEDS_THREADS ON)
    endif()
  elseif(_arg MATCHES "^-l(.+)$")
    list(APPEND NVS_STATIC_LINK_ITEMS "${CMAKE_MATCH_1}")
  elseif(NOT _arg STREQUAL "")
    list(APPEND NVS_STATIC_LINK_ITEMS "${_arg}")
  endif()
endforeach()
unset(_native)
unset(_framework)
if(NVS_NEEDS_THREADS)
  find_package(Threads REQUIRED)
endif()

# --- File names cargo produces ------------------------------------------------------------
if(WIN32)
  set(NVS_SHARED_NAME "nvs.dll")
  set(NVS_IMPLIB_NAME "nvs.dll.lib")
  set(NVS_STATIC_NAME "nvs.lib")
elseif(APPLE)
  set(NVS_SHARED_NAME "libnvs.dylib")
  set(NVS_STATIC_NAME "libnvs.a")
else()
  set(NVS_SHARED_NAME "libnvs.so")
  set(NVS_STATIC_NAME "libnvs.a")
endif()

# The library's SONAME / install name is set by build.rs, so plain `cargo build` suffices; it
# is versioned (0.x: major.minor, from 1.0: major), and computed the same way here so that the
# build tree and the install provide a file by that name.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(NVS_ABI_VERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
else()
  set(NVS_ABI_VERSION "${PROJECT_VERSION_MAJOR}")
endif()
if(APPLE)
  set(NVS_SONAME "libnvs.${NVS_ABI_VERSION}.dylib")
  set(NVS_REAL_NAME "libnvs.${PROJECT_VERSION}.dylib")
elseif(NOT WIN32)
  set(NVS_SONAME "libnvs.so.${NVS_ABI_VERSION}")
  set(NVS_REAL_NAME "libnvs.so.${PROJECT_VERSION}")
endif()

set(_release_dir "${_artifact_root}/release")
set(_debug_dir "${_artifact_root}/debug")
set(_profile_dir "${_artifact_root}/$<IF:$<CONFIG:Debug>,debug,release>")

set(_byproducts "${_profile_dir}/${NVS_SHARED_NAME}" "${_profile_dir}/${NVS_STATIC_NAME}")
if(WIN32)
  list(APPEND _byproducts "${_profile_dir}/${NVS_IMPLIB_NAME}")
endif()

# Programs linked in the build tree record the SONAME: give them a file by that name.
set(_soname_link "")
if(NVS_SONAME)
  set(_soname_link COMMAND "${CMAKE_COMMAND}" -E create_symlink
                           "${NVS_SHARED_NAME}" "${_profile_dir}/${NVS_SONAME}")
  list(APPEND _byproducts "${_profile_dir}/${NVS_SONAME}")
endif()

add_custom_target(nvs_cargo ALL
  COMMAND ${_cargo_env} "${NVS_CARGO}" build --lib ${_target_args}
          --manifest-path "${NVS_SOURCE_DIR}/Cargo.toml"
          --target-dir "${NVS_CARGO_TARGET_DIR}"
          "$<IF:$<CONFIG:Debug>,--profile=dev,--release>"
          ${NVS_CARGO_FLAGS}
  BYPRODUCTS ${_byproducts}
  ${_soname_link}
  WORKING_DIRECTORY "${NVS_SOURCE_DIR}"
  COMMENT "cargo: building the nvs library"
  USES_TERMINAL
  VERBATIM
  COMMAND_EXPAND_LISTS)

set(_includes "${NVS_SOURCE_DIR}/include" "${NVS_SOURCE_DIR}/bindings/cpp/include")

add_library(nvs::nvs SHARED IMPORTED GLOBAL)
set_target_properties(nvs::nvs PROPERTIES
  IMPORTED_LOCATION "${_release_dir}/${NVS_SHARED_NAME}"
  IMPORTED_LOCATION_DEBUG "${_debug_dir}/${NVS_SHARED_NAME}"
  INTERFACE_INCLUDE_DIRECTORIES "${_includes}")
if(WIN32)
  set_target_properties(nvs::nvs PROPERTIES
    IMPORTED_IMPLIB "${_release_dir}/${NVS_IMPLIB_NAME}"
    IMPORTED_IMPLIB_DEBUG "${_debug_dir}/${NVS_IMPLIB_NAME}")
elseif(NOT APPLE)
  set_target_properties(nvs::nvs PROPERTIES IMPORTED_SONAME "${NVS_SONAME}")
endif()

add_library(nvs::nvs_static STATIC IMPORTED GLOBAL)
set_target_properties(nvs::nvs_static PROPERTIES
  IMPORTED_LOCATION "${_release_dir}/${NVS_STATIC_NAME}"
  IMPORTED_LOCATION_DEBUG "${_debug_dir}/${NVS_STATIC_NAME}"
  IMPORTED_LINK_INTERFACE_LANGUAGES "C"
  INTERFACE_INCLUDE_DIRECTORIES "${_includes}"
  INTERFACE_LINK_LIBRARIES "${NVS_STATIC_LINK_ITEMS}")

# Imported targets do not build; their users wait for cargo through this dependency.
add_dependencies(nvs::nvs nvs_cargo)
add_dependencies(nvs::nvs_static nvs_cargo)

unset(_release_dir)
unset(_debug_dir)
unset(_profile_dir)
unset(_byproducts)
unset(_includes)
unset(_soname_link)
unset(_target_args)
unset(_cargo_env)
unset(_artifact_root)
