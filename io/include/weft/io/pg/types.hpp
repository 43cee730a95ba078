// How C++ values cross to PostgreSQL and back: pg::Codec<T> for every supported type, in
// PostgreSQL's binary format (fixed-size integers in network byte order, IEEE floats, raw
// bytes for text and bytea, microseconds since 2000-01-01 for timestamps).
//
//   C++ type                               sent as        read from
//   bool                                   bool           bool
//   std::int16_t / std::int32_t / int64    int2/int4/int8 that integer or a narrower one
//   float / double                         float4/float8  float4 / float4 or float8
//   std::string, std::string_view, char*   text           text, varchar, char(n), name, json(b)
//   pg::Bytes, std::span<const std::byte>  bytea          bytea (pg::Bytes)
//   pg::Timestamp (system_clock)           timestamptz    timestamptz, timestamp (as UTC)
//   pg::Uuid                               uuid           uuid
//   pg::Json                               json           json, jsonb
//   std::optional<T>, std::nullopt         T's, NULL      T's, NULL as nullopt
//   std::vector<T> (T any of these, or     T's array      a one-dimensional array of a
//     std::optional of one)                (int4[] ...)   type T reads from
//
// Reading is strict where a silent conversion could lose data: an integer column is read
// into a type at least as wide, text only from text-like columns. A mismatch is a
// pg::TypeError naming the column and both types.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weft::pg {

/// A PostgreSQL type's object id (pg_type.oid).
using Oid = unsigned int;

/// The object ids of the built-in types weft::pg reads and writes.
namespace oid {
inline constexpr Oid kBool = 16;
inline constexpr Oid kBytea = 17;
inline constexpr Oid kChar = 18;
inline constexpr Oid kName = 19;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kInt2 = 21;
inline constexpr Oid kInt4 = 23;
inline constexpr Oid kText = 25;
inline constexpr Oid kJson = 114;
inline constexpr Oid kFloat4 = 700;
inline constexpr Oid kFloat8 = 701;
inline constexpr Oid kUnknown = 705;
inline constexpr Oid kBpchar = 1042;
inline constexpr Oid kVarchar = 1043;
inline constexpr Oid kTimestamp = 1114;
inline constexpr Oid kTimestamptz = 1184;
inline constexpr Oid kUuid = 2950;
inline constexpr Oid kJsonb = 3802;
}  // namespace oid

/// The oid of the one-dimensional array type of `element` (int4 -> int4[]), 0 if weft::pg
/// has none for it.
constexpr Oid array_oid(Oid element) {
  switch (element) {
    case oid::kBool:
      return 1000;
    case oid::kBytea:
      return 1001;
    case oid::kName:
      return 1003;
    case oid::kInt2:
      return 1005;
    case oid::kInt4:
      return 1007;
    case oid::kText:
      return 1009;
    case oid::kBpchar:
      return 1014;
    case oid::kVarchar:
      return 1015;
    case oid::kInt8:
      return 1016;
    case oid::kFloat4:
      return 1021;
    case oid::kFloat8:
      return 1022;
    case oid::kTimestamp:
      return 1115;
    case oid::kTimestamptz:
      return 1185;
    case oid::kJson:
      return 199;
    case oid::kUuid:
      return 2951;
    case oid::kJsonb:
      return 3807;
    default:
      return 0;
  }
}

/// The element type of an array type weft::pg knows (int4[] -> int4), else 0.
constexpr Oid array_element(Oid array) {
  for (Oid e : {oid::kBool, oid::kBytea, oid::kName, oid::kInt2, oid::kInt4, oid::kText,
                oid::kBpchar, oid::kVarchar, oid::kInt8, oid::kFloat4, oid::kFloat8,
                oid::kTimestamp, oid::kTimestamptz, oid::kJson, oid::kUuid, oid::kJsonb}) {
    if (array_oid(e) == array) return e;
  }
  return 0;
}

/// The name of a type for messages: "int4" for oid::kInt4, "oid 1234" for one weft::pg does
/// not know.
std::string type_name(Oid type);

/// A bytea value.
using Bytes = std::vector<std::byte>;

/// A timestamptz value: a point in time, with microsecond precision on the server. Values
/// outside the clock's range (about 1678 to 2262) cannot be read; the server's infinity and
/// -infinity read as Timestamp::max() and Timestamp::min(), and are written from them.
using Timestamp = std::chrono::system_clock::time_point;

/// A uuid value: its 16 bytes in the order of its text form.
struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  /// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex digits of either case, hyphens
  /// optional). Throws std::invalid_argument naming the text.
  static Uuid parse(std::string_view text);
  /// The canonical lower-case text form with hyphens.
  std::string to_string() const;
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

