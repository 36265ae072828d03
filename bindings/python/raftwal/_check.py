"""Offline checks of a log directory: verify() and repair(), as the CLI's
``raftwal verify`` and ``raftwal repair`` do."""

from __future__ import annotations

from typing import Any, Dict

from . import _raftwal as _c
from ._log import PathLike
from ._structs import struct_to_dict

__all__ = ["verify", "repair"]


def verify(path: PathLike) -> Dict[str, Any]:
    """Checks the log in ``path`` without changing it: every record's
    checksum, every footer, the segment sequence, index contiguity and term
    order. Takes no lock (a concurrent writer's last batch may look torn).

    A torn tail (an incomplete last batch) is not an error; it is reported in
    ``torn_seq``, ``torn_offset`` and ``torn_bytes`` (0: none). Nor are
    purged leftovers (segment files holding only purged entries, e.g. kept by
    a crash in the middle of a purge): ``leftovers`` counts them, and every
    segment file numbered below ``leftover_below_seq`` is one.

    Returns:
        a dict of the ``raftwal_check`` fields: segments, entries,
        first_index, last_index, torn_seq, torn_offset, torn_bytes,
        cut_* / backup_path (unused by verify), leftovers,
        leftover_below_seq.

    Raises:
        CorruptError: the message names the file and offset.
        CompactedError: a live log's writer (another process) purged
            segments before the check read them, in each of its attempts:
            the message says the log changed under the check.
        VersionError, NotFoundError, RaftwalIOError, InvalidArgument.
    """
    return struct_to_dict(_c.raftwal_verify(path))


def repair(path: PathLike) -> Dict[str, Any]:
    """Salvages the log in ``path``: keeps the longest valid prefix of whole
    batches and cuts the rest, first copying every file it shortens or
    removes into a new directory ``path/repair-<time>/``. A sound log is
    left as it is (a torn tail is trimmed). Afterwards :func:`raftwal.open`
    succeeds. It never keeps purged leftovers as the log: such a cut is
    refused with CorruptError, changing nothing more.

    Returns:
        the fields of :func:`verify`, plus ``cut_seq``, ``cut_offset``,
        ``cut_bytes`` (where and how much was cut; 0 bytes: nothing) and
        ``backup_path`` ("" when nothing was cut).

    Raises:
        LockedError: the log is open for writing.
        CorruptError: repair refused (the message says why).
        NotFoundError, VersionError, RaftwalIOError, NoSpaceError,
        InvalidArgument.
    """
    return struct_to_dict(_c.raftwal_repair(path))
