"""One PySyncObj node of the test cluster (test_pysyncobj_cluster.py).

    pysyncobj_node.py INDEX PORT0,PORT1,PORT2 ROOT raftwal|file WRITERS

Runs a SyncObj with a ReplCounter and a ReplDict on 127.0.0.1:PORT[INDEX],
its journal in ROOT/nINDEX (a raftwal log directory, or PySyncObj's
FileJournal file), and WRITERS pairs of writer threads: one does
kv.set(unique key, value, sync=True), the other counter.inc(sync=True).
Every acknowledged write is appended to ROOT/nINDEX/acks as one line
("kv KEY VALUE" / "inc VALUE") with one write(2), so it survives a kill -9.

Prints one JSON line {"event": "started", "term", "vote"} once the SyncObj
is constructed, with the term and vote it restored from disk (seen by its
transport class before the tick thread starts), then answers JSON
lines read from stdin, {"id": N, "cmd": ...}, with {"id": N, ...}:
  status  term, leader flag, commit and applied indexes, persisted hard state
  state   the replicated state (counter, kv) and the applied index
  stop    stops the writers (waits for them)
Commands are answered from the tick thread, so what they see is consistent.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading

index, ports_arg, root, journal_kind, writers = sys.argv[1:6]
index, writers = int(index), int(writers)
ports = [int(p) for p in ports_arg.split(",")]
node_dir = os.path.join(root, f"n{index}")
os.makedirs(node_dir, exist_ok=True)

if journal_kind == "raftwal":
    from raftwal.pysyncobj import SyncObj, SyncObjConf, SyncObjException
    journal_file = os.path.join(node_dir, "wal")
else:
    from pysyncobj import SyncObj, SyncObjConf
    from pysyncobj.syncobj import SyncObjException
    journal_file = os.path.join(node_dir, "journal.bin")
from pysyncobj.batteries import ReplCounter, ReplDict
from pysyncobj.transport import TCPTransport


class RecordingTransport(TCPTransport):
    """A user's own transport class. SyncObj builds it after creating its
    journal and before its tick thread starts: what it sees here is what the
    node restarted with, before any message could change it."""

    restored = None

    def __init__(self, syncObj, selfNode, otherNodes):
        RecordingTransport.restored = (syncObj.raftCurrentTerm, syncObj._SyncObj__votedForNodeId)
        super().__init__(syncObj, selfNode, otherNodes)


addresses = [f"127.0.0.1:{port}" for port in ports]
conf = SyncObjConf(
    journalFile=journal_file,
    fullDumpFile=os.path.join(node_dir, "dump.bin"),
    raftMinTimeout=0.4,
    raftMaxTimeout=0.8,
    appendEntriesPeriod=0.05,
    autoTickPeriod=0.05,
    connectionRetryTime=0.3,
    connectionTimeout=1.0,
    leaderFallbackTimeout=2.0,
    logCompactionMinEntries=150,    # compactions (forked dumps) during the test
    logCompactionMinTime=2,
)
counter = ReplCounter()
kv = ReplDict()
node = SyncObj(addresses[index], [a for a in addresses if a != addresses[index]], conf,
               consumers=[counter, kv], transportClass=RecordingTransport)

stdout_lock = threading.Lock()


def emit(obj: dict) -> None:
    with stdout_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


term, vote = RecordingTransport.restored
emit({"event": "started", "term": term, "vote": vote, "pid": os.getpid()})

acks_fd = os.open(os.path.join(node_dir, "acks"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
stopping = threading.Event()


def kv_writer(thread: int) -> None:
    seq = 0
    while not stopping.is_set():
        seq += 1
        key = f"n{index}-{os.getpid()}-{thread}-{seq}"
        try:
            kv.set(key, seq, sync=True, timeout=2)
        except SyncObjException:
            stopping.wait(0.05)  # no leader yet, or it changed: back off a little
            continue
        os.write(acks_fd, f"kv {key} {seq}\n".encode())


def inc_writer() -> None:
    while not stopping.is_set():
        try:
            value = counter.inc(sync=True, timeout=2)
        except SyncObjException:
            stopping.wait(0.05)
            continue
        os.write(acks_fd, f"inc {value}\n".encode())


threads = []
for t in range(writers):
    threads.append(threading.Thread(target=kv_writer, args=(t,), daemon=True))
    threads.append(threading.Thread(target=inc_writer, daemon=True))
for thread in threads:
    thread.start()

requests: "queue.Queue[dict]" = queue.Queue()


def answer(request: dict) -> None:
    reply = {"id": request["id"]}
    if request["cmd"] == "status":
        journal = getattr(node, "raftwalJournal", None)
        reply.update(term=node.raftCurrentTerm, leader=node._isLeader(),
                     commit=node.raftCommitIndex, applied=node.raftLastApplied,
                     hs_commit=journal.getRaftCommitIndex() if journal is not None else None,
                     hs_term=journal.hard_state.term if journal is not None else None)
    elif request["cmd"] == "state":
        reply.update(counter=counter.get(), kv=dict(kv.rawData()), applied=node.raftLastApplied)
    emit(reply)


def on_tick() -> None:
    while True:
        try:
            request = requests.get_nowait()
        except queue.Empty:
            return
        answer(request)


node.addOnTickCallback(on_tick)

for line in sys.stdin:
    request = json.loads(line)
    if request["cmd"] == "stop":
        stopping.set()
        for thread in threads:
            thread.join()
        emit({"id": request["id"], "stopped": True})
    else:
        requests.put(request)
