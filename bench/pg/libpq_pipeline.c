/* A batch of queries in one round trip on libpq's pipeline mode, as a plain C program does
 * it: blocking libpq, one prepared statement, every query sent, one sync, then every result
 * read. The baseline of weft_pg_pipeline.cpp (bench/README.md, "pg pipeline").
 *
 *   libpq_pipeline CONNINFO [select|insert] [QUERIES] [clear|keep]
 *
 * select: QUERIES x `SELECT $1::int4`; insert: QUERIES x `INSERT INTO a temporary table
 * VALUES ($1, $2)`. Parameters and results in binary format. clear (the default): each
 * result is freed once read, as a C program that needs nothing more does; keep: every result
 * is kept until the batch has ended, as an API returning the batch's results must. One untimed
 * batch first, then the timed one; prints one JSON line:
 * {"client":"libpq","workload":...,"queries":N, "seconds":...,"cpu_us_per_query":...,
 * "results":...}, the CPU being the process's user + system time
 * over the timed batch (getrusage). Exits 1 with a message on stderr if anything fails. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void die(PGconn* c, const char* what) {
  fprintf(stderr, "libpq_pipeline: %s: %s\n", what, c ? PQerrorMessage(c) : "");
  exit(1);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void exec_ok(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) die(c, sql);
  PQclear(r);
}

/* Sends n queries of statement "s" and a sync; reads every result. Returns a checksum of the
 * values read (select) or rows inserted (insert), so nothing is optimised away. */
static long long run_batch(PGconn* c, int insert, int n, int keep) {
  static const char text[] = "a row of the benchmark";
  if (!PQenterPipelineMode(c)) die(c, "PQenterPipelineMode");
  for (int i = 0; i < n; ++i) {
    uint32_t v = htonl((uint32_t)i);
    const char* values[2] = {(const char*)&v, text};
    int lengths[2] = {4, (int)sizeof text - 1};
    int formats[2] = {1, 1};
    if (!PQsendQueryPrepared(c, "s", insert ? 2 : 1, values, lengths, formats, 1))
      die(c, "PQsendQueryPrepared");
  }
  if (!PQpipelineSync(c)) die(c, "PQpipelineSync");
  long long sum = 0;
  PGresult** kept = keep ? malloc(sizeof(PGresult*) * (size_t)n) : NULL;
  for (int i = 0; i < n; ++i) {
    PGresult* r = PQgetResult(c);
    ExecStatusType st = PQresultStatus(r);
    if (insert ? st != PGRES_COMMAND_OK : st != PGRES_TUPLES_OK) die(c, "a query of the batch");
    if (insert) {
      sum += atoll(PQcmdTuples(r));
    } else {
      uint32_t v;
      memcpy(&v, PQgetvalue(r, 0, 0), 4);
      sum += (int32_t)ntohl(v);
    }
    if (keep) {
      kept[i] = r;
    } else {
      PQclear(r);
    }
    r = PQgetResult(c); /* the NULL that ends each query's results */
    if (r) die(c, "a second result of one query");
  }
  PGresult* r = PQgetResult(c);
  if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) die(c, "the sync");
  PQclear(r);
  if (!PQexitPipelineMode(c)) die(c, "PQexitPipelineMode");
  if (keep) {
    for (int i = 0; i < n; ++i) PQclear(kept[i]);
    free(kept);
  }
  return sum;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: libpq_pipeline CONNINFO [select|insert] [QUERIES] [clear|keep]\n");
    return 2;
  }
  const char* workload = argc > 2 ? argv[2] : "select";
  const int insert = strcmp(workload, "insert") == 0;
  if (!insert && strcmp(workload, "select") != 0) {
    fprintf(stderr, "libpq_pipeline: unknown workload %s\n", workload);
    return 2;
  }
  const int n = argc > 3 ? atoi(argv[3]) : 10000;
  const int keep = argc > 4 && strcmp(argv[4], "keep") == 0;
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) die(c, "connect");
  if (insert) exec_ok(c, "CREATE TEMP TABLE bench_pipeline (id int4, v text)");
  const char* sql = insert ? "INSERT INTO bench_pipeline VALUES ($1, $2)" : "SELECT $1::int4";
  Oid types[2] = {23, 25};
  PGresult* p = PQprepare(c, "s", sql, insert ? 2 : 1, types);
  if (PQresultStatus(p) != PGRES_COMMAND_OK) die(c, "PQprepare");
  PQclear(p);

  run_batch(c, insert, n, keep); /* untimed: warms the server's caches and libpq's buffers */
  const double t0 = now_s(), c0 = cpu_s();
  const long long sum = run_batch(c, insert, n, keep);
  const double t1 = now_s(), c1 = cpu_s();
  const long long want = insert ? n : (long long)n * (n - 1) / 2;
  if (sum != want) {
    fprintf(stderr, "libpq_pipeline: checksum %lld, expected %lld\n", sum, want);
    return 1;
  }
  printf(
      "{\"client\":\"libpq\",\"workload\":\"%s\",\"queries\":%d,\"seconds\":%.6f,"
      "\"cpu_us_per_query\":%.3f}\n",
      workload, n, t1 - t0, (c1 - c0) * 1e6 / n);
  PQfinish(c);
  return 0;
}
