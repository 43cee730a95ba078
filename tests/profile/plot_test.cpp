// The plot: the gnuplot script carries the steps, the fit and the knee (closed loop) or the
// rate sustained (open loop), and gnuplot (installed by tools/setup) turns it into a PNG.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <weft/weft.hpp>

#include "weft/profile/plot.hpp"
#include "weft/profile/profile.hpp"

using weft::profile::Profile;
using weft::profile::StepResult;

namespace {

// Steps as a Semaphore(8) x 1 ms server gives them: linear to 8, flat after.
Profile closed_profile() {
  Profile p{.target = "tcp-echo 127.0.0.1:1 payload 16"};
  for (const int n : {1, 2, 4, 8, 16, 32}) {
    StepResult s{.concurrency = n,
                 .requests = static_cast<std::uint64_t>(1000 * std::min(n, 8)),
                 .seconds = 1};
    for (int i = 0; i < 100; ++i) s.latency.record(1'000'000ull * std::max(1, n / 8));
    p.steps.push_back(std::move(s));
  }
  weft::profile::analyse(p);
  return p;
}

Profile open_profile() {
  Profile p{.target = "tcp-echo 127.0.0.1:1 payload 16"};
  for (const double rate : {2000.0, 4000.0, 16000.0}) {
    StepResult s{.concurrency = 64,
                 .requests = static_cast<std::uint64_t>(std::min(rate, 8000.0)),
                 .seconds = 1,
                 .offered_rate = rate,
                 .late = rate > 8000 ? 500u : 0u};
    s.latency.record(rate > 8000 ? 300'000'000 : 1'000'000);
    p.steps.push_back(std::move(s));
  }
  weft::profile::analyse(p);
  return p;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("weft_plot_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

}  // namespace

TEST(Plot, TheClosedLoopScriptCarriesTheStepsTheFitAndTheKnee) {
  const Profile p = closed_profile();
  ASSERT_TRUE(p.knee.concurrency.has_value());
  const std::string s = weft::profile::gnuplot_script(p, "/tmp/x.png");
  EXPECT_NE(s.find("set output '/tmp/x.png'"), std::string::npos) << s;
  EXPECT_NE(s.find("\n32 8000 0 "), std::string::npos) << s;  // concurrency, req/s, rate
  EXPECT_NE(s.find("usl(n) = "), std::string::npos) << s;
  EXPECT_NE(s.find("set label 'knee 8'"), std::string::npos) << s;
  EXPECT_NE(s.find("concurrency (requests in flight)"), std::string::npos) << s;
}

TEST(Plot, TheOpenLoopScriptMarksTheRateSustained) {
  const Profile p = open_profile();
  ASSERT_TRUE(p.sustained_rate.has_value());
  const std::string s = weft::profile::gnuplot_script(p, "/tmp/it's.png");
  EXPECT_NE(s.find("set output '/tmp/it''s.png'"), std::string::npos) << s;
  EXPECT_NE(s.find("\n16000 8000 16000 "), std::string::npos) << s;
  EXPECT_NE(s.find("sustained 4000/s"), std::string::npos) << s;
  EXPECT_NE(s.find("offered requests/s"), std::string::npos) << s;
  EXPECT_EQ(s.find("usl(n)"), std::string::npos) << s;
}

TEST(Plot, GnuplotDrawsThePng) {
  const std::string script = temp_path("closed.gp");
  const std::string png = temp_path("closed.png");
  weft::run(weft::profile::write_plot(closed_profile(), script, png));
  std::ifstream in(png, std::ios::binary);
  char signature[8] = {};
  in.read(signature, sizeof(signature));
  EXPECT_EQ(std::string(signature, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  EXPECT_GT(std::filesystem::file_size(png), 10'000u);
  std::filesystem::remove(script);
  std::filesystem::remove(png);
}

TEST(Plot, AnUnwritablePathNamesIt) {
  try {
    weft::run(weft::profile::write_plot(closed_profile(), "/nonexistent/dir/p.gp", "/tmp/p.png"));
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/p.gp"), std::string::npos) << e.what();
  }
}
