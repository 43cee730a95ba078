// http::add_metrics_route (metrics_route.hpp) on a server on 127.0.0.1, fetched with weft's
// own http::Client from another runtime: 200, the Prometheus content type, and the metrics
// of the runtime that serves the request (not the client's).
#include "weft/io/http/metrics_route.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "http_test_util.hpp"

using weft::Task;
using weft::http::Router;
using weft::test::TestServer;

namespace {

struct Fetched {
  int status = 0;
  std::string content_type;
  std::string body;
};

/// GET `url` with an http::Client on a runtime of one worker.
Fetched fetch(const std::string& url) {
  return weft::run(
      [](std::string url) -> Task<Fetched> {
        weft::http::Client client;
        weft::http::ClientResponse r = co_await client.get(url);
        Fetched f;
        f.status = r.status();
        f.content_type = std::string(r.headers().get_or("content-type", ""));
        f.body = co_await r.text();
        co_return f;
      }(url),
      {.workers = 1});
}

Router metrics_router(std::string path = "/metrics") {
  Router r;
  weft::http::add_metrics_route(r, std::move(path));
  return r;
}

}  // namespace

TEST(HttpMetricsRoute, AnswersWithTheServingRuntimesMetricsAsPrometheusText) {
  TestServer s(metrics_router(), {}, /*workers=*/3);
  Fetched f = fetch(s.url("/metrics"));
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(f.body.rfind("# HELP weft_", 0), 0u) << f.body;
  EXPECT_NE(f.body.find("\nweft_worker_polls_total{worker=\"0\"} "), std::string::npos) << f.body;
  // The server's three workers, not the client's one.
  EXPECT_NE(f.body.find("\nweft_workers 3\n"), std::string::npos) << f.body;
  EXPECT_NE(f.body.find("\nweft_worker_polls_total{worker=\"2\"} "), std::string::npos);
  EXPECT_NE(f.body.find("\nweft_poll_duration_seconds_bucket{le=\"+Inf\"} "), std::string::npos);
}

TEST(HttpMetricsRoute, ServesOnThePathItIsGivenOnly) {
  TestServer s(metrics_router("/internal/metrics"));
  Fetched f = fetch(s.url("/internal/metrics"));
  EXPECT_EQ(f.status, 200);
  EXPECT_NE(f.body.find("weft_worker_polls_total{worker=\"0\"}"), std::string::npos) << f.body;
  EXPECT_EQ(fetch(s.url("/metrics")).status, 404);
}

TEST(HttpMetricsRoute, APathThatIsNotAPathOrIsTakenIsRejectedAsTheRouterDoes) {
  Router r;
  EXPECT_THROW(weft::http::add_metrics_route(r, "metrics"), std::invalid_argument);
  weft::http::add_metrics_route(r);
  EXPECT_THROW(weft::http::add_metrics_route(r), std::invalid_argument);
}
