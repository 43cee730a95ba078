// TcpEchoTarget's session: write the payload, read as many bytes back, compare.
#include "weft/profile/tcp_echo_target.hpp"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <weft/io/net.hpp>

namespace weft::profile {
namespace {

class TcpEchoSession : public Session {
 public:
  TcpEchoSession(net::TcpStream stream, std::size_t payload)
      : stream_(std::move(stream)), request_(payload), response_(payload) {}

  Task<void> request() override {
    fill_request();
    co_await stream_.write_all(std::span<const std::byte>(request_));
    co_await stream_.read_exact(std::span<std::byte>(response_));
    if (!std::ranges::equal(request_, response_)) {
      throw std::runtime_error("tcp-echo: the response differs from the request");
    }
  }

 private:
  // Each request's bytes start from its sequence number, so that a response to an earlier
  // request (a server out of step) does not compare equal.
  void fill_request() noexcept {
    ++sequence_;
    for (std::size_t i = 0; i < request_.size(); ++i) {
      request_[i] = static_cast<std::byte>((sequence_ + i) & 0xff);
    }
  }

  net::TcpStream stream_;
  std::vector<std::byte> request_;
  std::vector<std::byte> response_;
  std::uint64_t sequence_ = 0;
};

}  // namespace

TcpEchoTarget::TcpEchoTarget(std::string host, std::uint16_t port, std::size_t payload)
    : host_(std::move(host)), port_(port), payload_(payload) {
  if (payload_ == 0) throw std::invalid_argument("TcpEchoTarget: payload must be > 0 bytes");
}

Task<std::unique_ptr<Session>> TcpEchoTarget::connect() {
  net::TcpStream stream = co_await net::connect_host(host_, port_);
  stream.set_nodelay(true);
  std::unique_ptr<Session> session = std::make_unique<TcpEchoSession>(std::move(stream), payload_);
  co_return session;
}

std::string TcpEchoTarget::describe() const {
  return "tcp-echo " + host_ + ":" + std::to_string(port_) + " payload " + std::to_string(payload_);
}

}  // namespace weft::profile
