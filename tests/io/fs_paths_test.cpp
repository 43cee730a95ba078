// weft::fs's path and directory operations (blocking pool): stat, exists, remove, rename,
// mkdir with and without parents, and list_dir (batches, early drop, errors), each error
// naming the operation and the path, and no descriptor left open.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "fs_test_util.hpp"

namespace fs = weft::fs;
using weft::test::count_open_fds;
using weft::test::TempDir;

namespace {

class FsPaths : public testing::Test {
 public:
  void SetUp() override { fds_before_ = count_open_fds(); }
  void TearDown() override { EXPECT_EQ(count_open_fds(), fds_before_) << "a descriptor leaked"; }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  TempDir dir_;
  std::size_t fds_before_ = 0;
};

/// Runs `t` on a two-worker runtime.
template <class T>
T run_on_two(weft::Task<T> t) {
  return weft::run(std::move(t), {.workers = 2});
}

/// The errno and what() of the std::system_error that `t` throws (0, "" if none).
template <class T>
weft::Task<std::pair<int, std::string>> error_of(weft::Task<T> t) {
  try {
    co_await std::move(t);
  } catch (const std::system_error& e) {
    co_return std::pair<int, std::string>{e.code().value(), e.what()};
  }
  co_return std::pair<int, std::string>{0, ""};
}

TEST_F(FsPaths, StatReportsTypeSizeAndPermissions) {
  const std::string f = path("f.txt");
  run_on_two([](FsPaths* self, std::string f) -> weft::Task<void> {
    co_await fs::write_file(f, "12345");
    fs::FileStatus st = co_await fs::stat(f);
    EXPECT_TRUE(st.is_regular());
    EXPECT_EQ(st.size, 5u);
    EXPECT_EQ(st.links, 1u);
    EXPECT_NE(st.permissions & 0600, 0u);
    EXPECT_GT(st.modified.time_since_epoch().count(), 0);
    EXPECT_TRUE((co_await fs::stat(self->path(""))).is_directory());
    std::filesystem::create_symlink(f, self->path("link"));
    EXPECT_EQ((co_await fs::stat(self->path("link"), false)).type, fs::FileType::Symlink);
    EXPECT_TRUE((co_await fs::stat(self->path("link"))).is_regular());
    auto [err, what] = co_await error_of(fs::stat(self->path("missing")));
    EXPECT_EQ(err, ENOENT);
    EXPECT_EQ(what, "stat " + self->path("missing") + ": No such file or directory");
  }(this, f));
}

TEST_F(FsPaths, ExistsIsFalseOnlyForMissingPaths) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    co_await fs::write_file(self->path("here"), "");
    EXPECT_TRUE(co_await fs::exists(self->path("here")));
    EXPECT_TRUE(co_await fs::exists(self->path("")));
    EXPECT_FALSE(co_await fs::exists(self->path("gone")));
    EXPECT_FALSE(co_await fs::exists(self->path("here/below")));  // ENOTDIR
  }(this));
}

TEST_F(FsPaths, RemoveDeletesFilesAndEmptyDirectoriesAndNamesWhatItCannot) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    co_await fs::write_file(self->path("file"), "x");
    co_await fs::remove(self->path("file"));
    EXPECT_FALSE(co_await fs::exists(self->path("file")));
    co_await fs::mkdir(self->path("empty"));
    co_await fs::remove(self->path("empty"));
    EXPECT_FALSE(co_await fs::exists(self->path("empty")));
    co_await fs::mkdir(self->path("full"));
    co_await fs::write_file(self->path("full/x"), "x");
    auto [err, what] = co_await error_of(fs::remove(self->path("full")));
    EXPECT_EQ(err, ENOTEMPTY);
    EXPECT_EQ(what.rfind("remove " + self->path("full") + ": ", 0), 0u) << what;
    auto [err2, what2] = co_await error_of(fs::remove(self->path("never")));
    EXPECT_EQ(err2, ENOENT);
    EXPECT_EQ(what2, "remove " + self->path("never") + ": No such file or directory");
  }(this));
}

