// The buffers a prepared statement's parameters are bound from (mysql_stmt_bind_param):
// one MYSQL_BIND per parameter, referring into the Params of the execution, and the
// MYSQL_TIME of each temporal one. Kept with the statement in the cache
// (statement_cache.hpp) and filled in place for each execution.
#pragma once

#include <mysql.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "weft/io/mysql/types.hpp"

namespace weft::mysql::detail {

/// The parameter buffers of a prepared statement.
struct ParamBuffers {
  /// Fills the buffers for `p` (which they then refer into, until the next fill); cleared
  /// first, in place, so a statement run again with as many parameters allocates nothing.
  void fill(const Params& p) {
    binds.assign(p.size(), MYSQL_BIND{});
    times.assign(p.size(), MYSQL_TIME{});
    for (std::size_t i = 0; i < p.size(); ++i) {
      const Params::Value& v = p.values()[i];
      MYSQL_BIND& b = binds[i];
      MYSQL_TIME& t = times[i];
      switch (v.kind) {
        case Params::Kind::kNull:
          b.buffer_type = MYSQL_TYPE_NULL;
          break;
        case Params::Kind::kInt:
        case Params::Kind::kUInt:
          b.buffer_type = MYSQL_TYPE_LONGLONG;
          b.buffer = const_cast<std::int64_t*>(&v.i);
          b.is_unsigned = v.kind == Params::Kind::kUInt;
          break;
        case Params::Kind::kDouble:
        case Params::Kind::kFloat:  // sent as the double it converts to exactly
          b.buffer_type = MYSQL_TYPE_DOUBLE;
          b.buffer = const_cast<double*>(&v.d);
          break;
        case Params::Kind::kText:
        case Params::Kind::kBlob:
          b.buffer_type = v.kind == Params::Kind::kText ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
          b.buffer = const_cast<char*>(p.bytes().data()) + v.offset;
          b.buffer_length = v.length;
          break;
        case Params::Kind::kDate:
        case Params::Kind::kDateTime:
          t.year = static_cast<unsigned>(v.t.year);
          t.month = v.t.month;
          t.day = v.t.day;
          t.hour = v.t.hour;
          t.minute = v.t.minute;
          t.second = v.t.second;
          t.second_part = v.t.microsecond;
          t.time_type =
              v.kind == Params::Kind::kDate ? MYSQL_TIMESTAMP_DATE : MYSQL_TIMESTAMP_DATETIME;
          b.buffer_type = v.kind == Params::Kind::kDate ? MYSQL_TYPE_DATE : MYSQL_TYPE_DATETIME;
          b.buffer = &t;
          break;
        case Params::Kind::kTime: {
          const bool neg = v.i < 0;
          const std::uint64_t us =
              neg ? 0 - static_cast<std::uint64_t>(v.i) : static_cast<std::uint64_t>(v.i);
          t.neg = neg;
          t.second_part = us % 1'000'000;
          const std::uint64_t secs = us / 1'000'000;
          t.second = static_cast<unsigned>(secs % 60);
          t.minute = static_cast<unsigned>(secs / 60 % 60);
          // The protocol carries days and an hour byte (the library sends `hour` as one).
          const std::uint64_t hours = secs / 3600;
          t.day = static_cast<unsigned>(std::min<std::uint64_t>(hours / 24, 0xffffffff));
          t.hour = static_cast<unsigned>(hours % 24);
          t.time_type = MYSQL_TIMESTAMP_TIME;
          b.buffer_type = MYSQL_TYPE_TIME;
          b.buffer = &t;
          break;
        }
      }
    }
  }

  std::vector<MYSQL_BIND> binds;
  std::vector<MYSQL_TIME> times;
};

}  // namespace weft::mysql::detail
