// WebSocket: the connection over the frame codec (ws_message.hpp, ws_frame_writer.hpp).
//
// The rules that keep it safe with a receiving task and sending tasks at once:
//   - Every frame is written under write_mutex, whole, so frames never interleave; the
//     close frame is one of them, and close_sent (guarded by the mutex) ends sending.
//   - One task reads at a time: a receive(), or close() draining the peer's frames when no
//     receive() runs. `reader` says which.
//   - Dropping the connection is shutdown(2) of both directions, never close(2): it is
//     safe while another task is suspended in a read or a write on the socket (which then
//     ends with 0 or an error), where closing the fd under it would not be. The fd itself is
//     closed when the WebSocket is destroyed, when nothing runs on it any more.
//   - `dropped` (set once, with the `done` event) is what a late receive() or close() sees.
#include "weft/io/http/websocket.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <weft/io/net/tcp.hpp>
#include <weft/io/net/unix.hpp>
#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/time.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/mutex.hpp>

#include "ws_frame.hpp"
#include "ws_frame_writer.hpp"
#include "ws_message.hpp"

namespace weft::http::ws {

namespace {

// Reads go into a buffer of this size: frames are copied out of it into the message being
// assembled, so its size only sets how many bytes one read(2) can take.
constexpr std::size_t kReadBuffer = 8 * 1024;

enum Reader : int { kNoReader = 0, kReceiving = 1, kClosing = 2 };

detail::Role codec_role(Role r) noexcept {
  return r == Role::kServer ? detail::Role::kServer : detail::Role::kClient;
}

std::string describe_peer(net::AnyStream& stream) {
  try {
    return stream.peer_address().to_string();
  } catch (const std::exception&) {
    return "(unknown peer)";
  }
}

}  // namespace

struct WebSocket::State {
  State(net::AnyStream s, Role r, std::string proto, Options o)
      : stream(std::move(s)),
        role(r),
        options(o),
        subprotocol(std::move(proto)),
        assembler(codec_role(r), o.max_message),
        rbuf(kReadBuffer),
        writer(codec_role(r)),
        peer(describe_peer(stream)) {}

  std::string what(std::string_view msg) const {
    std::string w = "websocket ";
    w += peer;
    w += ": ";
    w += msg;
    return w;
  }

  // Ends the connection both ways at once (see the file comment); idempotent, never throws.
  void drop() noexcept {
    if (dropped.exchange(true, std::memory_order_acq_rel)) return;
    try {
      if (net::TcpStream* tcp = stream.tcp()) {
        tcp->shutdown(net::Shutdown::kBoth);
      } else if (auto* unix_stream = stream.target<net::UnixStream>()) {
        unix_stream->shutdown(net::Shutdown::kBoth);
      }
    } catch (const std::exception&) {
      // Already reset by the peer: it is down either way.
    }
    done.set();
  }

  // Writes one frame under the mutex. A failed or cancelled write may have sent part of the
  // frame, after which nothing can follow it: the connection is dropped.
  Task<void> send_frame(detail::Opcode op, std::span<const std::byte> payload) {
    MutexGuard guard = co_await write_mutex.lock();
    if (close_sent) {
      throw ConnectionClosed(what("send on a connection that is closing"), 1006);
    }
    co_await write_locked(op, payload);
  }

  Task<void> write_locked(detail::Opcode op, std::span<const std::byte> payload) {
    try {
      if (role == Role::kServer && !detail::is_control(op)) {
        // A server's payload goes out as it is, behind its header, in one writev.
        detail::EncodedHeader h = writer.header(op, payload.size());
        std::array<iovec, 2> iov{{
            {const_cast<std::byte*>(h.view().data()), h.view().size()},
            {const_cast<std::byte*>(payload.data()), payload.size()},
        }};
        co_await stream.writev(std::span(iov.data(), payload.empty() ? 1 : 2));
      } else {
        wbuf.clear();
        writer.append_frame(wbuf, op, payload);
        co_await stream.write_all(std::span<const std::byte>(wbuf));
      }
    } catch (...) {
      close_sent = true;
      drop();
      throw;
    }
  }

  // Sends the close frame unless one was sent; true if this call sent it. Errors from the
  // socket drop the connection and are swallowed (the close is over either way), except
  // cancellation.
  Task<bool> send_close(std::uint16_t code, std::string_view reason) {
    std::vector<std::byte> frame;
    writer.append_close(frame, code, reason);  // checks code and reason before anything else
    MutexGuard guard = co_await write_mutex.lock();
    if (close_sent) co_return false;
    close_sent = true;
    try {
      co_await stream.write_all(std::span<const std::byte>(frame));
    } catch (const CancelledError&) {
      drop();
      throw;
    } catch (const std::exception&) {
      drop();
    }
    co_return true;
  }

