#include "weft/io/mysql/errors.hpp"

#include <utility>

namespace weft::mysql {
namespace {

std::string describe(const ErrorFields& f) {
  std::string w = "weft::mysql: " + f.message + " (error " + std::to_string(f.code);
  if (!f.sqlstate.empty()) w += ", SQLSTATE " + f.sqlstate;
  w += ")";
  if (!f.query.empty()) w += "\n  query: " + f.query;
  return w;
}

}  // namespace

Error::Error(ErrorFields f) : Error(std::move(f), std::string()) {}

Error::Error(ErrorFields f, const std::string& what)
    : std::runtime_error(what.empty() ? describe(f) : what), f_(std::move(f)) {}

ConnectionError::ConnectionError(std::string target, ErrorFields f)
    : Error(f, "weft::mysql: cannot connect to " + target + ": " + f.message + " (error " +
                   std::to_string(f.code) + ")"),
      target_(std::move(target)) {}

ConnectionLost::ConnectionLost(ErrorFields f)
    : Error(f, "weft::mysql: connection lost: " + describe(f).substr(13)) {}

}  // namespace weft::mysql
