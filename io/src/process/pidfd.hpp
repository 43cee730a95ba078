// <sys/pidfd.h> (pidfd_open, pidfd_send_signal) with C linkage: glibc 2.36's header declares
// them without extern "C", so C++ would look for mangled names.
#pragma once

extern "C" {
#include <sys/pidfd.h>
}
