// weft::http::Router (router.hpp): exact paths in a hash map, patterns in order, and the
// middleware chain run by index (Next holds the position), so dispatching a request
// allocates nothing beyond the coroutine frames of the middleware and the handler.
#include "weft/io/http/router.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "weft/io/http/error.hpp"
#include "weft/io/http/status.hpp"

namespace weft::http {

namespace {

[[noreturn]] void bad_pattern(std::string_view pattern, const char* why) {
  throw std::invalid_argument("http::Router: route \"" + std::string(pattern) + "\": " + why);
}

bool is_token(std::string_view s) {
  return Fields::valid_name(s);
}

}  // namespace

Response error_response(const HttpError& e) {
  const int code = e.status() >= 100 && e.status() <= 999 ? e.status() : 500;
  std::string msg = e.what();
  if (msg.empty()) msg = std::string(reason_phrase(code));
  return Response(code, msg + "\n");
}

Router& Router::route(std::string_view method, std::string_view pattern, Handler handler) {
  if (!handler) bad_pattern(pattern, "empty handler");
  if (!is_token(method)) bad_pattern(pattern, "the method is not a token");
  if (pattern.empty() || pattern.front() != '/') bad_pattern(pattern, "must start with '/'");
  Pattern p;
  p.pattern = std::string(pattern);
  std::size_t params = 0;
  std::string_view rest = pattern.substr(1);
  bool has_param = false;
  for (;;) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    Segment s;
    std::size_t open = seg.find('{');
    if (open == std::string_view::npos) {
      if (seg.find('}') != std::string_view::npos) bad_pattern(pattern, "a '}' without '{'");
      s.text = std::string(seg);
    } else {
      if (open != 0 || seg.back() != '}') {
        bad_pattern(pattern, "a parameter must be a whole segment");
      }
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        if (slash != std::string_view::npos) bad_pattern(pattern, "\"{name...}\" must be last");
        name.remove_suffix(3);
        p.catch_all = true;
      }
      if (name.empty() || name.find_first_of("{}/") != std::string_view::npos) {
        bad_pattern(pattern, "an empty or malformed parameter name");
      }
      for (const Segment& other : p.segments) {
        if (other.param && other.text == name) bad_pattern(pattern, "a repeated parameter name");
      }
      if (++params > Request::kMaxParams) bad_pattern(pattern, "too many parameters");
      s.text = std::string(name);
      s.param = true;
      has_param = true;
    }
    p.segments.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::vector<MethodHandler>* methods = nullptr;
  if (!has_param) {
    methods = &exact_[p.pattern];
  } else {
    for (Pattern& q : patterns_) {
      if (q.pattern == p.pattern) methods = &q.methods;
    }
    if (methods == nullptr) {
      patterns_.push_back(std::move(p));
      methods = &patterns_.back().methods;
    }
  }
  for (const MethodHandler& m : *methods) {
    if (m.method == method) bad_pattern(pattern, "already routed for this method");
  }
  methods->push_back(MethodHandler{std::string(method), std::move(handler)});
  return *this;
}

Router& Router::use(Middleware middleware) {
  if (!middleware) throw std::invalid_argument("http::Router::use: empty middleware");
  middleware_.push_back(std::move(middleware));
  return *this;
}

const Handler* Router::find_method(const std::vector<MethodHandler>& methods,
                                   std::string_view method) noexcept {
  const Handler* get = nullptr;
  for (const MethodHandler& m : methods) {
    if (m.method == method) return &m.handler;
    if (m.method == "GET") get = &m.handler;
  }
  return method == "HEAD" ? get : nullptr;
}

namespace {

/// Adds `m` to the Allow list `allow`, which lists each method once, also when several
/// patterns match.
void add_method(std::string& allow, std::string_view m) {
  std::string_view listed = allow;
  while (!listed.empty()) {
    std::size_t comma = listed.find(", ");
    if (listed.substr(0, comma) == m) return;
    if (comma == std::string_view::npos) break;
    listed.remove_prefix(comma + 2);
  }
  if (!allow.empty()) allow += ", ";
  allow += m;
}

/// Sorts the Allow list `allow` by name.
void sort_methods(std::string& allow) {
  std::vector<std::string_view> methods;
  std::string_view rest = allow;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(", ");
    methods.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 2);
  }
  std::sort(methods.begin(), methods.end());
  std::string sorted;
  for (std::string_view m : methods) {
    if (!sorted.empty()) sorted += ", ";
    sorted += m;
  }
  allow = std::move(sorted);
}

}  // namespace

