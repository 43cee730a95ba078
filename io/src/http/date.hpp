// The Date header's value (RFC 9110 §5.6.7, IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted at most once a second on each thread: a server sends it with every response,
// and formatting a date is many times the cost of reading the clock.
#pragma once

#include <ctime>
#include <string_view>

namespace weft::http::detail {

/// `t` as an IMF-fixdate, into `out` (29 characters, no terminator).
void format_http_date(std::time_t t, char (&out)[29]) noexcept;

/// The current time as an IMF-fixdate; the view is valid on this thread until the next call.
std::string_view http_date_now() noexcept;

}  // namespace weft::http::detail
