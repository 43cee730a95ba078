# cmake -P run_consumer.cmake: builds tests/consumer/main.cpp as a separate project would and
# runs it. MODE is one of
#   find_package      cmake --install the build tree into WORK_DIR/prefix, then a CMake
#                     project with find_package(weft) and CMAKE_PREFIX_PATH (which also
#                     builds and runs profile_main.cpp on weft::profile);
#   add_subdirectory  a CMake project with add_subdirectory(WEFT_SOURCE_DIR) and no options;
#   pkg_config        cmake --install, then one compiler command with
#                     $(pkg-config --cflags --libs weft) and PKG_CONFIG_PATH.
# Other variables: WEFT_SOURCE_DIR, WEFT_BUILD_DIR (the build tree to install), WORK_DIR
# (emptied first), CXX, CXX_ID and CXX_VERSION (the compiler, its CMake id and version),
# LAUNCHER (may be empty),
# BUILD_TYPE, GENERATOR, PKG_CONFIG, VERSION.
cmake_minimum_required(VERSION 3.21)

set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  run("cmake --install" "${CMAKE_COMMAND}" --install "${WEFT_BUILD_DIR}" --prefix "${prefix}")
  # Only what a user needs lands in the prefix: headers, static libraries, the packages.
  foreach(f include/weft/weft.hpp include/weft/runtime/task.hpp include/weft/sync/queue.hpp
            include/weft/io/net/tcp.hpp include/weft/profile/coroutine_target.hpp)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "the install has no ${f}")
    endif()
  endforeach()
  file(GLOB_RECURSE installed_bins LIST_DIRECTORIES false RELATIVE "${prefix}" "${prefix}/bin/*")
  if(installed_bins)
    message(FATAL_ERROR "the install holds programs: ${installed_bins}")
  endif()
endif()

