// pg_run_with_server PROGRAM [ARGS...]: runs PROGRAM against a throwaway PostgreSQL server
// (pg_server.hpp), for the weft::pg examples that ctest runs.
//
// Starts the server, runs PROGRAM with WEFT_PG_CONNINFO set to the server's conninfo (TCP,
// the superuser, database "postgres") and the same stdin, stdout and stderr, then stops the
// server and exits with PROGRAM's exit status (128 + N if signal N ended it, 127 if it could
// not be started, 125 if the server could not be).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "pg_server.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  try {
    weft_test::pg::start_server();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_run_with_server: %s\n", e.what());
    return 125;
  }
  ::setenv("WEFT_PG_CONNINFO", weft_test::pg::server().conninfo().c_str(), 1);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execvp(argv[1], argv + 1);
    std::fprintf(stderr, "pg_run_with_server: cannot run %s: %s\n", argv[1], std::strerror(errno));
    ::_exit(127);
  }
  int code = 125;
  if (pid < 0) {
    std::fprintf(stderr, "pg_run_with_server: fork: %s\n", std::strerror(errno));
  } else {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  weft_test::pg::stop_server();
  return code;
}
