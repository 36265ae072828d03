"""raftwal.pysyncobj: PySyncObj (Raft for Python) with raftwal as its log.

The migration is one import::

    from raftwal.pysyncobj import SyncObj, SyncObjConf, replicated   # was: from pysyncobj import ...

    conf = SyncObjConf(journalFile="/var/lib/node/wal",       # a raftwal log directory
                       fullDumpFile="/var/lib/node/dump.bin")  # required beside it
    node = MyCounter("127.0.0.1:4321", ["127.0.0.1:4322", "127.0.0.1:4323"], conf)

What it adds to PySyncObj (tested with Debian's python3-pysyncobj 0.3.11;
another version is accepted when it has the internals the adapter relies on,
which are checked when it is imported and at construction):

- Raft's persistence rule, which PySyncObj does not keep (its issue #84):
  the current term and the vote are stored in raftwal's hard state and are
  durable before the node sends any message; a restarted node comes back
  with its term and vote, so it cannot vote twice in one term.
- Entries are durable before anything that depends on them leaves the node
  (a follower's acknowledgement, a leader's append-entries) and before a
  leader counts them toward a commit. PySyncObj's FileJournal never syncs.
- Group commit: every message a node sends is held back until the end of
  its tick, then one fdatasync covers every entry and hard state change of
  the tick and the messages go out. One sync per tick, not one per entry.
- The full dump (PySyncObj's snapshot, written by a forked child and renamed
  without a sync) is fsynced, with its directory, before the journal drops
  the entries it covers.

How it hooks in, without touching PySyncObj's files: ``SyncObj`` is a
subclass of ``pysyncobj.SyncObj``. While its constructor runs, the journal
factory that ``pysyncobj.syncobj`` looks up (``createJournal``) returns the
raftwal :class:`Journal` for this thread only (other SyncObj instances are
unaffected) and restores term and vote; the transport (the user's own
``transportClass`` or ``transport`` too) gets a ``send`` that queues, and a
tick callback persists, syncs and then sends. PySyncObj keeps term and vote
in private attributes; the adapter reads and restores them by name, which
is why those are checked (at import and at construction).

``pysyncobj`` is imported on first use of ``SyncObj`` (or of the re-exported
``SyncObjConf``, ``replicated``, ...); :class:`Journal` needs only raftwal.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import operator
import os
import re
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from . import _log
from ._types import Entry, HardState

__all__ = ["Journal", "JournalSlice", "SyncObj", "TESTED_PYSYNCOBJ_VERSIONS"]

#: PySyncObj versions the tests ran against.
TESTED_PYSYNCOBJ_VERSIONS = ("0.3.11",)

# PySyncObj's private attributes the adapter reads and restores (name-mangled
# attributes of pysyncobj.SyncObj, set before it creates its journal).
_PRIVATE_ATTRIBUTES = ("_SyncObj__raftCurrentTerm", "_SyncObj__votedForNodeId",
                       "_SyncObj__selfNode", "_SyncObj__otherNodes")

#: A PySyncObj journal entry: (command bytes, Raft index, term).
JournalEntry = Tuple[bytes, int, int]

# ---------------------------------------------------------------------------
# Votes: PySyncObj votes for a node id (its "host:port" string); raftwal's
# hard state holds a 64-bit vote. The id is stored as a 64-bit hash and
# mapped back by hashing the ids of the cluster's nodes.
# ---------------------------------------------------------------------------

_UNKNOWN_VOTE = "raftwal.pysyncobj:unknown-vote:"


def vote_hash(node_id: str) -> int:
    """The 64-bit value stored in the hard state for a vote for ``node_id``
    (never 0, which means "no vote")."""
    if node_id.startswith(_UNKNOWN_VOTE):
        return int(node_id[len(_UNKNOWN_VOTE):], 16)
    digest = hashlib.blake2b(node_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


def vote_from_hash(value: int, node_ids: Iterable[str]) -> Optional[str]:
    """The node id among ``node_ids`` whose vote_hash is ``value``; None for
    0 (no vote). A vote for a node not among them (membership changed) comes
    back as a placeholder id: it still counts as "voted in this term", which
    is what keeps a node from voting twice."""
    if value == 0:
        return None
    for node_id in node_ids:
        if vote_hash(node_id) == value:
            return node_id
    return f"{_UNKNOWN_VOTE}{value:016x}"


# ---------------------------------------------------------------------------
# The journal
# ---------------------------------------------------------------------------

# The log's user metadata records how PySyncObj's indexes map to raftwal's:
# raftwal index = PySyncObj index + offset, for raftwal indexes >= base.
# The offset stays 0 unless PySyncObj restarts its journal below raftwal's
# first index (see Journal._restart_at), which raftwal cannot go back to.
_META_PREFIX = b"raftwal.pysyncobj 1 "
_META_RE = re.compile(rb"^raftwal\.pysyncobj 1 offset=(-?[0-9]{1,20}) base=([0-9]{1,20})$")


def _parse_metadata(meta: bytes, path: Any) -> Tuple[int, int]:
    if meta == b"":
        return 0, 0
    match = _META_RE.match(meta)
    if match is None:
        raise ValueError(
            f"raftwal.pysyncobj: the log at {path!r} carries user metadata that "
            f"raftwal.pysyncobj did not write ({meta[:64]!r}): it is not a PySyncObj journal"
        )
    return int(match.group(1)), int(match.group(2))


def _fsync_file_and_dir(path: str) -> None:
    """Makes a file that another process wrote and renamed durable: its data,
    then the directory entry that names it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class JournalSlice(Sequence):  # type: ignore[type-arg]
    """What ``journal[a:b]`` returns: the entries in raftwal indexes
    ``[lo, hi)``, read from raftwal as they are iterated, not copied up front.

    PySyncObj asks for whole tails (``journal[diff:]``) and then walks them
    only until a batch is full; a lagging follower's tail can be most of the
    log. Iterating reads entry by entry and remembers what it read, so that
    the slice PySyncObj takes next (``result[:i + 1]``) costs nothing more.
    Slicing one gives a list; it compares equal to a list of the same
    entries and pickles as one. Valid until the journal next changes (PySyncObj
    uses each one at once, on its tick thread).
    """

    __slots__ = ("_journal", "_lo", "_hi", "_read")

    def __init__(self, journal: "Journal", lo: int, hi: int) -> None:
        self._journal = journal
        self._lo, self._hi = lo, hi
        self._read: List[JournalEntry] = []  # entries lo, lo + 1, ... read so far

    def __len__(self) -> int:
        return self._hi - self._lo

    def __iter__(self) -> Iterator[JournalEntry]:
        yield from self._read
        if len(self._read) == len(self):
            return
        to_tuple = self._journal._to_tuple
        pos = len(self._read)
        with self._journal._log.entries(self._lo + pos, self._hi) as entries:
            for entry in entries:
                item = to_tuple(entry)
                if len(self._read) == pos:  # not already read by another walk of this slice
                    self._read.append(item)
                pos += 1
                yield item

    def __getitem__(self, item: Union[int, slice]) -> Any:
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step == 1 and stop <= len(self._read):
                return self._read[start:stop]
            if step == 1 and start >= stop:
                return []
            return list(self)[item]
        pos = operator.index(item)
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError("journal slice index out of range")
        if pos < len(self._read):
            return self._read[pos]
        return self._journal._read(self._lo + pos)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, JournalSlice)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __reduce__(self) -> Any:
        return (list, (list(self),))

    def __repr__(self) -> str:
        return f"<raftwal.pysyncobj.JournalSlice of {len(self)} entries>"


