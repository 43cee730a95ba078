// weft-http-client: weft::http::Client in run_http.py's client benchmark (bench/README.md,
// "HTTP"): --connections tasks share one Client limited to that many connections per host,
// each sending GETs to --url one after another until --requests responses were read in
// all. Prints "requests=N seconds=S requests_per_sec=R cpu_s=C", timed from the first
// request to the last response (cpu_s: this process's CPU time over that span).
#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <weft/io/http/client.hpp>
#include <weft/weft.hpp>

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] void usage() {
  std::fprintf(
      stderr, "usage: weft-http-client --url URL [--requests N] [--connections C] [--workers W]\n");
  std::exit(2);
}

struct Args {
  std::string url;
  long requests = 1000000;
  long connections = 64;
  long workers = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage();
    std::string_view v = argv[++i];
    long* target = nullptr;
    if (k == "--url") {
      a.url = std::string(v);
      continue;
    }
    if (k == "--requests") target = &a.requests;
    if (k == "--connections") target = &a.connections;
    if (k == "--workers") target = &a.workers;
    if (!target) usage();
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *target);
    if (ec != std::errc() || p != v.data() + v.size() || *target <= 0) usage();
  }
  if (a.url.empty()) usage();
  return a;
}

/// One connection's loop: GETs until the shared count runs out.
weft::Task<void> fetch_loop(weft::http::Client& client, const std::string& url,
                            std::atomic<long>& left) {
  while (left.fetch_sub(1, std::memory_order_relaxed) > 0) {
    weft::http::ClientResponse r = co_await client.get(url);
    std::string body = co_await r.text();
    if (r.status() != 200 || body.empty()) {
      throw std::runtime_error("unexpected response: status " + std::to_string(r.status()));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  weft::RuntimeOptions ro;
  ro.workers = static_cast<std::size_t>(args.workers);
  std::atomic<long> left{args.requests};
  double seconds = 0, cpu = 0;
  try {
    weft::run(
        [&]() -> weft::Task<void> {
          weft::http::ClientOptions co;
          co.limit_per_host = static_cast<std::size_t>(args.connections);
          co.limit = static_cast<std::size_t>(args.connections);
          co.total_timeout = weft::Duration::max();
          weft::http::Client client(std::move(co));
          const auto started = std::chrono::steady_clock::now();
          const double cpu_started = cpu_seconds();
          std::vector<weft::JoinHandle<void>> loops;
          for (long i = 0; i < args.connections; ++i) {
            loops.push_back(weft::spawn(fetch_loop(client, args.url, left)));
          }
          for (auto& h : loops) co_await h;
          seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          cpu = cpu_seconds() - cpu_started;
        }(),
        ro);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-http-client: %s\n", e.what());
    return 1;
  }
  std::printf("requests=%ld seconds=%.3f requests_per_sec=%.0f cpu_s=%.3f\n", args.requests,
              seconds, static_cast<double>(args.requests) / seconds, cpu);
  return 0;
}
