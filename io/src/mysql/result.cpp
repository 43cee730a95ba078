// Reading values out of a Result: which column types each C++ type takes (types.hpp's
// table) and the two forms a value comes in (text from a text query, binary from a
// prepared statement; result.hpp).
#include "weft/io/mysql/result.hpp"

#include <mysql.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace weft::mysql {
namespace {

bool is_integer(unsigned t) {
  switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
      return true;
    default:
      return false;
  }
}

bool is_floating(unsigned t) {
  return t == MYSQL_TYPE_FLOAT || t == MYSQL_TYPE_DOUBLE;
}

bool is_decimal(unsigned t) {
  return t == MYSQL_TYPE_DECIMAL || t == MYSQL_TYPE_NEWDECIMAL;
}

bool is_bytes(unsigned t) {
  switch (t) {
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_BIT:
      return true;
    default:
      return false;
  }
}

bool is_date(unsigned t) {
  return t == MYSQL_TYPE_DATE || t == MYSQL_TYPE_NEWDATE;
}
bool is_datetime(unsigned t) {
  return t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP || t == MYSQL_TYPE_DATETIME2 ||
         t == MYSQL_TYPE_TIMESTAMP2;
}
bool is_time(unsigned t) {
  return t == MYSQL_TYPE_TIME || t == MYSQL_TYPE_TIME2;
}

const char* type_name(unsigned t) {
  switch (t) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return "DECIMAL";
    case MYSQL_TYPE_TINY:
      return "TINYINT";
    case MYSQL_TYPE_SHORT:
      return "SMALLINT";
    case MYSQL_TYPE_LONG:
      return "INT";
    case MYSQL_TYPE_FLOAT:
      return "FLOAT";
    case MYSQL_TYPE_DOUBLE:
      return "DOUBLE";
    case MYSQL_TYPE_NULL:
      return "NULL";
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
      return "TIMESTAMP";
    case MYSQL_TYPE_LONGLONG:
      return "BIGINT";
    case MYSQL_TYPE_INT24:
      return "MEDIUMINT";
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return "DATE";
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      return "TIME";
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
      return "DATETIME";
    case MYSQL_TYPE_YEAR:
      return "YEAR";
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
      return "VARCHAR";
    case MYSQL_TYPE_STRING:
      return "CHAR";
    case MYSQL_TYPE_BIT:
      return "BIT";
    case MYSQL_TYPE_JSON:
      return "JSON";
    case MYSQL_TYPE_ENUM:
      return "ENUM";
    case MYSQL_TYPE_SET:
      return "SET";
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
      return "BLOB";
    case MYSQL_TYPE_GEOMETRY:
      return "GEOMETRY";
    default:
      return "an unknown type";
  }
}

/// Parses the unsigned decimal digits of `s` exactly; false if there is anything else.
template <class N>
bool parse_number(std::string_view s, N& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  return parse_number(s.substr(pos, n), out);
}

/// "YYYY-MM-DD", then optionally " HH:MM:SS" and ".ffffff" (1-6 digits).
bool parse_datetime(std::string_view s, DateTime& t, bool date_only) {
  unsigned y = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !parse_digits(s, 0, 4, y) ||
      !parse_digits(s, 5, 2, t.month) || !parse_digits(s, 8, 2, t.day)) {
    return false;
  }
  t.year = static_cast<int>(y);
  if (s.size() == 10) return true;
  if (date_only || s.size() < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
      !parse_digits(s, 11, 2, t.hour) || !parse_digits(s, 14, 2, t.minute) ||
      !parse_digits(s, 17, 2, t.second)) {
    return false;
  }
  if (s.size() == 19) return true;
  if (s[19] != '.' || s.size() > 26 || s.size() == 20) return false;
  unsigned frac = 0;
  if (!parse_digits(s, 20, s.size() - 20, frac)) return false;
  for (std::size_t i = s.size(); i < 26; ++i) frac *= 10;
  t.microsecond = frac;
  return true;
}

/// "[-]H:MM:SS[.ffffff]" (hours up to 838) as microseconds.
bool parse_time(std::string_view s, std::int64_t& us) {
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  const auto c1 = s.find(':');
  if (c1 == std::string_view::npos || c1 == 0 || s.size() < c1 + 6 || s[c1 + 3] != ':') {
    return false;
  }
  unsigned h = 0, m = 0, sec = 0, frac = 0;
  if (!parse_number(s.substr(0, c1), h) || !parse_digits(s, c1 + 1, 2, m) ||
      !parse_digits(s, c1 + 4, 2, sec)) {
    return false;
  }
  const std::size_t f = c1 + 6;
  if (s.size() > f) {
    const std::size_t digits = s.size() - f - 1;
    if (s[f] != '.' || digits == 0 || digits > 6 || !parse_digits(s, f + 1, digits, frac)) {
      return false;
    }
    for (std::size_t i = digits; i < 6; ++i) frac *= 10;
  }
  us = ((static_cast<std::int64_t>(h) * 60 + m) * 60 + sec) * 1'000'000 + frac;
  if (neg) us = -us;
  return true;
}

}  // namespace

