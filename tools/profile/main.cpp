// weft-profile: drives a target at stepped concurrency (closed loop) or at stepped request
// rates (open loop, --rates), prints a markdown table of throughput and latency per step
// with the USL fit and the knee (closed) or the highest rate sustained (open), and writes
// the same as JSON. Targets: a TCP echo server, or an HTTP server (one keep-alive
// connection per concurrent client, a request done when its whole body has arrived, a
// status other than 2xx an error):
//
//   weft-profile tcp --host H --port P [--payload 64] [STEPS] [OPTIONS]
//   weft-profile http --url http://HOST:PORT/PATH [--method GET] [--body TEXT] [STEPS] [OPTIONS]
//     STEPS:   [--steps 1,2,4,8 | --max N] or [--rates 1000,2000,... [--connections 64]]
//     OPTIONS: [--warmup 0.5] [--seconds 2] [--json FILE] [--plot PREFIX] [--workers W]
//              [--metrics-url http://HOST:PORT/metrics]
//
// A program profiles a coroutine of its own through the library instead
// (coroutine_target.hpp).
//
// --metrics-url: the target is a weft program serving its runtime's metrics there
// (http::add_metrics_route); they are read before and after each step, and the table
// gains the target's CPU share and scheduling delay, the report the resource they point at.
// --plot PREFIX writes PREFIX.png (drawn by gnuplot, which must be installed) and the
// gnuplot script that draws it, PREFIX.gp, with the data inline.
// Exit status: 0 done, 1 the target could not be reached (or the JSON file not written),
// 2 bad arguments.
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

#include "weft/profile/http_target.hpp"
#include "weft/profile/plot.hpp"
#include "weft/profile/profile.hpp"
#include "weft/profile/report.hpp"
#include "weft/profile/tcp_echo_target.hpp"

namespace {

using weft::profile::HttpTarget;
using weft::profile::Profile;
using weft::profile::ProfileOptions;
using weft::profile::StepResult;
using weft::profile::TcpEchoTarget;

constexpr const char* kUsage =
    "usage: weft-profile tcp --host H --port P [--payload BYTES] [STEPS] [OPTIONS]\n"
    "       weft-profile http --url URL [--method METHOD] [--body TEXT] [STEPS] [OPTIONS]\n"
    "  STEPS:   [--steps 1,2,4,... | --max N] or [--rates R1,R2,... [--connections N]]\n"
    "  OPTIONS: [--warmup SECONDS] [--seconds SECONDS] [--json FILE]\n"
    "           [--plot PREFIX] [--workers W] [--metrics-url URL]\n";
constexpr int kDefaultMax = 64;
constexpr int kLargestConcurrency = 100'000;
constexpr std::size_t kLargestPayload = std::size_t{1} << 24;
constexpr std::size_t kMostWorkers = 1024;
constexpr double kShortestStep = 0.001;  // seconds
constexpr double kLongestStep = 3600;    // seconds
constexpr double kHighestRate = 1e9;     // requests per second
constexpr int kDefaultConnections = 64;

struct Options {
  bool http = false;  // the target: http (url, method, body), else tcp (host, port, payload)
  std::string url;
  std::optional<weft::http::Method> method;
  std::string body;
  std::string host;
  std::optional<std::uint16_t> port;
  std::size_t payload = 64;
  std::vector<int> steps;
  std::optional<int> max;
  std::vector<double> rates;
  std::optional<int> connections;
  double warmup = 0.5;
  double seconds = 2.0;
  std::string json;
  std::string plot;
  std::string metrics_url;
  std::size_t workers = 0;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "weft-profile: %s\n%s", what.c_str(), kUsage);
  std::exit(2);
}

template <class T>
std::optional<T> parse_integer(std::string_view text, T low, T high) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> parse_seconds(const std::string& text, double low) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= low) || value > kLongestStep) return std::nullopt;
  return value;
}

// "1,2,4,8": increasing concurrencies, each in [1, kLargestConcurrency].
std::optional<std::vector<int>> parse_steps(std::string_view text) {
  std::vector<int> steps;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const auto step = parse_integer<int>(text.substr(0, comma), 1, kLargestConcurrency);
    if (!step || (!steps.empty() && *step <= steps.back())) return std::nullopt;
    steps.push_back(*step);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (steps.empty()) return std::nullopt;
  return steps;
}

