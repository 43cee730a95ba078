// tcp_echo: the asyncio documentation's TCP echo server and client, with weft's streams.
//
//   async def handle_echo(reader, writer):
//       data = await reader.readline()
//       addr = writer.get_extra_info("peername")
//       print(f"server: received {data.decode()!r}")
//       writer.write(data.upper())
//       await writer.drain()
//       writer.close()
//       await writer.wait_closed()
//
//   async def tcp_echo_client(message, port):
//       reader, writer = await asyncio.open_connection("127.0.0.1", port)
//       print(f"client: send {message!r}")
//       writer.write(message.encode() + b"\n")
//       await writer.drain()
//       data = await reader.readline()
//       print(f"client: received {data.decode()!r}")
//       writer.close()
//       await writer.wait_closed()
//
//   async def main():
//       server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
//       port = server.sockets[0].getsockname()[1]
//       async with server:
//           for message in ["Hello World!", "weft", "streams"]:
//               await tcp_echo_client(message, port)
//
// The clients run one after the other and every line is caused by the one before it, so the
// output is the same however the tasks are spread over workers.
#include <cctype>
#include <cstdio>
#include <string>

#include <weft/weft.hpp>

using namespace std::chrono_literals;
using weft::net::BufferedStream;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

weft::Task<void> handle_echo(BufferedStream s) {
  std::string data = co_await s.read_line();
  std::printf("server: received '%s'\n", trimmed(data).c_str());
  for (char& c : data) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  co_await s.write(data);
  co_await s.close();  // flushes first
}

weft::Task<void> tcp_echo_client(std::string message, std::uint16_t port) {
  BufferedStream s = co_await weft::net::open_connection("127.0.0.1", port);
  std::printf("client: send '%s'\n", message.c_str());
  co_await s.write(message + "\n");
  co_await s.flush();
  std::string reply = co_await s.read_line();
  std::printf("client: received '%s'\n", trimmed(reply).c_str());
  co_await s.close();
}

weft::Task<void> main_task() {
  weft::net::Server server = co_await weft::net::start_server(handle_echo, "127.0.0.1", 0);
  auto serving = weft::spawn(server.serve_forever());
  for (const char* message : {"Hello World!", "weft", "streams"}) {
    co_await tcp_echo_client(message, server.local_address().port());
  }
  const std::size_t cancelled = co_await server.shutdown(1s);
  co_await serving;
  std::printf("server: closed after %zu connections (%zu cancelled)\n", server.accepted(),
              cancelled);
}

}  // namespace

int main() {
  weft::run(main_task());
}