  // send_close bounded by close_timeout: a peer that reads nothing cannot hold it (a sender
  // stuck on the full socket holds the mutex until drop() fails its write).
  Task<void> send_close_bounded(std::uint16_t code, std::string_view reason) {
    try {
      co_await wait_for(send_close(code, reason), options.close_timeout);
    } catch (const TimeoutError&) {
      drop();
    }
  }

  // Reads up to the next message, answering pings; std::nullopt once the peer's close frame
  // has come (answered, and the connection dropped). Throws ProtocolError or
  // ConnectionClosed once the connection is dropped.
  Task<std::optional<Message>> read_next() {
    for (;;) {
      if (rpos < rend) {
        auto r = assembler.next(std::span(rbuf.data() + rpos, rend - rpos));
        rpos += r.consumed;
        using Event = detail::MessageAssembler::Event;
        switch (r.event) {
          case Event::kText:
            co_return Message{MessageType::kText, assembler.take_message()};
          case Event::kBinary:
            co_return Message{MessageType::kBinary, assembler.take_message()};
          case Event::kPing: {
            // The payload lives in the assembler until its next call: copy it first.
            auto p = assembler.control_payload();
            std::array<std::byte, detail::kMaxControlPayload> pong{};
            std::copy(p.begin(), p.end(), pong.begin());
            std::size_t n = p.size();
            MutexGuard guard = co_await write_mutex.lock();
            if (!close_sent)
              co_await write_locked(detail::Opcode::kPong, std::span(pong.data(), n));
            continue;
          }
          case Event::kPong:
            continue;
          case Event::kClose:
            peer_code = assembler.close_code();
            peer_reason = std::string(assembler.close_reason());
            close_received.store(true, std::memory_order_release);
            // §5.5.1: answer with the code received (none if it sent none).
            co_await send_close_bounded(peer_code, {});
            drop();
            co_return std::nullopt;
          case Event::kError: {
            detail::ProtocolError e = assembler.error();
            co_await send_close_bounded(e.code,
                                        e.reason.size() <= 123 ? e.reason : std::string_view{});
            drop();
            throw ProtocolError(what(e.reason), e.code);
          }
          case Event::kNeedMore:
            break;
        }
      }
      rpos = rend = 0;  // the assembler took every byte
      std::size_t n = 0;
      if (options.heartbeat.count() > 0) {
        n = co_await read_with_heartbeat();
      } else {
        n = co_await stream.read(std::span(rbuf.data(), rbuf.size()));
      }
      if (n == 0) {
        drop();
        throw ConnectionClosed(close_sent
                                   ? what("the connection ended before the peer's close frame")
                                   : what("the peer ended the connection without a close frame"),
                               detail::kCloseAbnormal);
      }
      rend = n;
    }
  }

  // A read into rbuf under Options::heartbeat: a ping when the peer has been silent for the
  // interval, the connection dropped when it stays silent for half of it after the ping. A
  // read ended by its deadline has read nothing (a cancelled read loses no data), and any
  // bytes from the peer, not only the pong, show it is there.
  Task<std::size_t> read_with_heartbeat() {
    const Duration interval = options.heartbeat;
    if (heard == TimePoint{}) heard = weft::now();
    for (;;) {
      const TimePoint deadline = ping_at ? *ping_at + interval / 2 : heard + interval;
      if (weft::now() >= deadline) {
        if (ping_at) {
          drop();
          throw ConnectionClosed(what("no answer to the heartbeat ping within " +
                                      std::to_string(as_ms(interval / 2)) + " ms"),
                                 detail::kCloseAbnormal);
        }
        {
          MutexGuard guard = co_await write_mutex.lock();
          if (!close_sent) co_await write_locked(detail::Opcode::kPing, {});
        }
        ping_at = weft::now();
        continue;
      }
      bool timed_out = false;
      std::size_t n = 0;
      try {
        n = co_await timeout_at(deadline, stream.read(std::span(rbuf.data(), rbuf.size())));
      } catch (const TimeoutError&) {
        timed_out = true;
      }
      if (timed_out) continue;
      heard = weft::now();
      ping_at.reset();
      co_return n;
    }
  }

