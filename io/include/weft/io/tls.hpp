// weft::tls: TLS 1.2 and 1.3 over TCP streams, on OpenSSL 3 (the weft::tls library, which a
// program that does not use TLS neither links nor needs). Contexts: tls/context.hpp; streams,
// connect and accept: tls/stream.hpp; errors: tls/error.hpp; a TLS server on
// net::start_server: tls/server_wrap.hpp.
#pragma once

#include "weft/io/tls/context.hpp"
#include "weft/io/tls/error.hpp"
#include "weft/io/tls/server_wrap.hpp"
#include "weft/io/tls/stream.hpp"
