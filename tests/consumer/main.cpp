// The program every packaging test builds outside weft's own build: it uses weft::runtime
// (run, spawn, gather), weft::sync (a Queue), and weft::io (a TCP echo on 127.0.0.1, and a
// file through weft::fs, whose backend choice links liburing), and prints a fixed transcript
// that tests/consumer/run_consumer.cmake compares. argv[1]: a file path it may create.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

weft::Task<int> square(int x) {
  co_await weft::yield_now();
  co_return x* x;
}

weft::Task<> produce(weft::Queue<std::optional<int>>& queue) {
  for (int i = 1; i <= 3; ++i) co_await queue.put(i);
  co_await queue.put(std::nullopt);
}

weft::Task<int> consume(weft::Queue<std::optional<int>>& queue) {
  int sum = 0;
  while (std::optional<int> item = co_await queue.get()) sum += *item;
  co_return sum;
}

weft::Task<> echo(weft::net::BufferedStream s) {
  std::string line = co_await s.read_line();
  co_await s.write("echo: " + line);
  co_await s.close();
}

weft::Task<> main_task(std::filesystem::path file) {
  auto [nine, sixteen] = co_await weft::gather(square(3), square(4));
  std::printf("gather: %d %d\n", nine, sixteen);

  weft::Queue<std::optional<int>> queue(1);
  auto producer = weft::spawn(produce(queue));
  const int sum = co_await consume(queue);
  co_await producer;
  std::printf("queue: %d\n", sum);

  weft::net::Server server = co_await weft::net::start_server(echo, "127.0.0.1", 0);
  auto serving = weft::spawn(server.serve_forever());
  {
    weft::net::BufferedStream client =
        co_await weft::net::open_connection("127.0.0.1", server.local_address().port());
    co_await client.write("hello\n");
    co_await client.flush();
    std::string reply = co_await client.read_line();
    std::printf("tcp: %s", reply.c_str());
    co_await client.close();
  }
  co_await server.shutdown(1s);
  co_await serving;

  co_await weft::fs::write_file(file, "weft\n");
  std::string contents = co_await weft::fs::read_file(file);
  co_await weft::fs::remove(file);
  std::printf("file: %s", contents.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  weft::run(main_task(argv[1]));
  std::printf("done\n");
}
