// fs_bench: weft::fs on the blocking pool and on io_uring, beside plain synchronous calls on
// one thread (the limit), and the same file work while 1,000 tasks sleep 1 ms and wake (their
// wake-up lateness shows whether file work stalls the workers).
//
// Workloads (sizes from the command line; the defaults below):
//   copy64k / copy1m  copy a 1 GiB file in 64 KiB / 1 MiB chunks (one task: read, write, ...)
//   small             100,000 whole-file reads (read_file) of 1,000 files of 4 KiB, by 16 tasks
// Implementations: sync (plain read/write on the main thread), pool (Backend::Pool), uring
// (Backend::Uring); under sleepers also sync-on-worker (the same blocking calls made inside a
// task: what invariant 6 forbids, for scale). The implementations are interleaved (A B C A B
// C ...) for --reps rounds, each run timed alone, and the table reports medians; the machine
// is shared, so read the ratios rather than the absolute numbers.
//
// Files live in a fresh directory under --dir (default: the working directory), removed at the
// end. With less than 5 GiB free there, the big file shrinks to 256 MiB (and the table says so).
// The source file is in the page cache after it is written; the copies measure the path from
// a cached file into the page cache (no fsync), which is where per-call overhead shows.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace {

namespace fs = weft::fs;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string dir = ".";
  std::uint64_t big_mib = 1024;
  std::size_t small_files = 1000;
  std::size_t small_reads = 100'000;
  std::size_t small_size = 4096;
  std::size_t small_tasks = 16;
  std::size_t sleepers = 1000;
  std::size_t workers = 2;
  int reps = 5;
  bool with_sleepers = true;
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// ---- files ----------------------------------------------------------------------------------

void write_pattern_file(const std::string& path, std::uint64_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open (setup)");
  std::vector<char> chunk(1 << 20);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 31 + i / 4093);
  for (std::uint64_t left = bytes; left > 0;) {
    const std::size_t n = std::min<std::uint64_t>(left, chunk.size());
    if (::write(fd, chunk.data(), n) != static_cast<ssize_t>(n)) die("write (setup)");
    left -= n;
  }
  ::close(fd);
}

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) die("stat");
  return static_cast<std::uint64_t>(st.st_size);
}

// ---- the workloads, synchronously -----------------------------------------------------------

void sync_copy(const std::string& from, const std::string& to, std::size_t chunk) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in < 0 || out < 0) die("open (sync copy)");
  std::vector<char> buf(chunk);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) die("read (sync copy)");
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) die("write (sync copy)");
      done += w;
    }
  }
  ::close(in);
  ::close(out);
}

std::uint64_t sync_read_small(const std::vector<std::string>& files, std::size_t reads) {
  std::uint64_t total = 0;
  std::vector<char> buf(64 * 1024);
  for (std::size_t i = 0; i < reads; ++i) {
    int fd = ::open(files[i % files.size()].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open (sync small)");
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) die("read (sync small)");
      if (n == 0) break;
      total += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
  }
  return total;
}

// ---- the workloads on weft::fs --------------------------------------------------------------

weft::Task<void> weft_copy(std::string from, std::string to, std::size_t chunk, fs::Backend b) {
  fs::File in = co_await fs::File::open(from, "rb", {.backend = b, .buffer_size = 0});
  fs::File out = co_await fs::File::open(to, "wb", {.backend = b, .buffer_size = 0});
  std::vector<std::byte> buf(chunk);
  for (;;) {
    const std::size_t n = co_await in.read(std::span(buf));
    if (n == 0) break;
    co_await out.write_all(std::span(buf).first(n));
  }
  co_await in.close();
  co_await out.close();
}