class Journal:
    """PySyncObj's journal interface over a raftwal log.

    PySyncObj addresses its journal by position (0 = the oldest kept entry)
    with entries ``(command, index, term)``. Positions map to raftwal indexes
    arithmetically; ``len()``, ``journal[0]`` and ``journal[-1]`` are answered
    from memory, every other read (including the whole tails PySyncObj asks
    for with ``journal[diff:]``) from raftwal. Nothing else of the log is
    kept in memory.

    Writes: :meth:`add` writes without waiting for the disk; :meth:`sync`
    makes everything durable. :meth:`deleteEntriesFrom` and
    :meth:`deleteEntriesTo` are durable on return. :meth:`clear` reaches the
    disk with the next :meth:`add` (PySyncObj always follows a clear with
    adds), which first drops the old entries durably: a crash before that
    add leaves the journal as it was before the clear.

    Term and vote (:meth:`save_term_and_vote`, :meth:`load_term_and_vote`)
    and the commit index (:meth:`setRaftCommitIndex`) live in raftwal's hard
    state. Used by :class:`SyncObj`; usable alone for other Raft code that
    speaks PySyncObj's journal interface. Not thread-safe for writers: one
    thread (PySyncObj's tick thread) changes it; ``len()`` may be read from
    others.

    Args:
        path: the raftwal log directory, created (with its parents) when absent.
        dump_file: PySyncObj's full dump file: it is fsynced (with its
            directory) before entries it covers are dropped.
        segment_size: raftwal segment size (default raftwal's).
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, dump_file: Optional[str] = None,
                 segment_size: Optional[int] = None) -> None:
        self._path = os.fspath(path)
        self._dump_file = dump_file
        parent = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(parent, exist_ok=True)
        self._log = _log.open(self._path, segment_size=segment_size)
        try:
            self._load()
        except BaseException:
            self._log.close()
            raise

    def _load(self) -> None:
        log = self._log
        self._offset, self._base = _parse_metadata(log.metadata, self._path)
        first, last = log.bounds()
        if first < self._base:
            # A rebase was interrupted between recording the new offset and
            # dropping the entries written under the old one: finish it.
            log.purge(self._base - 1)
            first, last = log.bounds()
        self._first, self._last = first, last
        hs = log.hardstate
        self._hs = hs                      # the hard state last written
        self._commit_rw = hs.commit        # the commit index to write next (raftwal index)
        self._cleared = False              # clear() called, not yet applied on disk
        self._needs_sync = False           # entries or term/vote written without a sync
        self._refresh_ends()

    # ---- mapping ------------------------------------------------------------

    def _refresh_ends(self) -> None:
        """Caches the first and last entries (O(1) journal[0] / journal[-1])."""
        if self._cleared or self._last < self._first:
            self._head = self._tail = None
            return
        self._head = self._read(self._first)
        self._tail = self._head if self._last == self._first else self._read(self._last)

    def _to_tuple(self, entry: Entry) -> JournalEntry:
        return (entry.data, entry.index - self._offset, entry.term)

    def _read(self, rw_index: int) -> JournalEntry:
        return self._to_tuple(self._log[rw_index])

    # ---- PySyncObj's journal interface ---------------------------------------

    def __len__(self) -> int:
        if self._cleared:
            return 0
        return self._last - self._first + 1

    def __getitem__(self, item: Union[int, slice]) -> Union[JournalEntry, Sequence[JournalEntry]]:
        """``journal[pos]`` (negative too) is an entry tuple; ``journal[a:b]``
        a :class:`JournalSlice`, read from raftwal as it is iterated."""
        length = len(self)
        if isinstance(item, slice):
            start, stop, step = item.indices(length)
            if step != 1:
                return list(self[:])[item]  # never asked by PySyncObj: read all, then step
            if start >= stop:
                return []
            return JournalSlice(self, self._first + start, self._first + stop)
        pos = operator.index(item)
        if pos < 0:
            pos += length
        if not 0 <= pos < length:
            raise IndexError("journal index out of range")
        if pos == 0:
            return self._head  # type: ignore[return-value]
        if pos == length - 1:
            return self._tail  # type: ignore[return-value]
        return self._read(self._first + pos)

    def add(self, command: bytes, idx: int, term: int) -> None:
        """Appends entry ``(command, idx, term)``; ``idx`` must follow the last
        entry's (any index when the journal is empty). Not durable until
        :meth:`sync`."""
        data = bytes(command)
        if len(self) == 0:
            rw_index = self._restart_at(idx)
        else:
            rw_index = idx + self._offset
            if rw_index != self._last + 1:
                raise ValueError(
                    f"raftwal.pysyncobj: add of index {idx} after index {self._last - self._offset}: "
                    "journal indexes must be consecutive")
        entry_type = data[0] if data else 0
        self._log.append(Entry(rw_index, term, data, entry_type), sync=False)
        self._needs_sync = True
        self._last = rw_index
        self._tail = (data, idx, term)
        if self._head is None:
            self._head = self._tail

    def clear(self) -> None:
        """Empties the journal (on disk with the next :meth:`add`)."""
        self._cleared = True
        self._head = self._tail = None

    def deleteEntriesFrom(self, entryFrom: int) -> None:  # noqa: N802 - PySyncObj's name
        """Drops positions ``entryFrom`` and above (``del journal[entryFrom:]``).
        Durable on return."""
        start = slice(entryFrom, None).indices(len(self))[0]
        if start >= len(self):
            return
        rw_from = self._first + start
        self._lower_commit_below(rw_from)
        self._log.truncate(rw_from)
        self._last = rw_from - 1
        self._refresh_ends()

    def deleteEntriesTo(self, entryTo: int) -> None:  # noqa: N802
        """Drops positions below ``entryTo`` (``journal = journal[entryTo:]``),
        after making the full dump that covers them durable. Durable on return."""
        end = slice(None, entryTo).indices(len(self))[1]
        if end <= 0:
            return
        self._make_dump_durable()
        self._log.purge(self._first + end - 1)
        self._first, self._last = self._log.bounds()
        self._refresh_ends()

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:  # noqa: N802
        """Remembers the commit index; written with the next hard state write
        (it need not be durable: a lower commit index after a crash is safe)."""
        self._commit_rw = max(0, raftCommitIndex + self._offset)

    def getRaftCommitIndex(self) -> int:  # noqa: N802
        """The commit index recorded on disk (1, PySyncObj's default, if none)."""
        commit = self._hs.commit
        if commit < max(self._base, 1):
            return 1
        return max(1, commit - self._offset)

    def onOneSecondTimer(self) -> None:  # noqa: N802
        """Writes a changed commit index (without a sync)."""
        self._write_hardstate(self._hs.term, self._hs.vote)

    def flush(self) -> None:
        """Same as :meth:`sync` (FileJournal's name)."""
        self.sync()

    def _destroy(self) -> None:
        """Writes the commit index, syncs and closes the log."""
        if not self._log.closed:
            try:
                self.onOneSecondTimer()
            finally:
                self._log.close()

    # ---- beyond PySyncObj's interface -----------------------------------------

    @property
    def path(self) -> str:
        """The log directory."""
        return self._path

    @property
    def hard_state(self) -> HardState:
        """The hard state as last written (raftwal's ``(term, vote, commit)``;
        ``vote`` is :func:`vote_hash` of the node id, commit a raftwal index)."""
        return self._hs

    def save_term_and_vote(self, term: int, voted_for: Optional[str]) -> None:
        """Writes term and vote (and a changed commit index) into the hard
        state when they changed, without a sync; :meth:`sync` makes them durable."""
        vote = 0 if voted_for is None else vote_hash(voted_for)
        if (term, vote) != (self._hs.term, self._hs.vote):
            self._needs_sync = True
        self._write_hardstate(term, vote)

    def load_term_and_vote(self, node_ids: Iterable[str]) -> Tuple[int, Optional[str]]:
        """The stored term and vote; the vote is mapped back to one of
        ``node_ids`` (see :func:`vote_from_hash`)."""
        return self._hs.term, vote_from_hash(self._hs.vote, node_ids)

    def sync(self) -> None:
        """Makes every add and every term/vote change so far durable (one
        fdatasync; nothing when there is nothing new)."""
        if self._needs_sync:
            self._log.sync()
            self._needs_sync = False

    # ---- internals -------------------------------------------------------------

    def _write_hardstate(self, term: int, vote: int) -> None:
        commit = min(self._commit_rw, self._last)
        hs = HardState(term, vote, commit)
        if hs != self._hs:
            self._log.set_hardstate(hs, sync=False)
            self._hs = hs

    def _lower_commit_below(self, rw_from: int) -> None:
        """raftwal refuses to remove entries at or below the recorded commit
        index. PySyncObj removes only uncommitted entries (or re-adds the same
        ones after a stale append-entries); the journal obeys its caller and
        lowers the recorded commit first."""
        if self._hs.commit >= rw_from:
            self._commit_rw = min(self._commit_rw, rw_from - 1)
            self._write_hardstate(self._hs.term, self._hs.vote)

    def _make_dump_durable(self) -> None:
        if self._dump_file is not None:
            _fsync_file_and_dir(self._dump_file)

    def _restart_at(self, idx: int) -> int:
        """Prepares an empty (or cleared) journal to take entry ``idx`` and
        returns its raftwal index. Durable on return."""
        target = idx + self._offset
        dropping = self._cleared and self._last >= self._first
        if dropping:
            self._make_dump_durable()
        if target > self._last:
            self._log.purge(target - 1)  # a no-op when target is the first index
        elif target >= self._first:
            self._lower_commit_below(target)
            self._log.truncate(target)
            self._log.purge(target - 1)
        else:
            # raftwal never goes back below its first index: map PySyncObj's
            # indexes onto fresh raftwal indexes from here on. The new mapping
            # is recorded first; an open that finds entries below its base
            # finishes the purge.
            base = max(self._last + 1, self._first)
            offset = base - idx
            self._log.set_metadata(_META_PREFIX + b"offset=%d base=%d" % (offset, base))
            self._log.purge(base - 1)
            self._offset, self._base, target = offset, base, base
            self._commit_rw = min(self._commit_rw, base - 1)
        self._first, self._last = self._log.bounds()
        self._cleared = False
        self._head = self._tail = None
        return target


# ---------------------------------------------------------------------------
# SyncObj: PySyncObj's SyncObj on a Journal
# ---------------------------------------------------------------------------

_pending = threading.local()   # the binding whose constructor runs on this thread
_hook_lock = threading.Lock()


class _Binding:
    """Ties one SyncObj to its Journal: restores term and vote, holds the
    node's outgoing messages until the tick's changes are durable."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._syncobj: Optional[Callable[[], Any]] = None
        self._outbox: List[Tuple[Callable[[Any, Any], Any], Any, Any]] = []
        self._outbox_lock = threading.Lock()

    def take_journal(self, syncobj: Any) -> Journal:
        """Called from inside SyncObj.__init__ where it creates its journal:
        after it set term 0 and no vote, before anything can send."""
        missing = [name for name in _PRIVATE_ATTRIBUTES if name not in vars(syncobj)]
        if missing:
            raise RuntimeError(_unsupported(f"SyncObj has no {', '.join(missing)} when it creates its journal"))
        self._syncobj = weakref.ref(syncobj)
        node_ids = [node.id for node in self._nodes(syncobj)]
        term, voted_for = self.journal.load_term_and_vote(node_ids)
        syncobj._SyncObj__raftCurrentTerm = term
        syncobj._SyncObj__votedForNodeId = voted_for
        return self.journal

    @staticmethod
    def _nodes(syncobj: Any) -> List[Any]:
        nodes = list(syncobj._SyncObj__otherNodes)
        if syncobj._SyncObj__selfNode is not None:
            nodes.append(syncobj._SyncObj__selfNode)
        return nodes

    def hook_send(self, transport: Any) -> None:
        """Makes ``transport.send`` queue the message for :meth:`on_tick`."""
        send = transport.send

        def held_send(node: Any, message: Any) -> None:
            with self._outbox_lock:
                self._outbox.append((send, node, message))

        transport.send = held_send

    def on_tick(self) -> None:
        """Runs once per tick in the tick thread: term, vote and entries of the
        tick become durable (one sync), then the held messages leave.

        Why this also covers a leader counting its own entries toward a
        commit (which PySyncObj does at the start of a tick): a leader adds
        entries in its tick before this callback runs, or, for the NO_OP of a
        new term, while receiving votes; in a cluster of two or more nodes a
        commit also needs a follower's acknowledgement of the entry, which
        it can only get from a message sent here after the sync, and a
        single node becomes leader inside its tick, before this runs.
        """
        syncobj = self._syncobj() if self._syncobj is not None else None
        if syncobj is None:
            return
        try:
            self.journal.save_term_and_vote(syncobj._SyncObj__raftCurrentTerm,
                                            syncobj._SyncObj__votedForNodeId)
            self.journal.sync()
        except Exception:
            # Nothing may be sent that the disk does not hold: the exception
            # ends PySyncObj's tick thread (the node stops). Say so in the log.
            logging.getLogger(__name__).critical(
                "raftwal.pysyncobj: the journal at %s failed; this node stops", self.journal.path, exc_info=True)
            raise
        with self._outbox_lock:
            outbox, self._outbox = self._outbox, []
        for send, node, message in outbox:
            send(node, message)


def _install_journal_hook(syncobj_module: Any) -> None:
    """Replaces pysyncobj.syncobj.createJournal (looked up by SyncObj.__init__
    at call time) with a function that returns the raftwal journal when a
    raftwal SyncObj is being constructed on this thread, and otherwise does
    what the original does."""
    with _hook_lock:
        original = syncobj_module.createJournal
        if getattr(original, "_raftwal_hook", False):
            return

        def createJournal(journalFile: Optional[str] = None) -> Any:  # noqa: N802, N803
            pending = getattr(_pending, "binding", None)
            if pending is None:
                return original(journalFile)
            binding, syncobj = pending
            _pending.binding = None
            return binding.take_journal(syncobj)

        createJournal._raftwal_hook = True  # type: ignore[attr-defined]
        syncobj_module.createJournal = createJournal


def _import_pysyncobj() -> Any:
    try:
        import pysyncobj
        import pysyncobj.syncobj
        import pysyncobj.version
    except ImportError as error:
        raise ImportError(
            "raftwal.pysyncobj needs PySyncObj, which is not installed "
            "(Debian: apt-get install python3-pysyncobj; or pip install pysyncobj)") from error
    if not callable(getattr(pysyncobj.syncobj, "createJournal", None)) or \
            "transportClass" not in inspect.signature(pysyncobj.SyncObj.__init__).parameters:
        raise ImportError(_unsupported("pysyncobj.syncobj has no createJournal, or SyncObj no transportClass"))
    return pysyncobj


def _unsupported(what: str) -> str:
    try:
        import pysyncobj.version
        version = pysyncobj.version.VERSION
    except (ImportError, AttributeError):
        version = "unknown"
    return (f"raftwal.pysyncobj cannot run on this PySyncObj (version {version}): {what}. "
            f"It was tested with PySyncObj {', '.join(TESTED_PYSYNCOBJ_VERSIONS)}.")


_MISSING_DUMP = (
    "raftwal.pysyncobj: conf.fullDumpFile must be set together with conf.journalFile. "
    "PySyncObj compacts its journal (after conf.logCompactionMinEntries entries or "
    "conf.logCompactionMinTime seconds) and keeps the state of the dropped entries only "
    "in the full dump: without one, a restarted node loses that state.")


def _make_syncobj_class(pysyncobj: Any) -> type:
    base = pysyncobj.SyncObj
    base_signature = inspect.signature(base.__init__)

    class SyncObj(base):  # type: ignore[misc, valid-type]
        """``pysyncobj.SyncObj`` whose journal is a raftwal log.

        Same signature and behaviour as ``pysyncobj.SyncObj``.
        ``conf.journalFile`` names the raftwal log directory (created when
        absent) and ``conf.fullDumpFile`` is then required. With
        ``conf.journalFile = None`` this is plain PySyncObj (an in-memory
        journal). See the module documentation for what it guarantees.
        """

        def __init__(self, selfNode: Any, otherNodes: Any, conf: Any = None,  # noqa: N803
                     consumers: Any = None, *args: Any, **kwargs: Any) -> None:
            if conf is None:
                conf = pysyncobj.SyncObjConf()
            bound = base_signature.bind(self, selfNode, otherNodes, conf, consumers, *args, **kwargs)
            bound.apply_defaults()
            # Set before the base constructor so that PySyncObj counts it among
            # its own attributes and never pickles it into a dump.
            self._raftwal_binding = None
            if conf.journalFile is None:
                base.__init__(*bound.args, **bound.kwargs)
                return
            if conf.fullDumpFile is None:
                raise ValueError(_MISSING_DUMP)
            binding = _Binding(Journal(conf.journalFile, dump_file=conf.fullDumpFile))
            self._raftwal_binding = binding
            self._raftwal_hook_transport(bound, binding)
            _install_journal_hook(pysyncobj.syncobj)
            _pending.binding = (binding, self)
            try:
                base.__init__(*bound.args, **bound.kwargs)
            except BaseException:
                binding.journal._destroy()
                raise
            finally:
                _pending.binding = None
            if binding.journal is not getattr(self, "_SyncObj__raftLog", None):
                self.destroy()
                binding.journal._destroy()
                raise RuntimeError(_unsupported("SyncObj did not create its journal through createJournal"))
            self.addOnTickCallback(binding.on_tick)

        @staticmethod
        def _raftwal_hook_transport(bound: inspect.BoundArguments, binding: _Binding) -> None:
            transport = bound.arguments.get("transport")
            if transport is not None:
                binding.hook_send(transport)
                return
            transport_class = bound.arguments["transportClass"]

            def make_transport(syncobj: Any, self_node: Any, other_nodes: Any) -> Any:
                made = transport_class(syncobj, self_node, other_nodes)
                binding.hook_send(made)
                return made

            bound.arguments["transportClass"] = make_transport

        @property
        def raftwalJournal(self) -> Optional[Journal]:  # noqa: N802 - PySyncObj's naming style
            """The raftwal :class:`Journal` (None with ``journalFile = None``)."""
            binding = self._raftwal_binding
            return binding.journal if binding is not None else None

    SyncObj.__module__ = __name__
    SyncObj.__qualname__ = "SyncObj"
    return SyncObj


# Names re-exported from pysyncobj so that changing the import is the whole
# migration; resolved (and pysyncobj imported) on first use.
_REEXPORTED = ("SyncObjConf", "SyncObjConsumer", "SyncObjException", "replicated",
               "replicated_sync", "FAIL_REASON", "SERIALIZER_STATE")
_lazy_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name != "SyncObj" and name not in _REEXPORTED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lazy_lock:
        if name in globals():
            return globals()[name]
        pysyncobj = _import_pysyncobj()
        if name == "SyncObj":
            value = _make_syncobj_class(pysyncobj)
        else:
            value = getattr(pysyncobj, name)
        globals()[name] = value
        return value
