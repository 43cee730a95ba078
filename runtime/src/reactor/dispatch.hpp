// How a worker hands the reactor the events its epoll_wait returned
// (reactor/io_registration.cpp).
#pragma once

#include <cstdint>

namespace weft::detail {

/// Delivers one epoll event whose data is not the worker's eventfd's (0): the data names a
/// registration's slot and generation, and an event for a registration destroyed meanwhile
/// is dropped. Resumes the tasks that wait for the readiness it reports. Any worker thread.
void dispatch_io_event(std::uint64_t data, std::uint32_t events) noexcept;

}  // namespace weft::detail
