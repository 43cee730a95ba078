// A statement's result and its rows, read typed: `row.get<std::int64_t>("id")`,
// `row.get<std::optional<std::string>>(1)` (types.hpp: which C++ types read which columns).
//
// A Result holds its rows in one buffer of its own (copied out of the client library as
// they arrive, so nothing of the connection is referred to), shared by its copies and the
// Rows taken from it. Values stay in the form the server sent them — text from a text
// query, binary from a prepared statement — and are converted when read.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/io/mysql/errors.hpp"
#include "weft/io/mysql/types.hpp"

namespace weft::mysql {

/// A column of a result: its name and the server's type (enum_field_types of mysql.h).
struct Column {
  std::string name;
  std::string table;      ///< the table's alias in the query, empty for an expression
  unsigned type = 0;      ///< MYSQL_TYPE_LONG, MYSQL_TYPE_VAR_STRING ...
  unsigned flags = 0;     ///< UNSIGNED_FLAG, BINARY_FLAG, NOT_NULL_FLAG ...
  unsigned charset = 0;   ///< the collation number; 63 is binary
  unsigned decimals = 0;  ///< digits after the point (DECIMAL, DOUBLE, fractional seconds)
};

namespace detail {
/// Where a value is in ResultData::bytes.
struct Cell {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  bool null = false;
};
/// The whole of a result (result.cpp and query.cpp build it).
struct ResultData {
  /// Shared with the statement cache: a prepared statement's results all refer to the
  /// columns it read once (nullptr: none).
  std::shared_ptr<const std::vector<Column>> columns;
  std::vector<Cell> cells;  ///< row-major: rows × columns
  std::string bytes;
  std::size_t rows = 0;
  /// Values in the binary protocol's form (a prepared statement's): integers as 8 bytes,
  /// FLOAT and DOUBLE as a double, temporal values as a DateTime; else text.
  bool binary = false;
  std::uint64_t affected_rows = 0;
  std::uint64_t insert_id = 0;
  unsigned warnings = 0;

  const std::vector<Column>& column_list() const noexcept {
    static const std::vector<Column> none;
    return columns ? *columns : none;
  }
};
}  // namespace detail

class Result;

/// One row of a Result. Cheap to copy; keeps the result alive. Any thread (read-only).
class Row {
 public:
  /// The value of column `col` (0-based) as T. Throws mysql::TypeError naming the column and
  /// both types if the column cannot be read as T, if it is NULL and T is not a
  /// std::optional, or if its value does not fit T; std::out_of_range for a column that
  /// does not exist.
  template <class T>
  T get(int col) const {
    if constexpr (detail::IsOptional<T>::value) {
      if (is_null(col)) return std::nullopt;
      return get<typename T::value_type>(col);
    } else {
      return read(col, static_cast<T*>(nullptr));
    }
  }
  /// The value of the column named `name` (the first of that name; compared exactly). Throws
  /// std::out_of_range naming the column if there is none.
  template <class T>
  T get(std::string_view name) const {
    return get<T>(column_index(name));
  }

  /// True if column `col` is NULL; std::out_of_range for a column that does not exist.
  bool is_null(int col) const;
  /// The number of columns.
  int size() const noexcept;
  /// The index of the column named `name`; throws std::out_of_range if there is none.
  int column_index(std::string_view name) const;

 private:
  friend class Result;
  Row(std::shared_ptr<const detail::ResultData> d, std::size_t row) noexcept
      : d_(std::move(d)), row_(row) {}

  // One per C++ type read (result.cpp); the pointer only picks the overload.
  std::int64_t read(int col, std::int64_t*) const;
  std::int32_t read(int col, std::int32_t*) const;
  std::int16_t read(int col, std::int16_t*) const;
  std::int8_t read(int col, std::int8_t*) const;
  long long read(int col, long long*) const;
  std::uint64_t read(int col, std::uint64_t*) const;
  std::uint32_t read(int col, std::uint32_t*) const;
  std::uint16_t read(int col, std::uint16_t*) const;
  std::uint8_t read(int col, std::uint8_t*) const;
  unsigned long long read(int col, unsigned long long*) const;
  bool read(int col, bool*) const;
  double read(int col, double*) const;
  float read(int col, float*) const;
  std::string read(int col, std::string*) const;
  Bytes read(int col, Bytes*) const;
  Date read(int col, Date*) const;
  DateTime read(int col, DateTime*) const;
  std::chrono::microseconds read(int col, std::chrono::microseconds*) const;

  std::shared_ptr<const detail::ResultData> d_;
  std::size_t row_ = 0;
};

/// The rows of a statement, or the outcome of one that returns none (affected rows, the
/// AUTO_INCREMENT id it made). Cheap to copy. Any thread (read-only).
class Result {
 public:
  Result();
  explicit Result(std::shared_ptr<const detail::ResultData> d) noexcept : d_(std::move(d)) {}

  /// The number of rows.
  std::size_t size() const noexcept { return d_->rows; }
  bool empty() const noexcept { return size() == 0; }
  /// Row `i`; throws std::out_of_range.
  Row operator[](std::size_t i) const;
  /// The columns (none for a statement that returns no rows).
  const std::vector<Column>& columns() const noexcept { return d_->column_list(); }
  /// Rows changed, deleted or inserted by an INSERT, UPDATE, DELETE (or, for a SELECT, the
  /// rows returned).
  std::uint64_t affected_rows() const noexcept { return d_->affected_rows; }
  /// The AUTO_INCREMENT value the statement generated (LAST_INSERT_ID), else 0.
  std::uint64_t last_insert_id() const noexcept { return d_->insert_id; }
  /// The number of warnings the statement raised (SHOW WARNINGS lists them).
  unsigned warnings() const noexcept { return d_->warnings; }

  class iterator {
   public:
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    Row operator*() const { return (*r_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator t = *this;
      ++i_;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

   private:
    friend class Result;
    iterator(const Result* r, std::size_t i) noexcept : r_(r), i_(i) {}
    const Result* r_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const noexcept { return {this, 0}; }
  iterator end() const noexcept { return {this, size()}; }

 private:
  std::shared_ptr<const detail::ResultData> d_;
};

}  // namespace weft::mysql
