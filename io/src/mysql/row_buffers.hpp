// The buffers a prepared statement's rows are fetched into (mysql_stmt_bind_result), one
// slot per column in the form result.hpp keeps binary values in. Kept with the statement in
// the cache (statement_cache.hpp), so a statement run again binds nothing anew.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <string>
#include <vector>

#include "weft/io/mysql/result.hpp"

namespace weft::mysql::detail {

enum class Slot : std::uint8_t { kNumber, kTemporal, kTime, kBytes };

inline Slot slot_of(unsigned type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
      return Slot::kNumber;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
      return Slot::kTemporal;
    case MYSQL_TYPE_TIME:
      return Slot::kTime;
    default:
      return Slot::kBytes;
  }
}

/// A string value up to this long is fetched into the row's buffers; a longer one is
/// fetched again straight into the result (mysql_stmt_fetch_column).
inline constexpr unsigned long kInline = 256;

/// The result buffers of a prepared statement's columns (mysql_stmt_bind_result).
struct RowBuffers {
  explicit RowBuffers(const std::vector<Column>& cols)
      : binds(cols.size()),
        lengths(cols.size()),
        nulls(cols.size()),
        errors(cols.size()),
        numbers(cols.size()),
        times(cols.size()),
        slots(cols.size()),
        inline_bytes(cols.size() * kInline, '\0') {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      MYSQL_BIND& b = binds[i];
      slots[i] = slot_of(cols[i].type);
      switch (slots[i]) {
        case Slot::kNumber:
          if (cols[i].type == MYSQL_TYPE_FLOAT || cols[i].type == MYSQL_TYPE_DOUBLE) {
            b.buffer_type = MYSQL_TYPE_DOUBLE;
          } else {
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.is_unsigned = (cols[i].flags & UNSIGNED_FLAG) != 0;
          }
          b.buffer = &numbers[i];
          b.buffer_length = sizeof(std::uint64_t);
          break;
        case Slot::kTemporal:
        case Slot::kTime:
          b.buffer_type = cols[i].type == MYSQL_TYPE_NEWDATE
                              ? MYSQL_TYPE_DATE
                              : static_cast<enum_field_types>(cols[i].type);
          b.buffer = &times[i];
          b.buffer_length = sizeof(MYSQL_TIME);
          break;
        case Slot::kBytes:
          b.buffer_type = MYSQL_TYPE_BLOB;
          b.buffer = inline_bytes.data() + i * kInline;
          b.buffer_length = kInline;
          break;
      }
      b.length = &lengths[i];
      b.is_null = &nulls[i];
      b.error = &errors[i];
    }
  }

  std::vector<MYSQL_BIND> binds;
  std::vector<unsigned long> lengths;
  std::vector<my_bool> nulls;
  std::vector<my_bool> errors;
  std::vector<std::uint64_t> numbers;
  std::vector<MYSQL_TIME> times;
  std::vector<Slot> slots;
  std::string inline_bytes;
};

}  // namespace weft::mysql::detail
