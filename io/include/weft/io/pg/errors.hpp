// weft::pg's exceptions.
//
//   pg::Error            a failed query or command: the server's SQLSTATE, message, detail and
//                        hint, and the query it came from (asyncpg's PostgresError);
//   pg::ConnectionError  a connection could not be made (refused, authentication failed, no
//                        such database): libpq's message, the host and port tried;
//   pg::ConnectionLost   the server connection dropped during an operation (the backend was
//                        terminated, the server restarted, the network failed): the
//                        connection is closed and every later call on it throws this too;
//   pg::TypeError        a value read as a C++ type its column does not hold, or NULL read
//                        into a type that cannot hold it: a program error (weft::UsageError).
//
// Cancellation and timeouts stay weft::CancelledError and weft::TimeoutError.
#pragma once

#include <stdexcept>
#include <string>

#include "weft/runtime/errors.hpp"

namespace weft::pg {

/// The fields of a server error report (libpq's PQresultErrorField).
struct ErrorFields {
  std::string sqlstate;  ///< five characters, e.g. "23505"; empty for client-side errors
  std::string message;   ///< the primary message
  std::string detail;
  std::string hint;
  std::string query;  ///< the SQL that failed, if the error came from a query
};

/// A failed query or command. what() is "weft::pg: MESSAGE (SQLSTATE ...)" followed by the
/// detail, the hint and the query when there are any.
class Error : public std::runtime_error {
 public:
  explicit Error(ErrorFields f);
  /// The SQLSTATE code ("23505" for a unique violation); empty when the client failed.
  const std::string& sqlstate() const noexcept { return f_.sqlstate; }
  /// The server's primary message (or libpq's, for a client-side error).
  const std::string& message() const noexcept { return f_.message; }
  const std::string& detail() const noexcept { return f_.detail; }
  const std::string& hint() const noexcept { return f_.hint; }
  /// The SQL of the query that failed, or empty.
  const std::string& query() const noexcept { return f_.query; }

 protected:
  Error(ErrorFields f, const std::string& what);

 private:
  ErrorFields f_;
};

/// A connection could not be made. what() names the host and port tried and carries libpq's
/// message ("password authentication failed for user ...", "Connection refused").
class ConnectionError : public Error {
 public:
  ConnectionError(std::string target, std::string message);
  /// What was connected to: "host=H port=P" (or the socket directory).
  const std::string& target() const noexcept { return target_; }

 private:
  std::string target_;
};

/// The connection to the server was lost during an operation; the Connection is closed.
class ConnectionLost : public Error {
 public:
  explicit ConnectionLost(ErrorFields f);
};

/// A value read as a C++ type that its column does not hold, or NULL read into a
/// non-optional type. what() names the column and both types.
class TypeError : public UsageError {
 public:
  explicit TypeError(const std::string& what) : UsageError(what) {}
};

}  // namespace weft::pg
