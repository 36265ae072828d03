#!/usr/bin/python3
"""Committed counter.inc(sync=True) per second of a 3-node PySyncObj cluster
on 127.0.0.1: raftwal.pysyncobj's journal (syncs before every message it
depends on) against PySyncObj's FileJournal (never syncs).

    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/pysyncobj_cluster.py \
        [--threads 1,4,16] [--seconds 5] [--dir /var/tmp] [--json]

Writer threads are spread round-robin over the three nodes (PySyncObj
forwards a follower's command to the leader). After a one-second warm-up,
every acknowledged inc in the next --seconds counts. PySyncObj's default
configuration is used (appendEntriesPeriod 0.1 s, autoTickPeriod 0.05 s):
its batching, not the disk, sets the pace. --dir should be on the disk to
measure (the default is the temp dir; /dev/shm would hide the fsyncs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def node_main(index: int, ports: list, root: str, journal: str, threads: int,
              warmup: float, seconds: float) -> None:
    if journal == "raftwal":
        from raftwal.pysyncobj import SyncObj, SyncObjConf
        journal_file = os.path.join(root, f"n{index}", "wal")
    else:
        from pysyncobj import SyncObj, SyncObjConf
        journal_file = os.path.join(root, f"n{index}", "journal.bin")
    from pysyncobj.batteries import ReplCounter
    from pysyncobj.syncobj import SyncObjException

    os.makedirs(os.path.join(root, f"n{index}"), exist_ok=True)
    addresses = [f"127.0.0.1:{p}" for p in ports]
    counter = ReplCounter()
    conf = SyncObjConf(journalFile=journal_file, fullDumpFile=os.path.join(root, f"n{index}", "dump.bin"))
    node = SyncObj(addresses[index], [a for a in addresses if a != addresses[index]], conf,
                   consumers=[counter])
    while node._getLeader() is None:  # start line: every node knows the leader
        time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.readline()  # "go" from the driver, to all nodes at once
    start = time.monotonic() + warmup
    end = start + seconds
    counts = []

    def writer() -> None:
        done = 0
        while True:
            try:
                counter.inc(sync=True, timeout=10)
            except SyncObjException:
                continue
            now = time.monotonic()
            if now >= end:
                break
            if now >= start:
                done += 1
        counts.append(done)

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    report = {"acked": sum(counts)}
    journal = getattr(node, "raftwalJournal", None)
    if journal is not None:  # group commit: fdatasyncs against entries, over the whole run
        stats = journal._log.stats()
        report.update(fsyncs=stats["fsyncs"], appends=stats["appends"])
    print(json.dumps(report), flush=True)
    sys.stdin.readline()  # stay in the cluster until every node is done


def free_ports(count: int) -> list:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_cluster(journal: str, threads: int, seconds: float, base_dir: str) -> float:
    root = tempfile.mkdtemp(prefix=f"pso-bench-{journal}-", dir=base_dir)
    ports = free_ports(3)
    per_node = [threads // 3 + (1 if i < threads % 3 else 0) for i in range(3)]
    procs = []
    try:
        for i in range(3):
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--node", str(i), ",".join(map(str, ports)), root, journal,
                 str(per_node[i]), "1.0", str(seconds)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.stdout.readline()) for p in procs]
        acked = sum(r["acked"] for r in reports)
        if journal == "raftwal":
            fsyncs = sum(r["fsyncs"] for r in reports)
            appends = sum(r["appends"] for r in reports)
            print(f"    (raftwal, {threads} writers: {fsyncs} fdatasyncs for {appends} appends on 3 nodes)",
                  file=sys.stderr, flush=True)
        for p in procs:
            p.stdin.write("quit\n")
            p.stdin.flush()
        for p in procs:
            p.wait(timeout=30)
        return acked / seconds
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--node":
        index, ports, root, journal, threads, warmup, seconds = sys.argv[2:9]
        node_main(int(index), [int(p) for p in ports.split(",")], root, journal, int(threads),
                  float(warmup), float(seconds))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import pysyncobj.version

    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        row = {"threads": threads}
        for journal in ("raftwal", "file"):
            row[journal] = run_cluster(journal, threads, args.seconds, args.dir)
        row["ratio"] = row["raftwal"] / row["file"] if row["file"] else float("nan")
        results.append(row)
        if not args.json:
            print(f"{threads:3d} writers: raftwal {row['raftwal']:8.1f}/s   FileJournal {row['file']:8.1f}/s"
                  f"   ratio {row['ratio']:.2f}", flush=True)
    if args.json:
        print(json.dumps({"pysyncobj": pysyncobj.version.VERSION, "dir": args.dir, "results": results}))
    else:
        print(f"(PySyncObj {pysyncobj.version.VERSION}, 3 nodes on 127.0.0.1, logs under {args.dir})")


if __name__ == "__main__":
    main()
