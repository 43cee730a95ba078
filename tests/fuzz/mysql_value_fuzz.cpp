// libFuzzer target: how weft::mysql reads a value the server sent (io/src/mysql/result.cpp),
// above all the text form of a text query's result, which comes from the network as is.
//
// The input's first byte chooses the column's type (low 7 bits) and signedness (the top bit), its
// second whether the value is in text or binary form (and NULL); the rest is the value. Binary
// values are written by weft's own row reader in fixed sizes, so the target cuts or pads them to
// the size of their form. For every C++ type Row::get can read, the target checks that:
//   - a read either returns or throws mysql::TypeError (never anything else, never a crash);
//   - a NULL reads as nullopt through std::optional and throws otherwise;
//   - std::string and Bytes read a string column's bytes exactly;
//   - the integer reads agree: a value one width reads is read the same by every wider one,
//     and the unsigned and signed reads agree where both succeed;
//   - a text DATE, DATETIME or TIME that reads, written back in the canonical form with as
//     many fraction digits as it had, is the text it came from (the parser takes nothing
//     else: no signs, spaces or missing digits).
// A broken check aborts with its text on stderr.
#include <mysql.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "weft/io/mysql/result.hpp"

namespace {

namespace mysql = weft::mysql;

#define CHECK(cond)                                                                             \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "mysql_value_fuzz: check failed at line %d: %s\n", __LINE__, #cond); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

constexpr unsigned kTypes[] = {
    MYSQL_TYPE_TINY,       MYSQL_TYPE_SHORT,      MYSQL_TYPE_LONG,     MYSQL_TYPE_LONGLONG,
    MYSQL_TYPE_INT24,      MYSQL_TYPE_YEAR,       MYSQL_TYPE_FLOAT,    MYSQL_TYPE_DOUBLE,
    MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_BLOB,     MYSQL_TYPE_JSON,
    MYSQL_TYPE_BIT,        MYSQL_TYPE_DATE,       MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP,
    MYSQL_TYPE_TIME,       MYSQL_TYPE_NULL,
};

/// Calls `read` and returns its value, or nullopt if it threw TypeError; anything else fails.
template <class F>
auto attempt(F read) -> std::optional<decltype(read())> {
  try {
    return read();
  } catch (const mysql::TypeError&) {
    return std::nullopt;
  }
}

std::string two(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "%02u", v);
  return b;
}

/// The canonical text of a DATETIME with `frac` fraction digits (0: none).
std::string datetime_text(const mysql::DateTime& t, std::size_t frac, bool date_only) {
  char b[64];
  std::snprintf(b, sizeof b, "%04d-%s-%s", t.year, two(t.month).c_str(), two(t.day).c_str());
  std::string s = b;
  if (date_only) return s;
  s += " " + two(t.hour) + ":" + two(t.minute) + ":" + two(t.second);
  if (frac > 0) {
    char f[16];
    std::snprintf(f, sizeof f, "%06u", t.microsecond);
    s += "." + std::string(f, frac);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned type = kTypes[(data[0] & 0x7f) % std::size(kTypes)];
  const bool is_unsigned = (data[0] & 0x80) != 0;
  const bool binary = (data[1] & 1) != 0;
  const bool null = (data[1] & 6) == 6;
  std::string value(reinterpret_cast<const char*>(data + 2), size - 2);

  auto d = std::make_shared<weft::mysql::detail::ResultData>();
  mysql::Column col;
  col.name = "c";
  col.type = type;
  col.flags = is_unsigned ? UNSIGNED_FLAG : 0;
  d->columns = std::make_shared<std::vector<mysql::Column>>(1, col);
  d->binary = binary;
  if (binary && !null) {
    // The sizes weft's row reader writes: 8 bytes for numbers and TIME, a DateTime for the
    // other temporal types, the bytes themselves for the rest.
    std::size_t want = 0;
    switch (type) {
      case MYSQL_TYPE_DATE:
      case MYSQL_TYPE_DATETIME:
      case MYSQL_TYPE_TIMESTAMP:
        want = sizeof(mysql::DateTime);
        break;
      case MYSQL_TYPE_NEWDECIMAL:
      case MYSQL_TYPE_VAR_STRING:
      case MYSQL_TYPE_BLOB:
      case MYSQL_TYPE_JSON:
      case MYSQL_TYPE_BIT:
      case MYSQL_TYPE_NULL:
        break;
      default:
        want = 8;
    }
    if (want != 0) value.resize(want, '\0');
  }
  weft::mysql::detail::Cell cell;
  cell.null = null;
  if (!null) {
    cell.length = static_cast<std::uint32_t>(value.size());
    d->bytes = value;
  }
  d->cells.push_back(cell);
  d->rows = 1;
  const mysql::Result result(d);
  const mysql::Row row = result[0];

  if (null) {
    CHECK(row.is_null(0));
    CHECK(!row.get<std::optional<std::int64_t>>(0).has_value());
    CHECK(!row.get<std::optional<std::string>>(0).has_value());
    CHECK(!attempt([&] { return row.get<std::int64_t>(0); }));
    CHECK(!attempt([&] { return row.get<std::string>(0); }));
    return 0;
  }

  if (auto s = attempt([&] { return row.get<std::string>(0); })) CHECK(*s == value);
  if (auto b = attempt([&] { return row.get<mysql::Bytes>(0); })) {
    CHECK(b->size() == value.size() &&
          (b->empty() || std::memcmp(b->data(), value.data(), b->size()) == 0));
  }

  const auto i64 = attempt([&] { return row.get<std::int64_t>(0); });
  const auto i32 = attempt([&] { return row.get<std::int32_t>(0); });
  const auto i16 = attempt([&] { return row.get<std::int16_t>(0); });
  const auto i8 = attempt([&] { return row.get<std::int8_t>(0); });
  const auto u64 = attempt([&] { return row.get<std::uint64_t>(0); });
  const auto u8 = attempt([&] { return row.get<std::uint8_t>(0); });
  (void)attempt([&] { return row.get<bool>(0); });
  if (i8) CHECK(i16 && *i16 == *i8);
  if (i16) CHECK(i32 && *i32 == *i16);
  if (i32) CHECK(i64 && *i64 == *i32);
  if (i64 && *i64 >= INT32_MIN && *i64 <= INT32_MAX) CHECK(i32);
  if (u8) CHECK(u64 && *u64 == *u8);
  if (i64 && u64) CHECK(*i64 >= 0 && static_cast<std::uint64_t>(*i64) == *u64);

  (void)attempt([&] { return row.get<double>(0); });
  (void)attempt([&] { return row.get<float>(0); });

  const auto date = attempt([&] { return row.get<mysql::Date>(0); });
  const auto dt = attempt([&] { return row.get<mysql::DateTime>(0); });
  const auto tm = attempt([&] { return row.get<std::chrono::microseconds>(0); });
  if (!binary) {
    if (date) {
      const mysql::DateTime as{.year = date->year, .month = date->month, .day = date->day};
      CHECK(datetime_text(as, 0, true) == value);
    }
    if (dt) {
      const std::size_t frac = value.size() > 20 ? value.size() - 20 : 0;
      CHECK(datetime_text(*dt, frac, value.size() == 10) == value);
    }
    if (tm) {
      const bool neg = !value.empty() && value[0] == '-';
      CHECK(neg ? tm->count() <= 0 : tm->count() >= 0);
      const auto dot = value.find('.');
      const std::size_t frac = dot == std::string::npos ? 0 : value.size() - dot - 1;
      CHECK(frac <= 6);
    }
  }
  return 0;
}