// "1000,2000.5": increasing request rates, each in (0, kHighestRate].
std::optional<std::vector<double>> parse_rates(std::string_view text) {
  std::vector<double> rates;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string item(text.substr(0, comma));
    char* end = nullptr;
    const double rate = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(rate > 0) || rate > kHighestRate ||
        (!rates.empty() && rate <= rates.back())) {
      return std::nullopt;
    }
    rates.push_back(rate);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (rates.empty()) return std::nullopt;
  return rates;
}

std::vector<int> powers_of_two_up_to(int max) {
  std::vector<int> steps;
  for (int n = 1; n <= max && n > 0; n *= 2) steps.push_back(n);
  return steps;
}

// Sets `field` to the parsed value; false if there is none.
template <class Field, class T>
bool set_value(Field& field, const std::optional<T>& parsed) {
  if (parsed) field = *parsed;
  return parsed.has_value();
}

// Applies one "--name value" pair; false if the name is unknown or the value bad.
bool apply_option(Options& o, std::string_view name, const std::string& value) {
  if (name == "--host") return set_value(o.host, std::optional(value));
  if (name == "--url") return set_value(o.url, std::optional(value));
  if (name == "--body") return set_value(o.body, std::optional(value));
  if (name == "--method") {
    const weft::http::Method m = weft::http::method_from_name(value);
    if (m == weft::http::Method::kOther) return false;
    o.method = m;
    return true;
  }
  if (name == "--json") return set_value(o.json, std::optional(value));
  if (name == "--plot") return set_value(o.plot, std::optional(value));
  if (name == "--metrics-url") return set_value(o.metrics_url, std::optional(value));
  if (name == "--port") return set_value(o.port, parse_integer<std::uint16_t>(value, 1, 65535));
  if (name == "--max") return set_value(o.max, parse_integer(value, 1, kLargestConcurrency));
  if (name == "--payload")
    return set_value(o.payload, parse_integer(value, std::size_t{1}, kLargestPayload));
  if (name == "--workers")
    return set_value(o.workers, parse_integer(value, std::size_t{1}, kMostWorkers));
  if (name == "--steps") return set_value(o.steps, parse_steps(value));
  if (name == "--rates") return set_value(o.rates, parse_rates(value));
  if (name == "--connections")
    return set_value(o.connections, parse_integer(value, 1, kLargestConcurrency));
  if (name == "--warmup") return set_value(o.warmup, parse_seconds(value, 0.0));
  if (name == "--seconds") return set_value(o.seconds, parse_seconds(value, kShortestStep));
  return false;
}

Options parse_options(int argc, char** argv) {
  const std::string_view kind = argc >= 2 ? std::string_view(argv[1]) : std::string_view();
  if (kind != "tcp" && kind != "http") usage_error("the first argument must be 'tcp' or 'http'");
  Options o;
  o.http = kind == "http";
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) usage_error(std::string("missing value after ") + argv[i]);
    if (!apply_option(o, argv[i], argv[i + 1])) {
      usage_error(std::string("bad option ") + argv[i] + " " + argv[i + 1]);
    }
  }
  if (o.http) {
    if (o.url.empty()) usage_error("http: --url is required");
    if (!o.host.empty() || o.port) usage_error("http: the URL names the host and port");
  } else {
    if (o.host.empty() || !o.port) usage_error("tcp: --host and --port are required");
    if (!o.url.empty() || o.method || !o.body.empty())
      usage_error("tcp: --url, --method and --body go with http");
  }
  if (o.max && !o.steps.empty()) usage_error("give --steps or --max, not both");
  if (!o.rates.empty() && (o.max || !o.steps.empty()))
    usage_error("give --rates (open loop) or --steps/--max (closed loop), not both");
  if (o.connections && o.rates.empty()) usage_error("--connections goes with --rates");
  if (o.steps.empty()) o.steps = powers_of_two_up_to(o.max.value_or(kDefaultMax));
  return o;
}

weft::Duration to_duration(double seconds) {
  return std::chrono::duration_cast<weft::Duration>(std::chrono::duration<double>(seconds));
}

