#!/usr/bin/env python3
"""raftwal under libraft, next to libraft's own storage: a 3-process cluster
on 127.0.0.1 (integrations/libraft/tests/cluster_node.c), the same program
with raftwal_raft_io_init() or raft_uv_init().

    bench/libraft_bench.py <raft_cluster_node> [--runs 3] [--dir D]
                           [--commands N] [--restart-mib 256] [--skip-restart]

1. commits/s: the leader applies N commands of 256 B or 4 KiB with 1, 16 or
   64 in flight; a commit is an apply callback with status 0 (the entry is
   durable on a majority and applied). libraft's defaults for snapshots
   (every 1024 entries, 2048 trailing). Each cell is the median of --runs
   runs; the two storages alternate run by run (interleaved), each run on a
   fresh cluster.
2. restart: a cluster writes --restart-mib MiB of 4 KiB commands with
   snapshots off; all nodes stop; one node is started again and timed until
   raft_start() returned (libraft's load() hands every entry to the core, so
   both grow with the log). Median of --runs starts, page cache warm.

Prints a Markdown table on stdout. Not a test: no thresholds."""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("node")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--dir", default=None)
ap.add_argument("--commands", type=int, default=0, help="per run (default: by in-flight count)")
ap.add_argument("--restart-mib", type=int, default=256)
ap.add_argument("--skip-restart", action="store_true")
ap.add_argument("--skip-throughput", action="store_true")
args = ap.parse_args()
KINDS = ["uv", "raftwal"]
NAMES = {"uv": "libraft uv (raft_uv_init)", "raftwal": "raftwal (raftwal_raft_io_init)"}


def free_ports(k):
    socks = []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Node:
    def __init__(self, kind, i, d, addrs, env):
        self.kind = kind
        self.p = subprocess.Popen([args.node, kind, str(i), d] + addrs, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1, env=env)

    def line(self, prefix, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            l = self.p.stdout.readline()
            if not l:
                raise RuntimeError("%s node exited with status %s" % (self.kind, self.p.wait()))
            if l.startswith(prefix):
                return l.split()
        raise RuntimeError("timeout waiting for " + prefix)

    def ask(self, cmd, prefix):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.line(prefix)

    def stop(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=30)
        except Exception:
            self.p.kill()
            self.p.wait()


def cluster(kind, base, env):
    addrs = ["127.0.0.1:%d" % p for p in free_ports(3)]
    nodes = [Node(kind, i + 1, os.path.join(base, "n%d" % (i + 1)), addrs, env) for i in range(3)]
    for n in nodes:
        n.line("started")
    return nodes, leader(nodes)


def leader(nodes):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        for n in nodes:
            if int(n.ask("role", "role")[1]) == 3:
                return n
        time.sleep(0.02)  # poll interval
    raise RuntimeError("no leader")


def commits_per_s(kind, inflight, size, n):
    base = tempfile.mkdtemp(prefix="rr_bench_", dir=args.dir)
    try:
        nodes, ldr = cluster(kind, base, dict(os.environ))
        ldr.ask("submit 1 %d %d %d" % (min(n // 10, 500), inflight, size), "done")  # warm-up
        done = ldr.ask("submit 1000000 %d %d %d" % (n, inflight, size), "done")
        for x in nodes:
            x.stop()
        acked, us = int(done[1]), int(done[3])
        return acked / (us / 1e6)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def restart_time(kind):
    base = tempfile.mkdtemp(prefix="rr_bench_", dir=args.dir)
    env = dict(os.environ, RR_SNAPSHOT_THRESHOLD="100000000")
    try:
        nodes, ldr = cluster(kind, base, env)
        target = args.restart_mib * 1024 * 1024 // 4096
        acked, first, elections = 0, 1, 0
        while acked < target:  # in chunks; a lost leadership costs a chunk
            k = min(target - acked, 8192)
            done = ldr.ask("submit %d %d 64 4096" % (first, k), "done")
            first += k
            acked += int(done[1])
            if int(done[2]) > 0:
                elections += 1
                ldr = leader(nodes)
        if elections:
            print("%s: leadership changed %d times while writing the log" % (kind, elections),
                  file=sys.stderr, flush=True)
        addrs = nodes[0].p.args[4:]
        for x in nodes:
            x.stop()
        times = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            node = Node(kind, 1, os.path.join(base, "n1"), addrs, env)
            node.line("started", timeout=600)
            times.append(time.monotonic() - t0)
            node.stop()
        size = sum(os.path.getsize(os.path.join(dp, f))
                   for dp, _, fs in os.walk(os.path.join(base, "n1")) for f in fs)
        return statistics.median(times), size, acked
    finally:
        shutil.rmtree(base, ignore_errors=True)


out = []
if not args.skip_throughput:
    out.append("| commands in flight | command size | %s | %s | ratio |" % (NAMES["uv"], NAMES["raftwal"]))
    out.append("|---:|---:|---:|---:|---:|")
    for size in (256, 4096):
        for inflight in (1, 16, 64):
            n = args.commands or {1: 1500, 16: 8000, 64: 15000}[inflight]
            res = {k: [] for k in KINDS}
            for r in range(args.runs):
                for k in (KINDS if r % 2 == 0 else KINDS[::-1]):
                    res[k].append(commits_per_s(k, inflight, size, n))
            med = {k: statistics.median(v) for k, v in res.items()}
            row = "| %d | %d B | %.0f | %.0f | %.2f |" % (inflight, size, med["uv"], med["raftwal"],
                                                        med["raftwal"] / med["uv"])
            print(row, "  runs:", {k: [round(x) for x in v] for k, v in res.items()},
                  file=sys.stderr, flush=True)
            out.append(row)
if not args.skip_restart:
    out.append("")
    out.append("| restart of one node with a %d MiB log (4 KiB commands, snapshots off) | "
               "%s | %s |" % (args.restart_mib, NAMES["uv"], NAMES["raftwal"]))
    out.append("|---|---:|---:|")
    res = {k: restart_time(k) for k in KINDS}
    out.append("| start until raft_start() returned (median of %d) | %.2f s | %.2f s |" %
               (args.runs, res["uv"][0], res["raftwal"][0]))
    out.append("| entries in the log | %d | %d |" % (res["uv"][2] + 1, res["raftwal"][2] + 1))
    out.append("| node directory size | %.0f MiB | %.0f MiB |" %
               (res["uv"][1] / 2**20, res["raftwal"][1] / 2**20))
print("\n".join(out))
