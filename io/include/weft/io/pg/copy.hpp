// COPY FROM STDIN and COPY TO STDOUT, streamed both ways (asyncpg's copy_records_to_table,
// copy_to_table and copy_from_query).
//
//   std::vector<std::tuple<std::int64_t, std::string>> rows = ...;
//   std::vector<std::string> columns{"id", "name"};
//   std::uint64_t n = co_await conn.copy_records_to_table("items", rows, columns);
//
//   AsyncGenerator<std::tuple<std::int64_t, std::optional<std::string>>> out =
//       conn.copy_records_out<std::int64_t, std::optional<std::string>>("TABLE items");
//   while (auto row = co_await out.next()) use(std::get<0>(*row));
//
//   co_await conn.copy_in("COPY items FROM STDIN (FORMAT csv)", csv_chunks());
//   AsyncGenerator<std::string> text = conn.copy_out("COPY items TO STDOUT (FORMAT csv)");
//
// Records go in PostgreSQL's binary COPY format: each record is a tuple-like value (a
// std::tuple, std::pair or std::array; a struct through a tuple of its fields) whose
// elements are encoded by pg::Codec as query parameters are (types.hpp), straight into a
// batch buffer that is handed to libpq in pieces of about kCopyBatch bytes. Binary COPY
// carries no types: each element's type must be the column's (std::int32_t for int4,
// std::string for text or varchar, pg::Json for json; jsonb takes its text form only
// through a text COPY). A value of another width is refused by the server as malformed
// (pg::Error: SQLSTATE 22P03 when it is too long, 08P01 when too short); one of the same
// width (a double into an int8 column) is not detected.
//
// Rows come out of a binary COPY decoded by the C++ types given: integers from a column at
// most as wide (the width is the value's length), float8 or float4 into double, text-like
// columns into std::string (cast jsonb to text in the query), a NULL into a std::optional
// only. A mismatch is pg::TypeError naming the column; the rows before it come out, and the
// rest of the COPY is cancelled (the connection stays usable).
//
// Flow control: records are read from their source only as fast as the socket takes them
// (the batch is flushed before the next is filled); COPY TO STDOUT is read as the consumer
// asks for chunks, so a slow consumer holds the server back rather than the memory.
//
// Failure and cancellation: an exception from the record source, or a cancellation, while
// records go in ends the COPY with CopyFail (the server aborts it; nothing of it is
// inserted), and the exception goes on to the caller; the connection is usable. A task
// cancelled while it waits for COPY TO STDOUT data sends the cancel request and drains what
// the server still sends, then raises CancelledError; the connection is usable. Destroying
// an output generator before its end (leaving the loop early) closes the connection: the
// server would go on sending, and a destructor cannot wait for it to stop.
//
// Threads: as every operation of a Connection, one at a time; the COPY holds the connection
// (a concurrent query raises UsageError) from the first next() of an output generator until
// its end, or for the whole Task of an input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/io/pg/connection.hpp"
#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/types.hpp"
#include "weft/runtime/async_generator.hpp"
#include "weft/runtime/task.hpp"

namespace weft::pg {

/// About how many bytes of COPY data are handed to libpq at once, and the size of the
/// chunks copy_out yields at most (plus one row).
inline constexpr std::size_t kCopyBatch = 64 * 1024;

/// `name` quoted as an SQL identifier: in double quotes, with each double quote doubled
/// ("my ""table"""). Throws std::invalid_argument for an empty name or one holding a NUL.
std::string quote_identifier(std::string_view name);

namespace detail {

class QueryScope;  // exchange.hpp

/// Connection's state for the COPY code (a friend of Connection).
struct CopyAccess {
  static ConnState* state(Connection& c) noexcept { return c.s_.get(); }
};

template <class T>
struct IsAsyncGenerator : std::false_type {};
template <class T>
struct IsAsyncGenerator<AsyncGenerator<T>> : std::true_type {};

/// One COPY FROM STDIN in progress: holds the connection, sends the batches, ends or aborts
/// the COPY. In copy.cpp; the record loops around it are templates below.
class CopyIn {
 public:
  /// Takes the connection for the COPY; throws UsageError if it is closed or busy,
  /// ConnectionLost if it was lost.
  CopyIn(Connection& c, std::string sql, const char* what);
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;
  ~CopyIn();

