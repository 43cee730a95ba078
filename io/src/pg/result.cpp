// pg::Result and pg::Row over libpq's PGresult.
#include "weft/io/pg/result.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace weft::pg {

Result::Result(pg_result* res) : res_(res, [](pg_result* r) { PQclear(r); }) {}

std::size_t Result::size() const noexcept {
  return res_ ? static_cast<std::size_t>(PQntuples(res_.get())) : 0;
}

Row Result::operator[](std::size_t i) const {
  if (i >= size()) {
    throw std::out_of_range("weft::pg::Result: row " + std::to_string(i) + " of " +
                            std::to_string(size()));
  }
  return Row(res_, static_cast<int>(i));
}

int Result::columns() const noexcept {
  return res_ ? PQnfields(res_.get()) : 0;
}

std::string Result::column_name(int col) const {
  if (col < 0 || col >= columns()) {
    throw std::out_of_range("weft::pg::Result: column " + std::to_string(col) + " of " +
                            std::to_string(columns()));
  }
  return PQfname(res_.get(), col);
}

Oid Result::column_type(int col) const {
  if (col < 0 || col >= columns()) {
    throw std::out_of_range("weft::pg::Result: column " + std::to_string(col) + " of " +
                            std::to_string(columns()));
  }
  return PQftype(res_.get(), col);
}

std::uint64_t Result::affected_rows() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  return *n ? std::strtoull(n, nullptr, 10) : 0;
}

std::string Result::command_tag() const {
  return res_ ? PQcmdStatus(res_.get()) : "";
}

int Row::size() const noexcept {
  return PQnfields(res_.get());
}

bool Row::is_null(int col) const {
  return cell(col).null;
}

int Row::column_index(std::string_view name) const {
  const int i = PQfnumber(res_.get(), std::string(name).c_str());
  if (i < 0) {
    std::string cols;
    for (int c = 0; c < size(); ++c) cols += (c ? ", " : "") + std::string(PQfname(res_.get(), c));
    throw std::out_of_range("weft::pg::Row: no column \"" + std::string(name) +
                            "\" (the columns: " + cols + ")");
  }
  return i;
}

Row::Cell Row::cell(int col) const {
  if (col < 0 || col >= size()) {
    throw std::out_of_range("weft::pg::Row: column " + std::to_string(col) + " of " +
                            std::to_string(size()));
  }
  pg_result* r = res_.get();
  return Cell{PQgetvalue(r, row_, col), PQgetlength(r, row_, col), PQgetisnull(r, row_, col) != 0,
              PQftype(r, col)};
}

void Row::type_error(int col, Oid type, const char* cpp_type) const {
  throw TypeError("weft::pg: column \"" + std::string(PQfname(res_.get(), col)) + "\" (" +
                  std::to_string(col) + ") holds " + type_name(type) +
                  ", which cannot be read as " + cpp_type);
}

void Row::null_error(int col, const char* cpp_type) const {
  throw TypeError("weft::pg: column \"" + std::string(PQfname(res_.get(), col)) + "\" (" +
                  std::to_string(col) + ") is NULL, which cannot be read as " + cpp_type +
                  " (read it as std::optional<" + cpp_type + ">)");
}

}  // namespace weft::pg
