// The Date header's value (date.hpp): a per-thread cache, refreshed when the second changes.
#include "date.hpp"

#include <time.h>

namespace weft::http::detail {

void format_http_date(std::time_t t, char (&out)[29]) noexcept {
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const char* day = kDays + 3 * tm.tm_wday;
  const char* month = kMonths + 3 * tm.tm_mon;
  const int year = tm.tm_year + 1900;
  char* p = out;
  *p++ = day[0];
  *p++ = day[1];
  *p++ = day[2];
  *p++ = ',';
  *p++ = ' ';
  two(p, tm.tm_mday);
  p += 2;
  *p++ = ' ';
  *p++ = month[0];
  *p++ = month[1];
  *p++ = month[2];
  *p++ = ' ';
  two(p, year / 100);
  two(p + 2, year % 100);
  p += 4;
  *p++ = ' ';
  two(p, tm.tm_hour);
  p += 2;
  *p++ = ':';
  two(p, tm.tm_min);
  p += 2;
  *p++ = ':';
  two(p, tm.tm_sec);
  p += 2;
  *p++ = ' ';
  *p++ = 'G';
  *p++ = 'M';
  *p = 'T';
}

std::string_view http_date_now() noexcept {
  struct Cache {
    std::time_t second = -1;
    char text[29];
  };
  thread_local Cache cache;
  const std::time_t t = ::time(nullptr);
  if (t != cache.second) {
    format_http_date(t, cache.text);
    cache.second = t;
  }
  return {cache.text, sizeof cache.text};
}

}  // namespace weft::http::detail