void Router::add_allowed(const std::vector<MethodHandler>& methods, std::string& allow) {
  auto add = [&](std::string_view m) { add_method(allow, m); };
  bool get = false, head = false;
  for (const MethodHandler& m : methods) {
    add(m.method);
    get = get || m.method == "GET";
    head = head || m.method == "HEAD";
  }
  if (get && !head) add("HEAD");
}

bool Router::match(const Pattern& p, std::string_view path, Request& req) noexcept {
  if (path.empty() || path.front() != '/') return false;
  std::string_view rest = path.substr(1);
  req.param_count_ = 0;
  for (std::size_t i = 0; i < p.segments.size(); ++i) {
    const Segment& s = p.segments[i];
    const bool last = i + 1 == p.segments.size();
    if (last && p.catch_all) {
      req.add_param(s.text, rest);
      return true;
    }
    std::size_t slash = rest.find('/');
    if (last != (slash == std::string_view::npos)) return false;
    std::string_view seg = rest.substr(0, slash);
    if (s.param) {
      if (seg.empty()) return false;
      req.add_param(s.text, seg);
    } else if (seg != s.text) {
      return false;
    }
    if (!last) rest.remove_prefix(slash + 1);
  }
  return true;
}

const Handler* Router::resolve(Request& req) const {
  const std::string_view path = req.path();
  const std::string_view method = req.method_name();
  if (path == "*") {
    // OPTIONS * (the parser takes "*" for OPTIONS only) asks what the server as a whole
    // supports (RFC 9110 §9.3.7): 200 with every method some route takes.
    for (const auto& [route, methods] : exact_) add_allowed(methods, req.allow_);
    for (const Pattern& p : patterns_) add_allowed(p.methods, req.allow_);
    add_method(req.allow_, "OPTIONS");
    sort_methods(req.allow_);  // the same answer whatever order the routes' map keeps
    req.route_status_ = status::kOk;
    return nullptr;
  }
  bool path_matched = false;
  if (auto it = exact_.find(path); it != exact_.end()) {
    if (const Handler* h = find_method(it->second, method)) return h;
    path_matched = true;
    add_allowed(it->second, req.allow_);
  }
  for (const Pattern& p : patterns_) {
    if (!match(p, path, req)) continue;
    if (const Handler* h = find_method(p.methods, method)) {
      req.allow_.clear();
      return h;
    }
    path_matched = true;
    add_allowed(p.methods, req.allow_);
  }
  req.param_count_ = 0;
  req.route_status_ = path_matched ? status::kMethodNotAllowed : status::kNotFound;
  return nullptr;
}

Task<Response> Router::dispatch(Request& req) const {
  const Handler* handler = resolve(req);
  return run(req, handler, 0);
}

Task<Response> Router::run(Request& req, const Handler* handler, std::size_t index) const {
  if (index < middleware_.size()) return middleware_[index](req, Next(this, handler, index + 1));
  if (handler != nullptr) {
    // Without middleware the server turns an HttpError into its response; with some, it
    // becomes one here, so middleware sees a handler's 404 as it sees the router's.
    if (middleware_.empty()) return (*handler)(req);
    return [](const Handler& h, Request& r) -> Task<Response> {
      std::optional<Response> failed;
      try {
        co_return co_await h(r);
      } catch (const HttpError& e) {
        failed.emplace(error_response(e));
      }
      co_return std::move(*failed);
    }(*handler, req);
  }
  return [](Request& r) -> Task<Response> {
    if (r.route_status_ == status::kOk) {  // OPTIONS *
      Response resp(status::kOk);
      resp.headers().set("Allow", r.allow_);
      co_return resp;
    }
    Response resp(r.route_status_, std::string(reason_phrase(r.route_status_)) + "\n");
    if (r.route_status_ == status::kMethodNotAllowed) resp.headers().set("Allow", r.allow_);
    co_return resp;
  }(req);
}

Task<Response> Next::operator()(Request& req) const {
  return router_->run(req, handler_, index_);
}

}  // namespace weft::http