Result::Result() : d_(std::make_shared<const detail::ResultData>()) {}

Row Result::operator[](std::size_t i) const {
  if (i >= d_->rows) {
    throw std::out_of_range("weft::mysql: row " + std::to_string(i) + " of a result of " +
                            std::to_string(d_->rows));
  }
  return Row(d_, i);
}

int Row::size() const noexcept {
  return static_cast<int>(d_->column_list().size());
}

int Row::column_index(std::string_view name) const {
  for (std::size_t i = 0; i < d_->column_list().size(); ++i) {
    if (d_->column_list()[i].name == name) return static_cast<int>(i);
  }
  throw std::out_of_range("weft::mysql: no column \"" + std::string(name) + "\"");
}

namespace {

struct Value {
  const Column* column;
  std::string_view data;
  bool null;
};

}  // namespace

// What every read does first: the column, its value, and the checks that do not depend on T.
static Value value_at(const detail::ResultData& d, std::size_t row, int col) {
  if (col < 0 || static_cast<std::size_t>(col) >= d.column_list().size()) {
    throw std::out_of_range("weft::mysql: column " + std::to_string(col) + " of a row of " +
                            std::to_string(d.column_list().size()));
  }
  const detail::Cell& c = d.cells[row * d.column_list().size() + static_cast<std::size_t>(col)];
  return Value{&d.column_list()[static_cast<std::size_t>(col)],
               std::string_view(d.bytes.data() + c.offset, c.length), c.null};
}

bool Row::is_null(int col) const {
  return value_at(*d_, row_, col).null;
}

namespace {

[[noreturn]] void type_error(int col, const Column& c, const char* cpp) {
  throw TypeError("weft::mysql: column " + std::to_string(col) + " (\"" + c.name + "\") is " +
                  type_name(c.type) + ", which cannot be read as " + cpp);
}

[[noreturn]] void null_error(int col, const Column& c, const char* cpp) {
  throw TypeError("weft::mysql: column " + std::to_string(col) + " (\"" + c.name +
                  "\") is NULL, which cannot be read as " + cpp + " (read a std::optional)");
}

[[noreturn]] void malformed(int col, const Column& c, std::string_view text) {
  throw TypeError("weft::mysql: column " + std::to_string(col) + " (\"" + c.name + "\", " +
                  type_name(c.type) + ") holds \"" + std::string(text.substr(0, 64)) +
                  "\", which is not a value of its type");
}

Value checked(const detail::ResultData& d, std::size_t row, int col, const char* cpp,
              bool (*accepts)(unsigned)) {
  Value v = value_at(d, row, col);
  if (!accepts(v.column->type)) type_error(col, *v.column, cpp);
  if (v.null) null_error(col, *v.column, cpp);
  return v;
}

/// An integer column's value: its sign and magnitude (they hold any BIGINT, signed or not).
struct Integer {
  bool negative = false;
  std::uint64_t magnitude = 0;
};

Integer integer(const detail::ResultData& d, std::size_t row, int col, const char* cpp) {
  const Value v = checked(d, row, col, cpp, is_integer);
  const bool is_unsigned = (v.column->flags & UNSIGNED_FLAG) != 0;
  std::int64_t n = 0;
  if (d.binary) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, v.data.data(), sizeof bits);
    if (is_unsigned) return Integer{false, bits};
    n = static_cast<std::int64_t>(bits);
  } else if (!v.data.empty() && v.data[0] == '-') {
    if (!parse_number(v.data, n)) malformed(col, *v.column, v.data);
  } else {
    std::uint64_t u = 0;
    if (!parse_number(v.data, u)) malformed(col, *v.column, v.data);
    return Integer{false, u};
  }
  return n < 0 ? Integer{true, 0 - static_cast<std::uint64_t>(n)}
               : Integer{false, static_cast<std::uint64_t>(n)};
}

