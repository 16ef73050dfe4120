#!/usr/bin/env python3
"""Prints each benchmark's median time and throughput (MB/s, 10^6 bytes) from criterion's
target/criterion/**/new/estimates.json, after `cargo bench`; or from DIR/**/new/estimates.json
with `medians.py DIR` (a run with CRITERION_HOME=DIR)."""
import glob
import json
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
for f in sorted(glob.glob(root + "/**/new/estimates.json", recursive=True)):
    med = json.load(open(f))["median"]["point_estimate"]  # nanoseconds
    bench = json.load(open(f.replace("estimates.json", "benchmark.json")))
    thr = bench.get("throughput") or {}
    nbytes = thr.get("Bytes") or thr.get("BytesDecimal")
    t = "%.2f µs" % (med / 1e3) if med < 1e6 else "%.2f ms" % (med / 1e6)
    rate = "%.0f MB/s" % (nbytes / (med / 1e9) / 1e6) if nbytes else ""
    print("%-52s median %-10s %s" % (bench["full_id"], t, rate))
