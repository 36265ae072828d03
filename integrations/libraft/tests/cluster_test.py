#!/usr/bin/env python3
"""A 3-process libraft cluster on 127.0.0.1 with raftwal's storage, killed
with SIGKILL: no acknowledged command may be lost.

    cluster_test.py <raft_cluster_node binary> [raftwal|uv]

Steps: elect a leader; apply commands with 64 in flight; kill -9 a follower,
keep applying (with small snapshots, so that the follower needs an installed
snapshot to catch up), restart it; kill -9 the leader in the middle of a
batch, restart it, apply on the new leader; kill -9 all three at once in
the middle of a batch and restart them. Then every command whose apply
callback reported success (an "ack" line from the node that applied it) must
be applied on every node, and the three state machines must be identical
(same commands in the same order, no duplicates).

Every wait polls a condition against a deadline; nothing sleeps to
synchronize. The whole run is bounded (about 10-20 s here, 90 s at most)."""
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NODE = sys.argv[1]
KIND = sys.argv[2] if len(sys.argv) > 2 else "raftwal"
T0 = time.monotonic()
DEADLINE = T0 + 90
ENV = dict(os.environ, RR_SNAPSHOT_THRESHOLD="128", RR_SNAPSHOT_TRAILING="32")

acked = set()  # commands whose apply callback reported success
acked_lock = threading.Lock()


def log(msg):
    print("%6.2f s  %s" % (time.monotonic() - T0, msg), flush=True)


def fail(msg):
    print("FAIL:", msg, flush=True)
    for n in nodes:
        n.kill()
    sys.exit(1)


def check_deadline(what):
    if time.monotonic() > DEADLINE:
        fail("deadline passed while waiting for " + what)


