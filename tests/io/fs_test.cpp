// weft::fs::File under both backends (the blocking pool and io_uring): round trips, reads
// of more than the file holds (memory follows the file, not the size asked), modes,
// buffering, positional I/O, seek/tell, lines() and its limit, the one-shot helpers, the
// maximum of whole-file reads, errors
// naming the operation and the path, no descriptor leaked on any path, cancellation of a read
// or a flush in flight, Files dropped without close (nothing they buffered is lost, whether
// dropped on a worker, by cancellation or after run returned; a failure is reported), and many
// reads in flight at once on one ring (FIFOs, so they cannot complete while being submitted).
//
// Every test runs inside weft::run; descriptors are counted in /proc/self/fd before it and
// after it (the runtime's rings and pool threads are gone by then).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

#include "fs_test_util.hpp"
#include "peak_rss.hpp"
#include "stress_scale.hpp"

namespace fs = weft::fs;
using weft::test::count_open_fds;
using weft::test::TempDir;

namespace {

std::string backend_name(const testing::TestParamInfo<fs::Backend>& i) {
  return i.param == fs::Backend::Pool ? "Pool" : "Uring";
}

/// The fixture: a temp dir, the backend under test, and a check that no descriptor leaked.
class File : public testing::TestWithParam<fs::Backend> {
 public:
  void SetUp() override {
    if (GetParam() == fs::Backend::Uring && !fs::uring_available()) {
      GTEST_SKIP() << "io_uring is not available on this machine";
    }
    fds_before_ = count_open_fds();
  }
  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_EQ(count_open_fds(), fds_before_) << "a descriptor leaked";
    }
  }

  fs::Backend backend() const { return GetParam(); }
  fs::OpenOptions opts(std::size_t buffer = 64 * 1024) const {
    return {.backend = GetParam(), .buffer_size = buffer};
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  /// Runs `t` on a runtime of `workers` workers (descriptors are counted around it).
  template <class T>
  T run(weft::Task<T> t, std::size_t workers = 2) {
    return weft::run(std::move(t), {.workers = workers});
  }

  TempDir dir_;
  std::size_t fds_before_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, File, testing::Values(fs::Backend::Pool, fs::Backend::Uring),
                         backend_name);

