// The C++ types weft::mysql reads and binds, and the parameters of a prepared statement.
//
//   column type                          read as (Row::get<T>)        bound from
//   TINYINT .. BIGINT, YEAR (signed or   std::int8_t .. std::int64_t, the same, bool
//   UNSIGNED)                            the unsigned ones, bool
//                                        (range-checked)
//   FLOAT, DOUBLE                        double, float                double, float
//   DECIMAL                              std::string (exact text)     std::string
//   CHAR, VARCHAR, TEXT, ENUM, SET,      std::string, Bytes           std::string,
//   JSON, BINARY, VARBINARY, BLOB, BIT                                std::string_view,
//                                                                     const char*, Bytes
//   DATE                                 mysql::Date                  mysql::Date
//   DATETIME, TIMESTAMP                  mysql::DateTime              mysql::DateTime
//   TIME                                 std::chrono::microseconds    std::chrono::microseconds
//   NULL                                 std::optional<T> (nullopt)   std::nullopt, optional
//
// TIMESTAMP values are read and written in the session's time zone, as the server keeps
// them; DateTime carries no zone.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weft::mysql {

/// A BLOB or BINARY value.
using Bytes = std::vector<std::byte>;

/// A DATE value. The server accepts years 1000-9999 (and 0000-00-00 if its SQL mode allows).
struct Date {
  int year = 0;
  unsigned month = 0;  ///< 1-12 (0 in a zero date)
  unsigned day = 0;    ///< 1-31 (0 in a zero date)

  /// From a calendar date.
  static Date from(std::chrono::year_month_day d) noexcept;
  /// The calendar date; not ok() for a zero date.
  std::chrono::year_month_day to_ymd() const noexcept;
  friend bool operator==(const Date&, const Date&) = default;
};

/// A DATETIME or TIMESTAMP value, to the microsecond.
struct DateTime {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  unsigned microsecond = 0;

  /// From a point in time (taken as UTC; microseconds kept, finer digits dropped toward the
  /// past).
  static DateTime from(std::chrono::sys_time<std::chrono::microseconds> t) noexcept;
  /// The point in time the fields name, taken as UTC.
  std::chrono::sys_time<std::chrono::microseconds> to_sys() const noexcept;
  friend bool operator==(const DateTime&, const DateTime&) = default;
};

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
}  // namespace detail

/// The parameters of one execution of a prepared statement, in order; each `?` takes one.
/// Owns its values (strings are copied): a Params outlives the arguments it was made from.
class Params {
 public:
  /// What a parameter is sent as.
  enum class Kind : std::uint8_t {
    kNull,
    kInt,
    kUInt,
    kDouble,
    kFloat,
    kText,
    kBlob,
    kDate,
    kDateTime,
    kTime
  };
  struct Value {
    Kind kind = Kind::kNull;
    std::int64_t i = 0;                    ///< kInt, kUInt (as its bits), kTime (microseconds)
    double d = 0;                          ///< kDouble, kFloat
    std::uint32_t offset = 0, length = 0;  ///< kText, kBlob: in bytes()
    DateTime t{};                          ///< kDate, kDateTime
  };

  Params() = default;
  template <class... A>
  explicit Params(const A&... args) {
    values_.reserve(sizeof...(A));
    (add(args), ...);
  }

  void add(std::nullopt_t) { values_.push_back(Value{}); }
  void add(bool v) { push_int(v ? 1 : 0); }
  void add(float v) { values_.push_back(Value{.kind = Kind::kFloat, .d = v}); }
  void add(double v) { values_.push_back(Value{.kind = Kind::kDouble, .d = v}); }
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool> &&
           !std::is_same_v<I, char>) void add(I v) {
    if constexpr (std::is_signed_v<I>) {
      push_int(static_cast<std::int64_t>(v));
    } else {
      values_.push_back(Value{.kind = Kind::kUInt, .i = static_cast<std::int64_t>(v)});
    }
  }
  void add(std::string_view s) { push_bytes(Kind::kText, s.data(), s.size()); }
  void add(const std::string& s) { add(std::string_view(s)); }
  void add(const char* s) { add(std::string_view(s)); }
  void add(std::span<const std::byte> b) { push_bytes(Kind::kBlob, b.data(), b.size()); }
  void add(const Bytes& b) { add(std::span<const std::byte>(b)); }
  void add(const Date& d) {
    values_.push_back(
        Value{.kind = Kind::kDate, .t = DateTime{.year = d.year, .month = d.month, .day = d.day}});
  }
  void add(const DateTime& t) { values_.push_back(Value{.kind = Kind::kDateTime, .t = t}); }
  void add(std::chrono::microseconds t) {
    values_.push_back(Value{.kind = Kind::kTime, .i = t.count()});
  }
  template <class T>
  void add(const std::optional<T>& v) {
    if (v) {
      add(*v);
    } else {
      add(std::nullopt);
    }
  }

  std::size_t size() const noexcept { return values_.size(); }
  const std::vector<Value>& values() const noexcept { return values_; }
  /// The bytes of the kText and kBlob values.
  const std::string& bytes() const noexcept { return bytes_; }

 private:
  void push_int(std::int64_t v) { values_.push_back(Value{.kind = Kind::kInt, .i = v}); }
  void push_bytes(Kind k, const void* p, std::size_t n);

  std::vector<Value> values_;
  std::string bytes_;
};

}  // namespace weft::mysql
