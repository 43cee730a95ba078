// weft::http::Router: handlers by method and path, and the middleware around them.
//
// Patterns are paths whose segments may be parameters: "/users/{id}/posts/{post}" matches
// "/users/7/posts/12" with param("id") == "7"; a last segment "{rest...}" matches the rest
// of the path, slashes included (possibly empty). A parameter matches one non-empty
// segment. Routes without parameters are found by one hash lookup, whatever their number;
// routes with parameters are tried in the order they were added, after the exact ones. The
// path is matched after percent-decoding.
//
// When no route's path matches, the answer is 404; when a path matches but not for the
// request's method, 405 with Allow listing the methods it has. A GET route also serves
// HEAD (the server drops the body) unless a HEAD route is added for the path.
//
// Middleware wraps everything after it: `use(m)` adds `m(req, next)`, which may answer at
// once (short-circuit), or `co_await next(req)` and change the response. Middleware runs in
// the order it was added (the first added is the outermost), also around the 404 and 405
// answers. Build the router before the server starts; it is read-only while serving, so any
// number of workers use it at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/http/method.hpp"
#include "weft/io/http/request.hpp"
#include "weft/io/http/response.hpp"

namespace weft::http {

/// A request handler.
using Handler = std::function<Task<Response>(Request&)>;

class Router;

/// The rest of the chain, as middleware sees it: call it to run the next middleware or the
/// handler. Cheap to copy; valid while its request is being served.
class Next {
 public:
  /// Runs what comes after this middleware for `req`.
  Task<Response> operator()(Request& req) const;

 private:
  friend class Router;
  Next(const Router* router, const Handler* handler, std::size_t index) noexcept
      : router_(router), handler_(handler), index_(index) {}
  const Router* router_;
  const Handler* handler_;
  std::size_t index_;
};

/// Middleware: `Task<Response>(Request&, Next)`.
using Middleware = std::function<Task<Response>(Request&, Next)>;

class Router {
 public:
  /// Adds a handler for `method` (any token: "GET", "PURGE") on `pattern`. Throws
  /// std::invalid_argument for a pattern that does not start with '/', an empty or unclosed
  /// "{...}", a parameter mixed with text in a segment, a "{name...}" that is not last, more
  /// than Request::kMaxParams parameters, a repeated parameter name, an empty handler, or a
  /// method and pattern already routed.
  Router& route(std::string_view method, std::string_view pattern, Handler handler);
  Router& get(std::string_view pattern, Handler h) { return route("GET", pattern, std::move(h)); }
  Router& head(std::string_view pattern, Handler h) { return route("HEAD", pattern, std::move(h)); }
  Router& post(std::string_view pattern, Handler h) { return route("POST", pattern, std::move(h)); }
  Router& put(std::string_view pattern, Handler h) { return route("PUT", pattern, std::move(h)); }
  Router& patch(std::string_view pattern, Handler h) {
    return route("PATCH", pattern, std::move(h));
  }
  Router& del(std::string_view pattern, Handler h) {
    return route("DELETE", pattern, std::move(h));
  }
  /// Adds middleware, inside what was added before. Throws std::invalid_argument if empty.
  Router& use(Middleware middleware);

  /// Routes `req` (setting its parameters) and runs the middleware and the handler, or
  /// answers 404 / 405. What the server calls for each request.
  Task<Response> dispatch(Request& req) const;

 private:
  friend class Next;
  struct MethodHandler {
    std::string method;
    Handler handler;
  };
  struct Segment {
    std::string text;  // the literal, or the parameter's name
    bool param = false;
  };
  struct Pattern {
    std::string pattern;
    std::vector<Segment> segments;
    bool catch_all = false;  // the last segment is "{name...}"
    std::vector<MethodHandler> methods;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  static const Handler* find_method(const std::vector<MethodHandler>& methods,
                                    std::string_view method) noexcept;
  static void add_allowed(const std::vector<MethodHandler>& methods, std::string& allow);
  static bool match(const Pattern& p, std::string_view path, Request& req) noexcept;
  const Handler* resolve(Request& req) const;
  Task<Response> run(Request& req, const Handler* handler, std::size_t index) const;

  std::unordered_map<std::string, std::vector<MethodHandler>, Hash, std::equal_to<>> exact_;
  std::vector<Pattern> patterns_;
  std::vector<Middleware> middleware_;
};

}  // namespace weft::http
