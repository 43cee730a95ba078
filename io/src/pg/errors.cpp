// weft::pg's exceptions: what() from the fields.
#include "weft/io/pg/errors.hpp"

#include <utility>

namespace weft::pg {
namespace {

std::string describe(const ErrorFields& f) {
  std::string s = "weft::pg: " + f.message;
  if (!f.sqlstate.empty()) s += " (SQLSTATE " + f.sqlstate + ")";
  if (!f.detail.empty()) s += "\nDETAIL: " + f.detail;
  if (!f.hint.empty()) s += "\nHINT: " + f.hint;
  if (!f.query.empty()) s += "\nQUERY: " + f.query;
  return s;
}

ErrorFields message_only(const std::string& message) {
  ErrorFields f;
  f.message = message;
  return f;
}

}  // namespace

Error::Error(ErrorFields f) : Error(f, describe(f)) {}

Error::Error(ErrorFields f, const std::string& what) : std::runtime_error(what), f_(std::move(f)) {}

ConnectionError::ConnectionError(std::string target, std::string message)
    : Error(message_only(message), "weft::pg: cannot connect to " + target + ": " + message),
      target_(std::move(target)) {}

ConnectionLost::ConnectionLost(ErrorFields f)
    : Error(f, "weft::pg: connection lost: " + describe(f).substr(10)) {}

}  // namespace weft::pg
