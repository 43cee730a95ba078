// The profile as a picture: a gnuplot script (data inline, so the script alone redraws it)
// that draws two panels into a PNG. Closed loop: throughput against concurrency with the
// USL curve and the knee, and the latency percentiles against concurrency. Open loop:
// achieved against offered rate, and the latency percentiles against offered rate, with
// the highest rate sustained marked. Latency axes are logarithmic.
#pragma once

#include <string>

#include <weft/runtime/task.hpp>

#include "weft/profile/profile.hpp"

namespace weft::profile {

/// The gnuplot script that writes `png_path` (pngcairo, 1200x500).
std::string gnuplot_script(const Profile& profile, const std::string& png_path);

/// Writes `script_path` (the script) and runs gnuplot on it, which writes `png_path`.
/// Throws std::runtime_error naming the file or gnuplot's complaint (gnuplot missing: the
/// message says to install gnuplot-nox).
Task<void> write_plot(const Profile& profile, const std::string& script_path,
                      const std::string& png_path);

}  // namespace weft::profile