/// `n` bytes of a repeatable pattern that is not periodic in small powers of two.
std::string pattern(std::size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

/// The what() of the `E` that awaiting `t` threw, or "no error".
template <class E, class T>
weft::Task<std::string> error_of(weft::Task<T> t) {
  try {
    co_await std::move(t);
  } catch (const E& e) {
    co_return e.what();
  }
  co_return "no error";
}

// ---- round trips ----------------------------------------------------------------------------

TEST_P(File, WritesAFileAndReadsItBack) {
  const std::string p = path("hello.txt");
  std::string got = run([](File* self, std::string p) -> weft::Task<std::string> {
    fs::File f = co_await fs::File::open(p, "w", self->opts());
    EXPECT_EQ(f.backend(), self->backend());
    co_await f.write_all("hello, ");
    co_await f.write_all(std::string_view("weft\n"));
    co_await f.close();
    fs::File r = co_await fs::File::open(p, "rb", self->opts());
    std::string s = co_await r.read_all();
    co_await r.close();
    co_return s;
  }(this, p));
  EXPECT_EQ(got, "hello, weft\n");
}

TEST_P(File, OneShotHelpersRoundTripAFile) {
  const std::string p = path("one-shot.bin");
  const std::string data = pattern(300'000);
  std::string got =
      run([](fs::Backend b, std::string p, const std::string& d) -> weft::Task<std::string> {
        co_await fs::write_file(p, d, b);
        co_return co_await fs::read_file(p, b);
      }(backend(), p, data));
  EXPECT_TRUE(got == data) << got.size();
  std::string empty = run([](fs::Backend b, std::string p) -> weft::Task<std::string> {
    co_await fs::write_file(p, "", b);
    co_return co_await fs::read_file(p, b);
  }(backend(), p));
  EXPECT_EQ(empty, "");
}

TEST_P(File, AWholeFileReadOfMoreThanItsMaximumIsALengthErrorNamingThePath) {
  const std::string p = path("thousand.bin");
  const std::string data = pattern(1000, 5);
  run([](File* self, std::string p, const std::string& d) -> weft::Task<void> {
    const fs::Backend b = self->backend();
    co_await fs::write_file(p, d, b);
    // read_file: a file of exactly the maximum comes back whole; one byte more is refused.
    EXPECT_TRUE(co_await fs::read_file(p, b, 1000) == d);
    const std::string what = co_await error_of<std::length_error>(fs::read_file(p, b, 999));
    // (The pool knows from the file's size, before reading; File::read_all by reading.)
    EXPECT_EQ(what, "weft::fs::read_file " + p + ": more than the maximum of 999 bytes (" +
                        (b == fs::Backend::Pool ? "its size is 1000 bytes)" : "1000 bytes read)"));
    // File::read_all, from the position: reading past the maximum, or holding more than it
    // in the buffer already.
    for (std::size_t buffer : {std::size_t{0}, std::size_t{64 * 1024}}) {
      fs::File f = co_await fs::File::open(p, "r", self->opts(buffer));
      EXPECT_EQ(co_await f.read(1), d.substr(0, 1));
      EXPECT_EQ(
          co_await error_of<std::length_error>(f.read_all(998)),
          "weft::fs::File::read_all " + p + ": more than the maximum of 998 bytes (999 bytes read)")
          << "buffer_size " << buffer;
      co_await f.seek(1);
      EXPECT_TRUE(co_await f.read_all(999) == d.substr(1)) << "buffer_size " << buffer;
      co_await f.close();
    }
    // A file that reports no size and never ends: the maximum ends the read.
    EXPECT_EQ(co_await error_of<std::length_error>(fs::read_file("/dev/zero", b, 1 << 20)),
              "weft::fs::read_file /dev/zero: more than the maximum of 1048576 bytes (1048577 "
              "bytes read)");
    // A /proc file reports a size of 0, and is read to its end.
    const std::string status = co_await fs::read_file("/proc/self/status", b);
    EXPECT_NE(status.find("\nVmHWM:"), std::string::npos) << status;
  }(this, p, data));
}

TEST(ReadFile, OnThePoolARegularFileCostsOneAllocationOfItsSize) {
  // The pool trusts a regular file's size for its one allocation (plus the byte into which
  // the read that finds the end returns 0); it grows with the data only past that size.
  if (!weft::test::kPeakRssIsTight) GTEST_SKIP() << "TSan's shadow memory is resident too";
  TempDir dir;
  const std::string p = (dir.path() / "big.bin").string();
  const std::size_t size = std::size_t{32} << 20;
  const std::string data = pattern(size, 9);
  auto [got, growth] = weft::run(
      [](std::string p, const std::string& d) -> weft::Task<std::pair<std::string, std::size_t>> {
        co_await fs::write_file(p, d, fs::Backend::Pool);
        weft::test::reset_peak_rss();
        const std::size_t before = weft::test::peak_rss();
        std::string got = co_await fs::read_file(p, fs::Backend::Pool);
        co_return std::pair(std::move(got), weft::test::peak_rss() - before);
      }(p, data));
  EXPECT_TRUE(got == data) << got.size();
  EXPECT_LT(growth, size + size / 2) << "reading a 32 MiB file allocated more than once";
}

TEST_P(File, ChunksOfEverySizeArriveInOrderBufferedOrNot) {
  const std::string data = pattern(3 << 20, 7);
  for (std::size_t buffer : {std::size_t{0}, std::size_t{4096}, std::size_t{64 * 1024}}) {
    SCOPED_TRACE(testing::Message() << "buffer_size " << buffer);
    const std::string p = path("chunks-" + std::to_string(buffer));
    std::string got = run([](File* self, std::string p, const std::string& d,
                             std::size_t buffer) -> weft::Task<std::string> {
      std::mt19937 rng(buffer + 1);
      std::uniform_int_distribution<std::size_t> size(1, 200'000);
      fs::File w = co_await fs::File::open(p, "wb", self->opts(buffer));
      for (std::size_t at = 0; at < d.size();) {
        const std::size_t n = std::min(size(rng), d.size() - at);
        co_await w.write_all(std::string_view(d).substr(at, n));
        at += n;
      }
      co_await w.close();
      fs::File r = co_await fs::File::open(p, "rb", self->opts(buffer));
      std::string out;
      for (;;) {
        std::string part = co_await r.read(size(rng));
        if (part.empty()) break;
        out += part;
      }
      co_await r.close();
      co_return out;
    }(this, p, data, buffer));
    EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
  }
}

TEST_P(File, ReadOfNStopsAtNAndReturnsEmptyAtTheEnd) {
  const std::string p = path("n.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "abcdefgh", self->backend());
    fs::File f = co_await fs::File::open(p, "r", self->opts());
    EXPECT_EQ(co_await f.read(3), "abc");
    EXPECT_EQ(co_await f.read(100), "defgh");
    EXPECT_EQ(co_await f.read(5), "");
    std::byte b[4];
    EXPECT_EQ(co_await f.read(std::span(b)), 0u);
  }(this, p));
}

TEST_P(File, AReadOfMoreThanTheFileHoldsReturnsTheFileAndAllocatesForItNotForN) {
  // aiofiles' read(n) returns at most what the file has; n is a bound, not an allocation.
  const std::string p = path("small.txt");
  weft::test::reset_peak_rss();
  const std::size_t peak_before = weft::test::peak_rss();
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "abc", self->backend());
    for (std::size_t n : {std::size_t{1} << 30, std::size_t{1} << 40, SIZE_MAX}) {
      fs::File f = co_await fs::File::open(p, "r", self->opts());
      EXPECT_EQ(co_await f.read(n), "abc") << "n " << n;
      EXPECT_EQ(co_await f.read(n), "") << "n " << n;
      EXPECT_EQ(co_await f.pread(n, 1), "bc") << "n " << n;
      EXPECT_EQ(co_await f.pread(n, 3), "") << "n " << n;
      co_await f.close();
    }
  }(this, p));
  EXPECT_LT(weft::test::peak_rss() - peak_before, std::size_t{64} << 20)
      << "a read of 1 GiB from a 3-byte file allocated the GiB";
}

TEST_P(File, ALargeReadStopsAtNAndLeavesTheRestForTheNextRead) {
  const std::string p = path("large.bin");
  const std::string data = pattern((3 << 20) + 5, 3);
  run([](File* self, std::string p, const std::string& d) -> weft::Task<void> {
    co_await fs::write_file(p, d, self->backend());
    for (std::size_t buffer : {std::size_t{0}, std::size_t{64 * 1024}}) {
      // (No SCOPED_TRACE in a coroutine: its trace is per thread and the task may move.)
      fs::File f = co_await fs::File::open(p, "r", self->opts(buffer));
      const std::size_t n = (2 << 20) + 1;  // more than one allocation step, not a multiple
      EXPECT_TRUE(co_await f.read(3) == d.substr(0, 3)) << "buffer_size " << buffer;
      std::string mid = co_await f.read(n);
      EXPECT_EQ(mid.size(), n) << "buffer_size " << buffer;
      EXPECT_TRUE(mid == d.substr(3, n)) << "buffer_size " << buffer;
      std::string at = co_await f.pread(n, 7);
      EXPECT_EQ(at.size(), n) << "buffer_size " << buffer;
      EXPECT_TRUE(at == d.substr(7, n)) << "buffer_size " << buffer;
      std::string rest = co_await f.read(std::size_t{1} << 40);
      EXPECT_EQ(rest.size(), d.size() - 3 - n) << "buffer_size " << buffer;
      EXPECT_TRUE(rest == d.substr(3 + n)) << "buffer_size " << buffer;
      EXPECT_EQ(co_await f.read(1), "") << "buffer_size " << buffer;
      co_await f.close();
    }
  }(this, p, data));
}

// ---- modes ----------------------------------------------------------------------------------