/// A json value, held as its text (weft::pg does not parse it). Reads from json and jsonb.
struct Json {
  std::string text;
  friend bool operator==(const Json&, const Json&) = default;
};

namespace detail {

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// Throws std::length_error: the server sent `len` bytes for a value of `what`.
[[noreturn]] void bad_length(const char* what, int len);

/// Microseconds since 2000-01-01 UTC (PostgreSQL's epoch) to a Timestamp and back; both
/// throw std::out_of_range for a value the other side cannot hold.
Timestamp timestamp_from_pg(std::int64_t micros);
std::int64_t timestamp_to_pg(Timestamp t);

}  // namespace detail

/// How T is sent and read. Each specialisation has: `oid` (the type it is sent as), `name`
/// (for messages), `encode(value, out)` appending the binary form, `accepts(oid)` (whether
/// a column of that type can be read as T) and `decode(data, len, oid)`.
template <class T>
struct Codec;

template <>
struct Codec<bool> {
  static constexpr Oid oid = oid::kBool;
  static constexpr const char* name = "bool";
  static void encode(bool v, std::string& out) { out.push_back(v ? 1 : 0); }
  static bool accepts(Oid t) { return t == oid::kBool; }
  static bool decode(const char* p, int len, Oid) {
    if (len != 1) detail::bad_length(name, len);
    return p[0] != 0;
  }
};

/// Integers: sent as the type of their width, read from a column at most as wide.
template <class I, Oid O, const char* Name>
struct IntCodec {
  static constexpr Oid oid = O;
  static constexpr const char* name = Name;
  static void encode(I v, std::string& out) {
    detail::put_be(out, static_cast<std::make_unsigned_t<I>>(v), sizeof(I));
  }
  static bool accepts(Oid t) {
    if (t == oid::kInt2) return true;
    if (t == oid::kInt4) return sizeof(I) >= 4;
    return t == oid::kInt8 && sizeof(I) >= 8;
  }
  static I decode(const char* p, int len, Oid t) {
    const int want = t == oid::kInt2 ? 2 : t == oid::kInt4 ? 4 : 8;
    if (len != want) detail::bad_length(name, len);
    const std::uint64_t u = detail::get_be(p, len);
    if (len == 2) return static_cast<I>(static_cast<std::int16_t>(u));
    if (len == 4) return static_cast<I>(static_cast<std::int32_t>(u));
    return static_cast<I>(static_cast<std::int64_t>(u));
  }
};

namespace detail {
inline constexpr char kInt16Name[] = "std::int16_t";
inline constexpr char kInt32Name[] = "std::int32_t";
inline constexpr char kInt64Name[] = "std::int64_t";
}  // namespace detail

template <>
struct Codec<std::int16_t> : IntCodec<std::int16_t, oid::kInt2, detail::kInt16Name> {};
template <>
struct Codec<std::int32_t> : IntCodec<std::int32_t, oid::kInt4, detail::kInt32Name> {};
template <>
struct Codec<std::int64_t> : IntCodec<std::int64_t, oid::kInt8, detail::kInt64Name> {};
template <>
struct Codec<long long> : IntCodec<long long, oid::kInt8, detail::kInt64Name> {};

template <>
struct Codec<double> {
  static constexpr Oid oid = oid::kFloat8;
  static constexpr const char* name = "double";
  static void encode(double v, std::string& out) {
    detail::put_be(out, std::bit_cast<std::uint64_t>(v), 8);
  }
  static bool accepts(Oid t) { return t == oid::kFloat8 || t == oid::kFloat4; }
  static double decode(const char* p, int len, Oid) {
    if (len == 4) return std::bit_cast<float>(static_cast<std::uint32_t>(detail::get_be(p, 4)));
    if (len != 8) detail::bad_length(name, len);
    return std::bit_cast<double>(detail::get_be(p, 8));
  }
};

template <>
struct Codec<float> {
  static constexpr Oid oid = oid::kFloat4;
  static constexpr const char* name = "float";
  static void encode(float v, std::string& out) {
    detail::put_be(out, std::bit_cast<std::uint32_t>(v), 4);
  }
  static bool accepts(Oid t) { return t == oid::kFloat4; }
  static float decode(const char* p, int len, Oid) {
    if (len != 4) detail::bad_length(name, len);
    return std::bit_cast<float>(static_cast<std::uint32_t>(detail::get_be(p, 4)));
  }
};

