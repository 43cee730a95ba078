# Install rules: the static libraries, the public headers, the CMake package (weft::runtime,
# weft::sync, weft::io, weft::tls, weft::http, weft::pg, weft::mysql, weft::profile, weft::weft for
# find_package(weft)),
# weft.pc for pkg-config, and a Debian package (cpack -G DEB). Included from the top-level
# CMakeLists when WEFT_INSTALL.
include(CMakePackageConfigHelpers)

set(WEFT_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/weft")

install(TARGETS weft_runtime weft_sync weft_io weft_tls weft_http weft_pg weft_mysql weft
                weft_profile
        EXPORT weftTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
# The four include trees merge into one include/weft/.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/runtime/include/"
                  "${PROJECT_SOURCE_DIR}/sync/include/"
                  "${PROJECT_SOURCE_DIR}/io/include/"
                  "${PROJECT_SOURCE_DIR}/tools/profile/include/"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
# The exported targets carry what the static libraries need at the final link (Threads,
# TBB, liburing, OpenSSL for weft::tls, libpq for weft::pg, libmariadb for weft::mysql) and the
# public compile options
# (C++20, -foptimize-sibling-calls for GCC, WEFT_HOOKS when built with hooks);
# weftConfig.cmake finds the dependencies first.
install(EXPORT weftTargets
        NAMESPACE weft::
        FILE weftTargets.cmake
        DESTINATION "${WEFT_CMAKE_INSTALL_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/weftConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/weftConfig.cmake"
                              INSTALL_DESTINATION "${WEFT_CMAKE_INSTALL_DIR}")
# SameMajorVersion: find_package(weft 1.2) accepts any 1.x >= 1.2 and refuses 2.x, whose API
# may differ; AnyNewerVersion would accept 2.x and fail at compile time instead, with a worse
# message. (The static libraries are built for one architecture: the version file also
# refuses a 32-bit consumer.)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/weftConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/weftConfig.cmake"
              "${PROJECT_BINARY_DIR}/weftConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/weftCompilerWarning.cmake"
        DESTINATION "${WEFT_CMAKE_INSTALL_DIR}")

# weft.pc finds its prefix from its own location (${pcfiledir}), so it stays right for
# `cmake --install --prefix DIR`, for the staging directory of cpack and for a moved tree.
file(RELATIVE_PATH WEFT_PC_PREFIX_FROM_PCFILEDIR "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" WEFT_PC_PREFIX_FROM_PCFILEDIR "${WEFT_PC_PREFIX_FROM_PCFILEDIR}")
set(WEFT_PC_DEFINES "")
if(WEFT_HOOKS)
  set(WEFT_PC_DEFINES " -DWEFT_HOOKS")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/weft.pc.in" "${PROJECT_BINARY_DIR}/weft.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/weft.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# The Debian package: headers, static libraries, CMake package and weft.pc under /usr.
if(PROJECT_IS_TOP_LEVEL)
  set(WEFT_PACKAGE_CONTACT "weft maintainers <weft@localhost>"
      CACHE STRING "Maintainer named in the Debian package")
  set(CPACK_GENERATOR "DEB")
  set(CPACK_PACKAGE_NAME "libweft-dev")
  set(CPACK_PACKAGE_VENDOR "weft")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
      "C++20 async runtime with Python asyncio's programming model (development files)")
  set(CPACK_PACKAGE_DESCRIPTION
      "weft gives C++20 coroutines Python asyncio's programming model (tasks, gather, wait_for, cancellation, task groups, locks, queues, streams, files, processes) on a multi-threaded work-stealing scheduler. This package holds the headers, the static libraries, the CMake package (find_package(weft)) and weft.pc.")
  set(CPACK_PACKAGE_CONTACT "${WEFT_PACKAGE_CONTACT}")
  set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${WEFT_PACKAGE_CONTACT}")
  set(CPACK_DEBIAN_PACKAGE_SECTION "libdevel")
  # What a program linking the static libraries needs: oneTBB and liburing, and OpenSSL 3
  # for weft::tls, libpq for weft::pg, Connector/C for weft::mysql (headers, the libraries
  # to link, their CMake or pkg-config files).
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libtbb-dev, liburing-dev, libssl-dev (>= 3.0), libpq-dev, libmariadb-dev")
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake (>= 3.21), pkg-config")
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
  include(CPack)
endif()