void print_progress(const StepResult& s) {
  const double p50_us = static_cast<double>(s.latency.percentile(0.5)) / 1e3;
  const auto errors = static_cast<unsigned long long>(s.errors);
  if (s.offered_rate > 0) {
    std::fprintf(stderr, "rate %.0f: %.0f req/s, p50 %.1f us, %llu late, %llu errors\n",
                 s.offered_rate, s.throughput(), p50_us, static_cast<unsigned long long>(s.late),
                 errors);
  } else {
    std::fprintf(stderr, "concurrency %d: %.0f req/s, p50 %.1f us, %llu errors\n", s.concurrency,
                 s.throughput(), p50_us, errors);
  }
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// The target can be reached: one session opened and closed before any step.
weft::Task<bool> reachable(weft::profile::Target& target) {
  try {
    std::unique_ptr<weft::profile::Session> session = co_await target.connect();
    co_return true;
  } catch (const weft::CancelledError&) {
    throw;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "weft-profile: cannot reach %s: %s\n", target.describe().c_str(),
                 error.what());
  }
  co_return false;
}

// The target the options name; nullptr (after a message) for a bad URL.
std::unique_ptr<weft::profile::Target> make_target(const Options& o) {
  if (!o.http) return std::make_unique<TcpEchoTarget>(o.host, *o.port, o.payload);
  try {
    return std::make_unique<HttpTarget>(o.url, o.method.value_or(weft::http::Method::kGet), o.body);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "weft-profile: --url: %s\n", e.what());
  }
  return nullptr;
}

// The target's /metrics page; throws what the client throws, or for a status other than 200.
weft::Task<std::string> read_metrics(weft::http::Client& client, std::string url) {
  weft::http::ClientResponse r = co_await client.get(url);
  if (r.status() != 200) {
    throw std::runtime_error("GET " + url + ": status " + std::to_string(r.status()));
  }
  co_return co_await r.text();
}

weft::Task<int> profile_main(Options o) {
  std::unique_ptr<weft::profile::Target> target_ptr = make_target(o);
  if (!target_ptr) co_return 2;
  weft::profile::Target& target = *target_ptr;
  const bool ok = co_await reachable(target);
  if (!ok) co_return 1;
  weft::http::Client client;
  if (!o.metrics_url.empty()) {
    std::string error;
    try {
      weft::profile::parse_runtime_sample(co_await read_metrics(client, o.metrics_url));
    } catch (const weft::CancelledError&) {
      throw;
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      std::fprintf(stderr, "weft-profile: --metrics-url %s: %s\n", o.metrics_url.c_str(),
                   error.c_str());
      co_return 1;
    }
  }
  ProfileOptions options{.concurrencies = o.steps,
                         .rates = o.rates,
                         .connections = o.connections.value_or(kDefaultConnections),
                         .warmup = to_duration(o.warmup),
                         .measure = to_duration(o.seconds),
                         .on_step = print_progress};
  if (!o.metrics_url.empty()) {
    options.read_metrics = [&client, url = o.metrics_url] { return read_metrics(client, url); };
  }
  const Profile profile = co_await weft::profile::run_profile(target, std::move(options));
  std::fputs(weft::profile::markdown_report(profile).c_str(), stdout);
  if (!o.json.empty() && !write_file(o.json, weft::profile::json_report(profile))) {
    std::fprintf(stderr, "weft-profile: cannot write %s\n", o.json.c_str());
    co_return 1;
  }
  if (!o.plot.empty()) {
    std::string error;
    try {
      co_await weft::profile::write_plot(profile, o.plot + ".gp", o.plot + ".png");
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    if (!error.empty()) {
      std::fprintf(stderr, "weft-profile: %s\n", error.c_str());
      co_return 1;
    }
    std::fprintf(stderr, "weft-profile: wrote %s.png (and %s.gp)\n", o.plot.c_str(),
                 o.plot.c_str());
  }
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return weft::run(profile_main(options), {.workers = options.workers});
  } catch (const std::exception& error) {
    std::fprintf(stderr, "weft-profile: %s:%u: %s\n", options.host.c_str(),
                 static_cast<unsigned>(*options.port), error.what());
    return 1;
  }
}