  /// Sends the COPY command and waits until the server takes data. Throws pg::Error if it
  /// refuses the command, UsageError if the statement is not a COPY FROM STDIN.
  Task<void> start();
  /// The buffer the next batch is encoded into.
  std::string& buffer() noexcept { return buf_; }
  /// Hands the buffer to libpq and flushes it to the socket; clears the buffer.
  Task<void> send();
  /// Sends `data` after the buffer (for a large raw chunk; no copy).
  Task<void> send(std::string_view data);
  /// Ends the COPY (CopyDone) and waits for its result; the rows it copied.
  Task<std::uint64_t> end();
  /// Ends the COPY with CopyFail (the server aborts it) because of `why`, waits until the
  /// connection is idle (or closes it), then rethrows `why`.
  Task<void> abort(std::exception_ptr why);

 private:
  Task<void> put(const char* data, std::size_t size);

  ConnState* s_;
  std::unique_ptr<QueryScope> scope_;
  std::string sql_;
  std::string buf_;
  std::uint32_t seq_ = 0;
};

/// The SQL of copy_records_to_table: COPY "schema"."table" ("a", ...) FROM STDIN binary.
std::string copy_records_sql(std::string_view schema, std::string_view table,
                             const std::vector<std::string>& columns);

/// Appends binary COPY's header (signature, flags, no extension).
inline void put_copy_header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and its terminating NUL
  out.append(kSignature, sizeof kSignature);
  out.append(8, '\0');  // flags, header extension length
}

inline void put_be32_at(std::string& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<char>(v >> 24);
  out[at + 1] = static_cast<char>(v >> 16);
  out[at + 2] = static_cast<char>(v >> 8);
  out[at + 3] = static_cast<char>(v);
}

/// Throws std::length_error: a value too long for COPY (more than 2^31-1 bytes).
[[noreturn]] void copy_value_too_long(std::size_t size);

/// Appends one field: its length (-1 for NULL) and its binary value.
template <class E>
void put_copy_field(std::string& out, const E& v) {
  using D = std::decay_t<E>;
  if constexpr (std::is_same_v<D, std::nullopt_t>) {
    out.append(4, '\xff');
  } else if constexpr (IsOptional<D>::value) {
    if (v) {
      put_copy_field(out, *v);
    } else {
      out.append(4, '\xff');
    }
  } else {
    static_assert(!std::is_unsigned_v<D> || std::is_same_v<D, bool>,
                  "weft::pg: PostgreSQL has no unsigned integers; use a signed type as wide as "
                  "the column");
    using C = typename ParamCodec<D>::type;
    const std::size_t at = out.size();
    out.append(4, '\0');
    C::encode(v, out);
    const std::size_t len = out.size() - at - 4;
    if (len > 0x7fffffff) copy_value_too_long(len);
    put_be32_at(out, at, static_cast<std::uint32_t>(len));
  }
}

/// Appends one record (a tuple-like value) as a binary COPY row.
template <class Tuple>
void put_copy_row(std::string& out, const Tuple& record) {
  constexpr std::size_t n = std::tuple_size_v<std::remove_cvref_t<Tuple>>;
  static_assert(n > 0 && n < 1600, "weft::pg: a COPY record has 1 to 1599 fields");
  put_be(out, n, 2);
  std::apply([&out](const auto&... v) { (put_copy_field(out, v), ...); }, record);
}

/// The COPY of `src` (an AsyncGenerator of records, or a range of them) through `in`.
template <class Src>
Task<std::uint64_t> copy_records_in(Connection* c, std::string sql, Src src) {
  CopyIn in(*c, std::move(sql), "copy_records_to_table");
  co_await in.start();
  std::exception_ptr failure;
  try {
    std::string& buf = in.buffer();
    put_copy_header(buf);
    if constexpr (IsAsyncGenerator<std::remove_cvref_t<Src>>::value) {
      while (auto record = co_await src.next()) {
        put_copy_row(buf, *record);
        if (buf.size() >= kCopyBatch) co_await in.send();
      }
    } else {
      for (const auto& record : src) {
        put_copy_row(buf, record);
        if (buf.size() >= kCopyBatch) co_await in.send();
      }
    }
    buf.append(2, '\xff');  // the trailer: a field count of -1
    co_await in.send();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) co_await in.abort(failure);  // rethrows
  co_return co_await in.end();
}

/// The raw COPY of `src` (an AsyncGenerator of chunks, or a range of string-like chunks).
template <class Src>
Task<std::uint64_t> copy_chunks_in(Connection* c, std::string sql, Src src) {
  CopyIn in(*c, std::move(sql), "copy_in");
  co_await in.start();
  std::exception_ptr failure;
  try {
    std::string& buf = in.buffer();
    if constexpr (IsAsyncGenerator<std::remove_cvref_t<Src>>::value) {
      while (auto chunk = co_await src.next()) {
        const std::string_view data(*chunk);
        if (buf.size() + data.size() < kCopyBatch) {
          buf.append(data);
        } else {
          co_await in.send(data);
        }
      }
    } else {
      for (const auto& chunk : src) {
        const std::string_view data(chunk);
        if (buf.size() + data.size() < kCopyBatch) {
          buf.append(data);
        } else {
          co_await in.send(data);
        }
      }
    }
    co_await in.send();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) co_await in.abort(failure);  // rethrows
  co_return co_await in.end();
}

/// Throws pg::TypeError or pg::Error for malformed binary COPY output (copy.cpp).
[[noreturn]] void copy_null_error(int col, const char* cpp_type);
[[noreturn]] void copy_type_error(int col, int len, const char* cpp_type);
[[noreturn]] void copy_field_count_error(int got, int want);
[[noreturn]] void copy_format_error(const char* what);

/// The type a binary COPY value of `len` bytes is decoded as for V: integers by their
/// width, float4 or float8 by theirs, else V's own.
template <class V>
Oid copy_value_type(int len) {
  if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
    return len == 2 ? oid::kInt2 : len == 4 ? oid::kInt4 : oid::kInt8;
  } else if constexpr (std::is_same_v<V, double>) {
    return len == 4 ? oid::kFloat4 : oid::kFloat8;
  } else {
    return Codec<V>::oid;
  }
}

