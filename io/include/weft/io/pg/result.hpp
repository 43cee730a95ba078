// A query's result and its rows, read typed: `row.get<std::int64_t>("id")`,
// `row.get<std::optional<std::string>>(1)`.
//
// A Result owns libpq's PGresult (shared: copies and the Rows taken from it refer to the same
// one, which lives while any of them does). Every value is in binary format and is decoded
// by pg::Codec<T> (types.hpp) when it is read; nothing is converted up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/types.hpp"

struct pg_result;  // libpq's PGresult

namespace weft::pg {

class Result;

/// One row of a Result. Cheap to copy; keeps the result alive. Any thread (read-only).
class Row {
 public:
  /// The value of column `col` (0-based) as T. Throws pg::TypeError naming the column and
  /// both types if the column's type cannot be read as T, or if it is NULL and T is not a
  /// std::optional; std::out_of_range for a column that does not exist.
  template <class T>
  T get(int col) const;
  /// The value of the column named `name` (as PQfnumber matches it: case-folded unless
  /// double-quoted). Throws std::out_of_range naming the column if there is none.
  template <class T>
  T get(std::string_view name) const {
    return get<T>(column_index(name));
  }

  /// True if column `col` is NULL.
  bool is_null(int col) const;
  /// The number of columns.
  int size() const noexcept;
  /// The index of the column named `name`; throws std::out_of_range if there is none.
  int column_index(std::string_view name) const;

 private:
  friend class Result;
  struct Cell {
    const char* data;
    int len;
    bool null;
    Oid type;
  };

  Row(std::shared_ptr<pg_result> res, int row) noexcept : res_(std::move(res)), row_(row) {}
  Cell cell(int col) const;
  [[noreturn]] void type_error(int col, Oid type, const char* cpp_type) const;
  [[noreturn]] void null_error(int col, const char* cpp_type) const;

  std::shared_ptr<pg_result> res_;
  int row_ = 0;
};

/// The rows of a query (asyncpg's list of Records), or the outcome of a command. Cheap to
/// copy. Any thread (read-only).
class Result {
 public:
  Result() = default;
  /// Takes ownership of a PGresult (nullptr: an empty result).
  explicit Result(pg_result* res);

  /// The number of rows.
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  /// Row `i`; throws std::out_of_range.
  Row operator[](std::size_t i) const;
  /// The number of columns, and each one's name and type.
  int columns() const noexcept;
  std::string column_name(int col) const;
  Oid column_type(int col) const;
  /// The rows a command affected (INSERT, UPDATE, DELETE, SELECT, MOVE, FETCH, COPY), else 0.
  std::uint64_t affected_rows() const;
  /// The command tag: "INSERT 0 1", "SELECT 3", "BEGIN".
  std::string command_tag() const;

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Row;
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
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }

   private:
    friend class Result;
    iterator(const Result* r, std::size_t i) : r_(r), i_(i) {}
    const Result* r_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }

  /// The PGresult, for libpq calls weft::pg does not wrap (nullptr when empty).
  pg_result* native() const noexcept { return res_.get(); }

 private:
  std::shared_ptr<pg_result> res_;
};

template <class T>
T Row::get(int col) const {
  const Cell c = cell(col);
  if constexpr (detail::IsOptional<T>::value) {
    using V = typename T::value_type;
    if (c.null) return std::nullopt;
    if (!Codec<V>::accepts(c.type)) type_error(col, c.type, Codec<V>::name);
    return Codec<V>::decode(c.data, c.len, c.type);
  } else {
    if (!Codec<T>::accepts(c.type)) type_error(col, c.type, Codec<T>::name);
    if (c.null) null_error(col, Codec<T>::name);
    return Codec<T>::decode(c.data, c.len, c.type);
  }
}

}  // namespace weft::pg
