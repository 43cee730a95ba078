// The non-template parts of pg::Codec: type names, timestamps, uuids.
#include <limits>
#include <stdexcept>
#include <string>

#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/types.hpp"

namespace weft::pg {

std::string type_name(Oid type) {
  switch (type) {
    case oid::kBool:
      return "bool";
    case oid::kBytea:
      return "bytea";
    case oid::kChar:
      return "\"char\"";
    case oid::kName:
      return "name";
    case oid::kInt8:
      return "int8";
    case oid::kInt2:
      return "int2";
    case oid::kInt4:
      return "int4";
    case oid::kText:
      return "text";
    case oid::kJson:
      return "json";
    case oid::kFloat4:
      return "float4";
    case oid::kFloat8:
      return "float8";
    case oid::kUnknown:
      return "unknown";
    case oid::kBpchar:
      return "bpchar";
    case oid::kVarchar:
      return "varchar";
    case oid::kTimestamp:
      return "timestamp";
    case oid::kTimestamptz:
      return "timestamptz";
    case oid::kUuid:
      return "uuid";
    case oid::kJsonb:
      return "jsonb";
    case 1700:
      return "numeric";
    case 1082:
      return "date";
    case 1083:
      return "time";
    case 1186:
      return "interval";
    case 26:
      return "oid";
    default:
      if (const Oid e = array_element(type)) return type_name(e) + "[]";
      return "oid " + std::to_string(type);
  }
}

namespace detail {

void multi_dimensional(int ndim) {
  throw std::invalid_argument("weft::pg: an array of " + std::to_string(ndim) +
                              " dimensions cannot be read as a std::vector (one dimension)");
}

void null_element(int i, const char* cpp_type) {
  throw TypeError("weft::pg: element " + std::to_string(i) + " of the array is NULL, which " +
                  "cannot be read as " + cpp_type + " (read a std::vector<std::optional<" +
                  cpp_type + ">>)");
}

void bad_length(const char* what, int len) {
  throw std::length_error(std::string("weft::pg: the server sent ") + std::to_string(len) +
                          " bytes for a value read as " + what);
}

namespace {
// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
constexpr std::int64_t kPgEpochMicros = 946'684'800'000'000;
constexpr std::int64_t kInfinity = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinusInfinity = std::numeric_limits<std::int64_t>::min();
using Micros = std::chrono::microseconds;
}  // namespace

Timestamp timestamp_from_pg(std::int64_t micros) {
  if (micros == kInfinity) return Timestamp::max();
  if (micros == kMinusInfinity) return Timestamp::min();
  // The clock counts nanoseconds in 64 bits: check the range before converting.
  constexpr std::int64_t per_micro =
      std::chrono::duration_cast<Timestamp::duration>(Micros(1)).count();
  constexpr std::int64_t limit = std::numeric_limits<Timestamp::rep>::max() / per_micro;
  std::int64_t unix_micros = 0;
  if (__builtin_add_overflow(micros, kPgEpochMicros, &unix_micros) || unix_micros > limit ||
      unix_micros < -limit) {
    throw std::out_of_range("weft::pg: a timestamp of " + std::to_string(micros) +
                            " microseconds since 2000-01-01 is out of the range of "
                            "std::chrono::system_clock");
  }
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(Micros(unix_micros)));
}

std::int64_t timestamp_to_pg(Timestamp t) {
  if (t == Timestamp::max()) return kInfinity;
  if (t == Timestamp::min()) return kMinusInfinity;
  // Floor: the server keeps microseconds, and a time before the epoch rounds down too.
  const std::int64_t unix_micros = std::chrono::floor<Micros>(t.time_since_epoch()).count();
  return unix_micros - kPgEpochMicros;
}

}  // namespace detail

Uuid Uuid::parse(std::string_view text) {
  Uuid u;
  std::size_t n = 0;
  int half = -1;
  auto bad = [&] {
    return std::invalid_argument("weft::pg::Uuid::parse: not a uuid: \"" + std::string(text) +
                                 "\"");
  };
  for (char c : text) {
    if (c == '-') continue;
    int v = 0;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      throw bad();
    }
    if (n >= 16) throw bad();
    if (half < 0) {
      half = v;
    } else {
      u.bytes[n++] = static_cast<std::uint8_t>(half * 16 + v);
      half = -1;
    }
  }
  if (n != 16 || half >= 0) throw bad();
  return u;
}

std::string Uuid::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 15]);
  }
  return s;
}

}  // namespace weft::pg
