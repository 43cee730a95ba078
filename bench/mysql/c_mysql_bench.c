/* c_mysql_bench: the plain synchronous peer of run_mysql.py's benchmark (bench/README.md,
 * "MySQL"): MariaDB Connector/C's blocking API, a thread per connection. The same
 * workloads, arguments and JSON line as weft_mysql_bench:
 *   select1: `SELECT 1` with mysql_real_query and mysql_store_result;
 *   pk:      `SELECT balance FROM bench_accounts WHERE id = ?` as a prepared statement
 *            (mysql_stmt_*), prepared once per connection, a random id in 1 .. 100,000.
 * Each thread connects and runs one query untimed, then all loop until --seconds have
 * passed; CPU is this process's (getrusage) over the timed span. */
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char* g_workload = "";
static long g_conns = 1;
static double g_seconds = 3;
static atomic_long g_ready, g_queries;
static atomic_int g_go;
static double g_deadline;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char* env(const char* name) {
  const char* v = getenv(name);
  if (!v) {
    fprintf(stderr, "c_mysql_bench: %s is not set\n", name);
    exit(2);
  }
  return v;
}

static void die(const char* what, const char* msg) {
  fprintf(stderr, "c_mysql_bench: %s: %s\n", what, msg);
  exit(1);
}

static void select1(MYSQL* m) {
  if (mysql_real_query(m, "SELECT 1", 8) != 0) die("SELECT 1", mysql_error(m));
  MYSQL_RES* r = mysql_store_result(m);
  if (!r || !mysql_fetch_row(r)) die("SELECT 1", mysql_error(m));
  mysql_free_result(r);
}

struct Pk {
  MYSQL_STMT* stmt;
  MYSQL_BIND param, result;
  int id, balance;
};

static void pk(struct Pk* p, int id) {
  p->id = id;
  if (mysql_stmt_execute(p->stmt) != 0) die("pk execute", mysql_stmt_error(p->stmt));
  if (mysql_stmt_fetch(p->stmt) != 0) die("pk fetch", mysql_stmt_error(p->stmt));
  if (mysql_stmt_fetch(p->stmt) != MYSQL_NO_DATA) die("pk", "more than one row");
}

static void* client(void* arg) {
  uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)((long)arg + 1);
  MYSQL* m = mysql_init(NULL);
  if (!mysql_real_connect(m, env("WEFT_MYSQL_HOST"), env("WEFT_MYSQL_USER"),
                          env("WEFT_MYSQL_PASSWORD"), env("WEFT_MYSQL_DATABASE"),
                          (unsigned)atoi(env("WEFT_MYSQL_PORT")), NULL, 0)) {
    die("connect", mysql_error(m));
  }
  const int is_pk = strcmp(g_workload, "pk") == 0;
  struct Pk p;
  memset(&p, 0, sizeof p);
  if (is_pk) {
    static const char sql[] = "SELECT balance FROM bench_accounts WHERE id = ?";
    p.stmt = mysql_stmt_init(m);
    if (mysql_stmt_prepare(p.stmt, sql, sizeof sql - 1) != 0) die("prepare", mysql_stmt_error(p.stmt));
    p.param.buffer_type = MYSQL_TYPE_LONG;
    p.param.buffer = &p.id;
    p.result.buffer_type = MYSQL_TYPE_LONG;
    p.result.buffer = &p.balance;
    if (mysql_stmt_bind_param(p.stmt, &p.param) || mysql_stmt_bind_result(p.stmt, &p.result)) {
      die("bind", mysql_stmt_error(p.stmt));
    }
    pk(&p, 1);
  } else {
    select1(m);
  }
  atomic_fetch_add(&g_ready, 1);
  while (!atomic_load(&g_go)) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  long n = 0;
  while (now() < g_deadline) {
    if (is_pk) {
      s ^= s >> 12;
      s ^= s << 25;
      s ^= s >> 27;
      pk(&p, 1 + (int)((s * 2685821657736338717ull) % 100000));
    } else {
      select1(m);
    }
    ++n;
  }
  atomic_fetch_add(&g_queries, n);
  if (p.stmt) mysql_stmt_close(p.stmt);
  mysql_close(m);
  return NULL;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--workload") == 0) {
      g_workload = argv[i + 1];
    } else if (strcmp(argv[i], "--conns") == 0) {
      g_conns = atol(argv[i + 1]);
    } else if (strcmp(argv[i], "--seconds") == 0) {
      g_seconds = atof(argv[i + 1]);
    } else if (strcmp(argv[i], "--workers") != 0) {
      fprintf(stderr, "usage: c_mysql_bench --workload select1|pk [--conns C] [--seconds S]\n");
      return 2;
    }
  }
  if ((strcmp(g_workload, "select1") != 0 && strcmp(g_workload, "pk") != 0) || g_conns <= 0) {
    fprintf(stderr, "usage: c_mysql_bench --workload select1|pk [--conns C] [--seconds S]\n");
    return 2;
  }
  mysql_library_init(0, NULL, NULL);
  pthread_t* t = calloc((size_t)g_conns, sizeof *t);
  for (long i = 0; i < g_conns; ++i) pthread_create(&t[i], NULL, client, (void*)i);
  while (atomic_load(&g_ready) < g_conns) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  const double cpu0 = cpu_seconds(), t0 = now();
  g_deadline = t0 + g_seconds;
  atomic_store(&g_go, 1);
  for (long i = 0; i < g_conns; ++i) pthread_join(t[i], NULL);
  const double secs = now() - t0, cpu = cpu_seconds() - cpu0;
  const long q = atomic_load(&g_queries);
  printf(
      "{\"workload\": \"%s\", \"conns\": %ld, \"workers\": %ld, \"queries\": %ld, \"seconds\": "
      "%.3f, \"queries_per_sec\": %.1f, \"cpu_us_per_query\": %.3f}\n",
      g_workload, g_conns, g_conns, q, secs, (double)q / secs, cpu * 1e6 / (double)q);
  free(t);
  mysql_library_end();
  return 0;
}
