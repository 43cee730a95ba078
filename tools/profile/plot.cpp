// gnuplot_script and write_plot; see plot.hpp.
#include "weft/profile/plot.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/io/process.hpp>

namespace weft::profile {
namespace {

std::string number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

// A gnuplot string literal: single quotes, a quote doubled.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out += '\'';
    if (c == '\n') continue;
    out += c;
  }
  return out + "'";
}

double micros(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}

// One inline data block: x, throughput, offered rate, p50, p90, p99, p99.9 (µs) per step;
// a step without latencies (nothing completed) is left out of the latency panel by a
// missing value.
std::string data_block(const Profile& p) {
  std::string out = "$steps << EOD\n";
  for (const StepResult& s : p.steps) {
    const double x = s.offered_rate > 0 ? s.offered_rate : s.concurrency;
    out += number(x) + " " + number(s.throughput()) + " " + number(s.offered_rate);
    for (const double q : {0.5, 0.9, 0.99, 0.999}) {
      out += " " + (s.latency.count() > 0 ? number(micros(s.latency.percentile(q))) : "?");
    }
    out += "\n";
  }
  return out + "EOD\n";
}

}  // namespace

std::string gnuplot_script(const Profile& p, const std::string& png_path) {
  const bool open = p.open_loop();
  const std::string x_label = open ? "offered requests/s" : "concurrency (requests in flight)";
  std::string s;
  s += "# weft-profile: " + p.target + "\n";
  s += "set terminal pngcairo size 1200,500 font 'sans,10'\n";
  s += "set output " + quoted(png_path) + "\n";
  s += "set datafile missing '?'\n";
  s += data_block(p);
  s += "set multiplot layout 1,2 title " + quoted("weft-profile: " + p.target) + "\n";
  s += "set grid\nset key top left\nset logscale x 2\n";
  // A tick at each step's x (its concurrency or rate), not at powers of the log's base.
  s += "set xtics (";
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const StepResult& st = p.steps[i];
    s += (i ? ", " : "") + number(st.offered_rate > 0 ? st.offered_rate : st.concurrency);
  }
  s += ")\n";
  if (!p.steps.empty()) {  // a margin around the steps: the end ticks keep their labels
    auto x_of = [](const StepResult& st) {
      return st.offered_rate > 0 ? st.offered_rate : static_cast<double>(st.concurrency);
    };
    s += "set xrange [" + number(x_of(p.steps.front()) / 1.25) + ":" +
         number(x_of(p.steps.back()) * 1.25) + "]\n";
  }
  s += "set xlabel " + quoted(x_label) + "\n";
  // Left: throughput.
  s += "set ylabel 'requests/s'\nset yrange [0:*]\n";
  std::vector<std::string> plots;
  if (open) {
    plots.push_back("x title 'offered' with lines dashtype 2 lc rgb 'gray'");
    if (p.sustained_rate) {
      s += "set arrow from " + number(*p.sustained_rate) + ", graph 0 to " +
           number(*p.sustained_rate) + ", graph 1 nohead dashtype 3 lc rgb 'red'\n";
      s += "set label 'sustained " + number(*p.sustained_rate) + "/s' at " +
           number(*p.sustained_rate) + ", graph 0.95 right offset -1,0 tc rgb 'red'\n";
    }
  } else {
    if (p.usl) {
      s += "usl(n) = " + number(p.usl->lambda) + " * n / (1 + " + number(p.usl->sigma) +
           " * (n - 1) + " + number(p.usl->kappa) + " * n * (n - 1))\n";
      plots.push_back("usl(x) title 'USL fit' with lines dashtype 2 lc rgb 'gray'");
    }
    if (p.knee.concurrency) {
      s += "set arrow from " + std::to_string(*p.knee.concurrency) + ", graph 0 to " +
           std::to_string(*p.knee.concurrency) + ", graph 1 nohead dashtype 3 lc rgb 'red'\n";
      s += "set label 'knee " + std::to_string(*p.knee.concurrency) + "' at " +
           std::to_string(*p.knee.concurrency) + ", graph 0.95 left offset 1,0 tc rgb 'red'\n";
    }
  }
  plots.insert(plots.begin(), "$steps using 1:2 title 'achieved' with linespoints pt 7 lw 2");
  s += "plot ";
  for (std::size_t i = 0; i < plots.size(); ++i) s += (i ? ", " : "") + plots[i];
  s += "\n";
  // Right: latency percentiles, the same marks.
  s += "set ylabel 'latency (µs)'\nset logscale y 10\nset yrange [*:*]\nunset label\n";
  s += "plot $steps using 1:4 title 'p50' with linespoints pt 7, "
       "$steps using 1:5 title 'p90' with linespoints pt 7, "
       "$steps using 1:6 title 'p99' with linespoints pt 7, "
       "$steps using 1:7 title 'p99.9' with linespoints pt 7\n";
  s += "unset multiplot\n";
  return s;
}

Task<void> write_plot(const Profile& profile, const std::string& script_path,
                      const std::string& png_path) {
  const std::string script = gnuplot_script(profile, png_path);
  {
    std::ofstream out(script_path, std::ios::binary | std::ios::trunc);
    out << script;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + script_path);
  }
  process::Output result;
  std::vector<std::string> command{"gnuplot", script_path};  // named: GCC 12 (docs/guide.md)
  try {
    result = co_await process::run(std::move(command));
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot run gnuplot (install gnuplot-nox) for " + png_path + ": " +
                             e.what());
  }
  if (!result.status.success()) {
    throw std::runtime_error("gnuplot " + script_path + " " + result.status.to_string() + ": " +
                             result.err);
  }
}

}  // namespace weft::profile
