// The errors of weft's channels (oneshot.hpp, broadcast.hpp): the other side is gone, or a
// broadcast receiver fell so far behind that messages were overwritten before it saw them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace weft {

/// Raised by a receive when no value can ever arrive: a oneshot whose Sender was destroyed
/// without sending, or a broadcast channel whose senders are all gone and that this receiver
/// has drained.
class ChannelClosed : public std::runtime_error {
 public:
  explicit ChannelClosed(const std::string& what) : std::runtime_error(what) {}
};

/// Raised by a broadcast receive when the receiver fell more than the channel's capacity
/// behind (tokio's RecvError::Lagged): `missed()` messages were overwritten before it saw
/// them. The receiver has moved on to the oldest message still held; receive again.
class Lagged : public std::runtime_error {
 public:
  explicit Lagged(std::uint64_t missed)
      : std::runtime_error("weft::broadcast: the receiver lagged behind and missed " +
                           std::to_string(missed) + " message(s)"),
        missed_(missed) {}
  /// How many messages this receiver will never see.
  std::uint64_t missed() const noexcept { return missed_; }

 private:
  std::uint64_t missed_;
};

}  // namespace weft