set(exe "${build}/weft_consumer")
if(MODE STREQUAL "find_package" OR MODE STREQUAL "add_subdirectory")
  # add_subdirectory compiles weft's libraries once more (98 files), for nothing but to show
  # that they build and link inside another project: unoptimised and without debug
  # information, the quickest flags (it holds both CPUs meanwhile: PROCESSORS 2).
  set(build_type "${BUILD_TYPE}")
  set(type_flags "")
  if(MODE STREQUAL "add_subdirectory")
    set(build_type Debug)
    set(type_flags "-DCMAKE_CXX_FLAGS_DEBUG=-O0")
  endif()
  set(configure "${CMAKE_COMMAND}" -S "${consumer_dir}/${MODE}" -B "${build}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${build_type}" ${type_flags}
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  if(LAUNCHER)
    list(APPEND configure "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
  endif()
  if(MODE STREQUAL "find_package")
    # The package registry and a weft installed on the system must not stand in for the
    # prefix under test.
    list(APPEND configure "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  else()
    list(APPEND configure "-DWEFT_SOURCE_DIR=${WEFT_SOURCE_DIR}")
  endif()
  run("configuring the consumer" ${configure})
  # A consumer compiled by GCC before 13 is told about its coroutine bugs
  # (cmake/weftCompilerWarning.cmake); any other compiler is not.
  string(FIND "${last_output}" "destroys some temporaries" warned)
  if(CXX_ID STREQUAL "GNU" AND CXX_VERSION VERSION_LESS 13)
    if(warned EQUAL -1)
      message(FATAL_ERROR "configuring with GCC ${CXX_VERSION} printed no GCC 12 warning:\n"
                          "${last_output}")
    endif()
  elseif(NOT warned EQUAL -1)
    message(FATAL_ERROR "configuring with ${CXX_ID} ${CXX_VERSION} warned about GCC 12:\n"
                        "${last_output}")
  endif()
  run("building the consumer" "${CMAKE_COMMAND}" --build "${build}" -j 2)

  if(MODE STREQUAL "find_package")
    file(STRINGS "${build}/CMakeCache.txt" weft_dir REGEX "^weft_DIR:")
    if(NOT weft_dir MATCHES "=${prefix}/")
      message(FATAL_ERROR "find_package(weft) found '${weft_dir}', not the package in ${prefix}")
    endif()
  else()
    # weft is not top level here: only its libraries are built, so none of its tests,
    # benchmarks or examples (or GoogleTest, Google Benchmark, mimalloc) are needed.
    foreach(d tests bench examples)
      if(EXISTS "${build}/weft/${d}")
        message(FATAL_ERROR "add_subdirectory(weft) configured weft's ${d}/")
      endif()
    endforeach()
  endif()

  # The consumer's own compile command: weft's warning flags and -Werror stay off it; the
  # public options of the libraries reach it. (Ninja and Makefile generators write it.)
  if(NOT EXISTS "${build}/compile_commands.json")
    message(STATUS "no compile_commands.json from ${GENERATOR}: the flags are not checked")
    set(commands "[]")
  else()
    file(READ "${build}/compile_commands.json" commands)
  endif()
  string(JSON n LENGTH "${commands}")
  set(main_command "")
  if(n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(i RANGE ${last})
      string(JSON file GET "${commands}" ${i} file)
      if(file MATCHES "tests/consumer/main\\.cpp$")
        string(JSON main_command GET "${commands}" ${i} command)
      endif()
    endforeach()
  endif()
  if(NOT main_command AND NOT commands STREQUAL "[]")
    message(FATAL_ERROR "no compile command for main.cpp in ${build}/compile_commands.json")
  endif()
  foreach(flag -Wall -Wextra -Wpedantic -Werror -fsanitize)
    if(main_command MATCHES " ${flag}")
      message(FATAL_ERROR "the consumer's main.cpp is compiled with weft's ${flag}:\n${main_command}")
    endif()
  endforeach()
  if(CXX_ID STREQUAL "GNU" AND NOT main_command MATCHES "-foptimize-sibling-calls")
    message(FATAL_ERROR "the consumer's main.cpp misses weft's -foptimize-sibling-calls:\n${main_command}")
  endif()
elseif(MODE STREQUAL "pkg_config")
  file(GLOB_RECURSE pc_files "${prefix}/*/weft.pc")
  list(LENGTH pc_files n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected one weft.pc under ${prefix}, found: ${pc_files}")
  endif()
  get_filename_component(pc_dir "${pc_files}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  execute_process(COMMAND "${PKG_CONFIG}" --modversion weft OUTPUT_VARIABLE modversion
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  if(NOT modversion STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config --modversion weft: '${modversion}', expected '${VERSION}'")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs weft OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  message(STATUS "pkg-config --cflags --libs weft: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  file(MAKE_DIRECTORY "${build}")
  # The flags after the source, as in a Makefile's link line (static libraries need it).
  run("compiling with pkg-config's flags" ${LAUNCHER} "${CXX}" "${consumer_dir}/main.cpp"
      -o "${exe}" ${flags})
else()
  message(FATAL_ERROR "MODE must be find_package, add_subdirectory or pkg_config, not '${MODE}'")
endif()

execute_process(COMMAND "${exe}" "${WORK_DIR}/file.txt" RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
set(expected "gather: 9 16\nqueue: 6\ntcp: echo: hello\nfile: weft\ndone\n")
if(NOT rc EQUAL 0 OR NOT out STREQUAL expected)
  message(FATAL_ERROR "the consumer exited with ${rc}, printing\n${out}\nexpected\n"
                      "${expected}\nstderr:\n${err}")
endif()
if(MODE STREQUAL "find_package")
  execute_process(COMMAND "${build}/weft_profile_consumer" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  set(expected "profile: yield, 2 steps, requests made, 0 errors\n")
  if(NOT rc EQUAL 0 OR NOT out STREQUAL expected)
    message(FATAL_ERROR "the profiler's consumer exited with ${rc}, printing\n${out}\n"
                        "expected\n${expected}\nstderr:\n${err}")
  endif()
endif()
message(STATUS "${MODE}: the consumer built and printed the expected transcript")