/// Decodes column `col` at `p` (its length, then its value) as T; advances `p`.
template <class T>
T get_copy_field(const char*& p, int col) {
  const auto len = static_cast<std::int32_t>(get_be(p, 4));
  p += 4;
  using V = typename OptionalValue<T>::type;
  if (len < 0) {
    if constexpr (IsOptional<T>::value) {
      return std::nullopt;
    } else {
      copy_null_error(col, Codec<T>::name);
    }
  }
  const Oid t = copy_value_type<V>(len);
  if (!Codec<V>::accepts(t)) copy_type_error(col, len, Codec<V>::name);
  const char* v = p;
  p += len;
  return Codec<V>::decode(v, len, t);
}

template <class... T, std::size_t... I>
std::tuple<T...> get_copy_row(const char* p, std::index_sequence<I...>) {
  // A braced list evaluates its elements in order: the fields are read left to right.
  return std::tuple<T...>{get_copy_field<T>(p, static_cast<int>(I))...};
}

/// If `buf` from `pos` holds a whole row, its end (after the row); else 0. Throws for a
/// field count other than `want`.
std::size_t copy_row_end(const std::string& buf, std::size_t pos, int want);

/// The chunks of a COPY TO STDOUT (copy.cpp). If `*stop` is set when next() resumes it,
/// the COPY is cancelled and drained (the connection stays usable) and the stream ends.
AsyncGenerator<std::string> copy_out_chunks(ConnState* s, std::string sql, const bool* stop);