TEST_P(File, AppendModeWritesAtTheEnd) {
  const std::string p = path("log.txt");
  std::string got = run([](File* self, std::string p) -> weft::Task<std::string> {
    co_await fs::write_file(p, "one\n", self->backend());
    for (const char* line : {"two\n", "three\n"}) {
      fs::File f = co_await fs::File::open(p, "a", self->opts());
      co_await f.write_all(line);
      co_await f.close();
    }
    fs::File f = co_await fs::File::open(p, "a+", self->opts());
    co_await f.seek(0);
    EXPECT_EQ(co_await f.read(4), "one\n");
    co_await f.write_all("four\n");  // append mode: at the end, wherever the position was
    co_await f.close();
    co_return co_await fs::read_file(p, self->backend());
  }(this, p));
  EXPECT_EQ(got, "one\ntwo\nthree\nfour\n");
}

TEST_P(File, WriteModeTruncatesAndCreates) {
  const std::string p = path("t.txt");
  std::string got = run([](File* self, std::string p) -> weft::Task<std::string> {
    co_await fs::write_file(p, "a long first version", self->backend());
    fs::File f = co_await fs::File::open(p, "wt", self->opts());
    co_await f.write_all("short");
    co_await f.close();
    co_return co_await fs::read_file(p, self->backend());
  }(this, p));
  EXPECT_EQ(got, "short");
}

TEST_P(File, ExclusiveModeRefusesAnExistingFileNamingIt) {
  const std::string p = path("x.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    fs::File f = co_await fs::File::open(p, "x", self->opts());
    co_await f.write_all("first");
    co_await f.close();
    try {
      co_await fs::File::open(p, "xb", self->opts());
      ADD_FAILURE() << "opened an existing file with x";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EEXIST);
      EXPECT_EQ(std::string(e.what()), "open " + p + ": File exists");
    }
  }(this, p));
}

TEST_P(File, ReadPlusWritesOverTheBytesAtThePosition) {
  const std::string p = path("rw.txt");
  std::string got = run([](File* self, std::string p) -> weft::Task<std::string> {
    co_await fs::write_file(p, "0123456789", self->backend());
    fs::File f = co_await fs::File::open(p, "r+b", self->opts());
    EXPECT_EQ(co_await f.read(3), "012");  // the buffer read ahead; the write goes at 3
    co_await f.write_all("AB");
    EXPECT_EQ(co_await f.read(2), "56");
    EXPECT_EQ(co_await f.tell(), 7u);
    co_await f.close();
    co_return co_await fs::read_file(p, self->backend());
  }(this, p));
  EXPECT_EQ(got, "012AB56789");
}

TEST(FileMode, InvalidModesAreInvalidArgumentsNamingTheMode) {
  TempDir dir;
  const std::string p = (dir.path() / "m").string();
  weft::run([](std::string p) -> weft::Task<void> {
    for (const char* mode : {"", "rw", "rr", "q", "r++", "bt", "rbb", "+", "b", "wx", "r b"}) {
      try {
        co_await fs::File::open(p, mode);
        ADD_FAILURE() << "accepted mode \"" << mode << "\"";
      } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(std::string("\"") + mode + "\""), std::string::npos)
            << e.what();
      }
    }
    EXPECT_FALSE(co_await fs::exists(p)) << "a rejected mode reached open(2)";
    for (const char* mode :
         {"w", "wb", "wt", "w+", "w+b", "bw+", "r", "rb", "rt", "r+", "a", "ab+", "t+a"}) {
      fs::File f = co_await fs::File::open(p, mode);
      co_await f.close();
    }
  }(p));
}

// ---- buffering, positions -------------------------------------------------------------------

TEST_P(File, SmallWritesWaitInTheBufferUntilFlush) {
  const std::string p = path("buffered.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    fs::File f = co_await fs::File::open(p, "w", self->opts());
    co_await f.write_all("not yet");
    EXPECT_EQ((co_await fs::stat(p)).size, 0u);
    co_await f.flush();
    EXPECT_EQ((co_await fs::stat(p)).size, 7u);
    co_await f.write_all("!");
    co_await f.sync();
    EXPECT_EQ((co_await fs::stat(p)).size, 8u);
    co_await f.write_all("?");
    co_await f.sync(/*data_only=*/true);
    co_await f.close();
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "not yet!?");
  }(this, p));
}

TEST_P(File, UnbufferedWritesReachTheFileAtOnce) {
  const std::string p = path("unbuffered.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    fs::File f = co_await fs::File::open(p, "w", self->opts(0));
    EXPECT_EQ(co_await f.write("abc"), 3u);
    EXPECT_EQ((co_await fs::stat(p)).size, 3u);
    co_await f.close();
  }(this, p));
}

TEST_P(File, ABufferSizeAboveTheMaximumIsRefusedAtOpenNamingItAndTheMaximum) {
  // Refused at open, before any syscall, rather than thrown as std::bad_alloc by the first
  // buffered call.
  const std::string p = path("huge-buffer.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    for (std::size_t size : {fs::kMaxBufferSize + 1, std::size_t{1} << 40, SIZE_MAX}) {
      try {
        fs::File f = co_await fs::File::open(p, "w+", self->opts(size));
        ADD_FAILURE() << "opened with a buffer of " << size << " bytes";
        co_await f.write_all("x");
        co_await f.seek(0);
        co_await f.read(1);
        co_await f.close();
      } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()), "weft::fs::File::open " + p +
                                             ": OpenOptions::buffer_size " + std::to_string(size) +
                                             " is above the maximum, 67108864 (kMaxBufferSize)");
      }
    }
    EXPECT_FALSE(co_await fs::exists(p)) << "a refused open created the file";
    fs::File f = co_await fs::File::open(p, "w+", self->opts(fs::kMaxBufferSize));
    co_await f.write_all("at the maximum");
    co_await f.seek(0);
    EXPECT_EQ(co_await f.read(100), "at the maximum");
    co_await f.close();
  }(this, p));
}

TEST_P(File, SeekAndTellCountBufferedData) {
  const std::string p = path("seek.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "abcdefghij", self->backend());
    fs::File f = co_await fs::File::open(p, "r+", self->opts());
    EXPECT_EQ(co_await f.read(2), "ab");
    EXPECT_EQ(co_await f.tell(), 2u);
    EXPECT_EQ(co_await f.seek(3, fs::Whence::Current), 5u);
    EXPECT_EQ(co_await f.read(1), "f");
    EXPECT_EQ(co_await f.seek(-2, fs::Whence::End), 8u);
    EXPECT_EQ(co_await f.read(10), "ij");
    co_await f.seek(0);
    co_await f.write_all("XY");
    EXPECT_EQ(co_await f.tell(), 2u);
    EXPECT_EQ(co_await f.read(1), "c");  // the pending write went out first
    try {
      co_await f.seek(-100, fs::Whence::Start);
      ADD_FAILURE() << "seek before the start";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EINVAL);
      EXPECT_NE(std::string(e.what()).find("seek " + p), std::string::npos) << e.what();
    }
    co_await f.close();
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "XYcdefghij");
  }(this, p));
}