weft::Task<std::uint64_t> weft_read_small(const std::vector<std::string>& files, std::size_t reads,
                                          std::size_t tasks, fs::Backend b) {
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  for (std::size_t t = 0; t < tasks; ++t) {
    hs.push_back(
        weft::spawn([](const std::vector<std::string>& files, std::size_t first, std::size_t reads,
                       std::size_t stride, fs::Backend b) -> weft::Task<std::uint64_t> {
          std::uint64_t total = 0;
          for (std::size_t i = first; i < reads; i += stride) {
            total += (co_await fs::read_file(files[i % files.size()], b)).size();
          }
          co_return total;
        }(files, t, reads, tasks, b)));
  }
  std::uint64_t total = 0;
  for (auto& h : hs) total += co_await h;
  co_return total;
}

// ---- sleepers -------------------------------------------------------------------------------

/// 1,000 tasks that sleep 1 ms and wake until told to stop, recording how late each wake was.
class Sleepers {
 public:
  explicit Sleepers(std::size_t n) : late_(n) {}

  void start() {
    for (std::size_t i = 0; i < late_.size(); ++i) {
      late_[i].clear();
      late_[i].reserve(4096);
      hs_.push_back(weft::spawn(loop(stop_, late_[i])));
    }
  }
  weft::Task<void> stop() {
    stop_.store(true);
    for (auto& h : hs_) co_await h;
    hs_.clear();
  }
  /// The p-th percentile of all lateness samples (microseconds) and the number of wakes.
  std::pair<double, std::size_t> percentile(double p) const {
    std::vector<std::int64_t> all;
    for (const auto& v : late_) all.insert(all.end(), v.begin(), v.end());
    if (all.empty()) return {0, 0};
    const auto k = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
    return {static_cast<double>(all[k]) / 1000.0, all.size()};
  }

