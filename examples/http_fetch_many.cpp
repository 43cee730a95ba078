// http_fetch_many: fetch 100 URLs, at most 10 at a time, each under a timeout — aiohttp's
// ClientSession example on weft:
//
//   async def fetch(session, url):
//       try:
//           async with session.get(url) as resp:
//               return len(await resp.text())
//       except asyncio.TimeoutError:
//           return None
//
//   async def main():
//       timeout = aiohttp.ClientTimeout(total=1)
//       connector = aiohttp.TCPConnector(limit_per_host=10)
//       async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
//           sizes = await asyncio.gather(*(fetch(session, url) for url in urls))
//
// The program serves the URLs itself, from a small HTTP/1.1 responder on 127.0.0.1 (keep-
// alive, one response per request); every 25th page is slow and times out. It prints what
// it fetched, and checks that the pool reused its connections: 10, plus one to replace each
// connection that a timeout closed.
#include <cstdio>
#include <string>
#include <vector>

#include <weft/io/http/client.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

/// The responder: "GET /page/N" answers "page N" repeated N times; "/slow/N" waits 5 s first.
weft::Task<void> serve(weft::net::BufferedStream s) {
  for (;;) {
    std::string head;
    try {
      head = co_await s.read_until("\r\n\r\n");
    } catch (const weft::net::IncompleteRead&) {
      co_return;  // the client closed the connection
    }
    const std::size_t path_at = head.find(' ') + 1;
    const std::string path = head.substr(path_at, head.find(' ', path_at) - path_at);
    const int n = std::stoi(path.substr(path.rfind('/') + 1));
    if (path.rfind("/slow/", 0) == 0) co_await weft::sleep(5s);
    std::string body;
    for (int i = 0; i < n; ++i) body += "page " + std::to_string(n) + "\n";
    co_await s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
    co_await s.flush();
  }
}

/// The length of the page at `url`, or -1 if it timed out.
weft::Task<long> fetch(weft::http::Client& client, std::string url) {
  try {
    weft::http::ClientResponse resp = co_await client.get(url);
    std::string text = co_await resp.text();
    co_return static_cast<long>(text.size());
  } catch (const weft::TimeoutError&) {
    co_return -1;
  }
}

weft::Task<void> main_task() {
  weft::net::Server server = co_await weft::net::start_server(serve, "127.0.0.1", 0);
  auto serving = weft::spawn(server.serve_forever());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.local_address().port());

  std::vector<std::string> urls;
  for (int i = 1; i <= 100; ++i) {
    urls.push_back(base + (i % 25 == 0 ? "/slow/" : "/page/") + std::to_string(i));
  }
  long fetched = 0, timed_out = 0, bytes = 0;
  {
    weft::http::ClientOptions options;
    options.limit_per_host = 10;
    options.total_timeout = 1s;
    weft::http::Client client(std::move(options));
    std::vector<weft::JoinHandle<long>> fetches;
    for (const std::string& url : urls) fetches.push_back(weft::spawn(fetch(client, url)));
    for (auto& f : fetches) {
      const long size = co_await f;
      if (size < 0) {
        ++timed_out;
      } else {
        ++fetched;
        bytes += size;
      }
    }
    std::printf("fetched %ld pages, %ld bytes; %ld timed out\n", fetched, bytes, timed_out);
    // 10 kept alive, and one more to replace each connection a timeout closed.
    const bool reused = client.connections_made() <= 10 + static_cast<std::uint64_t>(timed_out);
    std::printf("connections: %s\n", reused ? "reused" : "not reused");
  }
  co_await server.shutdown(100ms);
  co_await serving;
}

}  // namespace

int main() {
  weft::run(main_task());
}
