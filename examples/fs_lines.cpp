// fs_lines: write a large file, then read it back line by line (aiofiles' `async for line`).
//
//   async def main(directory):
//       path = os.path.join(directory, "big.txt")
//       async with aiofiles.open(path, "w") as f:
//           for i in range(200_000):
//               await f.write(f"line {i} {'#' * (i % 50)}\n")
//       count, checksum = 0, 0xcbf29ce484222325          # FNV-1a over every line
//       async with aiofiles.open(path) as f:
//           async for line in f:
//               count += 1
//               for b in line.rstrip("\n").encode():
//                   checksum = ((checksum ^ b) * 0x100000001b3) % 2**64
//       print(f"{count} lines, {(await aiofiles.os.stat(path)).st_size} bytes")
//       print(f"checksum {checksum:016x}")
//
// The many small writes collect in the File's buffer, so the file is written in 64 KiB
// syscalls; lines() reads it in 64 KiB syscalls too. A fresh temporary directory holds the
// file, and it is removed at the end.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <weft/weft.hpp>

namespace {

constexpr int kLines = 200'000;

weft::Task<> main_task(std::filesystem::path directory) {
  const std::filesystem::path path = directory / "big.txt";
  {
    weft::fs::File f = co_await weft::fs::File::open(path, "w");
    for (int i = 0; i < kLines; ++i) {
      co_await f.write_all("line " + std::to_string(i) + " " + std::string(i % 50, '#') + "\n");
    }
    co_await f.close();
  }
  std::uint64_t count = 0;
  std::uint64_t checksum = 0xcbf29ce484222325ull;
  {
    weft::fs::File f = co_await weft::fs::File::open(path);
    auto lines = f.lines();
    while (auto line = co_await lines.next()) {
      ++count;
      for (unsigned char b : *line) checksum = (checksum ^ b) * 0x100000001b3ull;
    }
  }
  const auto size = (co_await weft::fs::stat(path)).size;
  std::printf("%llu lines, %llu bytes\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(size));
  std::printf("checksum %016llx\n", static_cast<unsigned long long>(checksum));
  co_await weft::fs::remove(path);
  co_await weft::fs::remove(directory);
}

}  // namespace

int main() {
  std::string dir = (std::filesystem::temp_directory_path() / "weft-fs-example-XXXXXX").string();
  if (!::mkdtemp(dir.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  weft::run(main_task(dir));
}
