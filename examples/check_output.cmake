# Runs an example and checks its output:
#   cmake -DEXE=<program> -DEXPECTED=<file> [-DSORTED=ON] [-DLAUNCHER=<program>]
#         -P check_output.cmake
# With LAUNCHER, the command is "LAUNCHER EXE" (pg_run_with_server runs EXE against a
# database server of its own).
# Fails if the program exits non-zero, or if its stdout differs from EXPECTED. With
# SORTED=ON both are compared as sorted lists of lines, for runs whose line order is not
# deterministic (several workers). The environment (WEFT_CLOCK, WEFT_WORKERS) is inherited.
cmake_minimum_required(VERSION 3.25)

foreach(var EXE EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${LAUNCHER} "${EXE}"
                OUTPUT_VARIABLE actual
                ERROR_VARIABLE errors
                RESULT_VARIABLE rc
                TIMEOUT 50)
file(READ "${EXPECTED}" expected)

# Sorts the lines of the text in `var` in place. Semicolons are masked first, because a
# CMake list is a string with ';' between its items.
function(sort_lines var)
  string(REPLACE ";" "<semicolon>" text "${${var}}")
  string(REGEX REPLACE "\n$" "" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  list(SORT lines)
  string(REPLACE ";" "\n" text "${lines}")
  string(REPLACE "<semicolon>" ";" text "${text}\n")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# The listings go out verbatim (NOTICE); FATAL_ERROR would re-wrap them.
if(NOT rc STREQUAL "0")
  message(NOTICE "--- stdout:\n${actual}--- stderr:\n${errors}")
  message(FATAL_ERROR "${EXE} failed (exit status: ${rc})")
endif()

set(how "exactly")
set(compared_actual "${actual}")
set(compared_expected "${expected}")
if(SORTED)
  sort_lines(compared_actual)
  sort_lines(compared_expected)
  set(how "as sorted lines")
endif()
if(NOT compared_actual STREQUAL compared_expected)
  message(NOTICE "--- expected:\n${expected}--- actual:\n${actual}--- stderr:\n${errors}")
  message(FATAL_ERROR "${EXE}: stdout differs from ${EXPECTED} (compared ${how})")
endif()
message(STATUS "${EXE}: output matches ${EXPECTED} (${how})")
