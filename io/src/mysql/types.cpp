#include "weft/io/mysql/types.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace weft::mysql {

Date Date::from(std::chrono::year_month_day d) noexcept {
  return Date{.year = static_cast<int>(d.year()),
              .month = static_cast<unsigned>(d.month()),
              .day = static_cast<unsigned>(d.day())};
}

std::chrono::year_month_day Date::to_ymd() const noexcept {
  return std::chrono::year_month_day{std::chrono::year{year}, std::chrono::month{month},
                                     std::chrono::day{day}};
}

DateTime DateTime::from(std::chrono::sys_time<std::chrono::microseconds> t) noexcept {
  using namespace std::chrono;
  const sys_days days = floor<std::chrono::days>(t);
  const year_month_day ymd{days};
  const hh_mm_ss<microseconds> hms{t - days};
  return DateTime{.year = static_cast<int>(ymd.year()),
                  .month = static_cast<unsigned>(ymd.month()),
                  .day = static_cast<unsigned>(ymd.day()),
                  .hour = static_cast<unsigned>(hms.hours().count()),
                  .minute = static_cast<unsigned>(hms.minutes().count()),
                  .second = static_cast<unsigned>(hms.seconds().count()),
                  .microsecond = static_cast<unsigned>(hms.subseconds().count())};
}

std::chrono::sys_time<std::chrono::microseconds> DateTime::to_sys() const noexcept {
  using namespace std::chrono;
  const sys_days d{
      year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}}};
  return d + hours{hour} + minutes{minute} + seconds{second} + microseconds{microsecond};
}

void Params::push_bytes(Kind k, const void* p, std::size_t n) {
  // The protocol's lengths are 32-bit offsets here; a bigger parameter is a program error
  // long before the server's max_allowed_packet (at most 1 GiB) would refuse it.
  if (n > std::numeric_limits<std::uint32_t>::max() ||
      bytes_.size() + n > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("weft::mysql: parameters of 4 GiB or more");
  }
  Value v;
  v.kind = k;
  v.offset = static_cast<std::uint32_t>(bytes_.size());
  v.length = static_cast<std::uint32_t>(n);
  bytes_.append(static_cast<const char*>(p), n);
  values_.push_back(v);
}

}  // namespace weft::mysql
