// http_rest: a small REST-style service of notes on weft::http — routes with a path
// parameter, middleware for authorization and a response header, HttpError for the
// failures — and a client that exercises it over one keep-alive connection. No JSON
// library: the bodies are plain text.
//
//   GET    /notes          every note, one "id: text" line each
//   POST   /notes          adds the body as a note: 201 and its id (needs the token)
//   GET    /notes/{id}     one note, or 404
//   DELETE /notes/{id}     removes it: 204 (needs the token)
#include <charconv>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

using weft::Task;
using weft::http::HttpError;
using weft::http::Next;
using weft::http::Request;
using weft::http::Response;

namespace {

/// The notes, shared by every connection (handlers may run on any worker).
class Notes {
 public:
  int add(std::string text) {
    std::lock_guard lk(mu_);
    notes_[next_id_] = std::move(text);
    return next_id_++;
  }
  std::string get(int id) {
    std::lock_guard lk(mu_);
    auto it = notes_.find(id);
    if (it == notes_.end()) throw HttpError(404, "no note " + std::to_string(id));
    return it->second;
  }
  void remove(int id) {
    std::lock_guard lk(mu_);
    if (notes_.erase(id) == 0) throw HttpError(404, "no note " + std::to_string(id));
  }
  std::string list() {
    std::lock_guard lk(mu_);
    std::string out;
    for (const auto& [id, text] : notes_) out += std::to_string(id) + ": " + text + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::map<int, std::string> notes_;
  int next_id_ = 1;
};

int id_of(const Request& req) {
  const std::string_view s = req.param("id");
  int id = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || end != s.data() + s.size()) throw HttpError(400, "bad id");
  return id;
}

weft::http::Router make_router(Notes& notes) {
  weft::http::Router r;
  // Outermost: every response says which service answered.
  r.use([](Request& req, Next next) -> Task<Response> {
    Response resp = co_await next(req);
    resp.header("X-Service", "notes");
    co_return resp;
  });
  // Changing methods need the token; reading does not.
  r.use([](Request& req, Next next) -> Task<Response> {
    const bool changes =
        req.method() == weft::http::Method::kPost || req.method() == weft::http::Method::kDelete;
    if (changes && req.header("Authorization") != "Bearer demo") {
      co_return Response(401, "token required\n");
    }
    co_return co_await next(req);
  });
  r.get("/notes", [&notes](Request&) -> Task<Response> { co_return Response::text(notes.list()); });
  r.post("/notes", [&notes](Request& req) -> Task<Response> {
    std::string text = co_await req.text();
    if (text.empty()) throw HttpError(400, "empty note");
    co_return Response(201, std::to_string(notes.add(std::move(text))) + "\n");
  });
  r.get("/notes/{id}", [&notes](Request& req) -> Task<Response> {
    co_return Response::text(notes.get(id_of(req)) + "\n");
  });
  r.del("/notes/{id}", [&notes](Request& req) -> Task<Response> {
    notes.remove(id_of(req));
    co_return Response(204);
  });
  return r;
}

/// Sends one request on `c` and prints the status line, X-Service and the body.
Task<void> call(weft::net::BufferedStream& c, std::string method, std::string path,
                std::string body = {}, bool token = true) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  if (token) req += "Authorization: Bearer demo\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await c.write(req);
  co_await c.flush();
  std::string status = co_await c.read_line();
  std::size_t length = 0;
  std::string service;
  for (;;) {
    std::string line = co_await c.read_line();
    if (line == "\r\n") break;
    if (line.rfind("Content-Length: ", 0) == 0) length = std::stoul(line.substr(16));
    if (line.rfind("X-Service: ", 0) == 0) service = line.substr(11, line.size() - 13);
  }
  std::string text;
  if (length > 0) text = co_await c.read_exact(length);
  status.resize(status.size() - 2);
  std::printf("%s %s -> %s [%s]\n", method.c_str(), path.c_str(), status.c_str(), service.c_str());
  if (!text.empty()) std::printf("%s", text.c_str());
}

Task<void> demo() {
  Notes notes;
  weft::http::Server server(make_router(notes));
  co_await server.listen("127.0.0.1", 0);
  auto serving = weft::spawn(server.serve_forever());

  auto c = co_await weft::net::open_connection("127.0.0.1", server.local_address().port());
  co_await call(c, "POST", "/notes", "buy milk");
  co_await call(c, "POST", "/notes", "write the report");
  co_await call(c, "POST", "/notes", "sneaky", /*token=*/false);
  co_await call(c, "GET", "/notes");
  co_await call(c, "GET", "/notes/2");
  co_await call(c, "DELETE", "/notes/1");
  co_await call(c, "GET", "/notes/1");
  co_await call(c, "GET", "/notes/x");
  co_await call(c, "PUT", "/notes/2", "no");
  co_await call(c, "GET", "/notes");
  co_await c.close();

  co_await server.shutdown(std::chrono::seconds(1));
  co_await serving;
}

}  // namespace

int main() {
  weft::run(demo());
  return 0;
}