/// Text. Reading accepts the text-like types; jsonb's binary form is its version byte then
/// the text.
template <>
struct Codec<std::string> {
  static constexpr Oid oid = oid::kText;
  static constexpr const char* name = "std::string";
  static void encode(std::string_view v, std::string& out) { out.append(v); }
  static bool accepts(Oid t) {
    return t == oid::kText || t == oid::kVarchar || t == oid::kBpchar || t == oid::kName ||
           t == oid::kChar || t == oid::kJson || t == oid::kJsonb || t == oid::kUnknown;
  }
  static std::string decode(const char* p, int len, Oid t) {
    if (t == oid::kJsonb) {
      if (len < 1) detail::bad_length("jsonb", len);
      return std::string(p + 1, static_cast<std::size_t>(len - 1));
    }
    return std::string(p, static_cast<std::size_t>(len));
  }
};

template <>
struct Codec<Bytes> {
  static constexpr Oid oid = oid::kBytea;
  static constexpr const char* name = "weft::pg::Bytes";
  static void encode(std::span<const std::byte> v, std::string& out) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  static bool accepts(Oid t) { return t == oid::kBytea; }
  static Bytes decode(const char* p, int len, Oid) {
    const auto* b = reinterpret_cast<const std::byte*>(p);
    return Bytes(b, b + len);
  }
};

template <>
struct Codec<Timestamp> {
  static constexpr Oid oid = oid::kTimestamptz;
  static constexpr const char* name = "weft::pg::Timestamp";
  static void encode(Timestamp v, std::string& out) {
    detail::put_be(out, static_cast<std::uint64_t>(detail::timestamp_to_pg(v)), 8);
  }
  static bool accepts(Oid t) { return t == oid::kTimestamptz || t == oid::kTimestamp; }
  static Timestamp decode(const char* p, int len, Oid) {
    if (len != 8) detail::bad_length(name, len);
    return detail::timestamp_from_pg(static_cast<std::int64_t>(detail::get_be(p, 8)));
  }
};

template <>
struct Codec<Uuid> {
  static constexpr Oid oid = oid::kUuid;
  static constexpr const char* name = "weft::pg::Uuid";
  static void encode(const Uuid& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size());
  }
  static bool accepts(Oid t) { return t == oid::kUuid; }
  static Uuid decode(const char* p, int len, Oid) {
    Uuid u;
    if (len != 16) detail::bad_length(name, len);
    std::memcpy(u.bytes.data(), p, 16);
    return u;
  }
};

template <>
struct Codec<Json> {
  static constexpr Oid oid = oid::kJson;
  static constexpr const char* name = "weft::pg::Json";
  static void encode(const Json& v, std::string& out) { out.append(v.text); }
  static bool accepts(Oid t) { return t == oid::kJson || t == oid::kJsonb; }
  static Json decode(const char* p, int len, Oid t) {
    return Json{Codec<std::string>::decode(p, len, t)};
  }
};

template <class T>
struct Codec<std::optional<T>> : Codec<T> {};

namespace detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct OptionalValue {
  using type = T;
};
template <class T>
struct OptionalValue<std::optional<T>> {
  using type = T;
};

/// Throws std::invalid_argument: an array of `ndim` dimensions read as a std::vector.
[[noreturn]] void multi_dimensional(int ndim);
/// Throws pg::TypeError: element `i` of an array is NULL and is read as `cpp_type`.
[[noreturn]] void null_element(int i, const char* cpp_type);

/// The Codec a parameter of type A is sent with: text for anything string-like, bytea for
/// byte spans, A's own otherwise.
template <class A>
struct ParamCodec {
  using type = Codec<A>;
};
template <>
struct ParamCodec<std::string_view> {
  using type = Codec<std::string>;
};
template <>
struct ParamCodec<const char*> {
  using type = Codec<std::string>;
};
template <>
struct ParamCodec<char*> {
  using type = Codec<std::string>;
};
template <std::size_t N>
struct ParamCodec<std::span<const std::byte, N>> {
  using type = Codec<Bytes>;
};
template <std::size_t N>
struct ParamCodec<std::span<std::byte, N>> {
  using type = Codec<Bytes>;
};

}  // namespace detail

/// One-dimensional arrays (int4[], text[] ...) of any element type above; elements are
/// std::optional when the array may hold NULLs. Sent with lower bound 1; read from an array
/// of any lower bound. A multi-dimensional array cannot be read (std::invalid_argument).
template <class T>
struct Codec<std::vector<T>> {
  using Element =
      std::conditional_t<detail::IsOptional<T>::value, typename detail::OptionalValue<T>::type, T>;
  using Sent = typename detail::ParamCodec<Element>::type;
  static constexpr Oid oid = array_oid(Sent::oid);
  static_assert(oid != 0, "weft::pg: no array type for this element type");
  static constexpr const char* name = "std::vector (an array)";

