// weft::http: an HTTP/1.1 server and client, and WebSocket (ws::connect, ws::WebSocket).
#pragma once

#include "weft/io/http/client.hpp"
#include "weft/io/http/client_url.hpp"
#include "weft/io/http/error.hpp"
#include "weft/io/http/fields.hpp"
#include "weft/io/http/headers.hpp"
#include "weft/io/http/method.hpp"
#include "weft/io/http/metrics_route.hpp"
#include "weft/io/http/request.hpp"
#include "weft/io/http/response.hpp"
#include "weft/io/http/router.hpp"
#include "weft/io/http/server.hpp"
#include "weft/io/http/status.hpp"
#include "weft/io/http/websocket.hpp"
#include "weft/io/http/ws_connect.hpp"
