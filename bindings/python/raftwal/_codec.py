"""Encryption at rest and compression: what this build supports, and the
checks of the ``key``, ``compression`` and ``compress_min`` arguments.

A key is a 32-byte master key (``RAFTWAL_KEY_SIZE``) given as any
C-contiguous bytes-like object. The package never keeps it: it is handed to
the C library for the one call (which copies it and wipes its copies at
close) and no reference is stored on a Python object. Python cannot wipe an
immutable ``bytes``: a caller that wants to wipe its key passes a
``bytearray`` and zeroes it after the call. No message raised here contains
key material, only sizes and types.
"""

from __future__ import annotations

from typing import FrozenSet, Optional, Tuple

from . import _raftwal as _c
from ._types import BytesLike

__all__ = ["features", "KEY_SIZE", "check_key", "compression_code", "check_compress_min",
           "key_options"]

#: Bytes of a master key (include/raftwal.h RAFTWAL_KEY_SIZE).
KEY_SIZE: int = _c.RAFTWAL_KEY_SIZE

_FEATURE_NAMES: Tuple[Tuple[int, str], ...] = (
    (_c.RAFTWAL_FEATURE_ENCRYPTION, "encryption"),
    (_c.RAFTWAL_FEATURE_LZ4, "lz4"),
    (_c.RAFTWAL_FEATURE_ZSTD, "zstd"),
)

_COMPRESSIONS = {
    None: _c.RAFTWAL_COMPRESS_NONE,
    "none": _c.RAFTWAL_COMPRESS_NONE,
    "lz4": _c.RAFTWAL_COMPRESS_LZ4,
    "zstd": _c.RAFTWAL_COMPRESS_ZSTD,
}


def features() -> FrozenSet[str]:
    """What the loaded C library supports (``raftwal_features()``): a
    frozenset of ``"encryption"`` (AES-256-GCM: the ``key`` argument of
    :func:`raftwal.open`), ``"lz4"`` and ``"zstd"`` (its ``compression``).
    A key or a compression the build lacks raises
    :class:`raftwal.InvalidArgument` (a ValueError) naming the feature."""
    bits = _c.raftwal_features()
    return frozenset(name for bit, name in _FEATURE_NAMES if bits & bit)


def check_key(key: Optional[BytesLike], what: str = "key") -> Optional[BytesLike]:
    """Returns ``key`` (None for no key) after checking that it is a
    C-contiguous bytes-like object of exactly ``KEY_SIZE`` bytes.

    Raises:
        TypeError: not bytes-like (a ``str`` too: a key is raw bytes).
        ValueError: not ``KEY_SIZE`` bytes, or not contiguous.
    """
    if key is None:
        return None
    if isinstance(key, str):
        raise TypeError(f"{what} must be {KEY_SIZE} raw bytes (bytes, bytearray or "
                        f"memoryview), not str")
    try:
        view = memoryview(key)
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object of {KEY_SIZE} bytes, "
                        f"not {type(key).__name__}") from None
    with view:
        if not view.c_contiguous:
            raise ValueError(f"{what} must be a contiguous buffer")
        if view.nbytes != KEY_SIZE:
            raise ValueError(f"{what} must be {KEY_SIZE} bytes, not {view.nbytes}")
    return key


def compression_code(compression: Optional[str]) -> int:
    """The ``RAFTWAL_COMPRESS_*`` code of ``None``, ``"none"``, ``"lz4"`` or
    ``"zstd"``; ValueError for anything else."""
    if compression is not None and not isinstance(compression, str):
        raise TypeError(f"compression must be None, 'lz4' or 'zstd', not "
                        f"{type(compression).__name__}")
    try:
        return _COMPRESSIONS[compression]
    except KeyError:
        raise ValueError(f"unknown compression {compression!r} "
                         f"(None, 'lz4' or 'zstd')") from None


def check_compress_min(compress_min: Optional[int]) -> int:
    """``compress_min`` as the C option: 0 (the library's default, 64 bytes)
    for None; ValueError outside [0, 2**32)."""
    if compress_min is None:
        return 0
    if isinstance(compress_min, bool) or not isinstance(compress_min, int):
        raise TypeError(f"compress_min must be an int, not {type(compress_min).__name__}")
    if not 0 <= compress_min < 2**32:
        raise ValueError("compress_min must be in [0, 2**32)")
    return compress_min


def key_options(key: Optional[BytesLike]) -> Optional[tuple]:
    """The low-level options tuple that carries only ``key`` (for
    raftwal_verify_opts / raftwal_repair_opts), or None for no key."""
    if check_key(key) is None:
        return None
    return (0, 0, None, 0, _c.RAFTWAL_COMPRESS_NONE, key, 0)