template <class T>
T integer_as(const detail::ResultData& d, std::size_t row, int col, const char* cpp) {
  const Integer n = integer(d, row, col, cpp);
  bool fits = false;
  if (!n.negative) {
    fits = n.magnitude <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  } else if constexpr (std::is_signed_v<T>) {
    // |min| of a two's complement type is max + 1.
    fits = n.magnitude - 1 <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  }
  if (!fits) {
    const Column& c = d.column_list()[static_cast<std::size_t>(col)];
    throw TypeError("weft::mysql: column " + std::to_string(col) + " (\"" + c.name +
                    "\") holds a value out of the range of " + cpp);
  }
  if (n.negative) return static_cast<T>(-static_cast<std::int64_t>(n.magnitude - 1) - 1);
  return static_cast<T>(n.magnitude);
}

double floating(const detail::ResultData& d, std::size_t row, int col, const char* cpp) {
  const Value v = checked(d, row, col, cpp, is_floating);
  if (d.binary) {
    double x = 0;
    std::memcpy(&x, v.data.data(), sizeof x);
    return x;
  }
  double x = 0;
  if (!parse_number(v.data, x)) malformed(col, *v.column, v.data);
  return x;
}

bool stringlike(unsigned t) {
  return is_bytes(t) || is_decimal(t);
}

}  // namespace

std::int64_t Row::read(int col, std::int64_t*) const {
  return integer_as<std::int64_t>(*d_, row_, col, "std::int64_t");
}
std::int32_t Row::read(int col, std::int32_t*) const {
  return integer_as<std::int32_t>(*d_, row_, col, "std::int32_t");
}
std::int16_t Row::read(int col, std::int16_t*) const {
  return integer_as<std::int16_t>(*d_, row_, col, "std::int16_t");
}
std::int8_t Row::read(int col, std::int8_t*) const {
  return integer_as<std::int8_t>(*d_, row_, col, "std::int8_t");
}
long long Row::read(int col, long long*) const {
  return integer_as<long long>(*d_, row_, col, "long long");
}
std::uint64_t Row::read(int col, std::uint64_t*) const {
  return integer_as<std::uint64_t>(*d_, row_, col, "std::uint64_t");
}
std::uint32_t Row::read(int col, std::uint32_t*) const {
  return integer_as<std::uint32_t>(*d_, row_, col, "std::uint32_t");
}
std::uint16_t Row::read(int col, std::uint16_t*) const {
  return integer_as<std::uint16_t>(*d_, row_, col, "std::uint16_t");
}
std::uint8_t Row::read(int col, std::uint8_t*) const {
  return integer_as<std::uint8_t>(*d_, row_, col, "std::uint8_t");
}
unsigned long long Row::read(int col, unsigned long long*) const {
  return integer_as<unsigned long long>(*d_, row_, col, "unsigned long long");
}
bool Row::read(int col, bool*) const {
  return integer(*d_, row_, col, "bool").magnitude != 0;
}

double Row::read(int col, double*) const {
  return floating(*d_, row_, col, "double");
}
float Row::read(int col, float*) const {
  return static_cast<float>(floating(*d_, row_, col, "float"));
}

std::string Row::read(int col, std::string*) const {
  const Value v = checked(*d_, row_, col, "std::string", stringlike);
  return std::string(v.data);
}

Bytes Row::read(int col, Bytes*) const {
  const Value v = checked(*d_, row_, col, "mysql::Bytes", is_bytes);
  const auto* p = reinterpret_cast<const std::byte*>(v.data.data());
  return Bytes(p, p + v.data.size());
}

Date Row::read(int col, Date*) const {
  const Value v = checked(*d_, row_, col, "mysql::Date", is_date);
  DateTime t;
  if (d_->binary) {
    std::memcpy(&t, v.data.data(), sizeof t);
  } else if (!parse_datetime(v.data, t, /*date_only=*/true)) {
    malformed(col, *v.column, v.data);
  }
  return Date{.year = t.year, .month = t.month, .day = t.day};
}

DateTime Row::read(int col, DateTime*) const {
  const Value v = checked(*d_, row_, col, "mysql::DateTime",
                          [](unsigned t) { return is_datetime(t) || is_date(t); });
  DateTime t;
  if (d_->binary) {
    std::memcpy(&t, v.data.data(), sizeof t);
  } else if (!parse_datetime(v.data, t, /*date_only=*/false)) {
    malformed(col, *v.column, v.data);
  }
  return t;
}

std::chrono::microseconds Row::read(int col, std::chrono::microseconds*) const {
  const Value v = checked(*d_, row_, col, "std::chrono::microseconds", is_time);
  std::int64_t us = 0;
  if (d_->binary) {
    std::memcpy(&us, v.data.data(), sizeof us);
  } else if (!parse_time(v.data, us)) {
    malformed(col, *v.column, v.data);
  }
  return std::chrono::microseconds(us);
}

}  // namespace weft::mysql