def free_ports(k):
    socks, ports = [], []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Node:
    def __init__(self, i, d, addrs):
        self.i, self.dir, self.addrs, self.p = i, d, addrs, None

    def start(self):
        self.q = queue.Queue()
        self.p = subprocess.Popen([NODE, KIND, str(self.i), self.dir] + self.addrs,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1, env=ENV, stderr=self._stderr())
        threading.Thread(target=self._reader, args=(self.p, self.q), daemon=True).start()
        self.wait_line("started", 10)

    def _stderr(self):
        """RR_VERBOSE: each node's stderr (libraft's LIBRAFT_TRACE) to a file."""
        if not os.environ.get("RR_VERBOSE"):
            return None
        return open(os.path.join(base, "stderr-%d.txt" % self.i), "a")

    @staticmethod
    def _reader(p, q):
        for line in p.stdout:
            line = line.strip()
            if line.startswith("ack "):
                with acked_lock:
                    acked.add(int(line[4:]))
            else:
                q.put(line)
        q.put(None)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def send(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def wait_line(self, prefix, timeout):
        end = min(time.monotonic() + timeout, DEADLINE)
        while True:
            try:
                line = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                fail("node %d exited (rc %s)" % (self.i, self.p.wait()))
            if line.startswith(prefix):
                return line.split()
            if time.monotonic() > end:
                fail("node %d: no '%s' line in time" % (self.i, prefix))

    def role(self):
        self.send("role")
        r = self.wait_line("role", 10)
        return int(r[1]), int(r[3]), r[4]  # state, commands applied, hash

    def kill(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()

    def quit(self):
        if self.alive():
            self.send("quit")
            self.p.wait(timeout=10)


def leader(exclude=None):
    """Polls the live nodes until one reports RAFT_LEADER (3)."""
    while True:
        check_deadline("a leader")
        for n in nodes:
            if n.alive() and n is not exclude and n.role()[0] == 3:
                return n
        time.sleep(0.02)  # poll interval, not a synchronization


next_cmd = [1]


def submit(ldr, n, inflight=64, size=64):
    first = next_cmd[0]
    next_cmd[0] += n
    ldr.send("submit %d %d %d %d" % (first, n, inflight, size))
    return first


def apply(n):
    """Applies n commands with 64 in flight through whichever node leads;
    if leadership moves (a loaded machine can miss an election timeout),
    the commands that failed are replaced by new ones on the new leader.
    Returns the leader."""
    left = n
    while left > 0:
        check_deadline("%d commands applied" % n)
        ldr = leader()
        submit(ldr, left)
        left -= int(ldr.wait_line("done", 60)[1])
    return ldr


def apply_until_acks(k):
    """Starts a long batch on the leader and returns (leader, first) once k
    of its commands were acknowledged: the moment to kill something."""
    while True:
        ldr = leader()
        first = submit(ldr, 3000)
        while acked_count(first, first + 3000) < k:
            check_deadline("%d acks" % k)
            try:
                line = ldr.q.get_nowait()
            except queue.Empty:
                line = ""
            if line is None:
                fail("node %d exited (rc %s)" % (ldr.i, ldr.p.wait()))
            if line.startswith("done"):
                break  # leadership moved before k acks: start again
            time.sleep(0.005)  # poll interval
        else:
            return ldr, first


def acked_count(lo, hi):
    with acked_lock:
        return sum(1 for v in acked if lo <= v < hi)


def converge():
    """Polls until all nodes report the same commands applied, including
    every acknowledged one; gives up after 30 s (the checks that follow then
    say what is missing)."""
    end = min(DEADLINE - 15, time.monotonic() + 30)
    while time.monotonic() < end:
        states = [n.role() for n in nodes]
        with acked_lock:
            need = len(acked)
        if len({(s[1], s[2]) for s in states}) == 1 and states[0][1] >= need:
            return states[0]
        if os.environ.get("RR_VERBOSE"):
            log("states %s, %d acknowledged" % (states, need))
        time.sleep(0.05)  # poll interval
    log("the nodes did not converge: %s" % (states,))


base = tempfile.mkdtemp(prefix="rr_cluster_")
ports = free_ports(3)
addrs = ["127.0.0.1:%d" % p for p in ports]
nodes = [Node(i + 1, os.path.join(base, "n%d" % (i + 1)), addrs) for i in range(3)]
t0 = time.monotonic()
try:
    for n in nodes:
        n.start()
    ldr = leader()
    log("leader: node %d" % ldr.i)

    # 1. many commands in flight
    ldr = apply(600)

    # 2. kill -9 a follower, keep going (snapshots move the leader's log
    #    past it), restart it
    follower = next(n for n in nodes if n is not ldr)
    follower.kill()
    log("killed follower node %d" % follower.i)
    apply(600)
    log("batch 2 done; restarting node %d" % follower.i)
    follower.start()
    apply(300)

    # 3. kill -9 the leader in the middle of a batch, restart it
    ldr, first = apply_until_acks(400)
    ldr.kill()
    log("killed leader node %d after %d acks of the batch" % (ldr.i, acked_count(first, first + 3000)))
    old = ldr
    ldr = leader(exclude=old)
    log("new leader: node %d" % ldr.i)
    old.start()
    apply(500)

    # 4. kill -9 all three at once with commands in flight, restart them:
    #    what was acknowledged must come back from the disks alone
    ldr, first = apply_until_acks(300)
    for n in nodes:
        n.kill()
    log("killed all nodes after %d acks of the batch" % acked_count(first, first + 3000))
    for n in nodes:
        n.start()
    ldr = apply(200)
    log("batch 7 done on node %d; waiting for the nodes to converge" % ldr.i)
    # 5. every acknowledged command on every node, identical machines
    state = converge()
    seqs = []
    for n in nodes:
        path = os.path.join(base, "applied-%d.txt" % n.i)
        n.send("dump " + path)
        n.wait_line("dumped", 10)
        with open(path) as f:
            seqs.append([int(x) for x in f])
    if not (seqs[0] == seqs[1] == seqs[2]):
        fail("state machines differ")
    applied = set(seqs[0])
    if len(applied) != len(seqs[0]):
        fail("a command was applied twice")
    lost = acked - applied
    if lost:
        fail("%d acknowledged commands lost, e.g. %s" % (len(lost), sorted(lost)[:5]))
    print("ok (%s): %d commands applied identically on 3 nodes, all %d acknowledged ones "
          "included, %.1f s" % (KIND, len(seqs[0]), len(acked), time.monotonic() - t0), flush=True)
    for n in nodes:
        n.quit()
finally:
    for n in nodes:
        n.kill()
    if not os.environ.get("RR_VERBOSE"):
        shutil.rmtree(base, ignore_errors=True)
    else:
        print("kept", base)
