"""Offline operations on a log directory: verify() and repair(), as the
CLI's ``raftwal verify`` and ``raftwal repair`` do, and rekey()."""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import _raftwal as _c
from ._codec import check_key, key_options
from ._log import PathLike
from ._structs import struct_to_dict
from ._types import BytesLike

__all__ = ["verify", "repair", "rekey"]


def verify(path: PathLike, *, key: Optional[BytesLike] = None) -> Dict[str, Any]:
    """Checks the log in ``path`` without changing it: every record's
    checksum, every footer, the segment sequence, index contiguity and term
    order. Takes no lock (a concurrent writer's last batch may look torn).

    A torn tail (an incomplete last batch) is not an error; it is reported in
    ``torn_seq``, ``torn_offset`` and ``torn_bytes`` (0: none). Nor are
    purged leftovers (segment files holding only purged entries, e.g. kept by
    a crash in the middle of a purge): ``leftovers`` counts them, and every
    segment file numbered below ``leftover_below_seq`` is one.

    An encrypted log is checked with its 32-byte master ``key`` (every
    record's authentication tag too); the package keeps no reference to it.

    Returns:
        a dict of the ``raftwal_check`` fields: segments, entries,
        first_index, last_index, torn_seq, torn_offset, torn_bytes,
        cut_* / backup_path (unused by verify), leftovers,
        leftover_below_seq, encrypted (1 or 0), compressed_entries,
        entry_bytes (the live entries' data, decoded) and
        stored_entry_bytes (what it takes in the files: entry_bytes /
        stored_entry_bytes is the compression ratio).

    Raises:
        EncryptionKeyError: the log is encrypted and ``key`` is None or not
            its key, or ``key`` was given for a plaintext log.
        CorruptError: the message names the file and offset.
        CompactedError: a live log's writer (another process) purged
            segments before the check read them, in each of its attempts:
            the message says the log changed under the check.
        InvalidArgument: a key in a build without encryption
            (:func:`raftwal.features`).
        TypeError, ValueError: ``key`` is not 32 bytes-like bytes.
        VersionError, NotFoundError, RaftwalIOError.
    """
    options = key_options(key)
    if options is None:
        return struct_to_dict(_c.raftwal_verify(path))
    return struct_to_dict(_c.raftwal_verify_opts(path, options))


def repair(path: PathLike, *, key: Optional[BytesLike] = None) -> Dict[str, Any]:
    """Salvages the log in ``path``: keeps the longest valid prefix of whole
    batches and cuts the rest, first copying every file it shortens or
    removes into a new directory ``path/repair-<time>/``. A sound log is
    left as it is (a torn tail is trimmed). Afterwards :func:`raftwal.open`
    succeeds. It never keeps purged leftovers as the log: such a cut is
    refused with CorruptError, changing nothing more. An encrypted log
    needs its ``key``; what is cut is backed up as it is (still encrypted).

    Returns:
        the fields of :func:`verify`, plus ``cut_seq``, ``cut_offset``,
        ``cut_bytes`` (where and how much was cut; 0 bytes: nothing) and
        ``backup_path`` ("" when nothing was cut).

    Raises:
        EncryptionKeyError: as :func:`verify`.
        LockedError: the log is open for writing.
        CorruptError: repair refused (the message says why).
        NotFoundError, VersionError, RaftwalIOError, NoSpaceError,
        InvalidArgument, TypeError, ValueError.
    """
    options = key_options(key)
    if options is None:
        return struct_to_dict(_c.raftwal_repair(path))
    return struct_to_dict(_c.raftwal_repair_opts(path, options))


def rekey(path: PathLike, old_key: BytesLike, new_key: BytesLike) -> None:
    """Changes the master key of the encrypted log in ``path`` from
    ``old_key`` to ``new_key`` (32 bytes each; bytes, bytearray or
    memoryview). Only the log's data keys are wrapped anew; nothing else is
    rewritten. Crash-safe: after a crash the log opens with exactly one of
    the two keys, and the call can be repeated with that one as
    ``old_key``. The package keeps no reference to either key.

    Raises:
        EncryptionKeyError: ``old_key`` is not the log's key, or the log is
            not encrypted.
        LockedError: the log is open for writing.
        InvalidArgument: a build without encryption
            (:func:`raftwal.features`).
        TypeError, ValueError: a key is not 32 bytes-like bytes.
        NotFoundError, CorruptError (the key registry is damaged),
        RaftwalIOError, NoSpaceError.
    """
    if old_key is None or new_key is None:
        raise TypeError("rekey needs old_key and new_key (32 bytes each)")
    _c.raftwal_rekey(path, check_key(old_key, "old_key"), check_key(new_key, "new_key"))