TEST_F(FsPaths, RenameMovesAFileAndNamesBothPathsOnFailure) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    co_await fs::write_file(self->path("a"), "contents");
    co_await fs::write_file(self->path("b"), "replaced");
    co_await fs::rename(self->path("a"), self->path("b"));
    EXPECT_FALSE(co_await fs::exists(self->path("a")));
    EXPECT_EQ(co_await fs::read_file(self->path("b")), "contents");
    auto [err, what] = co_await error_of(fs::rename(self->path("a"), self->path("c")));
    EXPECT_EQ(err, ENOENT);
    EXPECT_EQ(what, "rename " + self->path("a") + " -> " + self->path("c") +
                        ": No such file or directory");
  }(this));
}

TEST_F(FsPaths, MkdirWithParentsCreatesEveryMissingComponentAndAcceptsAnExistingOne) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    const std::string deep = self->path("a/b/c/d");
    co_await fs::mkdir(deep, {.parents = true});
    EXPECT_TRUE((co_await fs::stat(deep)).is_directory());
    co_await fs::mkdir(deep, {.parents = true});  // already there: fine
    co_await fs::mkdir(self->path("a/b/"), {.parents = true});
    co_await fs::write_file(self->path("a/file"), "");
    auto [err, what] = co_await error_of(fs::mkdir(self->path("a/file/x"), {.parents = true}));
    EXPECT_EQ(err, ENOTDIR);
    EXPECT_EQ(what.rfind("mkdir " + self->path("a/file/x") + ": ", 0), 0u) << what;
  }(this));
}

TEST_F(FsPaths, MkdirWithoutParentsRefusesAnExistingPathAndAMissingParent) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    co_await fs::mkdir(self->path("one"), {.permissions = 0700});
    EXPECT_EQ((co_await fs::stat(self->path("one"))).permissions & 0777, 0700u);
    auto [err, what] = co_await error_of(fs::mkdir(self->path("one")));
    EXPECT_EQ(err, EEXIST);
    EXPECT_EQ(what, "mkdir " + self->path("one") + ": File exists");
    auto [err2, what2] = co_await error_of(fs::mkdir(self->path("no/parent")));
    EXPECT_EQ(err2, ENOENT);
    EXPECT_EQ(what2, "mkdir " + self->path("no/parent") + ": No such file or directory");
  }(this));
}

TEST_F(FsPaths, ListDirYieldsEveryEntryButDotAndDotDotAcrossBatches) {
  constexpr int kFiles = 700;  // several batches of 256
  auto names = run_on_two([](FsPaths* self) -> weft::Task<std::vector<fs::DirEntry>> {
    for (int i = 0; i < kFiles; ++i)
      co_await fs::write_file(self->path("f" + std::to_string(i)), "");
    co_await fs::mkdir(self->path("sub"));
    std::vector<fs::DirEntry> out;
    auto gen = fs::list_dir(self->path(""));
    while (auto e = co_await gen.next()) out.push_back(std::move(*e));
    co_return out;
  }(this));
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kFiles + 1));
  std::vector<std::string> sorted;
  for (const auto& e : names) {
    sorted.push_back(e.name);
    if (e.name == "sub") {
      EXPECT_EQ(e.type, fs::FileType::Directory);
    }
  }
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a duplicate";
  EXPECT_TRUE(std::binary_search(sorted.begin(), sorted.end(), "f0"));
  EXPECT_TRUE(std::binary_search(sorted.begin(), sorted.end(), "f699"));
  EXPECT_FALSE(std::binary_search(sorted.begin(), sorted.end(), "."));
  EXPECT_FALSE(std::binary_search(sorted.begin(), sorted.end(), ".."));
}

TEST_F(FsPaths, AListDirDroppedEarlyClosesTheDirectory) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    for (int i = 0; i < 10; ++i) co_await fs::write_file(self->path("f" + std::to_string(i)), "");
    for (int round = 0; round < 100; ++round) {
      auto gen = fs::list_dir(self->path(""));
      EXPECT_TRUE((co_await gen.next()).has_value());
    }  // the fixture counts the descriptors
  }(this));
}

TEST_F(FsPaths, ListingAMissingDirectoryNamesThePath) {
  run_on_two([](FsPaths* self) -> weft::Task<void> {
    const std::string missing = self->path("missing");
    try {
      auto gen = fs::list_dir(missing);
      co_await gen.next();
      ADD_FAILURE() << "listed a missing directory";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ENOENT);
      EXPECT_EQ(std::string(e.what()), "list_dir " + missing + ": No such file or directory");
    }
  }(this));
}

}  // namespace
