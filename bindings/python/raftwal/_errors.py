"""The raftwal exception hierarchy: one base class, one subclass per code.

Every negative ``RAFTWAL_E*`` code of ``include/raftwal.h`` maps to exactly
one class below (``ERROR_CLASSES``); the low-level module raises them through
:func:`error_from_code`. Where a built-in exception means the same thing, the
class derives from it too, so ``except ValueError`` or ``except OSError``
keep working: an invalid argument is a :class:`ValueError`, an I/O failure an
:class:`OSError`, a missing log a :class:`FileNotFoundError`, an index outside
the log an :class:`IndexError`.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _raftwal as _c

__all__ = [
    "Error",
    "InvalidArgument",
    "OutOfMemoryError",
    "RaftwalIOError",
    "CorruptError",
    "LockedError",
    "CompactedError",
    "UnavailableError",
    "NotFoundError",
    "VersionError",
    "ReadOnlyError",
    "NoSpaceError",
    "GapError",
    "TermError",
    "CommittedError",
    "RangeError",
    "ClosedError",
    "EncryptionKeyError",
    "ERROR_CLASSES",
    "error_from_code",
]


class Error(Exception):
    """Base class of every error raised by raftwal.

    Attributes:
        code: the negative ``RAFTWAL_E*`` code (``raftwal.EINVAL``, ...).
        name: the code's C name without the prefix, e.g. ``"ECORRUPT"``.
        message: the detailed message (``raftwal_errmsg()``: which file,
            which offset, what was expected); also ``str(error)``.
    """

    #: The code of this class; instances may carry another one only when
    #: raised for a code this version of the package does not know.
    code: int = 0
    name: str = ""

    def __init__(self, message: str = "", code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
            self.name = _CODE_NAMES.get(code, "")
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"

    def __reduce__(self):  # keep code and message across pickling
        return (type(self), (self.message, self.code))


class InvalidArgument(Error, ValueError):
    """``RAFTWAL_EINVAL``: an argument is invalid (out of range, too large, bad option)."""

    code, name = _c.RAFTWAL_EINVAL, "EINVAL"


class OutOfMemoryError(Error, MemoryError):
    """``RAFTWAL_ENOMEM``: the library ran out of memory."""

    code, name = _c.RAFTWAL_ENOMEM, "ENOMEM"


class RaftwalIOError(Error, OSError):
    """``RAFTWAL_EIO``: an I/O call failed, or the log is failed after an
    earlier fsync or write error (reopen it to recover the durable state)."""

    code, name = _c.RAFTWAL_EIO, "EIO"


class CorruptError(Error):
    """``RAFTWAL_ECORRUPT``: a file's content is damaged; the message names
    the file and byte offset. :func:`raftwal.repair` salvages the log."""

    code, name = _c.RAFTWAL_ECORRUPT, "ECORRUPT"


class LockedError(Error):
    """``RAFTWAL_ELOCKED``: the log is open for writing elsewhere (in this
    process or another one)."""

    code, name = _c.RAFTWAL_ELOCKED, "ELOCKED"


class CompactedError(Error, IndexError):
    """``RAFTWAL_ECOMPACTED``: the index is below the first index (purged)."""

    code, name = _c.RAFTWAL_ECOMPACTED, "ECOMPACTED"


class UnavailableError(Error, IndexError):
    """``RAFTWAL_EUNAVAILABLE``: the index is above the last index."""

    code, name = _c.RAFTWAL_EUNAVAILABLE, "EUNAVAILABLE"


class NotFoundError(Error, FileNotFoundError):
    """``RAFTWAL_ENOTFOUND``: there is no log at that path (and ``create``
    was not given)."""

    code, name = _c.RAFTWAL_ENOTFOUND, "ENOTFOUND"


class VersionError(Error):
    """``RAFTWAL_EVERSION``: a file has a format version this library does
    not understand."""

    code, name = _c.RAFTWAL_EVERSION, "EVERSION"


class ReadOnlyError(Error):
    """``RAFTWAL_EREADONLY``: a change was asked of a log opened read-only."""

    code, name = _c.RAFTWAL_EREADONLY, "EREADONLY"


class NoSpaceError(RaftwalIOError):
    """``RAFTWAL_ENOSPC``: the disk is full. Nothing was written and the log
    stays usable (purge behind a snapshot to free space: appends then work
    again), unless part of a batch was written: then the log is failed and
    must be reopened. Also a :class:`RaftwalIOError`."""

    code, name = _c.RAFTWAL_ENOSPC, "ENOSPC"


class GapError(Error, ValueError):
    """``RAFTWAL_EGAP``: entries are not contiguous with the log or with
    each other."""

    code, name = _c.RAFTWAL_EGAP, "EGAP"


class TermError(Error, ValueError):
    """``RAFTWAL_ETERM``: an entry's term is lower than the term of the entry
    (or snapshot) before it."""

    code, name = _c.RAFTWAL_ETERM, "ETERM"


class CommittedError(Error, ValueError):
    """``RAFTWAL_ECOMMITTED``: the change would remove entries at or below
    the recorded commit index."""

    code, name = _c.RAFTWAL_ECOMMITTED, "ECOMMITTED"


class RangeError(Error, IndexError):
    """``RAFTWAL_ERANGE``: an output buffer is too small or a position is out
    of range (e.g. a segment number). The package sizes buffers itself, so
    users mostly see it from :meth:`raftwal.Log.segment`."""

    code, name = _c.RAFTWAL_ERANGE, "ERANGE"


class ClosedError(Error):
    """``RAFTWAL_ECLOSED``: the log (or the log behind an iterator) is closed."""

    code, name = _c.RAFTWAL_ECLOSED, "ECLOSED"


class EncryptionKeyError(Error):
    """``RAFTWAL_EKEY``: wrong or missing key. The log is encrypted and no
    key, or not its key, was given; or a key was given for a log that is not
    encrypted. The message says which; it never contains key material."""

    code, name = _c.RAFTWAL_EKEY, "EKEY"


#: Every error class by its code, 1:1 with the ``RAFTWAL_E*`` enum.
ERROR_CLASSES: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, OutOfMemoryError, RaftwalIOError, CorruptError,
        LockedError, CompactedError, UnavailableError, NotFoundError,
        VersionError, ReadOnlyError, NoSpaceError, GapError, TermError,
        CommittedError, RangeError, ClosedError, EncryptionKeyError,
    )
}

_CODE_NAMES: Dict[int, str] = {cls.code: cls.name for cls in ERROR_CLASSES.values()}


def error_from_code(code: int, message: str = "") -> Error:
    """Returns (does not raise) the exception for a ``RAFTWAL_E*`` code.

    An empty message is replaced by the code's short description. A code
    this package does not know gives a plain :class:`Error` carrying it.
    """
    if not message:
        message = _c.raftwal_strerror(code)
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return Error(message, code)
    return cls(message)
