// weft::net::BufferedReader / BufferedWriter / BufferedStream: lines and delimiters split
// across reads, the limit on a record (exceeding it is LimitOverrun and loses no byte), the
// maximum of read_exact and its memory following the bytes that arrive, the end of the
// stream in the middle of a record, a cancelled read that keeps its buffer,
// buffered writes and their order, a reader and a writer of one stream at once, and a
// BufferedStream over a Unix stream and over a user-defined ByteStream. The streams are
// Unix socket pairs (real sockets, no listener needed).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "peak_rss.hpp"
#include "rot13_stream.hpp"
#include "stress_scale.hpp"

using namespace std::chrono_literals;
using weft::net::BufferedReader;
using weft::net::BufferedStream;
using weft::net::BufferedWriter;
using weft::net::IncompleteRead;
using weft::net::LimitOverrun;
using weft::net::TcpStream;
using weft::net::UnixStream;
using weft::test::rot13;
using weft::test::Rot13Stream;

namespace {

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

weft::RuntimeOptions virtual_clock(std::size_t workers = 1) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

/// A connected pair: the reader's end and the writer's end.
struct Pair {
  TcpStream a, b;
  Pair() {
    auto [x, y] = UnixStream::pair();
    a = std::move(x.stream());
    b = std::move(y.stream());
  }
};

}  // namespace

TEST(BufferedReader, ReadLineGivesEachLineThenThePartialLastOneThenEmpty) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("one\ntwo\nthr");
        co_await p.b.write_all("ee\nlast");
        p.b.shutdown();
        EXPECT_EQ(co_await r.read_line(), "one\n");
        EXPECT_EQ(co_await r.read_line(), "two\n");
        EXPECT_EQ(co_await r.read_line(), "three\n");
        EXPECT_EQ(co_await r.read_line(), "last");
        EXPECT_EQ(co_await r.read_line(), "");
        EXPECT_TRUE(r.at_eof());
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadUntilFindsADelimiterSplitAcrossTwoReads) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        auto reading = weft::spawn(r.read_until("\r\n\r\n"));
        co_await p.b.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r");
        co_await weft::yield_now();
        co_await p.b.write_all("\nbody");
        EXPECT_EQ(co_await reading, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        std::vector<std::byte> rest(4);
        co_await r.read_exact(rest);
        EXPECT_EQ(text(rest), "body");
      }(),
      virtual_clock());
}

TEST(BufferedReader, ALineOfExactlyTheLimitIsReturned) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a, {.limit = 8});
        co_await p.b.write_all("1234567\nnext\n");
        EXPECT_EQ(co_await r.read_line(), "1234567\n");
        EXPECT_EQ(co_await r.read_line(), "next\n");
      }(),
      virtual_clock());
}

TEST(BufferedReader, ALineLongerThanTheLimitRaisesLimitOverrunAndLosesNoByte) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a, {.limit = 8});
        co_await p.b.write_all("123456789\n");
        p.b.shutdown();
        try {
          (void)co_await r.read_line();
          ADD_FAILURE() << "a 10-byte line passed a limit of 8";
        } catch (const LimitOverrun& e) {
          EXPECT_EQ(e.limit(), 8u);
          EXPECT_NE(std::string(e.what()).find("read_line"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("8 bytes"), std::string::npos) << e.what();
        }
        // Every byte is still there for a plain read.
        std::string all;
        std::vector<std::byte> buf(3);
        for (int i = 0; i < 10; ++i) {
          std::size_t n = co_await r.read(buf);
          if (n == 0) break;
          all += text(std::span(buf).first(n));
        }
        EXPECT_EQ(all, "123456789\n");
      }(),
      virtual_clock());
}

TEST(BufferedReader, AnEndlessLineDoesNotGrowTheBufferPastTheLimit) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a, {.limit = 1024});
        auto writer = weft::spawn([](TcpStream& s) -> weft::Task<void> {
          std::string chunk(4096, 'x');
          for (int i = 0; i < 64; ++i) co_await s.write_all(chunk);
        }(p.b));
        try {
          (void)co_await r.read_line();
          ADD_FAILURE() << "an endless line was returned";
        } catch (const LimitOverrun& e) {
          EXPECT_LE(e.buffered(), 1024u + 16 * 1024u);  // the limit plus one read at most
        }
        EXPECT_LE(r.buffered().size(), 1024u + 16 * 1024u);
        p.a.close();  // the writer then fails with a broken pipe
        try {
          co_await writer;
        } catch (const std::system_error&) {
        }
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadUntilAtTheEndOfTheStreamRaisesIncompleteReadAndKeepsTheBytes) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("no delimiter");
        p.b.shutdown();
        EXPECT_THROW((void)co_await r.read_until(";"), IncompleteRead);
        EXPECT_EQ(text(r.buffered()), "no delimiter");
        EXPECT_THROW((void)co_await r.read_until(""), std::invalid_argument);
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadExactIntoASpanAtTheEndReportsHowMuchArrived) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("abcde");
        p.b.shutdown();
        std::vector<std::byte> buf(8);
        try {
          co_await r.read_exact(buf);
          ADD_FAILURE() << "read_exact filled 8 bytes from 5";
        } catch (const IncompleteRead& e) {
          EXPECT_EQ(e.got(), 5u);
          EXPECT_EQ(e.expected(), 8u);
          EXPECT_EQ(text(std::span(buf).first(5)), "abcde");
        }
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadExactLargerThanTheLimitArrivesWhole) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a, {.limit = 16});
        std::string big(300'000, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
        auto writer = weft::spawn([](TcpStream& s, const std::string& d) -> weft::Task<void> {
          co_await s.write_all(d);
        }(p.b, big));
        EXPECT_EQ(co_await r.read_exact(5), big.substr(0, 5));
        EXPECT_EQ(co_await r.read_exact(big.size() - 5), big.substr(5));
        co_await writer;
      }(),
      virtual_clock(2));
}

