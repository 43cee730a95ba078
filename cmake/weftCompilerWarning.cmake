# Warns, at configure time, a project compiled by GCC before 13: its coroutine code
# generation destroys some temporaries of a co_await expression twice (a double free or a
# lock released twice at run time, with no diagnostic at compile time). README.md and
# docs/guide.md ("GCC 12") list the forms and their rewrite; clang 19 has none of them.
# Included by weft's CMakeLists.txt (add_subdirectory, FetchContent) and by weftConfig.cmake
# (find_package). Set WEFT_ACKNOWLEDGE_GCC12_COROUTINES to ON to silence it.
include_guard(GLOBAL)

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13
   AND NOT WEFT_ACKNOWLEDGE_GCC12_COROUTINES)
  set(_weft_gcc_text
      "weft: GCC ${CMAKE_CXX_COMPILER_VERSION} (GCC before 13) destroys some temporaries "
      "inside a co_await expression twice: a braced aggregate or a lambda capturing by value "
      "(co_await q.put(Doc{i, std::move(text)})), a class-type result of ?: "
      "(co_await s.write(ok ? std::string(\"a\") : x)), and co_await inside ?: or inside a "
      "braced initializer. Name such a value in its own statement first (weft README, "
      "section GCC 12). clang 19 (Debian clang-19: -DCMAKE_CXX_COMPILER=clang++-19) compiles them "
      "correctly. -DWEFT_ACKNOWLEDGE_GCC12_COROUTINES=ON silences this.")
  string(CONCAT _weft_gcc_text ${_weft_gcc_text})
  if(DEFINED PROJECT_IS_TOP_LEVEL AND PROJECT_IS_TOP_LEVEL AND PROJECT_NAME STREQUAL "weft")
    # weft's own build: its code avoids the forms (tests/runtime/coroutine_temporaries_test).
    message(STATUS "${_weft_gcc_text}")
  else()
    message(WARNING "${_weft_gcc_text}")
  endif()
  unset(_weft_gcc_text)
endif()
