// weft::http: an HTTP/1.1 server (and, with it, the types a client shares).
#pragma once

#include "weft/io/http/error.hpp"
#include "weft/io/http/fields.hpp"
#include "weft/io/http/headers.hpp"
#include "weft/io/http/method.hpp"
#include "weft/io/http/request.hpp"
#include "weft/io/http/response.hpp"
#include "weft/io/http/router.hpp"
#include "weft/io/http/server.hpp"
#include "weft/io/http/status.hpp"