TEST(BufferedReader, ReadExactBeyondItsMaximumIsALengthErrorNamingTheSizeAndTheMaximum) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("abc");
        try {
          (void)co_await r.read_exact(SIZE_MAX);
          ADD_FAILURE() << "read_exact(SIZE_MAX) returned";
        } catch (const std::length_error& e) {
          const std::string what = e.what();
          EXPECT_NE(what.find("read_exact"), std::string::npos) << what;
          EXPECT_NE(what.find(std::to_string(SIZE_MAX)), std::string::npos) << what;
          EXPECT_NE(what.find(std::to_string(weft::net::kDefaultMaxRead)), std::string::npos)
              << what;
        }
        EXPECT_EQ(co_await r.read_exact(3), "abc");  // refused before reading anything

        BufferedReader small(p.a, {.limit = 2, .max_read = 4});
        co_await p.b.write_all("wxyz!");
        EXPECT_THROW((void)co_await small.read_exact(5), std::length_error);
        EXPECT_EQ(co_await small.read_exact(4), "wxyz");
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadExactOfAGigabyteFromAPeerThatSendsAFewBytesAllocatesForThoseBytes) {
  weft::test::reset_peak_rss();
  const std::size_t peak_before = weft::test::peak_rss();
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("abc");
        p.b.shutdown();
        try {
          (void)co_await r.read_exact(std::size_t{1} << 30);
          ADD_FAILURE() << "read_exact(1 GiB) returned from 3 bytes";
        } catch (const IncompleteRead& e) {
          EXPECT_EQ(e.got(), 3u);
          EXPECT_EQ(e.expected(), std::size_t{1} << 30);
        }
      }(),
      virtual_clock());
  EXPECT_LT(weft::test::peak_rss() - peak_before, std::size_t{64} << 20)
      << "read_exact allocated the GiB before the peer sent it";
}

TEST(BufferedReader, ALimitOfSizeMaxLetsALongLineGrowWithTheData) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a, {.limit = SIZE_MAX});
        const std::string line = std::string(100'000, 'x') + "\n";
        auto writer = weft::spawn([](TcpStream& s, const std::string& d) -> weft::Task<void> {
          co_await s.write_all(d);
          s.shutdown();
        }(p.b, line));
        EXPECT_EQ((co_await r.read_line()).size(), line.size());
        EXPECT_EQ(co_await r.read_line(), "");
        co_await writer;
      }(),
      virtual_clock(2));
}

TEST(BufferedReader, ACancelledReadLineLosesNoBufferedByte) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all("hel");
        EXPECT_THROW((void)co_await weft::wait_for(r.read_line(), 50ms), weft::TimeoutError);
        co_await p.b.write_all("lo\n");
        EXPECT_EQ(co_await r.read_line(), "hello\n");
      }(),
      virtual_clock());
}

TEST(BufferedReader, ReadAllStopsAtItsMaximum) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all(std::string(100, 'z'));
        p.b.shutdown();
        EXPECT_THROW((void)co_await r.read_all(99), LimitOverrun);
      }(),
      virtual_clock());
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedReader r(p.a);
        co_await p.b.write_all(std::string(100, 'z'));
        p.b.shutdown();
        EXPECT_EQ(co_await r.read_all(100), std::string(100, 'z'));
      }(),
      virtual_clock());
}

TEST(BufferedReader, ALimitOfZeroIsRejected) {
  Pair p;
  EXPECT_THROW(BufferedReader(p.a, {.limit = 0}), std::invalid_argument);
}

