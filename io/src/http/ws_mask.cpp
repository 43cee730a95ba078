// Masking and random bytes for the WebSocket codec (ws_mask.hpp).
#include "ws_mask.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace weft::http::ws::detail {

void mask_bytes(std::byte* dst, const std::byte* src, std::size_t n, MaskKey key,
                std::uint64_t offset) noexcept {
  // The key rotated so that k8[i % 8] masks the byte at offset + i.
  std::array<std::byte, 8> k8;
  for (std::size_t i = 0; i < k8.size(); ++i) k8[i] = key[(offset + i) & 3];
  std::uint64_t k;
  std::memcpy(&k, k8.data(), sizeof k);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, src + i, sizeof w);
    for (auto& x : w) x ^= k;
    std::memcpy(dst + i, w, sizeof w);
  }
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, sizeof w);
    w ^= k;
    std::memcpy(dst + i, &w, sizeof w);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ k8[i & 7];
}

namespace {

// Per thread, so taking bytes needs no lock; trivially constructible, so a thread's first
// use costs no initialisation guard. A pool of this size lasts 256 masking keys.
struct RandomPool {
  std::array<std::byte, 1024> bytes;
  std::size_t used = sizeof(bytes);
};
thread_local RandomPool pool;

void fill_from_kernel(std::span<std::byte> out) {
  std::size_t got = 0;
  while (got < out.size()) {
    // Flags 0: the urandom source, which blocks only until the kernel's generator is first
    // seeded at boot. Above 256 bytes a signal may cut a read short, hence the loop.
    const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "weft::http::ws: getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
}

}  // namespace

void random_bytes(std::span<std::byte> out) {
  RandomPool& p = pool;
  while (!out.empty()) {
    if (p.used == p.bytes.size()) {
      fill_from_kernel(p.bytes);
      p.used = 0;
    }
    const std::size_t n = std::min(out.size(), p.bytes.size() - p.used);
    std::memcpy(out.data(), p.bytes.data() + p.used, n);
    p.used += n;
    out = out.subspan(n);
  }
}

MaskKey random_mask_key() {
  MaskKey key;
  random_bytes(key);
  return key;
}

}  // namespace weft::http::ws::detail
