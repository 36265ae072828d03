"""The small value types of the raftwal API: Entry, HardState, Snapshot.

They are NamedTuples, so they are immutable, cheap, unpack like tuples, and
plain tuples in the same shape are accepted wherever they are expected.
"""

from __future__ import annotations

from typing import NamedTuple, Union

__all__ = ["Entry", "HardState", "Snapshot", "BytesLike"]

#: What raftwal accepts as data: anything with the buffer protocol that is
#: C-contiguous (bytes, bytearray, memoryview, array.array, mmap, ...).
BytesLike = Union[bytes, bytearray, memoryview]


class Entry(NamedTuple):
    """One Raft log entry.

    Attributes:
        index: the Raft index (>= 1).
        term: the Raft term; never lower than the previous entry's.
        data: the payload. Entries read from a log carry ``bytes``; entries
            given to :meth:`raftwal.Log.append` may carry any bytes-like
            object, which is read in place, without a copy.
        type: an application-defined entry type (e.g. normal / conf change),
            a 32-bit unsigned integer.
    """

    index: int
    term: int
    data: BytesLike
    type: int = 0


class HardState(NamedTuple):
    """Raft's hard state: current term, vote and commit index.

    A new log has ``HardState(0, 0, 0)``. ``commit`` may never exceed the
    log's last index or, if it is higher, the snapshot's index.
    """

    term: int
    vote: int
    commit: int


class Snapshot(NamedTuple):
    """Snapshot metadata: the snapshot covers entries up to ``index``, whose
    term is ``term``; ``meta`` is opaque to raftwal (e.g. a ConfState).

    The snapshot's data itself belongs to the application. A log without a
    snapshot has ``Snapshot(0, 0, b"")``.
    """

    index: int
    term: int
    meta: bytes
