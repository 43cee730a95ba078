#!/usr/bin/python3
"""Runs the pipeline benchmark (libpq_pipeline against weft_pg_pipeline) interleaved and
prints the medians (bench/README.md, "pg pipeline").

    run_pipeline.py BUILD_DIR CONNINFO [--rounds 5] [--queries 10000]

Each round runs every configuration once, in the same order, so a noisy neighbour hits all
of them alike; a configuration's median is over the rounds. The server must be running (a
throwaway cluster: fsync off)."""
import argparse
import json
import statistics
import subprocess
import sys

CONFIGS = [
    # (label, program, extra arguments after CONNINFO WORKLOAD QUERIES)
    ("libpq, results freed as read", "libpq_pipeline", ["clear"]),
    ("libpq, results kept", "libpq_pipeline", ["keep"]),
    ("weft, prepared", "weft_pg_pipeline", ["prepared"]),
    ("weft, unnamed", "weft_pg_pipeline", ["unnamed"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("conninfo")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--workloads", default="select,insert")
    a = ap.parse_args()
    for workload in a.workloads.split(","):
        runs = {label: [] for label, _, _ in CONFIGS}
        for _ in range(a.rounds):
            for label, prog, extra in CONFIGS:
                out = subprocess.run(
                    [f"{a.build_dir}/bench/pg/{prog}", a.conninfo, workload, str(a.queries)] + extra,
                    check=True, capture_output=True, text=True).stdout
                runs[label].append(json.loads(out))
        print(f"{workload}, {a.queries} queries, medians of {a.rounds} interleaved rounds")
        for label, rs in runs.items():
            secs = statistics.median(r["seconds"] for r in rs)
            cpu = statistics.median(r["cpu_us_per_query"] for r in rs)
            print(f"  {label:32s} {secs * 1e3:8.1f} ms  {a.queries / secs:10.0f} q/s  "
                  f"{cpu:6.2f} us CPU/query")
    return 0


if __name__ == "__main__":
    sys.exit(main())
