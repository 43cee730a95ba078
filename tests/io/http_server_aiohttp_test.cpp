// http::Server under Python's aiohttp client (/usr/bin/python3, Debian's python3-aiohttp):
// many concurrent requests over its connection pool, uploads, and a streamed download
// read piece by piece.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "http_test_util.hpp"

using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::http::Router;
using weft::test::TestServer;

namespace {

constexpr const char* kScript = R"PY(
import asyncio, sys
import aiohttp

async def main(base):
    async with aiohttp.ClientSession() as session:
        async def one(i):
            async with session.get(f"{base}/users/{i}?q=a+b") as r:
                assert r.status == 200, r.status
                return await r.text()
        sem = asyncio.Semaphore(50)
        async def limited(i):
            async with sem:
                return await one(i)
        bodies = await asyncio.gather(*(limited(i) for i in range(500)))
        ok = sum(1 for i, b in enumerate(bodies) if b == f"user {i} q=a b")
        print(f"gets ok={ok}")
        async with session.post(f"{base}/echo", data=b"x" * 300000) as r:
            print(f"post status={r.status} len={len(await r.read())}")
        total = 0
        pieces = 0
        async with session.get(f"{base}/stream") as r:
            print(f"stream chunked={r.headers.get('Transfer-Encoding')}")
            async for piece in r.content.iter_any():
                total += len(piece)
                pieces += 1
        print(f"stream bytes={total}")

asyncio.run(main(sys.argv[1]))
)PY";

Router router() {
  Router r;
  r.get("/users/{id}", [](Request& req) -> Task<Response> {
    co_return Response::text("user " + std::string(req.param("id")) +
                             " q=" + req.query("q").value_or(""));
  });
  r.post("/echo",
         [](Request& req) -> Task<Response> { co_return Response::text(co_await req.text()); });
  r.get("/stream", [](Request&) -> Task<Response> {
    co_return Response::stream([](weft::http::BodyWriter& w) -> Task<void> {
      const std::string piece(10000, 'p');
      for (int i = 0; i < 100; ++i) co_await w.write(piece);
    });
  });
  return r;
}

}  // namespace

TEST(HttpServerAiohttp, ServesManyConcurrentRequestsAnUploadAndAStreamedDownload) {
  if (!weft::test::require_program("/usr/bin/python3")) return;
  TestServer s(router());
  const std::string script = ::testing::TempDir() + "/http_server_aiohttp_client.py";
  {
    std::ofstream f(script);
    f << kScript;
  }
  weft::test::CommandResult r =
      weft::test::run_command("timeout 60 /usr/bin/python3 " + script + " " + s.url("") + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("gets ok=500"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("post status=200 len=300000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stream chunked=chunked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stream bytes=1000000"), std::string::npos) << r.out;
}
