// spawn_process (spawn.hpp): everything that can fail is prepared in the parent first —
// the environment, the program's path, the working directory, the redirections — each with
// an error that names it; then posix_spawn(3) runs the file actions (dup2 onto 0-2, fchdir,
// close everything from 3 up) in the child and reports a failed exec as its return value.
// Every fd made here is owned by a UniqueFd, so nothing leaks when a step throws; the fds
// meant for the child are close-on-exec in the parent and moved above 2 first, so that no
// dup2 onto 0-2 can overwrite another of them.
#include "spawn.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "pidfd.hpp"

extern char** environ;

namespace weft::process::detail {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), what);
}

/// The child's environment as "NAME=value" strings.
std::vector<std::string> build_env(const Options& o) {
  std::vector<std::string> env;
  if (!o.clear_env) {
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  }
  auto drop = [&env](const std::string& key) {
    if (key.empty() || key.find('=') != std::string::npos) {
      throw std::invalid_argument("weft::process: bad environment variable name '" + key + "'");
    }
    std::erase_if(env, [&key](const std::string& kv) {
      return kv.size() > key.size() && kv[key.size()] == '=' && kv.starts_with(key);
    });
  };
  for (const std::string& key : o.env_remove) drop(key);
  for (const auto& [key, value] : o.env) {
    drop(key);
    env.push_back(key + "=" + value);
  }
  return env;
}

/// The path to exec: `prog` itself if it has a '/', else the first executable regular file
/// named `prog` in the PATH of `env` (as execvp does: EACCES if only non-executable ones
/// were found, else ENOENT).
std::string find_program(const std::string& prog, const std::vector<std::string>& env) {
  if (prog.find('/') != std::string::npos) return prog;
  if (prog.empty()) fail(ENOENT, "spawn ''");
  std::string_view path = "/bin:/usr/bin";
  for (const std::string& kv : env) {
    if (kv.starts_with("PATH=")) path = std::string_view(kv).substr(5);
  }
  int err = ENOENT;
  for (;;) {
    const std::size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + prog;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      err = EACCES;
    } else if (errno == EACCES) {
      err = EACCES;
    }
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  fail(err, "spawn " + prog);
}

/// `fd` moved above 0-2 if it is one of them (the parent had closed its own).
UniqueFd above_stdio(UniqueFd fd, const std::string& prog) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) fail(errno, "spawn " + prog + ": fcntl(F_DUPFD_CLOEXEC)");
  return UniqueFd(moved);
}

/// What one stream of the child becomes: the fd to dup2 onto `target` (empty: inherit), and
/// the parent's end when it is a pipe.
struct StreamSetup {
  UniqueFd child;
  UniqueFd parent;
};

StreamSetup setup_stream(const std::optional<Stdio>& how, int target, const std::string& prog) {
  static constexpr const char* kNames[] = {"stdin", "stdout", "stderr"};
  const bool input = target == 0;
  StreamSetup s;
  const Stdio::Kind kind = how ? how->kind() : Stdio::Kind::kInherit;
  switch (kind) {
    case Stdio::Kind::kInherit:
      return s;
    case Stdio::Kind::kNull:
      s.child.reset(::open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
      if (!s.child) fail(errno, "spawn " + prog + ": " + kNames[target] + " /dev/null");
      break;
    case Stdio::Kind::kFile: {
      int flags = input ? O_RDONLY : O_WRONLY | O_CREAT | (how->append() ? O_APPEND : O_TRUNC);
      s.child.reset(::open(how->path().c_str(), flags | O_CLOEXEC, 0666));
      if (!s.child) {
        fail(errno, "spawn " + prog + ": " + kNames[target] + " file " + how->path());
      }
      break;
    }
    case Stdio::Kind::kPipe: {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) < 0)
        fail(errno, "spawn " + prog + ": pipe for " + kNames[target]);
      s.child.reset(fds[input ? 0 : 1]);
      s.parent.reset(fds[input ? 1 : 0]);
      break;
    }
  }
  s.child = above_stdio(std::move(s.child), prog);
  return s;
}

/// posix_spawn's attribute and file-action objects, destroyed however spawning ends.
struct SpawnObjects {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnObjects() {
    if (int e = ::posix_spawn_file_actions_init(&actions)) fail(e, "posix_spawn_file_actions_init");
    if (int e = ::posix_spawnattr_init(&attr)) {
      ::posix_spawn_file_actions_destroy(&actions);
      fail(e, "posix_spawnattr_init");
    }
  }
  ~SpawnObjects() {
    ::posix_spawnattr_destroy(&attr);
    ::posix_spawn_file_actions_destroy(&actions);
  }
  SpawnObjects(const SpawnObjects&) = delete;
  SpawnObjects& operator=(const SpawnObjects&) = delete;
};

void check(int err, const std::string& prog, const char* step) {
  if (err) fail(err, "spawn " + prog + ": " + step);
}

}  // namespace

Spawned spawn_process(const std::vector<std::string>& args, const Options& options) {
  const std::string& prog = args.front();
  std::vector<std::string> env = build_env(options);
  const std::string path = find_program(prog, env);

  UniqueFd dir;
  if (!options.cwd.empty()) {
    dir.reset(::open(options.cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::access(options.cwd.c_str(), X_OK) < 0) {
      fail(errno, "spawn " + prog + ": working directory " + options.cwd);
    }
  }
  StreamSetup streams[3] = {setup_stream(options.in, 0, prog), setup_stream(options.out, 1, prog),
                            setup_stream(options.err, 2, prog)};

  SpawnObjects so;
  for (int target = 0; target < 3; ++target) {
    if (!streams[target].child) continue;
    check(::posix_spawn_file_actions_adddup2(&so.actions, streams[target].child.get(), target),
          prog, "adddup2");
  }
  if (dir) check(::posix_spawn_file_actions_addfchdir_np(&so.actions, dir.get()), prog, "fchdir");
  check(::posix_spawn_file_actions_addclosefrom_np(&so.actions, 3), prog, "closefrom");

  sigset_t none;
  sigset_t defaults;
  ::sigemptyset(&none);
  ::sigemptyset(&defaults);
  ::sigaddset(&defaults, SIGPIPE);
  ::sigaddset(&defaults, SIGXFSZ);
  check(::posix_spawnattr_setsigmask(&so.attr, &none), prog, "setsigmask");
  check(::posix_spawnattr_setsigdefault(&so.attr, &defaults), prog, "setsigdefault");
  check(::posix_spawnattr_setflags(&so.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), prog,
        "setflags");

  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);

  Spawned sp;
  if (int e =
          ::posix_spawn(&sp.pid, path.c_str(), &so.actions, &so.attr, argv.data(), envp.data())) {
    fail(e, "spawn " + prog);
  }
  sp.pidfd.reset(::pidfd_open(sp.pid, PIDFD_NONBLOCK));
  if (!sp.pidfd) {
    // Out of fds, most likely: the child has only just started; end and reap it here.
    const int err = errno;
    ::kill(sp.pid, SIGKILL);
    while (::waitpid(sp.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    fail(err, "spawn " + prog + ": pidfd_open");
  }
  sp.in = std::move(streams[0].parent);
  sp.out = std::move(streams[1].parent);
  sp.err = std::move(streams[2].parent);
  return sp;
}

}  // namespace weft::process::detail
