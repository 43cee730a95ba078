// TLS to the server: what pg::Connection tells about it. libpq makes the TLS session during
// connect() as the conninfo's sslmode says; the exchange steps read through it
// (exchange.cpp's input_pending asks OpenSSL for the bytes it has buffered).
#include <libpq-fe.h>

#include "conn_state.hpp"
#include "weft/io/pg/connection.hpp"

namespace weft::pg {

bool Connection::uses_tls() const noexcept {
  return is_open() && PQsslInUse(s_->conn) == 1;
}

}  // namespace weft::pg
