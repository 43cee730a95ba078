// The compilers weft supports, checked wherever a weft header is compiled.
//
// weft is built and tested with GCC 12 and later and clang 19 and later (tools/test). Older
// clang is refused: clang 14 has no std::source_location with libstdc++, and clang before 19
// may compute a thread-local variable's address (errno's too) once, before a loop that holds
// a co_await, and keep using it after the suspension, so a task that resumes on another
// worker reads and writes the old worker's variable. CMakeLists.txt and weftConfig.cmake
// refuse such a compiler at configure time; this check covers every other way in (pkg-config,
// a plain -I).
#pragma once

#if defined(__clang__) && __clang_major__ < 19
#error \
    "weft needs GCC 12 or later, or clang 19 or later: clang before 19 miscompiles thread-local variables in coroutines that move between threads (and clang 14 has no std::source_location)"
#endif