  static void encode(const std::vector<T>& v, std::string& out) {
    bool has_null = false;
    if constexpr (detail::IsOptional<T>::value) {
      for (const T& e : v) has_null = has_null || !e;
    }
    detail::put_be(out, v.empty() ? 0 : 1, 4);  // dimensions (an empty array has none)
    detail::put_be(out, has_null ? 1 : 0, 4);
    detail::put_be(out, Sent::oid, 4);
    if (!v.empty()) {
      detail::put_be(out, v.size(), 4);  // length
      detail::put_be(out, 1, 4);         // lower bound
    }
    for (const T& e : v) {
      if constexpr (detail::IsOptional<T>::value) {
        if (!e) {
          detail::put_be(out, 0xffffffffu, 4);  // -1: NULL
          continue;
        }
        put_element(*e, out);
      } else {
        put_element(e, out);
      }
    }
  }

  static bool accepts(Oid t) {
    const Oid e = array_element(t);
    return e != 0 && Codec<Element>::accepts(e);
  }

  static std::vector<T> decode(const char* p, int len, Oid t) {
    if (len < 12) detail::bad_length(name, len);
    const auto ndim = static_cast<std::int32_t>(detail::get_be(p, 4));
    const Oid elem = static_cast<Oid>(detail::get_be(p + 8, 4));
    std::vector<T> out;
    if (ndim == 0) return out;
    if (ndim != 1) detail::multi_dimensional(ndim);
    if (len < 20) detail::bad_length(name, len);
    const auto n = static_cast<std::int32_t>(detail::get_be(p + 12, 4));
    const char* q = p + 20;
    const char* end = p + len;
    out.reserve(static_cast<std::size_t>(n));
    for (std::int32_t i = 0; i < n; ++i) {
      if (end - q < 4) detail::bad_length(name, len);
      const auto elen = static_cast<std::int32_t>(detail::get_be(q, 4));
      q += 4;
      if (elen < 0) {
        if constexpr (detail::IsOptional<T>::value) {
          out.emplace_back(std::nullopt);
          continue;
        } else {
          detail::null_element(i, Codec<Element>::name);
        }
      }
      if (end - q < elen) detail::bad_length(name, len);
      out.emplace_back(Codec<Element>::decode(q, elen, elem));
      q += elen;
    }
    (void)t;
    return out;
  }

 private:
  static void put_element(const Element& e, std::string& out) {
    std::string buf;
    Sent::encode(e, buf);
    detail::put_be(out, buf.size(), 4);
    out.append(buf);
  }
};

namespace detail {

/// What encode_param wrote: the parameter's type oid, and whether it is NULL.
struct EncodedParam {
  Oid type = 0;
  bool null = false;
};

/// Appends `v`'s binary encoding to `out` (nothing for NULL): std::nullopt and an empty
/// std::optional are NULL (of unknown type, and of the optional's type). The one encoding of
/// a parameter, for Params and Batch alike.
template <class A>
EncodedParam encode_param(const A& v, std::string& out) {
  using D = std::decay_t<A>;
  if constexpr (std::is_same_v<D, std::nullopt_t>) {
    return {0, true};
  } else if constexpr (IsOptional<D>::value) {
    if (v) return encode_param(*v, out);
    return {ParamCodec<typename D::value_type>::type::oid, true};
  } else {
    static_assert(!std::is_unsigned_v<D> || std::is_same_v<D, bool>,
                  "weft::pg: PostgreSQL has no unsigned integers; pass a signed type wide "
                  "enough for the value");
    using C = typename ParamCodec<D>::type;
    C::encode(v, out);
    return {C::oid, false};
  }
}

}  // namespace detail

/// The parameters of one query, encoded: `$1` is the first. Built by Connection's query
/// methods from their arguments; usable directly for a list built at run time.
class Params {
 public:
  Params() = default;
  /// Encodes `args` in order.
  template <class... A>
  explicit Params(const A&... args) {
    types_.reserve(sizeof...(A));
    values_.reserve(sizeof...(A));
    nulls_.reserve(sizeof...(A));
    (add(args), ...);
  }

  /// Appends a parameter: any type of the table in this file's opening comment.
  template <class A>
  void add(const A& v) {
    std::string out;
    const detail::EncodedParam e = detail::encode_param(v, out);
    types_.push_back(e.type);
    values_.push_back(std::move(out));
    nulls_.push_back(e.null);
  }

  /// The number of parameters.
  std::size_t size() const noexcept { return types_.size(); }
  /// The type oids, the binary values and whether each is NULL (for the connection).
  const std::vector<Oid>& types() const noexcept { return types_; }
  const std::vector<std::string>& values() const noexcept { return values_; }
  const std::vector<bool>& nulls() const noexcept { return nulls_; }

 private:
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

}  // namespace weft::pg
