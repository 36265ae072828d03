"""raftwal.aio: the log for asyncio programs, without blocking the loop.

::

    import raftwal, raftwal.aio

    async with raftwal.aio.open("/var/lib/node/wal") as log:
        index = log.last_index + 1          # no await between this ...
        await log.append([raftwal.Entry(index, 1, b"hello")])  # ... and the write

A durable append from the loop thread would stop every coroutine for an
fdatasync. Here the loop thread only *writes* (``RAFTWAL_NOSYNC``: a copy
into the OS, which survives a crash of the process), synchronously, when
``append()`` is called; the wait for the disk happens on the log's worker
thread, and all the coroutines waiting at the same time share one
fdatasync (group commit). Reads stay plain (synchronous) calls: they never
wait for an fdatasync.

Every writing method takes effect when it is *called*, not when the
coroutine it returns is first awaited: appends and hard states are written
at once, and truncate, purge, save_snapshot and set_metadata are queued for
the worker thread at once. So a call applies after the calls made before
it, even when they are awaited later or in another order (``a =
log.append(...); t = log.truncate(i); await t; await a``), and a call
always comes after every append made (by any coroutine) before it. The
exception: an append or hard state made *while* a truncate, purge,
save_snapshot or set_metadata is queued or running is written at once, so
it may land before it (``s = log.save_snapshot(i, t); log.set_hardstate(
HardState(t, v, i))`` may raise InvalidArgument, the commit index beyond
both the log and the snapshot not yet saved): await the queued call
first.

An :class:`AsyncLog` belongs to the event loop that opened it: call its
methods from that loop's thread. The underlying :class:`raftwal.Log`
(:attr:`AsyncLog.sync_log`) may also be used from other threads, as any Log.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import os
import threading
import time
import warnings
from typing import Any, Callable, Coroutine, Deque, Dict, Generator, Iterable, List, Optional, Tuple, Union

from ._codec import check_compress_min, check_key, compression_code
from ._errors import ClosedError
from ._log import EntryIterator, EntryLike, HardStateLike, Log, PathLike
from ._types import BytesLike, Entry, HardState, Snapshot

__all__ = ["AsyncLog", "open"]

#: How long the worker waits, before its next sync, for the loop to resume
#: the waiters the last sync settled (see _Worker._wait_for_work).
GATHER_WAIT = 0.0005


def _fresh_error(error: BaseException) -> BaseException:
    """A copy of ``error`` for one more waiter: an exception object raised in
    several tasks would collect all their tracebacks."""
    try:
        return copy.copy(error)
    except Exception:  # an exception class copy cannot rebuild
        return error


class _Job:
    """A call that always blocks (truncate, purge, ...), queued for the worker."""

    __slots__ = ("call", "future", "waiter")

    def __init__(self, call: Callable[[], Any], future: "asyncio.Future[Any]") -> None:
        self.call = call
        self.future = future
        self.waiter: Optional["Coroutine[Any, Any, Any]"] = None  # submit's coroutine

    def abandoned(self) -> bool:
        """Its coroutine was closed before it ran: a task cancelled before
        its first step throws CancelledError into a coroutine that never
        started, so _outcome's except clause, which unqueues the job, never
        runs."""
        return self.waiter is not None and self.waiter.cr_frame is None


class _Worker:
    """The log's one thread, and the bookkeeping of who waits for what.

    The thread opens the log, then serves two kinds of work until close():
    syncs that make the loop's writes durable, and the calls that always
    wait for the disk (truncate, purge, save_snapshot, set_metadata); last
    it closes the log and exits. One thread per log: nothing is left behind
    after close(), and no executor of the loop is used.

    Group commit without polling, through *write points*:

    - After each write the loop thread made (or when a coroutine asks for
      a sync), it takes the next write point: ``written += 1``, under
      ``_cond``. A durable wait appends ``(point, future)`` to ``_waiters``,
      raises ``requested`` to its point and notifies ``_cond``; the
      coroutine then sleeps on its asyncio future, and the loop in its
      selector.
    - The worker sleeps on ``_cond`` until ``requested > settled``. Then it
      reads ``target = written`` and calls raftwal_log_sync() (the GIL is
      released meanwhile). That sync began after every write up to
      ``target`` had returned, so it covered them all: it settles every
      waiter with a point <= target, however many there are, with one
      fdatasync. Writes made while it ran get the next round; before it
      starts, the worker lets the loop resume the waiters this sync settled
      (``_gather``, at most GATHER_WAIT), so that their next batches join
      it too instead of waiting for the round after.
    - The verdict reaches the loop through ``call_soon_threadsafe()``,
      which wakes the loop's selector (its self-pipe); ``_settle`` then
      resolves the futures in point order. Neither side polls.

    A cancelled or closed waiter's future is done already; ``_settle`` skips
    it. The accounting (``requested``, ``settled``) never depends on a
    future, so a cancellation cannot leave a sync half-accounted: the sync
    it asked for still runs and settles whoever else waits.

    ``written``, ``requested``, ``settled``, ``jobs``, ``stopping`` are
    shared with the thread, under ``_cond``; ``_waiters`` is touched under
    ``_cond`` too, and popped only on the loop thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._cond = threading.Condition(threading.Lock())
        self._written = 0    # write points handed out
        self._requested = 0  # highest point some waiter needs durable
        self._settled = 0    # highest point the thread gave a verdict for
        self._gathered = 0   # highest settled point whose waiters the loop resumed
        self._jobs: Deque[_Job] = collections.deque()
        self._stopping = False
        self._close_future: Optional["asyncio.Future[None]"] = None
        self._waiters: Deque[Tuple[int, "asyncio.Future[None]"]] = collections.deque()
        self.thread: Optional[threading.Thread] = None

    # ---- the loop's side ---------------------------------------------------

    def start(self, open_log: Callable[[], Log], opened: "asyncio.Future[Log]") -> None:
        """Starts the thread, which opens the log and resolves ``opened``."""
        self.thread = threading.Thread(
            target=self._main, args=(open_log, opened), name="raftwal-aio", daemon=True)
        self.thread.start()

    def wait_point(self) -> "asyncio.Future[None]":
        """Takes the next write point (every write the caller made before
        is at or below it) and returns a future settled once it is durable
        (or its sync failed)."""
        future = self.loop.create_future()
        future.add_done_callback(_retrieved)  # its coroutine may never run
        with self._cond:
            self._written += 1
            point = self._written
            self._waiters.append((point, future))
            self._requested = point
            # While the loop has not yet resumed the waiters of the last
            # sync, the worker waits for _gather, which is on its way (the
            # loop runs it after them): waking it now would only put it back
            # to sleep, and cost a thread switch per commit.
            if self._gathered >= self._settled:
                self._cond.notify()
        return future

    def _settle(self, target: int, error: Optional[BaseException]) -> None:
        """On the loop: the sync up to ``target`` succeeded (error None) or
        failed; resolves every waiter at or below it."""
        resumed = False
        while True:
            with self._cond:
                if not self._waiters or self._waiters[0][0] > target:
                    break
                _, future = self._waiters.popleft()
            if future.done():  # cancelled, or failed by close()
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(_fresh_error(error))
            resumed = True
        if resumed:  # after the resumed tasks' steps, which set_result queued
            self.loop.call_soon(self._gather, target)
        else:
            self._gather(target)

    def submit(self, call: Callable[[], Any]) -> "Coroutine[Any, Any, Any]":
        """Queues ``call`` for the thread now (behind every call queued
        before, and after every write the loop made before) and returns a
        coroutine that waits for its result. If that coroutine is cancelled
        while the call is still queued, the call never runs; cancelled
        after, the call runs to the end unobserved. A coroutine that is
        never awaited leaves the call to run, unobserved."""
        job = _Job(call, self.loop.create_future())
        job.future.add_done_callback(_retrieved)
        with self._cond:
            if self._stopping:
                raise ClosedError("raftwal.aio: the log is closed")
            job.waiter = self._outcome(job)
            self._jobs.append(job)
            self._cond.notify()
        return job.waiter

    async def _outcome(self, job: _Job) -> Any:
        try:
            return await job.future
        except asyncio.CancelledError:
            with self._cond:
                if job in self._jobs:
                    self._jobs.remove(job)
            raise

    def stop(self, closed: Optional["asyncio.Future[None]"]) -> None:
        """Asks the thread to close the log and exit (``closed`` gets the
        outcome of the close, if given), and fails every pending wait and
        queued call with ClosedError. Only the first call counts."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._close_future = closed
            jobs, self._jobs = list(self._jobs), collections.deque()
            waiters, self._waiters = list(self._waiters), collections.deque()
            self._cond.notify()
        for _, future in waiters:
            if not future.done():
                future.set_exception(ClosedError("raftwal.aio: the log was closed while this waited for durability"))
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(ClosedError("raftwal.aio: the log was closed before this call ran"))

    @property
    def stopping(self) -> bool:
        return self._stopping

    # ---- the thread's side ------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody can await any more
            pass

    def _main(self, open_log: Callable[[], Log], opened: "asyncio.Future[Log]") -> None:
        try:
            log = open_log()
        except BaseException as error:  # noqa: BLE001 - handed to the opener
            self._post(_resolve, opened, None, error)
            return
        with self._cond:
            abandoned = self._stopping  # the opener was cancelled meanwhile
        if not abandoned:
            self._post(_resolve, opened, log, None)
            self._serve(log)
        error = None
        try:
            log.close()
        except BaseException as exc:  # noqa: BLE001 - handed to close()
            error = exc
        if self._close_future is not None:
            self._post(_resolve, self._close_future, None, error)

    def _serve(self, log: Log) -> None:
        while True:
            with self._cond:
                self._wait_for_work()
                if self._stopping:
                    return
                job = self._jobs.popleft() if self._jobs else None
                target = self._written
            if job is not None and job.abandoned():
                continue
            if job is not None:
                self._run_job(job)
            else:
                self._sync(log, target)

    def _wait_for_work(self) -> None:
        """Sleeps until there is a call to run, a sync to make, or a stop.
        Before a sync, it first lets the loop resume the waiters the last
        sync settled (``_gathered``), up to GATHER_WAIT seconds: they write
        their next batch at once, and it joins the batches written during
        that sync, so one fdatasync takes the whole crowd rather than every
        other half of it. _cond held."""
        gather_deadline = None
        while not (self._stopping or self._jobs):
            if self._requested > self._settled:
                if self._gathered >= self._settled:
                    return
                now = time.monotonic()
                if gather_deadline is None:
                    gather_deadline = now + GATHER_WAIT
                if now >= gather_deadline:
                    return
                self._cond.wait(gather_deadline - now)
            else:
                self._cond.wait()

    def _gather(self, target: int) -> None:
        """On the loop, after the tasks ``_settle`` resumed took their step
        (call_soon callbacks run in order): they have written and asked for
        their next sync."""
        with self._cond:
            self._gathered = max(self._gathered, target)
            self._cond.notify()

    def _run_job(self, job: _Job) -> None:
        try:
            result = job.call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            self._post(_resolve, job.future, None, error)
        else:
            self._post(_resolve, job.future, result, None)

    def _sync(self, log: Log, target: int) -> None:
        error: Optional[BaseException] = None
        try:
            log.sync()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            error = exc
        with self._cond:
            # Settled either way: after a failure the handle is failed and
            # later waits get their own (failing) sync, never a retry loop.
            self._settled = max(self._settled, target)
        self._post(self._settle, target, error)


def _retrieved(future: "asyncio.Future[Any]") -> None:
    """A done callback that marks the outcome seen: a future whose awaiting
    coroutine was never run (dropped, or its task cancelled before its
    first step) would otherwise log "exception was never retrieved"."""
    if not future.cancelled():
        future.exception()


async def _wait(future: "asyncio.Future[None]") -> None:
    await future


async def _done() -> None:
    return None


def _resolve(future: "asyncio.Future[Any]", result: Any, error: Optional[BaseException]) -> None:
    """On the loop: hands a thread's outcome to ``future`` unless it is done
    (cancelled) already."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class AsyncLog:
    """An open raftwal log for asyncio (see :func:`open`).

    Writes that may wait for the disk are coroutines; reads are the plain
    properties and methods of :class:`raftwal.Log`. Use it from the event
    loop that opened it. :attr:`sync_log` is the underlying
    :class:`raftwal.Log`.
    """

    def __init__(self, sync_log: Log, worker: _Worker) -> None:
        self._log = sync_log
        self._worker = worker
        self._pid = os.getpid()
        self._closing = False
        self._closed: Optional["asyncio.Future[None]"] = None

    # ---- lifetime ---------------------------------------------------------

    @property
    def sync_log(self) -> Log:
        """The underlying :class:`raftwal.Log` (blocking calls; thread-safe)."""
        return self._log

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began (or the log was closed under it)."""
        return self._closing or self._log.closed

    async def close(self) -> None:
        """Fails every pending durable wait (``append``, ``sync``,
        ``wait_durable``, ...) and every queued call with
        :class:`ClosedError`, then closes the log on its worker thread (a
        final sync, as :meth:`raftwal.Log.close`) and waits for that thread
        to exit. Idempotent; concurrent and later calls wait for the same
        close (only the first one raises its error). The close goes on if
        the awaiting task is cancelled.

        Raises:
            RaftwalIOError: the final sync failed (the log is closed anyway).
        """
        starter = self._closed is None
        if starter:
            self._closing = True
            self._closed = self._worker.loop.create_future()
            # Its error is raised to the first closer; if that one was
            # cancelled, nobody asks for it: no "never retrieved" report.
            self._closed.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._worker.stop(self._closed)
        closed = self._closed
        try:
            await asyncio.shield(closed)
        except asyncio.CancelledError:
            raise
        except BaseException:
            if starter:  # the close's own error, reported once
                raise
        finally:
            if closed.done():
                self._join()

    def _join(self) -> None:
        # The thread posts the close's outcome as its very last action: the
        # join waits only for it to return from that call.
        thread = self._worker.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    async def __aenter__(self) -> "AsyncLog":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __del__(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is None or worker.stopping or getattr(self, "_pid", None) != os.getpid():
            return
        worker.stop(None)  # the thread closes the log and exits
        warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)

    def __repr__(self) -> str:
        return f"<raftwal.aio.AsyncLog {self._log!r}>"

    def _check_open(self) -> None:
        if self._closing:
            raise ClosedError("raftwal.aio: the log is closed")
        if os.getpid() != self._pid:
            raise ClosedError("raftwal.aio: this log was opened by the parent process (fork)")

    def _wants_sync(self, sync: Optional[bool]) -> bool:
        return sync is True or (sync is None and not self._log._nosync)

    # ---- writing ----------------------------------------------------------

    def append(
        self,
        entries: Union[Entry, Iterable[EntryLike]],
        hardstate: Optional[HardStateLike] = None,
        *,
        sync: Optional[bool] = None,
    ) -> "Coroutine[Any, Any, None]":
        """Appends one atomic batch, as :meth:`raftwal.Log.append`; await
        the result to return once it is durable (``sync`` None: unless the
        log was opened with ``sync=False``; ``sync=False``: at once).

        The batch is written on the loop thread when ``append`` is called,
        before the returned coroutine is awaited:
        ``await log.append([Entry(log.last_index + 1, ...)])`` is safe
        against sibling coroutines, the entries are readable at once, and
        calls apply in the order they are made (see the module's
        docstring). Only the wait for the disk suspends, and concurrent
        waits share fdatasyncs.

        Cancelling the wait never un-writes the batch: it stays in the log
        (as if appended with ``sync=False``: it survives a crash of the
        process, and becomes durable with the next sync), and the caller
        does not learn whether it is durable yet (``durable_index`` or
        ``await log.sync()`` tell).

        Raises:
            The errors of :meth:`raftwal.Log.append`, from the write (raised
            by the call itself); RaftwalIOError from the sync; ClosedError
            if the log is closed (by the call), also while this waits.
        """
        self._check_open()
        self._log.append(entries, hardstate, sync=False)
        if self._wants_sync(sync):
            return _wait(self._worker.wait_point())
        return _done()

    def set_hardstate(self, hardstate: HardStateLike, *, sync: Optional[bool] = None
                      ) -> "Coroutine[Any, Any, None]":
        """Sets the hard state alone, as :meth:`raftwal.Log.set_hardstate`:
        written when called, then durable as :meth:`append` (and cancelled
        the same way)."""
        self._check_open()
        self._log.set_hardstate(hardstate, sync=False)
        if self._wants_sync(sync):
            return _wait(self._worker.wait_point())
        return _done()

    def sync(self) -> "Coroutine[Any, Any, None]":
        """Makes every change made before the call (by any thread) durable,
        sharing the fdatasync with concurrent waiters. Cancelling the wait
        does not stop the sync.

        Raises:
            RaftwalIOError, ReadOnlyError, ClosedError.
        """
        self._check_open()
        return _wait(self._worker.wait_point())

    def wait_durable(self, index: int) -> "Coroutine[Any, Any, None]":
        """Returns once entry ``index`` is durable (or, if ``index`` is past
        the last index, everything written before the call is), sharing
        fdatasyncs. Returns at once, without suspending, when it already is.

        Raises:
            RaftwalIOError, ReadOnlyError (when a sync is needed), ClosedError.
        """
        self._check_open()
        if self._log.durable_index >= index:
            return _done()
        return _wait(self._worker.wait_point())

    def truncate(self, from_index: int) -> "Coroutine[Any, Any, None]":
        """:meth:`raftwal.Log.truncate`, run on the log's worker thread (it
        always waits for the disk), queued when called: after every append
        made before the call, in call order with the other queued calls.
        Appends made while it is queued or running may land before or after
        it: do not append while truncating. If the awaiting coroutine is
        cancelled while the call is still queued, it does not run; once it
        started, it completes."""
        self._check_open()
        return self._worker.submit(lambda: self._log.truncate(from_index))

    def purge(self, upto_index: int) -> "Coroutine[Any, Any, None]":
        """:meth:`raftwal.Log.purge`, run on the log's worker thread
        (ordering and cancellation as :meth:`truncate`)."""
        self._check_open()
        return self._worker.submit(lambda: self._log.purge(upto_index))

    def save_snapshot(self, index: int, term: int, meta: BytesLike = b"") -> "Coroutine[Any, Any, None]":
        """:meth:`raftwal.Log.save_snapshot`, run on the log's worker
        thread (ordering and cancellation as :meth:`truncate`)."""
        self._check_open()
        return self._worker.submit(lambda: self._log.save_snapshot(index, term, meta))

    def set_metadata(self, data: BytesLike) -> "Coroutine[Any, Any, None]":
        """:meth:`raftwal.Log.set_metadata`, run on the log's worker thread
        (ordering and cancellation as :meth:`truncate`)."""
        self._check_open()
        return self._worker.submit(lambda: self._log.set_metadata(data))

    # ---- reading: plain calls on the underlying Log ------------------------

    @property
    def path(self) -> Union[str, bytes]:
        """The log's directory, as given to open."""
        return self._log.path

    @property
    def readonly(self) -> bool:
        """True if the log was opened read-only."""
        return self._log.readonly

    @property
    def first_index(self) -> int:
        """See :attr:`raftwal.Log.first_index`."""
        return self._log.first_index

    @property
    def last_index(self) -> int:
        """See :attr:`raftwal.Log.last_index`."""
        return self._log.last_index

    @property
    def durable_index(self) -> int:
        """See :attr:`raftwal.Log.durable_index`."""
        return self._log.durable_index

    def bounds(self) -> Tuple[int, int]:
        """See :meth:`raftwal.Log.bounds`."""
        return self._log.bounds()

    def __len__(self) -> int:
        return len(self._log)

    def __contains__(self, index: object) -> bool:
        return index in self._log

    def __getitem__(self, index: Union[int, slice]) -> Union[Entry, List[Entry]]:
        """See :meth:`raftwal.Log.__getitem__`."""
        return self._log[index]

    def entries(self, lo: Optional[int] = None, hi: Optional[int] = None,
                max_bytes: Optional[int] = None) -> EntryIterator:
        """See :meth:`raftwal.Log.entries`."""
        return self._log.entries(lo, hi, max_bytes)

    def term(self, index: int) -> int:
        """See :meth:`raftwal.Log.term`."""
        return self._log.term(index)

    @property
    def hardstate(self) -> HardState:
        """See :attr:`raftwal.Log.hardstate`."""
        return self._log.hardstate

    @property
    def snapshot(self) -> Snapshot:
        """See :attr:`raftwal.Log.snapshot`."""
        return self._log.snapshot

    @property
    def metadata(self) -> bytes:
        """See :attr:`raftwal.Log.metadata`."""
        return self._log.metadata

    def stats(self) -> Dict[str, int]:
        """See :meth:`raftwal.Log.stats`."""
        return self._log.stats()


