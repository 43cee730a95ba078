// weft::fs's path and directory operations (fs.hpp): stat, exists, remove, rename, mkdir and
// list_dir. Each is one blocking-pool job (list_dir: one per batch of entries); io_uring
// offers no getdents and would punt the others to its own threads anyway.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <weft/io/fs.hpp>
#include <weft/runtime/blocking.hpp>

#include "sys.hpp"

namespace weft::fs {

namespace {

using detail::fs_error;

FileType type_of_mode(mode_t m) noexcept {
  switch (m & S_IFMT) {
    case S_IFREG:
      return FileType::Regular;
    case S_IFDIR:
      return FileType::Directory;
    case S_IFLNK:
      return FileType::Symlink;
    case S_IFBLK:
      return FileType::Block;
    case S_IFCHR:
      return FileType::Character;
    case S_IFIFO:
      return FileType::Fifo;
    case S_IFSOCK:
      return FileType::Socket;
    default:
      return FileType::Unknown;
  }
}

FileType type_of_dirent(unsigned char t) noexcept {
  switch (t) {
    case DT_REG:
      return FileType::Regular;
    case DT_DIR:
      return FileType::Directory;
    case DT_LNK:
      return FileType::Symlink;
    case DT_BLK:
      return FileType::Block;
    case DT_CHR:
      return FileType::Character;
    case DT_FIFO:
      return FileType::Fifo;
    case DT_SOCK:
      return FileType::Socket;
    default:
      return FileType::Unknown;
  }
}

/// stat(2)'s answer or its errno.
struct StatResult {
  FileStatus status;
  int err = 0;
};

StatResult stat_path(const std::string& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) return {{}, errno};
  StatResult r;
  r.status.type = type_of_mode(st.st_mode);
  r.status.size = static_cast<std::uint64_t>(st.st_size);
  r.status.permissions = st.st_mode & 07777;
  r.status.links = st.st_nlink;
  r.status.modified = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return r;
}

/// mkdir -p: every missing component of `path`; 0 or the errno of the failing one.
int make_parents(const std::string& path, mode_t mode) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    const std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), mode) == 0) continue;
    const int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(prefix.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return ENOTDIR;  // a component is a file
    }
    return err;
  }
  return 0;
}

/// An open directory stream, closed with the generator that owns it (inline closedir: it
/// releases a descriptor and does no I/O).
using DirHandle = std::unique_ptr<DIR, decltype([](DIR* d) { ::closedir(d); })>;

struct OpenedDir {
  DirHandle dir;
  int err = 0;
};

/// Up to `n` entries of `dir`; `end` once readdir reports the end, `err` on failure.
struct DirBatch {
  std::vector<DirEntry> entries;
  bool end = false;
  int err = 0;
};

constexpr std::size_t kDirBatch = 256;

DirBatch read_batch(DIR* dir) {
  DirBatch b;
  while (b.entries.size() < kDirBatch) {
    errno = 0;
    const dirent* e = ::readdir(dir);
    if (!e) {
      b.err = errno;
      b.end = true;
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    b.entries.push_back({std::string(name), type_of_dirent(e->d_type)});
  }
  return b;
}

}  // namespace

Task<FileStatus> stat(std::filesystem::path path, bool follow_symlinks) {
  const std::string p = path.string();
  StatResult r = co_await to_thread([&] { return stat_path(p, follow_symlinks); });
  if (r.err) throw fs_error(r.err, follow_symlinks ? "stat" : "lstat", path);
  co_return r.status;
}

Task<bool> exists(std::filesystem::path path) {
  const std::string p = path.string();
  StatResult r = co_await to_thread([&] { return stat_path(p, true); });
  if (r.err == ENOENT || r.err == ENOTDIR) co_return false;
  if (r.err) throw fs_error(r.err, "stat", path);
  co_return true;
}

Task<void> remove(std::filesystem::path path) {
  const std::string p = path.string();
  const int err = co_await to_thread([&] {
    if (::unlink(p.c_str()) == 0) return 0;
    if (errno != EISDIR) return errno;
    return ::rmdir(p.c_str()) == 0 ? 0 : errno;
  });
  if (err) throw fs_error(err, "remove", path);
}

Task<void> rename(std::filesystem::path from, std::filesystem::path to) {
  const std::string f = from.string();
  const std::string t = to.string();
  const int err =
      co_await to_thread([&] { return ::rename(f.c_str(), t.c_str()) == 0 ? 0 : errno; });
  if (err) throw fs_error(err, "rename", from.string() + " -> " + t);
}

Task<void> mkdir(std::filesystem::path path, MkdirOptions options) {
  const std::string p = path.string();
  const int err = co_await to_thread([&] {
    if (options.parents) return make_parents(p, options.permissions);
    return ::mkdir(p.c_str(), options.permissions) == 0 ? 0 : errno;
  });
  if (err) throw fs_error(err, "mkdir", path);
}

AsyncGenerator<DirEntry> list_dir(std::filesystem::path path) {
  const std::string p = path.string();
  OpenedDir opened = co_await to_thread([&] {
    DIR* d = ::opendir(p.c_str());
    return OpenedDir{DirHandle(d), d ? 0 : errno};
  });
  if (opened.err) throw fs_error(opened.err, "list_dir", path);
  for (;;) {
    DirBatch batch = co_await to_thread([&] { return read_batch(opened.dir.get()); });
    if (batch.err) throw fs_error(batch.err, "list_dir", path);
    for (DirEntry& e : batch.entries) co_yield std::move(e);
    if (batch.end) break;
  }
}

}  // namespace weft::fs
