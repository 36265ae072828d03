"""A plain Python model of a raftwal log, for the property tests.

It encodes include/raftwal.h's rules and nothing else: what each operation
does to the log, and which errors it must raise. Where the header allows
more than one answer (e.g. an append whose index is both below the first
index and at or below the commit index), the model returns every acceptable
error and the test accepts any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Type

import raftwal
from raftwal import Entry, HardState, Snapshot

ErrorSet = Set[Type[raftwal.Error]]

@dataclass
class LogModel:
    first: int = 1
    last: int = 0
    entries: Dict[int, Entry] = field(default_factory=dict)
    hardstate: HardState = HardState(0, 0, 0)
    snapshot: Snapshot = Snapshot(0, 0, b"")
    metadata: bytes = b""
    purged: bool = False  # term(0) is 0 only for a log that never purged

    def copy(self) -> "LogModel":
        return LogModel(self.first, self.last, dict(self.entries), self.hardstate,
                        self.snapshot, self.metadata, self.purged)

    def view(self) -> tuple:
        """Everything observable, for comparing with a real log."""
        return (self.first, self.last,
                tuple(self.entries[i] for i in range(self.first, self.last + 1)),
                self.hardstate, self.snapshot, self.metadata)

    # ---- terms --------------------------------------------------------------

    def known_term(self, index: int) -> Optional[int]:
        """The term the library must know for `index`, or None if the header
        does not say (a purged entry that is not the snapshot's)."""
        if self.first <= index <= self.last:
            return self.entries[index].term
        if index == self.snapshot.index and self.snapshot.index > 0 and index <= self.last:
            return self.snapshot.term
        if index == 0 and not self.purged:
            return 0
        return None

    def term_outcomes(self, index: int) -> set:
        """What log.term(index) may return: terms and/or error classes."""
        if self.first <= index <= self.last:
            return {self.entries[index].term}
        if index == self.snapshot.index and self.snapshot.index > 0:
            if index > self.last:  # saved, not yet purged past: unspecified
                return {self.snapshot.term, raftwal.UnavailableError}
            return {self.snapshot.term}
        if index == 0 and not self.purged:
            return {0}
        if index < self.first:
            return {raftwal.CompactedError}
        return {raftwal.UnavailableError}

    def protected(self) -> int:
        """Entries up to here may not be replaced or truncated: the commit
        index, or the snapshot's index (a snapshot covers committed entries)."""
        return max(self.hardstate.commit, self.snapshot.index)

    # ---- writes: each returns the errors it must raise (empty: succeeds) -----

    def append_errors(self, batch: Sequence[Entry], hs: Optional[HardState]) -> ErrorSet:
        errors: ErrorSet = set()
        if batch:
            start = batch[0].index
            if start < self.first:
                errors.add(raftwal.CompactedError)
            if start == 0:  # indexes are 1..MAX_INDEX
                errors.add(raftwal.InvalidArgument)
            if start > self.last + 1:
                errors.add(raftwal.GapError)
            if start <= self.last and start <= self.protected():
                errors.add(raftwal.CommittedError)
            before = self.known_term(start - 1)
            if before is not None and batch[0].term < before:
                errors.add(raftwal.TermError)
            for a, b in zip(batch, batch[1:]):
                if b.index != a.index + 1:
                    errors.add(raftwal.GapError)
                if b.term < a.term:
                    errors.add(raftwal.TermError)
        last_after = batch[-1].index if batch else self.last
        if hs is not None and hs.commit > last_after:
            errors.add(raftwal.InvalidArgument)
        return errors

    def append(self, batch: Sequence[Entry], hs: Optional[HardState]) -> None:
        if batch:
            for i in range(batch[0].index, self.last + 1):
                del self.entries[i]
            for e in batch:
                self.entries[e.index] = e
            self.last = batch[-1].index
        if hs is not None:
            self.hardstate = hs

    def set_hardstate_errors(self, hs: HardState) -> ErrorSet:
        return {raftwal.InvalidArgument} if hs.commit > self.last else set()

    def truncate_errors(self, from_index: int) -> ErrorSet:
        errors: ErrorSet = set()
        if from_index == 0:
            return {raftwal.InvalidArgument}  # 0 is not an index
        if from_index > self.last:
            return errors
        if from_index < self.first:
            errors.add(raftwal.CompactedError)
        if from_index <= self.protected():
            errors.add(raftwal.CommittedError)
        return errors

    def truncate(self, from_index: int) -> None:
        for i in range(max(from_index, self.first), self.last + 1):
            del self.entries[i]
        self.last = min(self.last, from_index - 1)

    def purge(self, upto: int) -> None:
        if upto < self.first:
            return
        for i in range(self.first, min(upto, self.last) + 1):
            del self.entries[i]
        self.purged = True
        self.first = upto + 1
        self.last = max(self.last, upto)

    def save_snapshot_errors(self, index: int) -> ErrorSet:
        return {raftwal.InvalidArgument} if index < self.snapshot.index else set()

    def save_snapshot(self, index: int, term: int, meta: bytes) -> None:
        self.snapshot = Snapshot(index, term, meta)

    # ---- reads ----------------------------------------------------------------

    def range_errors(self, lo: int, hi: int) -> ErrorSet:
        errors: ErrorSet = set()
        if lo > hi:
            errors.add(raftwal.InvalidArgument)
        if lo < self.first:
            errors.add(raftwal.CompactedError)
        if hi > self.last + 1:
            errors.add(raftwal.UnavailableError)
        return errors

    def range(self, lo: int, hi: int, max_bytes: Optional[int]) -> List[Entry]:
        """Entries in [lo, hi) within max_bytes, at least one (etcd's rule)."""
        out: List[Entry] = []
        total = 0
        for i in range(lo, hi):
            size = len(self.entries[i].data)
            if out and max_bytes is not None and total + size > max_bytes:
                break
            out.append(self.entries[i])
            total += size
        return out
