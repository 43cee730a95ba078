// Helpers the weft::mysql test binaries share (each with its own server: mysql_server.hpp).
#pragma once

#include <gtest/gtest.h>

#include <utility>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"

namespace weft_test::mysql {

/// Options for the test server over TCP, as user weft with its password.
inline weft::mysql::ConnectOptions tcp_options() {
  weft::mysql::ConnectOptions o;
  o.host = server().host;
  o.port = static_cast<std::uint16_t>(server().port);
  o.user = server().user;
  o.password = server().password;
  o.database = server().database;
  return o;
}

/// The same over the server's Unix socket.
inline weft::mysql::ConnectOptions unix_options() {
  weft::mysql::ConnectOptions o = tcp_options();
  o.unix_socket = server().socket_path;
  return o;
}

/// Runs `body` (a callable taking weft::mysql::Connection& and returning a Task<void>)
/// with a fresh connection to the test server, on a runtime of its own (`workers` threads).
template <class F>
void with_conn(F body, std::size_t workers = 2) {
  weft::RuntimeOptions ro;
  ro.workers = workers;
  weft::run(
      [](F body) -> weft::Task<void> {
        weft::mysql::Connection c = co_await weft::mysql::connect(tcp_options());
        co_await body(c);
      }(std::move(body)),
      ro);
}

}  // namespace weft_test::mysql
