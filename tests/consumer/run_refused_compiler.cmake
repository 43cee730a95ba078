# cmake -P run_refused_compiler.cmake: a clang older than 19 (OLD_CXX) must be refused with a
# message naming the compilers that work, wherever it meets weft. MODE is one of
#   configure     weft's own configure (top level, as `cmake -S weft` would);
#   find_package  cmake --install the build tree into WORK_DIR/prefix, then a project with
#                 find_package(weft) (tests/consumer/find_package);
#   header        one compile of tests/consumer/main.cpp with weft's include directories,
#                 as a pkg-config user would.
# Other variables: WEFT_SOURCE_DIR, WEFT_BUILD_DIR (the build tree to install), WORK_DIR
# (emptied first), GENERATOR.
cmake_minimum_required(VERSION 3.21)

set(expected "weft needs GCC 12 or later, or clang 19 or later")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(MODE STREQUAL "configure")
  set(command "${CMAKE_COMMAND}" -S "${WEFT_SOURCE_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${OLD_CXX}")
elseif(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${WEFT_BUILD_DIR}" --prefix "${prefix}"
                  OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
  set(command "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/find_package"
      -B "${WORK_DIR}/build" -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${OLD_CXX}"
      "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "header")
  set(command "${OLD_CXX}" -std=c++20 -fsyntax-only "-I${WEFT_SOURCE_DIR}/runtime/include"
      "-I${WEFT_SOURCE_DIR}/sync/include" "-I${WEFT_SOURCE_DIR}/io/include"
      "${CMAKE_CURRENT_LIST_DIR}/main.cpp")
else()
  message(FATAL_ERROR "MODE must be configure, find_package or header, not '${MODE}'")
endif()

execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
# CMake wraps its messages: compare with the line breaks and indents folded to spaces.
string(REGEX REPLACE "[ \n]+" " " folded "${out}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${OLD_CXX} was not refused (${MODE}):\n${out}")
endif()
string(FIND "${folded}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${OLD_CXX} failed (${MODE}) without saying '${expected}':\n${out}")
endif()
message(STATUS "${MODE}: ${OLD_CXX} refused with the message")
