"""Hypothesis stateful tests: random histories against a plain Python model.

The machine drives one real log and a LogModel (model.py) through appends
(plain, overwriting a suffix, with gaps, lower terms, empty and large data
spanning segments), hard state changes, truncations, purges (also past the
last index), snapshots, metadata, syncs, close-and-reopen and simulated
crashes, and checks after every step that the log shows exactly the model:
bounds, every entry's bytes and type, terms, hard state, snapshot, metadata,
and that every error is raised exactly when the model says it must be.

A crash is simulated without killing the test process: while the log is
still open, its files are copied (that is what the disk holds if the
machine dies now, once the OS wrote everything); then a random tail of the
bytes written since the last durable point is cut from the newest changed
segment, as a power loss would (unsynced writes that never reached the
disk). After recovery the log must equal the model after some prefix of the
operations since that durable point: every durable change is there, and
batches are atomic. (test_crash.py kills real processes with SIGKILL.)

Examples: RAFTWAL_HYPOTHESIS_EXAMPLES (default 200) histories of
RAFTWAL_HYPOTHESIS_STEPS (default 40) steps.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from typing import Dict, List, Optional

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import raftwal
from raftwal import Entry, HardState

from conftest import SMALL_SEGMENT, fast_tmp_root
from model import LogModel

EXAMPLES = int(os.environ.get("RAFTWAL_HYPOTHESIS_EXAMPLES", "200"))
STEPS = int(os.environ.get("RAFTWAL_HYPOTHESIS_STEPS", "40"))
DATABASE = os.environ.get(
    "RAFTWAL_HYPOTHESIS_DB", os.path.join(tempfile.gettempdir(), "raftwal-hypothesis-db")
)
HEADER_SIZE = 64  # bytes of a segment header (docs/format.md)
SECTOR = 512  # a power loss tears writes at this granularity, no finer


def make_data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Entry payloads: mostly small, some empty, one in ten large (up to three
# segments: it spans segment boundaries or makes an oversized segment).
_small = st.binary(max_size=80)
_large = st.builds(make_data, st.integers(1000, 3 * SMALL_SEGMENT), st.integers(0, 2**16))
data_strategy = st.integers(0, 9).flatmap(
    lambda k: _large if k == 9 else st.just(b"") if k == 8 else _small
)


def read_files(directory: str) -> Dict[str, bytes]:
    files = {}
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    return files


def write_files(directory: str, files: Dict[str, bytes]) -> None:
    for name in os.listdir(directory):
        if name not in files:
            os.unlink(os.path.join(directory, name))
    for name, content in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)


def changed_range(old: Optional[bytes], new: bytes, floor: int):
    """First and last+1 offsets where new differs from old (None: no old
    version; compared with zeros, the state of a prepared segment)."""
    base = (old or b"")[: len(new)].ljust(len(new), b"\0")
    lo = next((i for i in range(floor, len(new)) if new[i] != base[i]), None)
    if lo is None:
        return None
    hi = len(new)
    while new[hi - 1] == base[hi - 1]:
        hi -= 1
    return lo, hi, base


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="raftwal-stateful-", dir=fast_tmp_root())
        self.path = os.path.join(self.dir, "wal")
        self.log = raftwal.open(self.path, segment_size=SMALL_SEGMENT)
        self.model = LogModel()
        self.max_term = 1
        # Crash bookkeeping: the files at the last durable point (taken just
        # before the first non-durable change after it) and the model after
        # each change since (candidates[0] is the durable state).
        self.durable_files: Optional[Dict[str, bytes]] = None
        self.candidates: List[LogModel] = [self.model.copy()]

    def teardown(self) -> None:
        try:
            self.log.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- bookkeeping -----------------------------------------------------------

    def before_change(self, durable: bool) -> None:
        if not durable and self.durable_files is None:
            self.durable_files = read_files(self.path)

    def after_change(self, durable: bool) -> None:
        if durable:
            self.durable_files = None
            self.candidates = [self.model.copy()]
        else:
            self.candidates.append(self.model.copy())

    def expect(self, errors, call) -> bool:
        """Runs call; it must raise one of `errors`, or succeed if empty."""
        if errors:
            with pytest.raises(tuple(errors)) as info:
                call()
            event(f"raised {type(info.value).__name__}")
            return False
        call()
        return True

    def draw_index(self, data, low_slack: int = 2, high_slack: int = 3) -> int:
        m = self.model
        return data.draw(st.integers(max(0, m.first - low_slack), m.last + high_slack))

    # ---- rules -------------------------------------------------------------------

    @rule(data=st.data())
    def append(self, data) -> None:
        m = self.model
        kind = data.draw(st.sampled_from(["next"] * 6 + ["overwrite"] * 2 + ["any", "lower-term"]))
        if kind == "overwrite" and max(m.first, m.protected() + 1) <= m.last:
            start = data.draw(st.integers(max(m.first, m.protected() + 1), m.last))
        elif kind == "any":
            start = self.draw_index(data)
        else:
            start = m.last + 1
        count = data.draw(st.integers(0, 5))
        term = self.max_term + data.draw(st.integers(0, 1))
        before = m.known_term(start - 1)
        if kind == "lower-term" and before:
            term = before - 1
        batch = []
        for i in range(start, start + count):
            payload = data.draw(data_strategy)
            batch.append(Entry(i, term, payload, data.draw(st.integers(0, 3))))
            if kind != "lower-term":
                term += data.draw(st.integers(0, 1))
        hs = None
        if count == 0 or data.draw(st.booleans()):
            last_after = batch[-1].index if batch else m.last
            commit = data.draw(st.integers(min(m.hardstate.commit, last_after), last_after + 1))
            hs = HardState(self.max_term, data.draw(st.integers(0, 5)), commit)
        sync = data.draw(st.booleans())
        errors = m.append_errors(batch, hs)
        self.before_change(durable=sync)
        if self.expect(errors, lambda: self.log.append(batch, hs, sync=sync)):
            m.append(batch, hs)
            self.max_term = max([self.max_term] + [e.term for e in batch])
            self.after_change(durable=sync)

    @rule(data=st.data())
    def set_hardstate(self, data) -> None:
        m = self.model
        commit = data.draw(st.integers(m.hardstate.commit, m.last + 2))
        hs = HardState(self.max_term + data.draw(st.integers(0, 1)), data.draw(st.integers(0, 5)), commit)
        sync = data.draw(st.booleans())
        self.before_change(durable=sync)
        if self.expect(m.set_hardstate_errors(hs), lambda: self.log.set_hardstate(hs, sync=sync)):
            m.hardstate = hs
            self.max_term = max(self.max_term, hs.term)
            self.after_change(durable=sync)

    @rule(data=st.data())
    def truncate(self, data) -> None:
        from_index = self.draw_index(data)
        if self.expect(self.model.truncate_errors(from_index), lambda: self.log.truncate(from_index)):
            self.model.truncate(from_index)
            self.after_change(durable=True)

    @rule(data=st.data())
    def purge(self, data) -> None:
        upto = self.draw_index(data)
        self.log.purge(upto)
        self.model.purge(upto)
        self.after_change(durable=True)

    @rule(data=st.data())
    def local_snapshot(self, data) -> None:
        """A snapshot of entries in the log, as a node takes one (of committed
        entries, usually; the header protects the entries it covers either
        way, so its term stays the entry's)."""
        m = self.model
        lo, hi = max(m.first, m.snapshot.index), m.last
        meta = data.draw(st.binary(max_size=40))
        if lo <= hi and data.draw(st.integers(0, 9)) > 0:
            index = data.draw(st.integers(lo, hi))
            term = m.entries[index].term
        elif m.snapshot.index > 0:  # below the current snapshot: refused
            index = data.draw(st.integers(0, m.snapshot.index - 1))
            term = m.snapshot.term
        else:
            return
        if self.expect(m.save_snapshot_errors(index), lambda: self.log.save_snapshot(index, term, meta)):
            m.save_snapshot(index, term, meta)
            self.after_change(durable=True)

    @rule(data=st.data())
    def install_snapshot(self, data) -> None:
        """A follower installs a leader's snapshot past its last entry:
        save it, purge everything up to it, commit it."""
        m = self.model
        index = m.last + data.draw(st.integers(1, 4))
        term = self.max_term + data.draw(st.integers(0, 2))
        meta = data.draw(st.binary(max_size=40))
        self.log.save_snapshot(index, term, meta)
        m.save_snapshot(index, term, meta)
        self.log.purge(index)
        m.purge(index)
        hs = HardState(term, m.hardstate.vote, index)
        self.log.set_hardstate(hs)
        m.hardstate = hs
        self.max_term = term
        self.after_change(durable=True)

    @rule(meta=st.binary(max_size=100))
    def set_metadata(self, meta) -> None:
        self.log.set_metadata(meta)
        self.model.metadata = meta
        self.after_change(durable=True)

    @rule()
    def sync(self) -> None:
        self.log.sync()
        self.after_change(durable=True)
        assert self.log.durable_index == self.model.last

    @rule()
    def reopen(self) -> None:
        self.log.close()
        with pytest.raises(raftwal.ClosedError):
            self.log.last_index
        self.log = raftwal.open(self.path, create=False)
        self.after_change(durable=True)

    @rule(data=st.data())
    def crash(self, data) -> None:
        on_disk = read_files(self.path)  # what the OS holds right now
        self.log.close()
        durable = self.durable_files
        if durable is not None:
            changed = []
            for name in sorted(on_disk):
                floor = 0 if name in durable else HEADER_SIZE
                span = changed_range(durable.get(name), on_disk[name], floor)
                if span is not None:
                    changed.append((name, span))
            if changed:  # lose a tail of the newest segment's unsynced bytes
                name, (lo, hi, base) = changed[-1]
                # A power loss tears writes at 512-byte sectors, not
                # smaller (the contract: README "Guarantees"): the bytes
                # before the cut are new, those after old, and the cut
                # falls between sectors (lo and hi stand for "no new
                # sector" and "every new sector").
                cuts = [lo] + list(range((lo // SECTOR + 1) * SECTOR, hi, SECTOR)) + [hi]
                cut = data.draw(st.sampled_from(cuts), label="cut")
                on_disk[name] = on_disk[name][:cut] + base[cut:]
                event("crash: cut unsynced bytes")
        write_files(self.path, on_disk)
        self.log = raftwal.open(self.path, create=False)
        seen = self.observe()
        matches = [c for c in self.candidates if c.view() == seen]
        assert matches, (
            f"after the crash the log matches none of the {len(self.candidates)} states "
            f"since the last durable point: {seen[:2]} vs "
            f"{[c.view()[:2] for c in self.candidates]}"
        )
        event(f"crash: recovered state {self.candidates.index(matches[-1])} of {len(self.candidates)}"[:40])
        self.model = matches[-1].copy()
        self.after_change(durable=True)

    @rule(data=st.data())
    def read_range(self, data) -> None:
        m = self.model
        lo = self.draw_index(data)
        hi = data.draw(st.integers(max(0, lo - 1), m.last + 3))
        if lo == hi and lo < m.first:
            return  # empty range below the log: the header allows both answers
        max_bytes = data.draw(st.one_of(st.none(), st.integers(0, 2 * SMALL_SEGMENT)))
        errors = m.range_errors(lo, hi)
        if errors:
            with pytest.raises(tuple(errors)):
                self.log.entries(lo, hi, max_bytes)
        else:
            assert list(self.log.entries(lo, hi, max_bytes)) == m.range(lo, hi, max_bytes)

    # ---- the check after every step -------------------------------------------

    def observe(self) -> tuple:
        log = self.log
        first, last = log.bounds()
        entries = tuple(log.entries())
        return (first, last, entries, log.hardstate, log.snapshot, log.metadata)

    @invariant()
    def log_matches_model(self) -> None:
        m = self.model
        assert self.observe() == m.view()
        assert len(self.log) == m.last - m.first + 1
        assert self.log.durable_index <= m.last
        for index in range(max(0, m.first - 2), m.last + 3):
            outcomes = m.term_outcomes(index)
            try:
                got = self.log.term(index)
            except raftwal.Error as e:
                got = type(e)
            assert got in outcomes, f"term({index}) = {got}, expected one of {outcomes}"
        if m.last >= m.first:
            index = random.Random(m.last).randint(m.first, m.last)
            assert self.log[index] == m.entries[index]
        stats = self.log.stats()
        assert (stats["first_index"], stats["last_index"]) == (m.first, m.last)


LogMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=DirectoryBasedExampleDatabase(DATABASE),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
TestLogMachine = LogMachine.TestCase
