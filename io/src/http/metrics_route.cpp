// weft::http::add_metrics_route (metrics_route.hpp).
#include "weft/io/http/metrics_route.hpp"

#include <string>

#include <weft/runtime/prometheus.hpp>
#include <weft/runtime/runtime.hpp>

namespace weft::http {

void add_metrics_route(Router& router, std::string path) {
  router.get(path, [](Request&) -> Task<Response> {
    Response r = Response::text(metrics::prometheus_text(current_runtime()));
    r.headers().set("Content-Type", kPrometheusContentType);
    co_return r;
  });
}

}  // namespace weft::http
