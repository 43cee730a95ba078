// What a weft::http::Server shares with its connections: the router, the options and the
// drain signal. Internal (io/src/http).
#pragma once

#include <vector>

#include <weft/sync/cancellation_token.hpp>

#include "message_head.hpp"
#include "weft/io/http/router.hpp"
#include "weft/io/http/server.hpp"
#include "weft/io/net/server.hpp"

namespace weft::http::detail {

struct ServerCore {
  Router router;
  ServerOptions options;
  HeadLimits limits;
  /// Cancelled by shutdown(): idle connections end at once, busy ones after their response.
  CancellationToken draining;
  std::vector<net::Server> listeners;
  bool serving = false;
};

}  // namespace weft::http::detail