class _Opening:
    """What :func:`open` returns: await it for the log, or use it as an
    async context manager that closes the log on exit."""

    def __init__(self, path: PathLike, options: Dict[str, Any]) -> None:
        self._path = path
        self._options = options
        self._log: Optional[AsyncLog] = None

    async def _open(self) -> AsyncLog:
        if self._log is None:
            self._log = await _open_on_thread(self._path, self._options)
            # The key, if any, is kept no longer than the open: clearing the
            # dict also empties the worker thread's reference to it.
            self._options.clear()
        return self._log

    def __await__(self) -> Generator[Any, None, AsyncLog]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncLog:
        return await self._open()

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._log is not None:
            await self._log.close()


async def _open_on_thread(path: PathLike, options: Dict[str, Any]) -> AsyncLog:
    loop = asyncio.get_running_loop()
    worker = _Worker(loop)
    opened: "asyncio.Future[Log]" = loop.create_future()
    worker.start(lambda: Log(path, **options), opened)
    try:
        sync_log = await opened
    except asyncio.CancelledError:
        worker.stop(None)  # the thread closes what it opens, and exits
        raise
    except BaseException:
        worker.thread.join()  # it posted the error as its last action
        raise
    return AsyncLog(sync_log, worker)


def open(  # noqa: A001 - mirrors raftwal.open
    path: PathLike,
    *,
    create: bool = True,
    readonly: bool = False,
    segment_size: Optional[int] = None,
    sync: bool = True,
    metadata: Optional[BytesLike] = None,
    verify: bool = False,
    file_mode: Optional[int] = None,
    key: Optional[BytesLike] = None,
    compression: Optional[str] = None,
    compress_min: Optional[int] = None,
) -> _Opening:
    """Opens the log in directory ``path`` for asyncio; the arguments are
    those of :func:`raftwal.open`. The open (which may recover a crashed
    log) runs on the log's own worker thread, off the loop. The result is
    awaitable and an async context manager::

        log = await raftwal.aio.open(path)        # close with: await log.close()
        async with raftwal.aio.open(path) as log:  # closed on exit
            ...

    ``key``, ``compression`` and ``compress_min`` are checked at once
    (TypeError, ValueError); the ``_Opening`` holds the key only until the
    open ran.

    Raises (when awaited): the errors of :func:`raftwal.open`
    (:class:`raftwal.EncryptionKeyError` for a wrong or missing key).
    """
    check_key(key)
    compression_code(compression)
    check_compress_min(compress_min)
    options = dict(create=create, readonly=readonly, segment_size=segment_size, sync=sync,
                   metadata=metadata, verify=verify, file_mode=file_mode, key=key,
                   compression=compression, compress_min=compress_min)
    return _Opening(path, options)