 private:
  static weft::Task<void> loop(std::atomic<bool>& stop, std::vector<std::int64_t>& late) {
    while (!stop.load(std::memory_order_relaxed)) {
      const weft::TimePoint due = weft::now() + std::chrono::milliseconds(1);
      co_await weft::sleep_until(due);
      late.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(weft::now() - due).count());
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<std::vector<std::int64_t>> late_;
  std::vector<weft::JoinHandle<void>> hs_;
};

// ---- runs -----------------------------------------------------------------------------------

struct Sample {
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::size_t wakes = 0;
};

enum class Impl { Sync, Pool, Uring, SyncOnWorker, Idle };

const char* impl_name(Impl i) {
  switch (i) {
    case Impl::Sync:
      return "sync";
    case Impl::Pool:
      return "pool";
    case Impl::Uring:
      return "uring";
    case Impl::SyncOnWorker:
      return "sync-on-worker";
    case Impl::Idle:
      return "none (sleepers alone, 0.3 s)";
  }
  return "?";
}

struct Workload {
  std::string name;
  std::function<void()> sync;                               // on the calling thread
  std::function<weft::Task<void>(fs::Backend)> in_runtime;  // inside a task
  double units = 0;                                         // MiB or reads, for the rate
  const char* unit = "";
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Sample run_once(const Workload& w, Impl impl, bool sleepers, const Config& cfg) {
  Sample s;
  if (impl == Impl::Sync && !sleepers) {
    auto t0 = Clock::now();
    w.sync();
    s.seconds = since(t0);
    return s;
  }
  weft::RuntimeOptions o;
  o.workers = cfg.workers;
  o.clock = weft::ClockKind::Real;
  weft::Runtime rt(o);
  Sleepers sl(sleepers ? cfg.sleepers : 0);
  s.seconds = rt.block_on([](const Workload& w, Impl impl, Sleepers& sl) -> weft::Task<double> {
    sl.start();
    co_await weft::sleep(std::chrono::milliseconds(20));  // the sleepers settle in
    auto t0 = Clock::now();
    if (impl == Impl::SyncOnWorker) {
      w.sync();  // blocks this worker: the point of the row
    } else if (impl == Impl::Idle) {
      co_await weft::sleep(std::chrono::milliseconds(300));
    } else {
      co_await w.in_runtime(impl == Impl::Pool ? fs::Backend::Pool : fs::Backend::Uring);
    }
    double secs = since(t0);
    co_await sl.stop();
    co_return secs;
  }(w, impl, sl));
  if (sleepers) {
    s.p50_us = sl.percentile(0.50).first;
    auto [p99, wakes] = sl.percentile(0.99);
    s.p99_us = p99;
    s.wakes = wakes;
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void usage() {
  std::fprintf(stderr,
               "fs_bench [--dir D] [--big-mib N] [--small-files N] [--small-reads N]\n"
               "         [--sleepers N] [--workers N] [--reps N] [--no-sleepers]\n");
  std::exit(2);
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--dir") {
      c.dir = value();
    } else if (a == "--big-mib") {
      c.big_mib = std::stoull(value());
    } else if (a == "--small-files") {
      c.small_files = std::stoull(value());
    } else if (a == "--small-reads") {
      c.small_reads = std::stoull(value());
    } else if (a == "--sleepers") {
      c.sleepers = std::stoull(value());
    } else if (a == "--workers") {
      c.workers = std::stoull(value());
    } else if (a == "--reps") {
      c.reps = std::stoi(value());
    } else if (a == "--no-sleepers") {
      c.with_sleepers = false;
    } else {
      usage();
    }
  }
  if (c.reps < 1 || c.workers < 1 || c.small_files < 1 || c.big_mib < 1) usage();
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = parse(argc, argv);
  struct statvfs vfs {};
  if (::statvfs(cfg.dir.c_str(), &vfs) != 0) die("statvfs --dir");
  const double free_gib = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize) /
                          (1024.0 * 1024 * 1024);
  std::string note;
  if (free_gib < 5 && cfg.big_mib > 256) {
    cfg.big_mib = 256;
    note = "(only " + std::to_string(free_gib) + " GiB free: the big file is 256 MiB)";
  }
  std::string root = (std::filesystem::path(cfg.dir) / "fs_bench-XXXXXX").string();
  if (!::mkdtemp(root.data())) die("mkdtemp");
  const std::string src = root + "/big.src";
  const std::string dst = root + "/big.dst";
  write_pattern_file(src, cfg.big_mib << 20);
  std::vector<std::string> small;
  for (std::size_t i = 0; i < cfg.small_files; ++i) {
    small.push_back(root + "/small-" + std::to_string(i));
    write_pattern_file(small.back(), cfg.small_size);
  }
  const std::uint64_t small_total = cfg.small_reads * cfg.small_size;
  const double mib = static_cast<double>(cfg.big_mib);

  auto copy = [&](std::size_t chunk, std::string name) {
    return Workload{name,
                    [&, chunk] {
                      sync_copy(src, dst, chunk);
                      if (file_size(dst) != (cfg.big_mib << 20)) die("copy: wrong size");
                      ::unlink(dst.c_str());
                    },
                    [&, chunk](fs::Backend b) -> weft::Task<void> {
                      co_await weft_copy(src, dst, chunk, b);
                      if (file_size(dst) != (cfg.big_mib << 20)) die("copy: wrong size");
                      ::unlink(dst.c_str());
                    },
                    mib, "MiB/s"};
  };
  std::vector<Workload> workloads = {
      copy(64 * 1024, "copy " + std::to_string(cfg.big_mib) + " MiB, 64 KiB chunks"),
      copy(1 << 20, "copy " + std::to_string(cfg.big_mib) + " MiB, 1 MiB chunks"),
      Workload{std::to_string(cfg.small_reads) + " reads of 4 KiB files",
               [&] {
                 if (sync_read_small(small, cfg.small_reads) != small_total) die("small: bytes");
               },
               [&](fs::Backend b) -> weft::Task<void> {
                 const std::uint64_t got =
                     co_await weft_read_small(small, cfg.small_reads, cfg.small_tasks, b);
                 if (got != small_total) die("small: bytes");
               },
               static_cast<double>(cfg.small_reads), "reads/s"},
  };

