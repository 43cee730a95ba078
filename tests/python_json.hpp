// Checks JSON the way a reader outside C++ sees it: python3 parses it and evaluates a
// condition over it (tests of the task dump and the trace JSON).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace weft_test {

/// True if python3 parses `json` (as `d`) and, after running `prelude` (Python lines),
/// finds the expression `check` true. False for JSON it cannot parse.
inline bool python_accepts_json(const std::string& json, const std::string& check,
                                const std::string& prelude = "") {
  // Named by process: ctest runs each test in a process of its own, several at once.
  const std::string stem = ::testing::TempDir() + "python_json_check." + std::to_string(::getpid());
  const std::string path = stem + ".json";
  const std::string script = stem + ".py";
  std::ofstream(path) << json;
  std::ofstream(script) << "import json, sys\nd = json.load(open(sys.argv[1]))\n"
                        << prelude << "sys.exit(0 if (" << check << ") else 1)\n";
  const int rc = std::system(("python3 " + script + " " + path).c_str());
  std::remove(path.c_str());
  std::remove(script.c_str());
  return rc == 0;
}

}  // namespace weft_test