TEST_P(File, PreadAndPwriteLeaveThePositionAlone) {
  const std::string p = path("positional.bin");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "0123456789", self->backend());
    fs::File f = co_await fs::File::open(p, "r+", self->opts());
    EXPECT_EQ(co_await f.read(2), "01");
    EXPECT_EQ(co_await f.pread(3, 6), "678");
    EXPECT_EQ(co_await f.pread(10, 8), "89");
    co_await f.pwrite("ab", 4);
    EXPECT_EQ(co_await f.read(4), "23ab");
    co_await f.write_all("Z");               // pending in the buffer...
    EXPECT_EQ(co_await f.pread(1, 6), "Z");  // ...yet pread sees it
    std::byte big[16];
    EXPECT_EQ(co_await f.pread(std::span(big), 100), 0u);
    co_await f.close();
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "0123abZ789");
  }(this, p));
}

TEST_P(File, AnOffsetAboveTheLargestFileOffsetIsRefusedNotTakenForThePosition) {
  // A file offset is signed (off_t): one above INT64_MAX must not wrap to a negative number,
  // which the syscall layer takes for "at the position".
  const std::string p = path("far.bin");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "0123456789", self->backend());
    fs::File f = co_await fs::File::open(p, "r+", self->opts(0));
    EXPECT_EQ(co_await f.read(3), "012");  // unbuffered: the kernel's position is 3
    const std::string largest = std::to_string(INT64_MAX);
    for (std::uint64_t offset : {std::uint64_t{INT64_MAX} + 1, std::uint64_t{UINT64_MAX}}) {
      const std::string o = std::to_string(offset);
      const auto refusal = [&](const char* call) {
        return std::string("weft::fs::File::") + call + " " + p + ": offset " + o +
               " is above the largest file offset, " + largest;
      };
      std::byte b[4];
      EXPECT_EQ(co_await error_of<std::invalid_argument>(f.pread(std::span(b), offset)),
                refusal("pread"));
      EXPECT_EQ(co_await error_of<std::invalid_argument>(f.pread(4, offset)), refusal("pread"));
      EXPECT_EQ(co_await error_of<std::invalid_argument>(f.pwrite("XY", offset)),
                refusal("pwrite"));
    }
    EXPECT_EQ(co_await f.read(3), "345");  // the position did not move
    co_await f.close();
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "0123456789");  // nothing written
  }(this, p));
}

TEST_P(File, CloseIsIdempotentAndUseAfterCloseIsAUsageError) {
  const std::string p = path("closed.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    fs::File f = co_await fs::File::open(p, "w", self->opts());
    co_await f.write_all("kept");
    co_await f.close();
    co_await f.close();
    EXPECT_FALSE(f.is_open());
    EXPECT_THROW(co_await f.read(1), weft::UsageError);
    EXPECT_THROW(co_await f.write_all("x"), weft::UsageError);
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "kept");
  }(this, p));
}

TEST_P(File, AMovedFileKeepsItsPositionAndBuffer) {
  const std::string p = path("moved.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "abcdef", self->backend());
    fs::File a = co_await fs::File::open(p, "r", self->opts());
    EXPECT_EQ(co_await a.read(2), "ab");
    fs::File b = std::move(a);
    EXPECT_FALSE(a.is_open());
    EXPECT_EQ(co_await b.read_all(), "cdef");
    co_await b.close();
  }(this, p));
}

// ---- lines ----------------------------------------------------------------------------------

weft::Task<std::vector<std::string>> all_lines(fs::File& f, std::size_t max = fs::kDefaultMaxLine) {
  std::vector<std::string> out;
  auto gen = f.lines(max);
  while (auto line = co_await gen.next()) out.push_back(std::move(*line));
  co_return out;
}

TEST_P(File, LinesYieldsEachLineWithoutItsNewline) {
  const std::string p = path("lines.txt");
  auto got = run([](File* self, std::string p) -> weft::Task<std::vector<std::string>> {
    co_await fs::write_file(p, "first\n\nthird\r\nlast without newline", self->backend());
    fs::File f = co_await fs::File::open(p, "r", self->opts(0));
    co_return co_await all_lines(f);
  }(this, p));
  EXPECT_EQ(got, (std::vector<std::string>{"first", "", "third\r", "last without newline"}));
}

TEST_P(File, LinesCrossBufferBoundariesAndEndAtTheEnd) {
  const std::string p = path("many-lines.txt");
  std::string text;
  std::vector<std::string> want;
  for (int i = 0; i < 20'000; ++i) {
    want.push_back(std::string(static_cast<std::size_t>(i % 37), 'x') + std::to_string(i));
    text += want.back() + "\n";
  }
  auto got = run([](File* self, std::string p,
                    const std::string& text) -> weft::Task<std::vector<std::string>> {
    co_await fs::write_file(p, text, self->backend());
    fs::File f = co_await fs::File::open(p, "r", self->opts(4096));
    auto lines = co_await all_lines(f);
    EXPECT_EQ(co_await f.read(1), "");
    co_return lines;
  }(this, p, text));
  EXPECT_TRUE(got == want) << got.size() << " lines";
}

TEST_P(File, ALineLongerThanTheLimitThrowsLineTooLongNamingThePath) {
  const std::string p = path("long-line.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "short\n" + std::string(1000, 'y') + "\nafter\n", self->backend());
    fs::File f = co_await fs::File::open(p, "r", self->opts(256));
    auto gen = f.lines(100);
    EXPECT_EQ(*co_await gen.next(), "short");
    try {
      co_await gen.next();
      ADD_FAILURE() << "a 1000-byte line passed a 100-byte limit";
    } catch (const fs::LineTooLong& e) {
      EXPECT_EQ(e.limit(), 100u);
      EXPECT_EQ(std::string(e.what()), "lines " + p + ": a line is longer than 100 bytes");
    }
    fs::File g = co_await fs::File::open(p, "r", self->opts());
    auto exact = co_await all_lines(g, 1000);  // exactly at the limit is fine
    EXPECT_EQ(exact.size(), 3u);
  }(this, p));
}

