// weft::http::add_metrics_route: a `/metrics` route that serves the runtime's metrics in the
// Prometheus text format (weft/runtime/prometheus.hpp), for Prometheus to scrape.
#pragma once

#include <string>
#include <string_view>

#include "weft/io/http/router.hpp"

namespace weft::http {

/// The Content-Type of the Prometheus text exposition format 0.0.4.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// Adds a GET (and so HEAD) route on `path` that answers 200 with a fresh snapshot of the
/// serving runtime's metrics (weft::current_runtime()), as Prometheus text. Throws
/// std::invalid_argument as Router::route does (a bad path, or one already routed for GET).
void add_metrics_route(Router& router, std::string path = "/metrics");

}  // namespace weft::http
