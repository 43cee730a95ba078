// udp_echo: a UDP echo server task, and a client that sends it three messages and prints
// the replies. Each datagram is one message: no framing, no connection to accept.
//
//   async def echo_server(sock):
//       loop = asyncio.get_running_loop()
//       try:
//           while True:
//               data, addr = await loop.sock_recvfrom(sock, 1024)
//               print(f"server: received {data.decode()!r}")
//               await loop.sock_sendto(sock, data.upper(), addr)
//       except asyncio.CancelledError:
//           print("server: stopped")
//           raise
//
//   async def client(server_address):
//       loop = asyncio.get_running_loop()
//       with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
//           sock.setblocking(False)
//           sock.connect(server_address)        # send() goes there; only its replies arrive
//           for message in ["hello", "datagram", "world"]:
//               print(f"client: sending {message!r}")
//               await loop.sock_sendall(sock, message.encode())
//               reply = await loop.sock_recv(sock, 1024)
//               print(f"client: received {reply.decode()!r}")
//
//   async def main():
//       sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
//       sock.setblocking(False)
//       sock.bind(("127.0.0.1", 0))             # port 0: any free port
//       server = asyncio.create_task(echo_server(sock))
//       await client(sock.getsockname())
//       server.cancel()                         # its pending recvfrom raises CancelledError
//       with contextlib.suppress(asyncio.CancelledError):
//           await server
//
// Every line is caused by the one before it (a reply is sent only after the request was
// received), so the output is the same however the tasks are spread over workers.
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <weft/weft.hpp>

using weft::net::SocketAddress;
using weft::net::UdpSocket;

namespace {

weft::Task<> echo_server(UdpSocket& sock) {
  std::vector<std::byte> buf(1024);
  try {
    for (;;) {
      auto [n, from] = co_await sock.recv_from(buf);
      std::string data(reinterpret_cast<const char*>(buf.data()), n);
      std::printf("server: received '%s'\n", data.c_str());
      for (char& c : data) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      co_await sock.send_to(std::as_bytes(std::span(data)), from);
    }
  } catch (const weft::CancelledError&) {
    std::printf("server: stopped\n");
    throw;
  }
}

weft::Task<> client(SocketAddress server_address) {
  UdpSocket sock = UdpSocket::bind(SocketAddress::ip("127.0.0.1", 0));
  sock.connect(server_address);
  std::vector<std::byte> buf(1024);
  for (std::string_view message : {"hello", "datagram", "world"}) {
    std::printf("client: sending '%.*s'\n", static_cast<int>(message.size()), message.data());
    co_await sock.send(std::as_bytes(std::span(message)));
    std::size_t n = co_await sock.recv(buf);
    std::printf("client: received '%.*s'\n", static_cast<int>(n),
                reinterpret_cast<const char*>(buf.data()));
  }
}

weft::Task<> main_task() {
  UdpSocket sock = UdpSocket::bind(SocketAddress::ip("127.0.0.1", 0));  // any free port
  auto server = weft::spawn(echo_server(sock));
  co_await client(sock.local_address());
  server.cancel();
  try {
    co_await server;
  } catch (const weft::CancelledError&) {
  }
}

}  // namespace

int main() {
  weft::run(main_task());
}
