#!/usr/bin/python3
"""driver.py -- bench/'s durable-append loop through the Python package.

Run by raftwal-bench (phase "bindings") with PYTHONPATH pointing at a build's
bindings/python; prints one JSON line with the same fields as the C harness
("who": "python"). The loop is the one an application would write: a list
of Entry objects per batch (the payload bytes are made once, outside the
clock), one durable log.append() per batch.

    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/driver.py \
        --dir /tmp/d --payload 1024 --batch 16 --commits 500
"""
import argparse
import json
import os
import random
import time

import raftwal

def wait_prepared(path, limit=10.0):
    # As the C harness (bench/wal.c): if the engine is preparing a segment
    # file in the background (NNN.wal.tmp), let it finish before the clock
    # starts.
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit and any(n.endswith(".wal.tmp") for n in os.listdir(path)):
        time.sleep(0.005)


def percentile(sorted_values, p):
    rank = max(1, min(len(sorted_values), int(p * len(sorted_values) + 0.999999)))
    return sorted_values[rank - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--payload", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--commits", type=int, required=True)
    ap.add_argument("--min-commits", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=3.0)
    ap.add_argument("--segment-size", type=int, default=0, help="0: the engine's default")
    a = ap.parse_args()

    rng = random.Random(a.payload * 131 + a.batch)
    datas = [rng.randbytes(a.payload) for _ in range(a.batch)]
    Entry = raftwal.Entry
    lat = []
    path = os.path.join(a.dir, "raftwal")
    with raftwal.open(path, segment_size=a.segment_size or None) as log:
        wait_prepared(path)
        clock = time.perf_counter
        t0 = clock()
        for c in range(a.commits):
            first = c * a.batch + 1
            batch = [Entry(first + i, 1, datas[i]) for i in range(a.batch)]
            t = clock()
            log.append(batch)
            lat.append((clock() - t) * 1e6)
            if c + 1 >= a.min_commits and clock() - t0 > a.max_seconds:
                break
        dt = clock() - t0
    n = len(lat)
    lat.sort()
    print(json.dumps({
        "phase": "bindings", "who": "python", "payload": a.payload, "batch": a.batch,
        "entries_per_s": n * a.batch / dt, "mb_per_s": n * a.batch * a.payload / dt / 1e6,
        "p50_us": percentile(lat, 0.5), "p99_us": percentile(lat, 0.99),
        "p999_us": percentile(lat, 0.999), "count": n,
    }))


if __name__ == "__main__":
    main()
