// weft::mysql's exceptions.
//
//   mysql::Error            a failed statement: the server's error number, SQLSTATE and
//                           message, and the SQL it came from (aiomysql's MySQLError);
//   mysql::ConnectionError  a connection could not be made (refused, access denied, unknown
//                           database): the client library's message and what was tried;
//   mysql::ConnectionLost   the connection dropped during an operation (the session was
//                           killed, the server went away, the network failed): the
//                           connection is closed and every later call on it throws this too;
//   mysql::TypeError        a value read as a C++ type its column does not hold, or NULL read
//                           into a type that cannot hold it: a program error (UsageError).
//
// Cancellation and timeouts stay weft::CancelledError and weft::TimeoutError.
#pragma once

#include <stdexcept>
#include <string>

#include "weft/runtime/errors.hpp"

namespace weft::mysql {

/// What a failed operation reported.
struct ErrorFields {
  /// The error number: the server's (1062 ER_DUP_ENTRY, 1146 ER_NO_SUCH_TABLE ...) or the
  /// client library's (2000-2999: 2013 lost connection ...).
  unsigned code = 0;
  std::string sqlstate;  ///< five characters ("23000"); "HY000" when there is none
  std::string message;
  std::string query;  ///< the SQL that failed, if the error came from a statement
};

/// A failed statement or command. what() is "weft::mysql: MESSAGE (error CODE, SQLSTATE S)"
/// followed by the query when there is one.
class Error : public std::runtime_error {
 public:
  explicit Error(ErrorFields f);
  unsigned code() const noexcept { return f_.code; }
  const std::string& sqlstate() const noexcept { return f_.sqlstate; }
  const std::string& message() const noexcept { return f_.message; }
  /// The SQL of the statement that failed, or empty.
  const std::string& query() const noexcept { return f_.query; }

 protected:
  Error(ErrorFields f, const std::string& what);

 private:
  ErrorFields f_;
};

/// A connection could not be made. what() names what was connected to and carries the
/// client library's message ("Access denied for user ...", "Can't connect to server ...").
class ConnectionError : public Error {
 public:
  ConnectionError(std::string target, ErrorFields f);
  /// What was connected to: "HOST:PORT" or the Unix socket's path.
  const std::string& target() const noexcept { return target_; }

 private:
  std::string target_;
};

/// The connection was lost during an operation; the Connection is closed.
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

}  // namespace weft::mysql
