// http_stream_download: a response body produced while it is sent (Response::stream) —
// here a generated CSV report, a row at a time — and a client that downloads it, decoding
// the chunked transfer coding as the pieces arrive.
#include <cstdio>
#include <string>

#include <weft/io/http.hpp>
#include <weft/weft.hpp>

using weft::Task;
using weft::http::BodyWriter;
using weft::http::Request;
using weft::http::Response;

namespace {

weft::http::Router make_router() {
  weft::http::Router r;
  r.get("/report/{rows}", [](Request& req) -> Task<Response> {
    const int rows = std::stoi(std::string(req.param("rows")));
    co_return Response::stream(
        [rows](BodyWriter& w) -> Task<void> {
          co_await w.write("n,square,cube\n");
          for (int n = 1; n <= rows; ++n) {
            // Each row goes out as soon as it is made: the whole report is never in memory.
            co_await w.write(std::to_string(n) + "," + std::to_string(n * n) + "," +
                             std::to_string(n * n * n) + "\n");
          }
        },
        "text/csv");
  });
  return r;
}

/// Downloads `path` and returns its body, counting the chunks it came in.
Task<std::string> download(std::uint16_t port, const std::string& path, int& chunks) {
  auto c = co_await weft::net::open_connection("127.0.0.1", port);
  co_await c.write("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  co_await c.flush();
  std::printf("%s", (co_await c.read_line()).c_str());
  while (co_await c.read_line() != "\r\n") {
  }
  std::string body;
  for (;;) {
    const std::size_t size = std::stoul(co_await c.read_line(), nullptr, 16);
    if (size == 0) break;
    body += co_await c.read_exact(size);
    co_await c.read_exact(2);  // the CRLF after the chunk
    ++chunks;
  }
  co_return body;
}

Task<void> demo() {
  weft::http::Server server(make_router());
  co_await server.listen("127.0.0.1", 0);
  auto serving = weft::spawn(server.serve_forever());

  int chunks = 0;
  const std::string report = co_await download(server.local_address().port(), "/report/5", chunks);
  std::printf("%s", report.c_str());
  std::printf("%zu bytes in %d chunks\n", report.size(), chunks);

  co_await server.shutdown(std::chrono::seconds(1));
  co_await serving;
}

}  // namespace

int main() {
  weft::run(demo());
  return 0;
}
