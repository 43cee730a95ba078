// Turning OpenSSL's error queue into weft::tls::Error (error.cpp).
#pragma once

#include <string>
#include <system_error>

namespace weft::tls::detail {

/// The error_code of OpenSSL's packed error `e`: the errno of a system error, else `e` in
/// ssl_category(); std::errc::io_error for 0 (an empty queue).
std::error_code error_code_of(unsigned long e) noexcept;

/// Throws tls::Error "`what`: reason" for the earliest error in this thread's OpenSSL error
/// queue (the cause; later entries are the calls it failed through), and clears the queue.
[[noreturn]] void throw_openssl_error(const std::string& what);

}  // namespace weft::tls::detail