TEST_P(File, LinesDroppedEarlyLeaveThePositionAfterTheLastLineYielded) {
  const std::string p = path("partial-lines.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "one\ntwo\nthree\n", self->backend());
    fs::File f = co_await fs::File::open(p, "r+", self->opts());
    {
      auto gen = f.lines();
      EXPECT_EQ(*co_await gen.next(), "one");
    }
    EXPECT_EQ(co_await f.tell(), 4u);
    EXPECT_EQ(co_await f.read(3), "two");
    co_await f.write_all("!");  // the rest of the buffer is given back first
    co_await f.close();
    EXPECT_EQ(co_await fs::read_file(p, self->backend()), "one\ntwo!three\n");
  }(this, p));
}

TEST_P(File, ALongRunOfBufferedCallsYieldsNowAndThen) {
  // 200,000 writes and lines served from the buffer (and, on io_uring, flushes that complete
  // while being submitted): the task must yield between them, or it would hold the worker
  // and, where symmetric transfer is not a tail call (unoptimised builds), grow the stack.
  const std::string p = path("many-small.txt");
  std::size_t lines = run(
      [](File* self, std::string p) -> weft::Task<std::size_t> {
        fs::File w = co_await fs::File::open(p, "w", self->opts());
        for (int i = 0; i < 200'000; ++i) co_await w.write_all("0123456789\n");
        co_await w.close();
        fs::File r = co_await fs::File::open(p, "r", self->opts());
        std::size_t n = 0;
        auto gen = r.lines();
        while (auto line = co_await gen.next()) n += *line == "0123456789";
        co_return n;
      }(this, p),
      1);
  EXPECT_EQ(lines, 200'000u);
}

// ---- errors ---------------------------------------------------------------------------------

TEST_P(File, ReadingAMissingFileNamesThePath) {
  const std::string p = path("no/such/file");
  run([](File* self, std::string p) -> weft::Task<void> {
    for (int how = 0; how < 2; ++how) {
      try {
        if (how == 0) {
          co_await fs::read_file(p, self->backend());
        } else {
          co_await fs::File::open(p, "r", self->opts());
        }
        ADD_FAILURE() << "opened a missing file";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_EQ(std::string(e.what()), "open " + p + ": No such file or directory");
      }
    }
  }(this, p));
}

TEST_P(File, ADirectoryIsADirectoryErrorForWritingAndForReading) {
  const std::string d = path("");
  run([](File* self, std::string d) -> weft::Task<void> {
    try {
      co_await fs::File::open(d, "w", self->opts());
      ADD_FAILURE() << "opened a directory for writing";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EISDIR);
      EXPECT_EQ(std::string(e.what()), "open " + d + ": Is a directory");
    }
    try {
      co_await fs::read_file(d, self->backend());
      ADD_FAILURE() << "read a directory";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EISDIR);
      EXPECT_EQ(std::string(e.what()), "read " + d + ": Is a directory");
    }
  }(this, d));
}

TEST_P(File, PermissionDeniedNamesThePath) {
  const std::string p = path("locked.txt");
  {
    int fd = ::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0000);
    ASSERT_GE(fd, 0);
    ::close(fd);
    int probe = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (probe >= 0) {
      ::close(probe);
      GTEST_SKIP() << "running with CAP_DAC_OVERRIDE (as root): mode 000 does not deny access";
    }
  }
  run([](File* self, std::string p) -> weft::Task<void> {
    try {
      co_await fs::read_file(p, self->backend());
      ADD_FAILURE() << "read a mode-000 file";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EACCES);
      EXPECT_EQ(std::string(e.what()), "open " + p + ": Permission denied");
    }
  }(this, p));
}

TEST_P(File, WritingAReadOnlyFileNamesTheOperationAndThePath) {
  const std::string p = path("ro.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    co_await fs::write_file(p, "data", self->backend());
    fs::File f = co_await fs::File::open(p, "r", self->opts(0));
    try {
      co_await f.write_all("x");
      ADD_FAILURE() << "wrote through a read-only descriptor";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EBADF);
      EXPECT_EQ(std::string(e.what()), "write " + p + ": Bad file descriptor");
    }
    EXPECT_EQ(co_await f.read_all(), "data");  // still usable
  }(this, p));
}

TEST_P(File, NoErrorPathLeaksADescriptor) {
  // The fixture counts descriptors around the whole run; here every failing path runs many
  // times, so one leak per call would show as hundreds.
  const std::string dir = path("");
  run([](File* self, std::string dir) -> weft::Task<void> {
    for (int i = 0; i < 200; ++i) {
      EXPECT_THROW(co_await fs::File::open(dir + "/missing", "r", self->opts()), std::system_error);
      EXPECT_THROW(co_await fs::read_file(dir, self->backend()), std::system_error);
      EXPECT_THROW(co_await fs::File::open(dir, "a", self->opts()), std::system_error);
      fs::File f = co_await fs::File::open(dir, "r", self->opts());  // a directory: opens
      EXPECT_THROW(co_await f.read_all(), std::system_error);
    }  // f's destructor closes without close()
  }(this, dir));
}

// ---- cancellation ---------------------------------------------------------------------------

