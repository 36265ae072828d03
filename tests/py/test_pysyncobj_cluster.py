"""A 3-process PySyncObj cluster on 127.0.0.1 with raftwal.pysyncobj.

Each node (pysyncobj_node.py) runs writer threads doing kv.set(...,
sync=True) and counter.inc(sync=True) and records every acknowledged write
in a file. The test kills the leader with SIGKILL and restarts it, kills a
follower and restarts it, stops the leader with SIGSTOP until another node
is elected, then continues it; stops the writes; and checks that every
acknowledged write is on every node, that the nodes' states are identical,
that a node restarted alone rebuilds the same state from its own disk, that
a restarted node's term is never lower than before its kill, and that
`raftwal verify` / `raftwal dump` read a node's log.

The same cluster with PySyncObj's own FileJournal shows what the adapter
fixes: a node killed and restarted there comes back at term 0.

Every wait polls a condition against a deadline. Skipped when PySyncObj
(Debian: python3-pysyncobj) is not installed.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

pytest.importorskip("pysyncobj", reason="PySyncObj is not installed (Debian: apt-get install python3-pysyncobj)")

from conftest import PYTHON, REPO_ROOT, child_env  # noqa: E402

NODE_SCRIPT = Path(__file__).with_name("pysyncobj_node.py")
WRITERS = 1          # writer pairs per node (kv + counter): 6 writer threads in all
PROGRESS = 8         # new acknowledged writes that show the cluster works again


def free_ports(count: int) -> List[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)  # polling interval, not synchronization


class Node:
    def __init__(self, index: int, ports: List[int], root: Path, journal: str) -> None:
        self.index, self.ports, self.root, self.journal = index, ports, root, journal
        self.proc: Optional[subprocess.Popen] = None
        self.replies: "queue.Queue[dict]" = queue.Queue()
        self.next_id = 0
        self.started: dict = {}

    @property
    def dir(self) -> Path:
        return self.root / f"n{self.index}"

    def start(self, writers: int = WRITERS) -> dict:
        self.proc = subprocess.Popen(
            [PYTHON, str(NODE_SCRIPT), str(self.index), ",".join(map(str, self.ports)),
             str(self.root), self.journal, str(writers)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=child_env())
        self.replies = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.replies), daemon=True).start()
        self.started = self.replies.get(timeout=30)
        assert self.started.get("event") == "started", self.started
        return self.started

    @staticmethod
    def _read(proc: subprocess.Popen, replies: "queue.Queue[dict]") -> None:
        for line in proc.stdout:
            replies.put(json.loads(line))

    def ask(self, cmd: str, timeout: float = 10) -> dict:
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"id": self.next_id, "cmd": cmd}) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            reply = self.replies.get(timeout=max(0.01, deadline - time.monotonic()))
            if reply.get("id") == self.next_id:
                return reply

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def acks(self) -> List[List[str]]:
        path = self.dir / "acks"
        if not path.exists():
            return []
        return [line.split() for line in path.read_text().splitlines()]


class Cluster:
    def __init__(self, root: Path, journal: str) -> None:
        ports = free_ports(3)
        self.nodes = [Node(i, ports, root, journal) for i in range(3)]

    def __enter__(self) -> "Cluster":
        for node in self.nodes:
            node.start()
        return self

    def __exit__(self, *exc) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.signal(signal.SIGCONT)
            node.kill()

    def acked(self) -> int:
        return sum(len(node.acks()) for node in self.nodes)

    def statuses(self, nodes: Optional[List[Node]] = None) -> Dict[int, dict]:
        return {node.index: node.ask("status") for node in (nodes or self.nodes)}

    def leader(self, among: Optional[List[Node]] = None, above_term: int = -1) -> Optional[Node]:
        among = among or self.nodes
        for index, status in self.statuses(among).items():
            if status["leader"] and status["term"] > above_term:
                return self.nodes[index]
        return None

    def wait_leader(self, among: Optional[List[Node]] = None, above_term: int = -1) -> Node:
        return wait_until(lambda: self.leader(among, above_term), 20, "a leader")  # type: ignore[return-value]

    def wait_progress(self, what: str) -> None:
        target = self.acked() + PROGRESS
        wait_until(lambda: self.acked() >= target, 20, f"{PROGRESS} acknowledged writes ({what})")


def raftwal_cli() -> Optional[str]:
    cli = os.environ.get("RAFTWAL_CLI")
    if cli is None:
        for candidate in (REPO_ROOT / "build" / "tools" / "raftwal",):
            if candidate.exists():
                return str(candidate)
    return cli


def check_acknowledged_writes(states: Dict[int, dict], acks: List[List[str]]) -> None:
    kv_acks = [(key, int(value)) for kind, key, value in (a for a in acks if a[0] == "kv")]
    inc_acks = [int(a[1]) for a in acks if a[0] == "inc"]
    assert kv_acks and inc_acks, "no acknowledged writes at all"
    assert len(set(inc_acks)) == len(inc_acks), "two acknowledged increments returned the same value"
    for index, state in states.items():
        missing = [key for key, value in kv_acks if state["kv"].get(key) != value]
        assert not missing, f"node {index} lacks {len(missing)} acknowledged kv writes, e.g. {missing[:3]}"
        assert state["counter"] >= max(inc_acks) and state["counter"] >= len(inc_acks), \
            f"node {index}: counter {state['counter']} below the acknowledged increments"


def test_cluster_survives_kills_and_pauses(tmp_path: Path):
    cluster = Cluster(tmp_path, "raftwal")
    with cluster:
        nodes = cluster.nodes
        cluster.wait_leader()
        cluster.wait_progress("at start")

        # kill -9 the leader; the others elect one and go on; restart it.
        leader = cluster.wait_leader()
        term_before = leader.ask("status")["term"]
        leader.kill()
        others = [n for n in nodes if n is not leader]
        cluster.wait_leader(others, above_term=term_before)
        cluster.wait_progress("after killing the leader")
        restarted = leader.start()
        assert restarted["term"] >= term_before, "the restarted leader forgot its term"
        if restarted["term"] == term_before:  # it voted for itself in that term
            assert restarted["vote"] is not None, "the restarted leader forgot its vote"

        # kill -9 a follower; restart it.
        leader = cluster.wait_leader()
        follower = next(n for n in nodes if n is not leader)
        term_before = follower.ask("status")["term"]
        follower.kill()
        cluster.wait_progress("with a follower down")
        assert follower.start()["term"] >= term_before, "the restarted follower forgot its term"

        # SIGSTOP the leader until another node leads, then SIGCONT it.
        leader = cluster.wait_leader()
        term_before = leader.ask("status")["term"]
        leader.signal(signal.SIGSTOP)
        others = [n for n in nodes if n is not leader]
        new_leader = cluster.wait_leader(others, above_term=term_before)
        cluster.wait_progress("with the old leader stopped")
        leader.signal(signal.SIGCONT)
        new_term = new_leader.ask("status")["term"]
        wait_until(lambda: (lambda s: not s["leader"] and s["term"] >= new_term)(leader.ask("status")),
                   20, "the old leader to follow the new one")

        # Stop the writes; the nodes converge on one state.
        for node in nodes:
            assert node.ask("stop", timeout=30)["stopped"]

        def converged():
            statuses = cluster.statuses()
            applied = {s["applied"] for s in statuses.values()}
            if len(applied) != 1 or any(s["commit"] != s["applied"] or s["hs_commit"] < s["applied"]
                                        for s in statuses.values()):
                return None
            states = {node.index: node.ask("state") for node in nodes}
            if any(s["applied"] != next(iter(applied)) for s in states.values()):
                return None
            first = states[0]
            if any((s["counter"], s["kv"]) != (first["counter"], first["kv"]) for s in states.values()):
                return None
            return states

        states = wait_until(converged, 30, "identical states on every node")
        acks = [a for node in nodes for a in node.acks()]
        check_acknowledged_writes(states, acks)
        final = states[0]

        # Every node killed; one restarted alone rebuilds from its own disk.
        for node in nodes:
            node.kill()
        alone = nodes[1]
        alone.start(writers=0)
        rebuilt = wait_until(lambda: (lambda s: s if s["applied"] >= final["applied"] else None)(
            alone.ask("state")), 20, "the lone node to apply its log")
        assert (rebuilt["counter"], rebuilt["kv"]) == (final["counter"], final["kv"])
        alone.kill()

    cli = raftwal_cli()
    if cli is None:
        pytest.skip("the raftwal CLI is not built (set RAFTWAL_CLI)")
    wal = str(nodes[1].dir / "wal")
    subprocess.run([cli, "verify", wal], check=True, capture_output=True, timeout=60)
    dump = subprocess.run([cli, "dump", wal], check=True, capture_output=True, text=True, timeout=60).stdout
    assert dump.strip()
    stat = json.loads(subprocess.run([cli, "stat", "--json", wal], check=True, capture_output=True,
                                     text=True, timeout=60).stdout)
    # PySyncObj compacted the journal after its forked child wrote a dump.
    assert stat["first_index"] > 1 and (nodes[1].dir / "dump.bin").exists()
    assert stat["hardstate"]["term"] >= new_term and stat["last_index"] >= final["applied"]


def test_file_journal_forgets_the_term(tmp_path: Path):
    """What the adapter fixes: PySyncObj's FileJournal keeps no term, so a
    node killed and restarted comes back at term 0 (and with no vote)."""
    with Cluster(tmp_path, "file") as cluster:
        leader = cluster.wait_leader()
        follower = next(n for n in cluster.nodes if n is not leader)
        term_before = follower.ask("status")["term"]
        assert term_before >= 1
        follower.kill()
        restarted = follower.start()
        assert restarted["term"] == 0 < term_before