/// Decodes the whole rows of `buf` from `pos` into `rows`; moves `pos` past them, and sets
/// `header`/`trailer` as it passes them.
template <class... T>
void get_copy_rows(const std::string& buf, std::size_t& pos, bool& header, bool& trailer,
                   std::vector<std::tuple<T...>>& rows) {
  if (!header) {
    if (buf.size() - pos < 19) return;
    if (std::string_view(buf.data() + pos, 11) != std::string_view("PGCOPY\n\377\r\n\0", 11)) {
      copy_format_error("no binary COPY signature (is the COPY's format binary?)");
    }
    const auto ext = static_cast<std::size_t>(get_be(buf.data() + pos + 15, 4));
    if (buf.size() - pos < 19 + ext) return;
    pos += 19 + ext;
    header = true;
  }
  while (!trailer && buf.size() - pos >= 2) {
    if (static_cast<std::int16_t>(get_be(buf.data() + pos, 2)) == -1) {
      trailer = true;
      pos += 2;
      break;
    }
    const std::size_t end = copy_row_end(buf, pos, static_cast<int>(sizeof...(T)));
    if (end == 0) break;
    rows.push_back(get_copy_row<T...>(buf.data() + pos + 2, std::index_sequence_for<T...>{}));
    pos = end;
  }
}

template <class... T>
AsyncGenerator<std::tuple<T...>> copy_rows_out(ConnState* s, std::string sql) {
  bool stop = false;
  AsyncGenerator<std::string> chunks = copy_out_chunks(s, std::move(sql), &stop);
  std::string buf;
  std::size_t pos = 0;
  bool header = false, trailer = false;
  std::vector<std::tuple<T...>> rows;
  std::exception_ptr failure;
  while (auto chunk = co_await chunks.next()) {
    if (pos == buf.size()) {
      buf = std::move(*chunk);
    } else {
      buf.erase(0, pos);
      buf.append(*chunk);
    }
    pos = 0;
    rows.clear();
    try {
      if (trailer) copy_format_error("data after the trailer");
      get_copy_rows<T...>(buf, pos, header, trailer, rows);
    } catch (...) {
      failure = std::current_exception();
    }
    for (auto& row : rows) co_yield std::move(row);
    if (failure) break;
  }
  if (failure) {
    // A row that cannot be read ends the stream: the rest of the COPY is cancelled.
    stop = true;
    (void)co_await chunks.next();
    std::rethrow_exception(failure);
  }
  if (!trailer || pos != buf.size()) copy_format_error("the data ended in the middle of a row");
}

}  // namespace detail

template <class Records>
Task<std::uint64_t> Connection::copy_records_to_table(std::string_view table, Records&& records) {
  return copy_records_to_table(table, std::forward<Records>(records), std::vector<std::string>{},
                               std::string_view{});
}

template <class Records>
Task<std::uint64_t> Connection::copy_records_to_table(std::string_view table, Records&& records,
                                                      const std::vector<std::string>& columns) {
  return copy_records_to_table(table, std::forward<Records>(records), columns, std::string_view{});
}

template <class Records>
Task<std::uint64_t> Connection::copy_records_to_table(std::string_view table, Records&& records,
                                                      const std::vector<std::string>& columns,
                                                      std::string_view schema) {
  return detail::copy_records_in<Records>(this, detail::copy_records_sql(schema, table, columns),
                                          std::forward<Records>(records));
}

template <class Chunks>
Task<std::uint64_t> Connection::copy_in(std::string_view sql, Chunks&& chunks) {
  return detail::copy_chunks_in<Chunks>(this, std::string(sql), std::forward<Chunks>(chunks));
}

template <class... T>
AsyncGenerator<std::tuple<T...>> Connection::copy_records_out(std::string_view query) {
  static_assert(sizeof...(T) > 0,
                "weft::pg::Connection::copy_records_out: name the columns' types");
  std::string sql = "COPY (";
  sql.append(query);
  sql += ") TO STDOUT (FORMAT binary)";
  return detail::copy_rows_out<T...>(s_.get(), std::move(sql));
}

}  // namespace weft::pg