  const bool uring = fs::uring_available();
  std::vector<Impl> plain = {Impl::Sync, Impl::Pool};
  std::vector<Impl> loaded = {Impl::Pool, Impl::SyncOnWorker};
  if (uring) {
    plain.push_back(Impl::Uring);
    loaded.insert(loaded.begin() + 1, Impl::Uring);
  }
  // samples[sleepers][workload][impl]
  std::map<int, std::map<std::size_t, std::map<Impl, std::vector<Sample>>>> samples;
  std::vector<Sample> idle;
  for (int rep = 0; rep < cfg.reps; ++rep) {
    if (cfg.with_sleepers) idle.push_back(run_once(workloads[0], Impl::Idle, true, cfg));
    for (std::size_t w = 0; w < workloads.size(); ++w) {
      for (Impl i : plain) samples[0][w][i].push_back(run_once(workloads[w], i, false, cfg));
      if (!cfg.with_sleepers) continue;
      for (Impl i : loaded) samples[1][w][i].push_back(run_once(workloads[w], i, true, cfg));
    }
    std::fprintf(stderr, "round %d of %d done\n", rep + 1, cfg.reps);
  }
  std::filesystem::remove_all(root);

  std::printf("fs_bench: %zu workers, %d rounds interleaved, medians %s\n", cfg.workers, cfg.reps,
              note.c_str());
  if (!uring) std::printf("io_uring is not available here: no uring rows\n");
  std::printf("\n| workload | impl | time (s) | rate | vs sync | uring / pool |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  for (std::size_t w = 0; w < workloads.size(); ++w) {
    auto med = [&](int sl, Impl i) {
      std::vector<double> t;
      for (const Sample& s : samples[sl][w][i]) t.push_back(s.seconds);
      return median(t);
    };
    const double sync = med(0, Impl::Sync);
    const double pool = med(0, Impl::Pool);
    for (Impl i : plain) {
      const double t = med(0, i);
      std::printf("| %s | %s | %.3f | %.0f %s | %.2f | %s |\n", workloads[w].name.c_str(),
                  impl_name(i), t, workloads[w].units / t, workloads[w].unit, t / sync,
                  i == Impl::Uring ? std::to_string(t / pool).substr(0, 4).c_str() : "");
    }
  }
  if (cfg.with_sleepers) {
    std::printf(
        "\nWith %zu tasks sleeping 1 ms in a loop (wake-up lateness, medians of the "
        "rounds' p50 and p99):\n\n",
        cfg.sleepers);
    std::printf(
        "| workload | impl | time (s) | vs alone | lateness p50 (ms) | p99 (ms) | wakes |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    {
      std::vector<double> p50, p99, wakes;
      for (const Sample& s : idle) {
        p50.push_back(s.p50_us);
        p99.push_back(s.p99_us);
        wakes.push_back(static_cast<double>(s.wakes));
      }
      std::printf("| — | %s | | | %.2f | %.2f | %.0f |\n", impl_name(Impl::Idle),
                  median(p50) / 1000, median(p99) / 1000, median(wakes));
    }
    for (std::size_t w = 0; w < workloads.size(); ++w) {
      for (Impl i : loaded) {
        std::vector<double> t, p50, p99, wakes;
        for (const Sample& s : samples[1][w][i]) {
          t.push_back(s.seconds);
          p50.push_back(s.p50_us);
          p99.push_back(s.p99_us);
          wakes.push_back(static_cast<double>(s.wakes));
        }
        std::vector<double> alone;
        const Impl base = i == Impl::SyncOnWorker ? Impl::Sync : i;
        for (const Sample& s : samples[0][w][base]) alone.push_back(s.seconds);
        std::printf("| %s | %s | %.3f | %.2f | %.2f | %.2f | %.0f |\n", workloads[w].name.c_str(),
                    impl_name(i), median(t), median(t) / median(alone), median(p50) / 1000,
                    median(p99) / 1000, median(wakes));
      }
    }
  }
  return 0;
}