/// A FIFO in `dir` and its write end, opened O_RDWR so neither end's open blocks.
struct Fifo {
  explicit Fifo(const std::string& p) : path(p) {
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    wfd = ::open(p.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(wfd, 0);
  }
  ~Fifo() { ::close(wfd); }
  void put(std::string_view s) const {
    EXPECT_EQ(::write(wfd, s.data(), s.size()), ssize_t(s.size()));
  }
  std::string path;
  int wfd = -1;
};

TEST_P(File, ACancelledReadWaitsForTheSyscallThenRaisesCancelledErrorAndTheFileGoesOn) {
  Fifo fifo(path("fifo"));
  run(
      [](File* self, const Fifo& fifo) -> weft::Task<void> {
        fs::File f = co_await fs::File::open(fifo.path, "rb", self->opts(0));
        std::atomic<bool> reading{false};
        auto reader =
            weft::spawn([](fs::File& f, std::atomic<bool>& reading) -> weft::Task<std::string> {
              reading = true;
              co_return co_await f.read(
                  1);  // nothing there: it blocks (pool) or stays in flight (uring)
            }(f, reading));
        // One worker: once this task runs again, the reader has suspended in its read.
        for (int i = 0; i < 1000 && !reading.load(); ++i) co_await weft::yield_now();
        EXPECT_TRUE(reading.load());
        reader.cancel();
        for (int i = 0; i < 100; ++i) co_await weft::yield_now();
        EXPECT_FALSE(reader.done()) << "the cancelled read did not wait for its syscall";
        fifo.put("a");  // the read returns; its byte is consumed, its result dropped
        EXPECT_THROW(co_await reader, weft::CancelledError);
        fifo.put("bc");
        EXPECT_EQ(co_await f.read(2), "bc");  // the file is still usable
        co_await f.close();
      }(this, fifo),
      /*workers=*/1);
}

TEST_P(File, ATaskCancelledBeforeItsReadNeverStartsIt) {
  Fifo fifo(path("fifo"));
  run(
      [](File* self, const Fifo& fifo) -> weft::Task<void> {
        fs::File f = co_await fs::File::open(fifo.path, "rb", self->opts(0));
        auto reader = weft::spawn(
            [](fs::File& f) -> weft::Task<std::string> { co_return co_await f.read(1); }(f));
        reader.cancel();  // before it ever ran: one worker, and this task has not yielded
        EXPECT_THROW(co_await reader, weft::CancelledError);
        fifo.put("z");
        EXPECT_EQ(co_await f.read(1), "z");  // nobody took the byte
        co_await f.close();
      }(this, fifo),
      /*workers=*/1);
}

/// Reads from `fd` until it has `n` bytes or the end (the write end closed); "" on an error.
std::string read_up_to(int fd, std::size_t n) {
  std::string out;
  char chunk[64 * 1024];
  while (out.size() < n) {
    const ssize_t r = ::read(fd, chunk, std::min(sizeof chunk, n - out.size()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ADD_FAILURE() << "read: " << std::strerror(errno);
    if (r <= 0) break;
    out.append(chunk, static_cast<std::size_t>(r));
  }
  return out;
}

/// The write buffer of cancel_a_flush_in_flight: its one write(2) is 16 times what a pipe
/// holds (64 KiB), so it cannot return before the FIFO's reader has read most of it.
constexpr std::size_t kFifoFlush = std::size_t{1} << 20;

/// A task buffers `data` (less than kFifoFlush) in a File on the FIFO at `p` and flushes it;
/// once the FIFO's reader has the first byte, that flush's write is in flight, and the task is
/// cancelled. It catches the cancellation and closes the File (`close_after`), or lets it end
/// the task, which drops the File. Returns every byte the reader got until the end of the FIFO.
template <class Self>
std::string cancel_a_flush_in_flight(Self* self, std::string p, const std::string& data,
                                     bool close_after) {
  return self->run([](Self* self, std::string p, const std::string& data,
                      bool close_after) -> weft::Task<std::string> {
    auto writer = weft::spawn([](Self* self, std::string p, const std::string& data,
                                 bool close_after) -> weft::Task<bool> {
      fs::File f = co_await fs::File::open(p, "w", self->opts(kFifoFlush));
      co_await f.write_all(data);
      bool cancelled = false;
      try {
        co_await f.flush();
      } catch (const weft::CancelledError&) {
        if (!close_after) throw;
        cancelled = true;
      }
      co_await f.close();
      co_return cancelled;
    }(self, p, data, close_after));
    // The open waits for the writer's; then the first byte shows the flush's write has begun.
    const int fd =
        co_await weft::to_thread([&p] { return ::open(p.c_str(), O_RDONLY | O_CLOEXEC); });
    EXPECT_GE(fd, 0);
    std::string got = co_await weft::to_thread([fd] { return read_up_to(fd, 1); });
    writer.cancel();
    got += co_await weft::to_thread([fd] { return read_up_to(fd, SIZE_MAX); });
    ::close(fd);
    if (close_after) {
      EXPECT_TRUE(co_await writer) << "the flush was not cancelled";
    } else {
      EXPECT_THROW(co_await writer, weft::CancelledError);
    }
    co_return got;
  }(self, std::move(p), data, close_after));
}

TEST_P(File, AFlushCancelledWhileItWritesCountsWhatItWroteAndCloseWritesOnlyTheRest) {
  const std::string p = path("fifo");
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
  const std::string data = pattern(kFifoFlush - 1);
  const std::string got = cancel_a_flush_in_flight(this, p, data, /*close_after=*/true);
  EXPECT_EQ(got.size(), data.size()) << "bytes written twice, or lost";
  EXPECT_TRUE(got == data);
}

// ---- dropped without close ------------------------------------------------------------------

/// The contents of `p`, read with plain syscalls (no runtime needed).
std::string contents(const std::string& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << "open " << p << ": " << std::strerror(errno);
    return {};
  }
  std::string s = read_up_to(fd, SIZE_MAX);
  ::close(fd);
  return s;
}

TEST_P(File, ADroppedFileWritesWhatItBufferedAndRunWaitsForIt) {
  const std::string p = path("dropped.txt");
  run([](File* self, std::string p) -> weft::Task<void> {
    fs::File f = co_await fs::File::open(p, "w", self->opts());
    co_await f.write_all("less than ");
    co_await f.write_all("the buffer");
    EXPECT_EQ((co_await fs::stat(p)).size, 0u);    // all of it still buffered
  }(this, p));                                     // f is dropped on a worker, as its task ends
  EXPECT_EQ(contents(p), "less than the buffer");  // the fixture sees its descriptor closed
}

TEST_P(File, ADroppedFileWritesAtItsPositionInEveryMode) {
  const std::string moved = path("moved-cursor.txt");
  const std::string appended = path("appended.txt");
  const std::string after_reads = path("after-reads.txt");
  run([](File* self, std::string moved, std::string appended,
         std::string after_reads) -> weft::Task<void> {
    co_await fs::write_file(moved, "0123456789", self->backend());
    co_await fs::write_file(appended, "0123456789", self->backend());
    co_await fs::write_file(after_reads, "0123456789", self->backend());
    fs::File a = co_await fs::File::open(moved, "r+", self->opts());
    co_await a.seek(2);
    co_await a.write_all("ab");  // flushed by the pwrite
    co_await a.pwrite("XY", 7);  // leaves the cursor at 4
    co_await a.write_all("cd");  // buffered, for position 4
    fs::File b = co_await fs::File::open(appended, "a", self->opts());
    co_await b.write_all("+tail");  // buffered, for the end
    fs::File c = co_await fs::File::open(after_reads, "r+", self->opts());
    EXPECT_EQ(co_await c.read(3), "012");  // the read buffer took the whole file
    co_await c.write_all("Z");             // buffered, for position 3
    a = fs::File();                        // dropped by assignment
  }(this, moved, appended, after_reads));  // b and c dropped as the task ends
  EXPECT_EQ(contents(moved), "01abcd6XY9");
  EXPECT_EQ(contents(appended), "0123456789+tail");
  EXPECT_EQ(contents(after_reads), "012Z456789");
}

TEST_P(File, AFileDroppedWhenItsTaskIsCancelledKeepsEveryByteItTook) {
  const std::string p = path("cancelled-writer.txt");
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += pattern(1000, static_cast<unsigned>(i));
  run([](File* self, std::string p, const std::string& expected) -> weft::Task<void> {
    weft::Event wrote;
    auto writer = weft::spawn([](File* self, std::string p, const std::string& expected,
                                 weft::Event& wrote) -> weft::Task<void> {
      // A 4 KiB buffer: the first chunks reach the file as it fills, the last stay buffered.
      fs::File f = co_await fs::File::open(p, "w", self->opts(4096));
      for (std::size_t at = 0; at < expected.size(); at += 1000) {
        co_await f.write_all(std::string_view(expected).substr(at, 1000));
      }
      wrote.set();
      weft::Event never;
      co_await never.wait();  // cancelled here; f is dropped as CancelledError unwinds
    }(self, p, expected, wrote));
    co_await wrote.wait();
    EXPECT_GT((co_await fs::stat(p)).size, 0u);               // some writes completed
    EXPECT_LT((co_await fs::stat(p)).size, expected.size());  // and some are buffered
    writer.cancel();
    EXPECT_THROW(co_await writer, weft::CancelledError);
  }(this, p, expected));
  const std::string got = contents(p);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

TEST_P(File, AFileDroppedWhileItsFlushWasWritingWritesEveryByteOnce) {
  const std::string p = path("fifo");
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
  const std::string data = pattern(kFifoFlush - 1);
  const std::string got = cancel_a_flush_in_flight(this, p, data, /*close_after=*/false);
  EXPECT_EQ(got.size(), data.size()) << "bytes written twice, or lost";
  EXPECT_TRUE(got == data);
}

TEST_P(File, AFileDroppedAfterRunReturnedWritesItsBufferInItsDestructor) {
  const std::string p = path("outlived.txt");
  fs::File f = run([](File* self, std::string p) -> weft::Task<fs::File> {
    fs::File f = co_await fs::File::open(p, "w", self->opts());
    co_await f.write_all("written by the destructor");
    co_return f;
  }(this, p));
  EXPECT_EQ(contents(p), "");  // the runtime is gone; the bytes are still in f's buffer
  f = fs::File();              // a plain thread: written and closed before this returns
  EXPECT_EQ(contents(p), "written by the destructor");
}

TEST_P(File, AFailedWriteOfADroppedFileIsReportedOnStderrNamingThePathAndTheError) {
  // /dev/full takes an open and refuses every write with ENOSPC.
  const std::string p = "/dev/full";
  auto drop_in_a_task = [&] {
    run([](File* self, std::string p) -> weft::Task<void> {
      fs::File f = co_await fs::File::open(p, "w", self->opts());
      co_await f.write_all("lost");
    }(this, p));
  };
  auto drop_after_run = [&] {
    fs::File f = run([](File* self, std::string p) -> weft::Task<fs::File> {
      fs::File f = co_await fs::File::open(p, "w", self->opts());
      co_await f.write_all("lost");
      co_return f;
    }(this, p));
  };
  for (auto drop : {std::function<void()>(drop_in_a_task), std::function<void()>(drop_after_run)}) {
    testing::internal::CaptureStderr();
    drop();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("weft: fs::File /dev/full was dropped without close()"), std::string::npos)
        << err;
    EXPECT_NE(err.find("4 of its 4 buffered bytes were lost: write /dev/full: " +
                       std::string(std::strerror(ENOSPC))),
              std::string::npos)
        << err;
  }
}

/// Reader i's five bytes.
std::string message(std::size_t i) {
  std::string digits = std::to_string(10000 + i % 10000);
  return "m" + digits.substr(1);
}

/// `n` readers, each blocked in a read of its own FIFO, answered in a shuffled order from a
/// plain thread: on io_uring they are one leader and many followers of the same rings.
template <class Self>
void many_reads_in_flight(Self* self, std::size_t n, std::size_t workers, int round = 0) {
  std::vector<std::unique_ptr<Fifo>> fifos;
  for (std::size_t i = 0; i < n; ++i) {
    fifos.push_back(std::make_unique<Fifo>(
        self->path("fifo-" + std::to_string(round) + "-" + std::to_string(i))));
  }
  std::atomic<std::size_t> opened{0};
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  auto got = weft::run(
      [](Self* self, std::vector<std::unique_ptr<Fifo>>& fifos, std::vector<std::size_t>& order,
         std::atomic<std::size_t>& opened) -> weft::Task<std::vector<std::string>> {
        std::vector<weft::JoinHandle<std::string>> readers;
        for (auto& fifo : fifos) {
          readers.push_back(
              weft::spawn([](Self* self, const Fifo& fifo,
                             std::atomic<std::size_t>& opened) -> weft::Task<std::string> {
                fs::File f = co_await fs::File::open(fifo.path, "rb", self->opts(0));
                opened.fetch_add(1);
                std::string s = co_await f.read(5);
                co_await f.close();
                co_return s;
              }(self, *fifo, opened)));
        }
        // Answer once every reader has opened and had the chance to submit its read (a
        // write before a read is submitted is fine too: it just completes at once).
        for (int i = 0; i < 1'000'000 && opened.load() < fifos.size(); ++i) {
          co_await weft::yield_now();
        }
        for (int i = 0; i < 100; ++i) co_await weft::yield_now();
        for (std::size_t i : order) fifos[i]->put(message(i));
        std::vector<std::string> out;
        for (auto& r : readers) out.push_back(co_await r);
        co_return out;
      }(self, fifos, order, opened),
      {.workers = workers});
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i], message(i)) << "reader " << i;
  }
}

