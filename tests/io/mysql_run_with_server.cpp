// mysql_run_with_server PROGRAM [ARGS...]: runs PROGRAM against a throwaway MariaDB server
// (mysql_server.hpp), for the MySQL client's examples that ctest runs.
//
// Starts the server, runs PROGRAM with the same stdin, stdout and stderr and with the
// server's whereabouts in WEFT_MYSQL_HOST and WEFT_MYSQL_PORT (TCP), WEFT_MYSQL_SOCKET (the
// Unix socket), WEFT_MYSQL_USER, WEFT_MYSQL_PASSWORD and WEFT_MYSQL_DATABASE, then stops the
// server and exits with PROGRAM's exit status (128 + N if signal N ended it, 127 if it could
// not be started, 125 if the server could not be).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "mysql_server.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  try {
    weft_test::mysql::start_server();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mysql_run_with_server: %s\n", e.what());
    return 125;
  }
  const weft_test::mysql::ServerInfo& s = weft_test::mysql::server();
  ::setenv("WEFT_MYSQL_HOST", s.host.c_str(), 1);
  ::setenv("WEFT_MYSQL_PORT", std::to_string(s.port).c_str(), 1);
  ::setenv("WEFT_MYSQL_SOCKET", s.socket_path.c_str(), 1);
  ::setenv("WEFT_MYSQL_USER", s.user.c_str(), 1);
  ::setenv("WEFT_MYSQL_PASSWORD", s.password.c_str(), 1);
  ::setenv("WEFT_MYSQL_DATABASE", s.database.c_str(), 1);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execvp(argv[1], argv + 1);
    std::fprintf(stderr, "mysql_run_with_server: cannot run %s: %s\n", argv[1],
                 std::strerror(errno));
    ::_exit(127);
  }
  int code = 125;
  if (pid < 0) {
    std::fprintf(stderr, "mysql_run_with_server: fork: %s\n", std::strerror(errno));
  } else {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  weft_test::mysql::stop_server();
  return code;
}