TEST(BufferedWriter, SmallWritesWaitInTheBufferUntilFlush) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedWriter w(p.b, {.buffer = 64});
        co_await w.write("abc");
        co_await w.write("def");
        EXPECT_EQ(w.buffered(), 6u);
        std::byte probe[8];
        EXPECT_EQ(::recv(p.a.socket().fd(), probe, sizeof probe, MSG_DONTWAIT),
                  -1);  // nothing sent
        co_await w.flush();
        EXPECT_EQ(w.buffered(), 0u);
        std::vector<std::byte> got(6);
        co_await p.a.read_exact(got);
        EXPECT_EQ(text(got), "abcdef");
      }(),
      virtual_clock());
}

TEST(BufferedWriter, WritesThatOverflowTheBufferKeepTheirOrder) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedWriter w(p.b, {.buffer = 16});
        std::string expect;
        auto put = [&](std::string s) -> weft::Task<void> {
          expect += s;
          co_await w.write(s);
        };
        co_await put("0123456789");          // buffered
        co_await put("abcdefghij");          // flushes the first, buffers this
        co_await put(std::string(40, 'L'));  // larger than the buffer: one writev
        co_await put("tail");                // buffered
        co_await w.flush();
        p.b.shutdown();
        BufferedReader r(p.a);
        EXPECT_EQ(co_await r.read_all(), expect);
      }(),
      virtual_clock());
}

TEST(BufferedStream, AMovedStreamKeepsItsBufferedBytesAndItsConnection) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedStream s(std::move(p.a));
        co_await p.b.write_all("first\nsecond\n");
        EXPECT_EQ(co_await s.read_line(), "first\n");
        BufferedStream moved(std::move(s));
        EXPECT_EQ(co_await moved.read_line(), "second\n");
        co_await moved.write("reply");
        co_await moved.finish_writing();
        BufferedReader r(p.b);
        EXPECT_EQ(co_await r.read_all(), "reply");
      }(),
      virtual_clock());
}

TEST(BufferedStream, ReadsAndWritesThroughAUserDefinedStreamAndEndsWithItsFinishWriting) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p;
        BufferedStream s(Rot13Stream(std::move(p.a), "<bye>"), {.writer = {.buffer = 16}});
        EXPECT_NE(s.stream().target<Rot13Stream>(), nullptr);
        co_await p.b.write_all(rot13("Hello\nWorld\n"));
        EXPECT_EQ(co_await s.read_line(), "Hello\n");
        EXPECT_EQ(co_await s.read_line(), "World\n");
        const std::string big(40, 'x');
        co_await s.write("0123456789");  // buffered
        co_await s.write(big);           // larger than the buffer: one writev with it
        co_await s.write("tail");
        co_await s.finish_writing();  // flushes, then the stream's own finish_writing
        BufferedReader r(p.b);
        EXPECT_EQ(co_await r.read_all(), rot13("0123456789" + big + "tail") + "<bye>");
      }(),
      virtual_clock());
}

TEST(BufferedStream, OverAUnixStreamReachesItsPeerCredentialsThroughStream) {
  weft::run(
      []() -> weft::Task<void> {
        auto [x, y] = UnixStream::pair();
        BufferedStream a(std::move(x));
        BufferedStream b(std::move(y));
        co_await a.write("ping\n");
        co_await a.flush();
        EXPECT_EQ(co_await b.read_line(), "ping\n");
        EXPECT_EQ(a.stream().tcp(), nullptr);
        if (UnixStream* u = a.stream().target<UnixStream>()) {
          EXPECT_EQ(u->peer_credentials().pid, ::getpid());
        } else {
          ADD_FAILURE() << "a BufferedStream made from a UnixStream holds no UnixStream";
        }
        co_await b.close();
        EXPECT_EQ(co_await a.read_line(), "");
      }(),
      virtual_clock());
}

TEST(BufferedStreamStress, OneTaskReadsLinesWhileAnotherWritesThem) {
  const int lines = static_cast<int>(weft::test::scaled(20'000, 500));
  weft::run(
      [](int lines) -> weft::Task<void> {
        Pair p;
        BufferedStream a(std::move(p.a));
        BufferedStream b(std::move(p.b));
        // b echoes every line back; a writes and reads at once, from two tasks.
        auto echo = weft::spawn([](BufferedStream& b) -> weft::Task<void> {
          for (;;) {
            std::string line = co_await b.read_line();
            if (line.empty()) break;
            co_await b.write(line);
            if (b.reader().buffered().empty()) co_await b.flush();
          }
          co_await b.finish_writing();
        }(b));
        auto writer = weft::spawn([](BufferedStream& a, int lines) -> weft::Task<void> {
          for (int i = 0; i < lines; ++i) co_await a.write("line " + std::to_string(i) + "\n");
          co_await a.finish_writing();
        }(a, lines));
        int got = 0;
        for (;;) {
          std::string line = co_await a.read_line();
          if (line.empty()) break;
          EXPECT_EQ(line, "line " + std::to_string(got) + "\n");
          ++got;
        }
        EXPECT_EQ(got, lines);
        co_await writer;
        co_await echo;
      }(lines),
      {.workers = 2});
}