TEST_P(File, ManyReadsInFlightAtOnceEachGetTheirOwnBytes) {
  many_reads_in_flight(this, 40, 2);
}

/// The stress tests: plain tests (ctest names them without a parameter, so they can carry
/// the "stress" label) that run each backend in turn, with the fixture's helpers.
class FileStress : public testing::Test {
 public:
  fs::Backend backend() const { return backend_; }
  fs::OpenOptions opts(std::size_t buffer = 64 * 1024) const {
    return {.backend = backend_, .buffer_size = buffer};
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  /// Runs `body` once per available backend, checking descriptors around each.
  template <class F>
  void for_each_backend(F body) {
    for (fs::Backend b : {fs::Backend::Pool, fs::Backend::Uring}) {
      if (b == fs::Backend::Uring && !fs::uring_available()) continue;
      SCOPED_TRACE(b == fs::Backend::Pool ? "pool" : "uring");
      backend_ = b;
      const std::size_t before = count_open_fds();
      body();
      EXPECT_EQ(count_open_fds(), before) << "a descriptor leaked";
    }
  }

  TempDir dir_;
  fs::Backend backend_ = fs::Backend::Pool;
  int round_ = 0;
};

TEST_F(FileStress, ManyReadsInFlightAcrossWorkers) {
  for_each_backend([&] {
    for (int round = 0; round < 5; ++round) {
      many_reads_in_flight(this, weft::test::scaled(200, 20), 4, round_++);
    }
  });
}

TEST_F(FileStress, ManyTasksWriteAndReadTheirOwnFiles) {
  for_each_backend([&] {
    const std::size_t tasks = weft::test::scaled(300, 30);
    const std::string prefix = "task-" + std::to_string(round_++) + "-";
    std::atomic<std::size_t> ok{0};
    weft::run(
        [](FileStress* self, std::size_t tasks, std::string prefix,
           std::atomic<std::size_t>& ok) -> weft::Task<void> {
          std::vector<weft::JoinHandle<void>> hs;
          for (std::size_t i = 0; i < tasks; ++i) {
            hs.push_back(weft::spawn([](FileStress* self, std::string p, std::size_t i,
                                        std::atomic<std::size_t>& ok) -> weft::Task<void> {
              const std::string data = pattern(1000 + i * 97, static_cast<unsigned>(i));
              fs::File w = co_await fs::File::open(p, "w", self->opts(i % 2 ? 0 : 4096));
              for (std::size_t at = 0; at < data.size(); at += 333) {
                co_await w.write_all(std::string_view(data).substr(at, 333));
              }
              co_await w.close();
              if (co_await fs::read_file(p, self->backend()) == data) ok.fetch_add(1);
            }(self, self->path(prefix + std::to_string(i)), i, ok)));
          }
          for (auto& h : hs) co_await h;
        }(this, tasks, prefix, ok),
        {.workers = 4});
    EXPECT_EQ(ok.load(), tasks);
  });
}

// ---- backend choice -------------------------------------------------------------------------

class EnvBackend : public testing::Test {
 protected:
  void TearDown() override { ::unsetenv("WEFT_FS_BACKEND"); }
};

TEST_F(EnvBackend, TheEnvironmentChoosesTheDefaultBackend) {
  ::unsetenv("WEFT_FS_BACKEND");
  EXPECT_EQ(fs::resolve_backend(), fs::Backend::Pool);
  ::setenv("WEFT_FS_BACKEND", "pool", 1);
  EXPECT_EQ(fs::resolve_backend(), fs::Backend::Pool);
  const fs::Backend uring = fs::uring_available() ? fs::Backend::Uring : fs::Backend::Pool;
  ::setenv("WEFT_FS_BACKEND", "uring", 1);
  EXPECT_EQ(fs::resolve_backend(), uring);
  ::setenv("WEFT_FS_BACKEND", "auto", 1);
  EXPECT_EQ(fs::resolve_backend(), uring);
  EXPECT_EQ(fs::resolve_backend(fs::Backend::Pool), fs::Backend::Pool);  // explicit wins
  EXPECT_EQ(fs::resolve_backend(fs::Backend::Auto), uring);
}

TEST_F(EnvBackend, AnUnknownBackendNameIsAnInvalidArgumentNamingIt) {
  ::setenv("WEFT_FS_BACKEND", "epoll", 1);
  try {
    fs::resolve_backend();
    ADD_FAILURE() << "accepted WEFT_FS_BACKEND=epoll";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("WEFT_FS_BACKEND=epoll"), std::string::npos) << e.what();
  }
}

TEST(FileClock, FileWorkOnThePoolRunsUnderTheVirtualClock) {
  TempDir dir;
  const std::string p = (dir.path() / "v.txt").string();
  auto order = weft::run(
      [](std::string p) -> weft::Task<std::vector<std::string>> {
        std::vector<std::string> order;
        auto sleeper = weft::spawn([](std::vector<std::string>& order) -> weft::Task<void> {
          co_await weft::sleep(std::chrono::hours(1));
          order.push_back("slept an hour");
        }(order));
        co_await fs::write_file(p, "x", fs::Backend::Pool);
        order.push_back(co_await fs::read_file(p, fs::Backend::Pool));
        co_await sleeper;
        co_return order;
      }(p),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
  // The pool's jobs hold the virtual clock still: the hour passes only after the file work.
  EXPECT_EQ(order, (std::vector<std::string>{"x", "slept an hour"}));
}

}  // namespace