  static long long as_ms(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

  // What a receive() that finds the connection dropped returns.
  std::optional<Message> after_drop() const {
    if (close_received.load(std::memory_order_acquire)) return std::nullopt;
    throw ConnectionClosed(what("receive on a closed connection"), detail::kCloseAbnormal);
  }

  net::AnyStream stream;
  Role role;
  Options options;
  std::string subprotocol;

  // The reader's (one task at a time, `reader`).
  detail::MessageAssembler assembler;
  std::vector<std::byte> rbuf;
  std::size_t rpos = 0, rend = 0;
  std::atomic<int> reader{kNoReader};
  // The heartbeat's (the reader's too): when the peer was last heard from, and when the
  // unanswered ping went out.
  TimePoint heard{};
  std::optional<TimePoint> ping_at;

  // Under write_mutex.
  Mutex write_mutex;
  detail::FrameWriter writer;
  std::vector<std::byte> wbuf;
  bool close_sent = false;

  // Written by the reader before close_received is set (release); read after it (acquire).
  std::uint16_t peer_code = detail::kCloseNoStatus;
  std::string peer_reason;
  std::atomic<bool> close_received{false};

  std::atomic<bool> dropped{false};
  Event done;  // set by drop()
  std::string peer;
};

namespace {

// Gives the reader's slot back when the reading task leaves, however it leaves.
struct ReaderSlot {
  std::atomic<int>& reader;
  ~ReaderSlot() { reader.store(kNoReader, std::memory_order_release); }
};

}  // namespace

WebSocket::WebSocket(net::AnyStream stream, Role role, std::span<const std::byte> already_read,
                     std::string subprotocol, Options options)
    : s_(std::make_unique<State>(std::move(stream), role, std::move(subprotocol), options)) {
  if (options.heartbeat.count() < 0 || options.close_timeout.count() < 0) {
    throw std::invalid_argument("weft::http::ws::WebSocket: a negative heartbeat or close_timeout");
  }
  if (already_read.size() > s_->rbuf.size()) s_->rbuf.resize(already_read.size());
  std::copy(already_read.begin(), already_read.end(), s_->rbuf.begin());
  s_->rend = already_read.size();
}

WebSocket::WebSocket(WebSocket&&) noexcept = default;
WebSocket& WebSocket::operator=(WebSocket&&) noexcept = default;
WebSocket::~WebSocket() = default;

Task<std::optional<Message>> WebSocket::receive() {
  State& s = *s_;
  if (s.dropped.load(std::memory_order_acquire)) co_return s.after_drop();
  int expected = kNoReader;
  if (!s.reader.compare_exchange_strong(expected, kReceiving, std::memory_order_acquire)) {
    if (expected == kReceiving) {
      throw UsageError("weft::http::ws::WebSocket::receive: another task is receiving");
    }
    // close() is reading the peer's last frames: the answer is what it finds.
    co_await s.done.wait();
    co_return s.after_drop();
  }
  ReaderSlot slot{s.reader};
  co_return co_await s.read_next();
}

Task<void> WebSocket::send_text(std::string_view text) {
  return s_->send_frame(detail::Opcode::kText, std::as_bytes(std::span(text)));
}

Task<void> WebSocket::send_binary(std::span<const std::byte> data) {
  return s_->send_frame(detail::Opcode::kBinary, data);
}

Task<void> WebSocket::send_binary(std::string_view data) {
  return s_->send_frame(detail::Opcode::kBinary, std::as_bytes(std::span(data)));
}

Task<void> WebSocket::ping(std::string_view payload) {
  if (payload.size() > detail::kMaxControlPayload) {
    throw std::length_error("weft::http::ws::WebSocket::ping: a payload of " +
                            std::to_string(payload.size()) + " bytes (at most 125)");
  }
  return s_->send_frame(detail::Opcode::kPing, std::as_bytes(std::span(payload)));
}

Task<void> WebSocket::close(std::uint16_t code, std::string_view reason) {
  State& s = *s_;
  if (s.dropped.load(std::memory_order_acquire)) co_return;
  {
    std::vector<std::byte> check;  // throws for a bad code or reason before anything is sent
    s.writer.append_close(check, code, reason);
  }
  co_await s.send_close_bounded(code, reason);
  int expected = kNoReader;
  if (s.reader.compare_exchange_strong(expected, kClosing, std::memory_order_acquire)) {
    // Nobody reads: read (and drop) what the peer still sends up to its close frame.
    ReaderSlot slot{s.reader};
    try {
      co_await wait_for(
          [](State& st) -> Task<void> {
            while (co_await st.read_next()) {
            }
          }(s),
          s.options.close_timeout);
    } catch (const CancelledError&) {
      s.drop();
      throw;
    } catch (const std::exception&) {
      // A timeout, or a peer that broke off: the connection is dropped below either way.
    }
  } else {
    // A receive() is reading: it sees the peer's close frame and drops the connection.
    try {
      co_await wait_for(s.done.wait(), s.options.close_timeout);
    } catch (const TimeoutError&) {
    }
  }
  s.drop();
}

std::optional<std::uint16_t> WebSocket::close_code() const noexcept {
  if (!s_->close_received.load(std::memory_order_acquire)) return std::nullopt;
  return s_->peer_code;
}

std::string_view WebSocket::close_reason() const noexcept {
  if (!s_->close_received.load(std::memory_order_acquire)) return {};
  return s_->peer_reason;
}

std::string_view WebSocket::subprotocol() const noexcept {
  return s_->subprotocol;
}

net::AnyStream& WebSocket::stream() noexcept {
  return s_->stream;
}

}  // namespace weft::http::ws
