"""raftwal.pysyncobj.Journal against PySyncObj's own MemoryJournal.

A hypothesis state machine drives a Journal and a MemoryJournal (the model)
through every journal method PySyncObj calls (add, clear, deleteEntriesFrom,
deleteEntriesTo, setRaftCommitIndex, onOneSecondTimer) plus term/vote
saves, syncs, close-and-reopen and a kill -9 (the directory copied while
the journal is open: what the disk holds once the OS wrote its page cache),
and checks after every step that both answer the same to len(), ints,
negative ints and slices. After a reopen the journal must hold what the
model holds, with term, vote and commit index as last saved.

Then targeted cases (index rebasing, an interrupted rebase, lazily read
tails, foreign logs, the CLI on a journal) and SyncObj in one process: no
message leaves before term, vote and entries are durable (checked by a
user's transportClass), a restarted node does not vote twice in a term
(PySyncObj's issue #84; on FileJournal it does), a forked dump writer does
not keep the log, the README's example runs.

Skipped when PySyncObj (Debian: python3-pysyncobj) is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Optional

import pytest

pysyncobj_journal = pytest.importorskip(
    "pysyncobj.journal", reason="PySyncObj is not installed (Debian: apt-get install python3-pysyncobj)")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule  # noqa: E402

import raftwal  # noqa: E402
from raftwal.pysyncobj import Journal, vote_from_hash, vote_hash  # noqa: E402

from conftest import REPO_ROOT, child_env, fast_tmp_root  # noqa: E402

# Half the default of test_stateful.py: each step here is several raftwal calls.
EXAMPLES = int(os.environ.get("RAFTWAL_HYPOTHESIS_EXAMPLES", "200")) // 2
STEPS = int(os.environ.get("RAFTWAL_HYPOTHESIS_STEPS", "40"))
NODE_IDS = ["127.0.0.1:4321", "127.0.0.1:4322", "127.0.0.1:4323"]

commands = st.binary(min_size=0, max_size=40)


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="raftwal-pso-", dir=fast_tmp_root())
        self.dump = os.path.join(self.tmp, "dump.bin")
        with open(self.dump, "wb") as f:
            f.write(b"dump")
        self.generation = 0
        self.journal = Journal(self._path(), dump_file=self.dump)
        self.model = pysyncobj_journal.MemoryJournal()
        self.before_clear: Optional[List[tuple]] = None  # on disk until the next add
        self.commit: Optional[int] = 1                   # the commit index a reopen must show
        self.term, self.vote = 0, None

    def _path(self) -> str:
        return os.path.join(self.tmp, f"wal{self.generation}")

    def teardown(self) -> None:
        self.journal._destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the journal interface ---------------------------------------------

    @rule(command=commands, gap=st.integers(0, 2), start=st.integers(1, 60))
    def add(self, command: bytes, gap: int, start: int) -> None:
        if len(self.model):
            _, last_idx, last_term = self.model[-1]
            idx, term = last_idx + 1, last_term + gap
        else:
            idx, term = start, gap  # after a clear PySyncObj adds the dump's entries
        self.journal.add(command, idx, term)
        self.model.add(command, idx, term)
        self.before_clear = None

    @rule()
    def clear(self) -> None:
        if self.before_clear is None:
            self.before_clear = list(self.model[:])
        self.journal.clear()
        self.model.clear()
        self.commit = None

    @rule(data=st.data())
    def delete_entries_from(self, data) -> None:
        pos = data.draw(st.integers(0, len(self.model) + 1))
        if pos < len(self.model) and self.commit is not None:
            self.commit = min(self.commit, self.model[pos][1] - 1)
        self.journal.deleteEntriesFrom(pos)
        self.model.deleteEntriesFrom(pos)
        self._forget_commit_if_empty()

    @rule(data=st.data())
    def delete_entries_to(self, data) -> None:
        pos = data.draw(st.integers(0, len(self.model) + 1))
        self.journal.deleteEntriesTo(pos)
        self.model.deleteEntriesTo(pos)
        self._forget_commit_if_empty()

    def _forget_commit_if_empty(self) -> None:
        # PySyncObj never empties its journal this way; the commit index it
        # set before refers to entries that are gone, any answer will do.
        if len(self.model) == 0:
            self.commit = None

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def set_commit(self, data) -> None:
        commit = data.draw(st.integers(self.model[0][1], self.model[-1][1]))
        self.journal.setRaftCommitIndex(commit)
        self.model.setRaftCommitIndex(commit)
        self.commit = commit

    @rule()
    def one_second_timer(self) -> None:
        self.journal.onOneSecondTimer()

    @rule(term=st.integers(0, 5), vote=st.sampled_from([None] + NODE_IDS))
    def save_term_and_vote(self, term: int, vote: Optional[str]) -> None:
        self.journal.save_term_and_vote(term, vote)
        self.term, self.vote = term, vote

    @rule()
    def sync(self) -> None:
        self.journal.sync()

    # ---- restarts ----------------------------------------------------------

    def _after_restart(self, check_commit: bool) -> None:
        if self.before_clear is not None:
            # A clear reaches the disk with the add that follows it.
            self.model = pysyncobj_journal.MemoryJournal()
            for entry in self.before_clear:
                self.model.add(*entry)
            self.before_clear = None
            check_commit = False
        assert self.journal.load_term_and_vote(NODE_IDS) == (self.term, self.vote)
        if check_commit and self.commit is not None:
            assert self.journal.getRaftCommitIndex() == max(1, self.commit)
        if not check_commit:
            self.commit = None

    @rule()
    def reopen(self) -> None:
        self.journal._destroy()
        self.journal = Journal(self._path(), dump_file=self.dump)
        self._after_restart(check_commit=True)

    @rule()
    def kill_9(self) -> None:
        """The process dies: what it wrote is in the page cache, nothing more
        (the commit index may lag: it is written at the next tick)."""
        self.journal.save_term_and_vote(self.term, self.vote)  # what SyncObj does before a send
        old = self._path()
        self.generation += 1
        shutil.copytree(old, self._path())
        self.journal._destroy()
        self.journal = Journal(self._path(), dump_file=self.dump)
        self._after_restart(check_commit=False)

    # ---- the same answers -----------------------------------------------------

    @invariant()
    def same_entries(self) -> None:
        n = len(self.model)
        assert len(self.journal) == n
        assert self.journal[:] == self.model[:]
        for pos in {0, n // 2, n - 1, -1, -n, n - 2}:
            if -n <= pos < n:
                assert self.journal[pos] == self.model[pos]
        for lo, hi in [(n // 2, None), (1, n - 1), (-2, None), (n, None), (3, 2)]:
            assert self.journal[lo:hi] == self.model[lo:hi]
        for pos in (n, -n - 1):
            with pytest.raises(IndexError):
                self.journal[pos]


JournalMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestJournalMachine = JournalMachine.TestCase


# ---- targeted cases ---------------------------------------------------------


def test_indexes_are_raftwal_indexes(shm_dir):
    """Normally PySyncObj's index is raftwal's: `raftwal dump` shows them."""
    journal = Journal(shm_dir / "wal")
    journal.add(b"\x01", 1, 0)
    journal.add(b"\x00cmd", 2, 3)
    journal.sync()
    assert journal._log[2] == raftwal.Entry(2, 3, b"\x00cmd", 0)
    assert journal._log[1].type == 1  # the command type byte
    journal._destroy()


def test_tails_are_read_as_far_as_they_are_walked(shm_dir):
    """PySyncObj asks for whole tails (journal[diff:]) and walks them only
    until a batch is full: the journal reads from raftwal only that far."""
    journal = Journal(shm_dir / "wal")
    for idx in range(1, 2001):
        journal.add(b"\x00" + b"x" * 99, idx, 1)
    reads_before = journal._log.stats()["reads"]
    # pysyncobj.SyncObj.__getEntries(fromIDx, None, maxSizeBytes=1000):
    result = journal[100:]
    total = 0
    for i, entry in enumerate(result):
        total += len(entry[0])
        if total >= 1000:
            break
    batch = result[:i + 1]
    assert [e[1] for e in batch] == list(range(101, 111)) and len(result) == 1900
    assert result[-1] == (b"\x00" + b"x" * 99, 2000, 1)
    assert journal._log.stats()["reads"] - reads_before <= 12
    journal._destroy()


def test_clear_below_first_index_rebases_and_survives_reopen(shm_dir):
    """A dump older than the journal's head (PySyncObj then clears and adds
    the dump's two entries) needs indexes below raftwal's first index."""
    journal = Journal(shm_dir / "wal")
    for idx in range(1, 11):
        journal.add(b"x%d" % idx, idx, 1)
    journal.deleteEntriesTo(8)          # compaction: the journal holds 9, 10
    journal.clear()
    journal.add(b"a", 4, 1)
    journal.add(b"b", 5, 1)
    journal.setRaftCommitIndex(5)
    journal._destroy()
    journal = Journal(shm_dir / "wal")
    assert journal[:] == [(b"a", 4, 1), (b"b", 5, 1)]
    assert journal.getRaftCommitIndex() == 5
    journal.add(b"c", 6, 2)
    assert journal[-1] == (b"c", 6, 2)
    journal._destroy()


def test_interrupted_rebase_is_finished_at_open(shm_dir):
    """Crash between recording the new index mapping and purging the old
    entries: the next open drops the entries of the old mapping."""
    journal = Journal(shm_dir / "wal")
    for idx in range(1, 6):
        journal.add(b"x", idx, 1)
    journal.deleteEntriesTo(3)
    journal.clear()

    class Crash(Exception):
        pass

    real_log = journal._log

    class CrashingPurge:
        def __getattr__(self, name):
            return getattr(real_log, name)

        def purge(self, upto):
            raise Crash

    journal._log = CrashingPurge()
    with pytest.raises(Crash):
        journal.add(b"a", 1, 1)
    shutil.copytree(shm_dir / "wal", shm_dir / "image")  # what a kill -9 leaves
    real_log.close()
    journal = Journal(shm_dir / "image")
    assert len(journal) == 0
    journal.add(b"\x01", 1, 0)  # PySyncObj's start on an empty journal
    assert journal[:] == [(b"\x01", 1, 0)]
    journal._destroy()


def test_foreign_metadata_is_refused(shm_dir):
    with raftwal.open(shm_dir / "wal", metadata=b"someone else's") as log:
        log.append([raftwal.Entry(1, 1, b"x")])
    with pytest.raises(ValueError, match="not a PySyncObj journal"):
        Journal(shm_dir / "wal")


def test_creates_missing_parents(shm_dir):
    journal = Journal(shm_dir / "a" / "b" / "wal")
    assert len(journal) == 0 and journal.getRaftCommitIndex() == 1
    journal._destroy()


def test_votes_map_back_to_node_ids():
    assert vote_from_hash(0, NODE_IDS) is None
    for node_id in NODE_IDS:
        assert vote_from_hash(vote_hash(node_id), NODE_IDS) == node_id
    # A vote for a node no longer in the cluster still counts as a vote.
    gone = vote_from_hash(vote_hash("10.0.0.9:1"), NODE_IDS)
    assert gone is not None and vote_hash(gone) == vote_hash("10.0.0.9:1")


def test_missing_pysyncobj_is_reported_clearly():
    code = (
        "import sys; sys.modules['pysyncobj'] = None\n"
        "import raftwal.pysyncobj as m\n"
        "assert m.Journal\n"
        "try:\n"
        "    from raftwal.pysyncobj import SyncObj\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "needs PySyncObj" in out and "python3-pysyncobj" in out


def test_journal_file_without_dump_file_is_refused(shm_dir):
    from raftwal.pysyncobj import SyncObj, SyncObjConf

    with pytest.raises(ValueError, match="fullDumpFile"):
        SyncObj("127.0.0.1:1", [], SyncObjConf(journalFile=str(shm_dir / "wal")))
    assert not (shm_dir / "wal").exists()


def test_cli_reads_a_journal(shm_dir):
    """`raftwal verify` and `raftwal dump` work on the journal's directory."""
    from test_pysyncobj_cluster import raftwal_cli

    cli = raftwal_cli()
    if cli is None:
        pytest.skip("the raftwal CLI is not built (set RAFTWAL_CLI; ctest does)")
    journal = Journal(shm_dir / "wal")
    journal.add(b"\x01", 1, 0)
    journal.add(b"\x00hello", 2, 1)
    journal.save_term_and_vote(1, NODE_IDS[0])
    journal._destroy()
    subprocess.run([cli, "verify", str(shm_dir / "wal")], check=True, capture_output=True, timeout=60)
    dump = subprocess.run([cli, "dump", str(shm_dir / "wal")], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    assert "hello" in dump or "68656c6c6f" in dump


# ---- SyncObj: nothing leaves a node before what it depends on is durable ----


def test_every_message_leaves_after_term_vote_and_entries_are_durable(shm_dir):
    """Two nodes in this process, with a user's own transportClass (which must
    keep working) that checks, at every send, that the sender's term and vote
    are in its hard state and every entry is durable (no write pending)."""
    from pysyncobj.batteries import ReplCounter
    from pysyncobj.transport import TCPTransport

    from raftwal.pysyncobj import SyncObj, SyncObjConf

    sent = []
    problems = []

    class CheckingTransport(TCPTransport):
        def send(self, node, message):
            syncobj = self._syncObj
            journal = syncobj.raftwalJournal
            term, vote = journal.load_term_and_vote([n.id for n in syncobj.otherNodes] + [syncobj.selfNode.id])
            expected = (syncobj.raftCurrentTerm, syncobj._SyncObj__votedForNodeId)
            if (term, vote) != expected or journal._needs_sync or \
                    journal._log.durable_index < journal._log.last_index:
                problems.append((message["type"], (term, vote), expected, journal._needs_sync))
            sent.append(message["type"])
            return super().send(node, message)

    from test_pysyncobj_cluster import free_ports  # noqa: E402 - shared helper

    ports = free_ports(2)
    addresses = [f"127.0.0.1:{p}" for p in ports]
    counters = [ReplCounter(), ReplCounter()]
    nodes = []
    try:
        for i in range(2):
            conf = SyncObjConf(journalFile=str(shm_dir / f"wal{i}"), fullDumpFile=str(shm_dir / f"dump{i}"),
                               raftMinTimeout=0.2, raftMaxTimeout=0.4, appendEntriesPeriod=0.02,
                               connectionRetryTime=0.2)
            nodes.append(SyncObj(addresses[i], [addresses[1 - i]], conf, consumers=[counters[i]],
                                 transportClass=CheckingTransport))
        for _ in range(20):
            counters[0].inc(sync=True, timeout=10)
        assert counters[0].get() == 20
    finally:
        for node in nodes:
            node.destroy()
    assert {"request_vote", "response_vote", "append_entries", "next_node_idx"} <= set(sent)
    assert not problems, problems[:5]


def test_readme_example_runs(shm_dir):
    """The README's "Running PySyncObj on raftwal" example, as written, on a
    one-node cluster: it counts, and a restarted node counts on from disk."""
    import re

    from test_pysyncobj_cluster import free_ports

    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Running PySyncObj on raftwal", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    script = example.replace("/var/lib/counter", str(shm_dir / "counter"))
    assert script != example
    script += (
        "import sys, time\n"
        "node = Counter(sys.argv[1], [])\n"
        "print(node.inc(sync=True, timeout=20), node.inc(sync=True, timeout=20), node.raftCurrentTerm)\n"
    )
    address = f"127.0.0.1:{free_ports(1)[0]}"
    runs = [subprocess.run([sys.executable, "-c", script, address], env=child_env(), capture_output=True,
                           text=True, timeout=60, check=True).stdout.split() for _ in range(2)]
    assert runs[0][:2] == ["1", "2"] and runs[1][:2] == ["3", "4"]
    assert int(runs[1][2]) > int(runs[0][2]) >= 1  # the second run started from the stored term


FORK_NODE = r'''
import glob, os, sys, time
from raftwal.pysyncobj import SyncObj, SyncObjConf, replicated

address, root = sys.argv[1:3]
flag = os.path.join(root, "slow")

class SlowToPickle:
    """Pickled only by PySyncObj's forked dump writer: keeps it busy."""
    def __reduce__(self):
        while os.path.exists(flag):
            time.sleep(0.05)
        return (SlowToPickle, ())

class Node(SyncObj):
    def __init__(self):
        conf = SyncObjConf(journalFile=os.path.join(root, "wal"), fullDumpFile=os.path.join(root, "dump.bin"),
                           logCompactionMinEntries=20, logCompactionMinTime=3600, useFork=True)
        super().__init__(address, [], conf)
        self.slow = SlowToPickle()
        self.n = 0

    @replicated
    def inc(self):
        self.n += 1
        return self.n

node = Node()
done = 0
while not os.path.exists(os.path.join(root, "dump.bin.tmp")):  # the forked writer started
    done = node.inc(sync=True, timeout=20)
children = [int(c) for f in glob.glob("/proc/%d/task/*/children" % os.getpid())
            for c in open(f).read().split()]
print(done, " ".join(map(str, children)), flush=True)
time.sleep(3600)  # until the test kills this process
'''


def test_a_forked_dump_writer_does_not_keep_the_log(shm_dir):
    """PySyncObj forks to write its dump (useFork). With the dump writer still
    running and its parent killed, the log opens at once (nothing of the
    log's lock or handle lives on in the child) with every acknowledged
    command. (The child does keep the node's listening socket: PySyncObj's
    own hazard, a restarted node cannot bind its port until the dump is
    written.)"""
    from test_pysyncobj_cluster import free_ports

    address = f"127.0.0.1:{free_ports(1)[0]}"
    (shm_dir / "slow").touch()
    first = subprocess.Popen([sys.executable, "-c", FORK_NODE, address, str(shm_dir)],
                             env=child_env(), stdout=subprocess.PIPE, text=True)
    children: List[int] = []
    try:
        acked, *children = map(int, first.stdout.readline().split())
        assert children, "no forked dump writer found"
        first.kill()
        first.wait(timeout=30)
        for child in children:
            os.kill(child, 0)  # the dump writer outlives its parent, still pickling
        journal = Journal(shm_dir / "wal")
        try:
            commands = [entry for entry in journal[:] if entry[0][:1] == b"\x00"]
            assert len(commands) >= acked
        finally:
            journal._destroy()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        (shm_dir / "slow").unlink(missing_ok=True)  # lets the dump writer finish
        for child in children:
            try:
                os.kill(child, 9)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("journal_kind", ["raftwal", "file"])
def test_a_restarted_node_does_not_vote_twice_in_a_term(shm_dir, journal_kind):
    """PySyncObj's issue #84, driven message by message through a transport
    that delivers by hand: a node votes for B in term 5, restarts, and is
    asked by C for a vote in the same term 5. On raftwal it refuses; on
    PySyncObj's FileJournal it forgets the first vote and grants a second."""
    from pysyncobj.transport import Transport

    if journal_kind == "raftwal":
        from raftwal.pysyncobj import SyncObj, SyncObjConf
        journal_file = str(shm_dir / "wal")
    else:
        from pysyncobj import SyncObj, SyncObjConf
        journal_file = str(shm_dir / "journal.bin")

    sent = []

    class HandTransport(Transport):
        def send(self, node, message):
            sent.append((node.id, message["type"], message.get("term")))
            return True

    me, b, c = "127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"

    def start():
        conf = SyncObjConf(journalFile=journal_file, fullDumpFile=str(shm_dir / "dump.bin"), autoTick=False)
        node = SyncObj(me, [b, c], conf, transportClass=HandTransport)
        node.doTick(0)
        return node

    def ask_vote(node, candidate):
        peer = next(n for n in node.otherNodes if n.id == candidate)
        transport = node._SyncObj__transport
        transport._onMessageReceived(peer, {"type": "request_vote", "term": 5,
                                            "last_log_index": 10, "last_log_term": 4})
        node.doTick(0)  # the tick's end: raftwal's adapter persists, then sends

    node = start()
    ask_vote(node, b)
    assert (b, "response_vote", 5) in sent
    node.destroy()

    node = start()
    ask_vote(node, c)
    node.destroy()
    second_vote = (c, "response_vote", 5) in sent
    assert second_vote == (journal_kind == "file")
