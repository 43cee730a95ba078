// fs_write_read: write a file and read it back without blocking a worker (aiofiles' example).
//
//   async def main(directory):
//       path = os.path.join(directory, "hello.txt")
//       async with aiofiles.open(path, mode="w") as f:
//           await f.write("Hello, World!\n")
//           await f.write("Files never block the event loop.\n")
//       async with aiofiles.open(path, mode="r") as f:
//           contents = await f.read()
//       print(contents, end="")
//       async with aiofiles.open(path) as f:
//           async for line in f:
//               print(f"line: {line.rstrip()}")
//       print(f"{(await aiofiles.os.stat(path)).st_size} bytes")
//       await aiofiles.os.remove(path)
//       print(f"exists after remove: {await aiofiles.os.path.exists(path)}")
//
// The file lives in a fresh temporary directory, removed at the end.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <weft/weft.hpp>

namespace {

weft::Task<> main_task(std::filesystem::path directory) {
  const std::filesystem::path path = directory / "hello.txt";
  {
    weft::fs::File f = co_await weft::fs::File::open(path, "w");
    co_await f.write_all("Hello, World!\n");
    co_await f.write_all("Files never block the event loop.\n");
    co_await f.close();
  }
  {
    weft::fs::File f = co_await weft::fs::File::open(path, "r");
    std::string contents = co_await f.read_all();
    co_await f.close();
    std::printf("%s", contents.c_str());
  }
  {
    weft::fs::File f = co_await weft::fs::File::open(path);
    auto lines = f.lines();
    while (auto line = co_await lines.next()) std::printf("line: %s\n", line->c_str());
  }
  std::printf("%llu bytes\n",
              static_cast<unsigned long long>((co_await weft::fs::stat(path)).size));
  co_await weft::fs::remove(path);
  std::printf("exists after remove: %s\n", co_await weft::fs::exists(path) ? "True" : "False");
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
