// WebSocket masking (RFC 6455 §5.3): the XOR of a payload with a 4-byte key, and the random
// bytes a client's keys and handshake nonces come from.
//
// Masking runs over every byte a client sends and every byte a server receives, so it works
// a 64-bit word at a time: the key, rotated to the payload offset, repeated to 8 bytes, XORed
// with unaligned loads and stores (memcpy), which the compiler turns into plain moves.
//
// Random bytes come from a per-thread pool refilled from getrandom(2): RFC 6455 §10.3 asks
// for masking keys that the application choosing the payload cannot predict, "derived from a
// strong source of entropy". Keys travel in clear on the wire, so a fast non-cryptographic
// generator (whose state a few outputs reveal) would let an observer predict the next ones;
// the kernel's generator does not, and one syscall fills the pool for many keys.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace weft::http::ws::detail {

/// A masking key, in wire order.
using MaskKey = std::array<std::byte, 4>;

/// dst[i] = src[i] ^ key[(offset + i) % 4] for i < n: masks and unmasks alike. `dst` may be
/// `src` (in place); the ranges may not otherwise overlap. `offset` is the position of
/// src[0] in the frame's payload, so a payload can be masked in pieces.
void mask_bytes(std::byte* dst, const std::byte* src, std::size_t n, MaskKey key,
                std::uint64_t offset) noexcept;

/// Fills `out` with cryptographically random bytes (getrandom(2), through a per-thread
/// pool). Throws std::system_error if getrandom fails. Any thread.
void random_bytes(std::span<std::byte> out);

/// A fresh random masking key (random_bytes). Any thread.
MaskKey random_mask_key();

}  // namespace weft::http::ws::detail
