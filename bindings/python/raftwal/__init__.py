"""raftwal: the durable write-ahead log under a Raft node.

A Python binding of the raftwal C library (libraftwal). A log lives in a
directory and holds Raft entries with contiguous indexes, plus the hard
state, snapshot metadata and user metadata::

    import raftwal

    with raftwal.open("/tmp/wal") as log:
        log.append([raftwal.Entry(log.last_index + 1, 1, b"hello")],
                   raftwal.HardState(term=1, vote=1, commit=0))
        print(log[log.last_index], log.hardstate)

Appends are atomic batches and durable on return (pass ``sync=False`` to
pipeline). Errors are :class:`Error` subclasses, one per C error code.
Blocking calls release the GIL. The names and semantics are those of
include/raftwal.h; see :class:`Log` for the operations.
"""

from __future__ import annotations

from . import _raftwal as _c
from ._check import rekey, repair, verify
from ._codec import KEY_SIZE, features
from ._errors import (
    ClosedError,
    CommittedError,
    CompactedError,
    CorruptError,
    EncryptionKeyError,
    Error,
    GapError,
    InvalidArgument,
    LockedError,
    NoSpaceError,
    NotFoundError,
    OutOfMemoryError,
    RaftwalIOError,
    RangeError,
    ReadOnlyError,
    TermError,
    UnavailableError,
    VersionError,
)
from ._log import EntryIterator, Log, open
from ._types import Entry, HardState, Snapshot

__all__ = [
    "open", "Log", "EntryIterator", "Entry", "HardState", "Snapshot",
    "verify", "repair", "rekey", "features", "library_version", "strerror",
    "Error", "InvalidArgument", "OutOfMemoryError", "RaftwalIOError",
    "CorruptError", "LockedError", "CompactedError", "UnavailableError",
    "NotFoundError", "VersionError", "ReadOnlyError", "NoSpaceError",
    "GapError", "TermError", "CommittedError", "RangeError", "ClosedError",
    "EncryptionKeyError",
]

#: The version of this package (the header's RAFTWAL_VERSION_STRING).
__version__: str = _c.RAFTWAL_VERSION_STRING

# Error codes, named as in C without the RAFTWAL_ prefix: raftwal.EINVAL == -1.
EINVAL: int = _c.RAFTWAL_EINVAL
ENOMEM: int = _c.RAFTWAL_ENOMEM
EIO: int = _c.RAFTWAL_EIO
ECORRUPT: int = _c.RAFTWAL_ECORRUPT
ELOCKED: int = _c.RAFTWAL_ELOCKED
ECOMPACTED: int = _c.RAFTWAL_ECOMPACTED
EUNAVAILABLE: int = _c.RAFTWAL_EUNAVAILABLE
ENOTFOUND: int = _c.RAFTWAL_ENOTFOUND
EVERSION: int = _c.RAFTWAL_EVERSION
EREADONLY: int = _c.RAFTWAL_EREADONLY
ENOSPC: int = _c.RAFTWAL_ENOSPC
EGAP: int = _c.RAFTWAL_EGAP
ETERM: int = _c.RAFTWAL_ETERM
ECOMMITTED: int = _c.RAFTWAL_ECOMMITTED
ERANGE: int = _c.RAFTWAL_ERANGE
ECLOSED: int = _c.RAFTWAL_ECLOSED
EKEY: int = _c.RAFTWAL_EKEY

# Limits (include/raftwal.h).
MAX_INDEX: int = _c.RAFTWAL_MAX_INDEX
MAX_ENTRY_SIZE: int = _c.RAFTWAL_MAX_ENTRY_SIZE
MAX_META_SIZE: int = _c.RAFTWAL_MAX_META_SIZE
MAX_BATCH_ENTRIES: int = _c.RAFTWAL_MAX_BATCH_ENTRIES
MIN_SEGMENT_SIZE: int = _c.RAFTWAL_MIN_SEGMENT_SIZE
MAX_SEGMENT_SIZE: int = _c.RAFTWAL_MAX_SEGMENT_SIZE
DEFAULT_SEGMENT_SIZE: int = _c.RAFTWAL_DEFAULT_SEGMENT_SIZE
# KEY_SIZE (imported above): bytes of an encryption master key (32).


def library_version() -> str:
    """The version of the C library loaded at run time, "MAJOR.MINOR.PATCH"."""
    return _c.raftwal_version()


def strerror(code: int) -> str:
    """The short description of an error code ("corrupt data")."""
    return _c.raftwal_strerror(code)
