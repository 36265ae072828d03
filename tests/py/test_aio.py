"""raftwal.aio: the asyncio log.

What is checked: both ways of opening (and that the open runs off the
loop); the whole API; that a batch is written when append() is called,
before its coroutine first suspends; that calls apply in the order they are
made, whatever order they are awaited in; that concurrent durable appends share fdatasyncs; that a cancelled
wait leaves the batch written and the accounting right; that close() fails
pending waits with ClosedError and leaves no thread behind; sync errors
reaching every waiter without a retry loop; and a hypothesis test of
interleaved coroutines against the model (model.py).

Tests that need a sync to stay in flight replace the underlying Log's
sync() (which the worker thread calls) by one that waits for a
threading.Event: the test decides when the disk "answers", with no sleeps.
Every test runs under asyncio.wait_for with a bound, so a lost wake-up
fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import threading
import warnings
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import raftwal
import raftwal.aio
from raftwal import Entry, HardState

from conftest import SMALL_SEGMENT
from model import LogModel

BOUND = 60  # seconds any one test may take
EXAMPLE_NUMBERS = itertools.count()


def run(coro):
    """Runs ``coro`` on a fresh loop, bounded; loop errors (an exception in
    a callback, e.g. setting a cancelled future) fail the test."""
    loop_errors: List[dict] = []

    async def bounded():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: loop_errors.append(ctx))
        return await asyncio.wait_for(coro, BOUND)

    result = asyncio.run(bounded())
    assert loop_errors == []
    return result


def aio_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "raftwal-aio"]


class HeldSync:
    """Replaces log.sync_log.sync: each call waits until release()."""

    def __init__(self, sync_log: raftwal.Log) -> None:
        self.real = sync_log.sync
        self.entered = threading.Event()  # a sync call is waiting
        self.go = threading.Event()
        self.calls = 0
        sync_log.sync = self  # type: ignore[method-assign]

    def __call__(self) -> None:
        self.calls += 1
        self.entered.set()
        assert self.go.wait(BOUND)
        self.real()

    async def wait_entered(self) -> None:
        await asyncio.to_thread(self.entered.wait, BOUND)
        assert self.entered.is_set()

    def release(self) -> None:
        self.go.set()


# ---- opening ---------------------------------------------------------------


def test_open_awaitable_and_context_manager(log_dir):
    async def main():
        log = await raftwal.aio.open(log_dir, segment_size=SMALL_SEGMENT)
        assert isinstance(log, raftwal.aio.AsyncLog)
        assert isinstance(log.sync_log, raftwal.Log)
        await log.append([Entry(1, 1, b"a")])
        await log.close()
        assert log.closed
        async with raftwal.aio.open(log_dir) as again:
            assert again.last_index == 1
            assert again[1] == Entry(1, 1, b"a")
        assert again.closed

    run(main())
    assert aio_threads() == []


def test_open_runs_off_the_loop(log_dir, monkeypatch):
    opened_on = []

    class RecordingLog(raftwal.Log):
        def __init__(self, *args, **kwargs):
            opened_on.append(threading.get_ident())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(raftwal.aio, "Log", RecordingLog)

    async def main():
        async with raftwal.aio.open(log_dir):
            pass

    run(main())
    assert len(opened_on) == 1 and opened_on[0] != threading.get_ident()


def test_open_error_leaves_no_thread(log_dir):
    async def main():
        with pytest.raises(raftwal.NotFoundError):
            await raftwal.aio.open(log_dir, create=False)

    run(main())
    assert aio_threads() == []


def test_cancelled_open_closes_the_log(log_dir, monkeypatch):
    entered, go = threading.Event(), threading.Event()

    class SlowLog(raftwal.Log):
        def __init__(self, *args, **kwargs):
            entered.set()
            assert go.wait(BOUND)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(raftwal.aio, "Log", SlowLog)

    async def main():
        task = asyncio.ensure_future(raftwal.aio.open(log_dir))
        await asyncio.to_thread(entered.wait, BOUND)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        go.set()
        for thread in aio_threads():  # it closes what it opened, then exits
            await asyncio.to_thread(thread.join, BOUND)

    run(main())
    assert aio_threads() == []
    with raftwal.open(log_dir) as log:  # LockedError unless the log was closed
        assert log.last_index == 0


# ---- the API ---------------------------------------------------------------


def test_api(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir, segment_size=SMALL_SEGMENT) as log:
            assert (log.first_index, log.last_index, len(log)) == (1, 0, 0)
            await log.append([Entry(1, 1, b"one"), Entry(2, 1, b"two")], HardState(1, 1, 0))
            assert log.durable_index == 2
            assert log.hardstate == HardState(1, 1, 0)
            await log.append(Entry(3, 2, b"three"), sync=False)
            assert log.last_index == 3 and 3 in log and 4 not in log
            await log.sync()
            assert log.durable_index == 3
            await log.append([Entry(4, 2, b"four")], sync=False)
            await log.wait_durable(4)
            assert log.durable_index == 4
            await log.wait_durable(2)  # already durable: returns at once
            await log.wait_durable(100)  # past the end: everything durable
            assert log[2] == Entry(2, 1, b"two")
            assert log[1:3] == [Entry(1, 1, b"one"), Entry(2, 1, b"two")]
            assert [e.index for e in log.entries(2)] == [2, 3, 4]
            assert log.term(3) == 2 and log.bounds() == (1, 4)
            await log.set_hardstate(HardState(2, 1, 2))
            assert log.hardstate == HardState(2, 1, 2)
            await log.truncate(4)
            assert log.last_index == 3
            await log.save_snapshot(2, 1, b"conf")
            assert log.snapshot == raftwal.Snapshot(2, 1, b"conf")
            await log.purge(2)
            assert log.first_index == 3 and log.term(2) == 1
            await log.set_metadata(b"meta")
            assert log.metadata == b"meta"
            with pytest.raises(raftwal.GapError):
                await log.append([Entry(9, 2, b"gap")])
            with pytest.raises(raftwal.CompactedError):  # from the worker thread
                await log.truncate(2)
            assert log.stats()["last_index"] == 3
            assert "path=" in repr(log)
        with pytest.raises(raftwal.ClosedError):
            await log.append([Entry(4, 2, b"late")])
        with pytest.raises(raftwal.ClosedError):
            await log.sync()
        with pytest.raises(raftwal.ClosedError):
            log.last_index
        await log.close()  # idempotent
        with raftwal.open(log_dir) as reopened:
            assert reopened.bounds() == (3, 3)
            assert reopened.hardstate == HardState(2, 1, 2)

    run(main())


def test_log_opened_without_sync(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir, sync=False) as log:
            fsyncs = log.stats()["fsyncs"]
            await log.append([Entry(1, 1, b"a")])  # the log's default: no sync
            assert log.stats()["fsyncs"] == fsyncs
            await log.append([Entry(2, 1, b"b")], sync=True)
            assert log.durable_index == 2

    run(main())


def test_write_happens_before_the_first_suspension(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir) as log:
            held = HeldSync(log.sync_log)
            coro = log.append([Entry(1, 1, b"a")])
            suspended_on = coro.send(None)  # runs the coroutine to its first suspension
            assert isinstance(suspended_on, asyncio.Future)
            assert log.last_index == 1 and log[1].data == b"a"  # written already
            assert not suspended_on.done()
            held.release()
            suspended_on._asyncio_future_blocking = False  # as a Task would, before waiting on it
            await suspended_on
            with pytest.raises(StopIteration):
                coro.send(None)
            assert log.durable_index == 1

    run(main())


def test_calls_apply_in_the_order_they_are_made(log_dir):
    """Append, then truncate / purge / save_snapshot called without an await
    in between: applied in call order, whichever is awaited first, also when
    the append runs in a task that has not started yet."""

    async def main():
        async with raftwal.aio.open(log_dir) as log:
            await log.append([Entry(i, 1, b"x") for i in range(1, 6)])
            # The task's coroutine has not run when the truncate is awaited.
            appended = asyncio.ensure_future(log.append([Entry(6, 2, b"six")]))
            await log.truncate(6)
            await appended
            assert log.last_index == 5, "the truncate ran before the append made before it"
            # Awaited in the reverse order of the calls.
            append = log.append([Entry(6, 3, b"six")])
            truncate = log.truncate(4)
            await truncate
            await append
            assert log.last_index == 3 and log.durable_index == 3
            append = log.append([Entry(4, 3, b"four")], HardState(3, 1, 4))
            snapshot = log.save_snapshot(4, 3, b"snap")
            purge = log.purge(4)
            await purge
            await snapshot
            await append
            assert log.snapshot == raftwal.Snapshot(4, 3, b"snap")
            assert (log.first_index, log.last_index) == (5, 4)

    run(main())


def test_siblings_take_indexes_without_a_lock(log_dir):
    """32 coroutines each append at last_index + 1 with no await in between:
    no batch replaces a sibling's (a write after the first suspension would)."""
    per_task = 20

    async def main():
        async with raftwal.aio.open(log_dir) as log:
            async def writer(k: int) -> None:
                for n in range(per_task):
                    await log.append([Entry(log.last_index + 1, 1, b"%d:%d" % (k, n))])

            await asyncio.gather(*(writer(k) for k in range(32)))
            data = sorted(e.data for e in log.entries())
            assert data == sorted(b"%d:%d" % (k, n) for k in range(32) for n in range(per_task))

    run(main())


def test_group_commit_shares_fsyncs(log_dir):
    per_task = 20

    async def main():
        async with raftwal.aio.open(log_dir) as log:
            before = log.stats()

            async def writer() -> None:
                for _ in range(per_task):
                    await log.append([Entry(log.last_index + 1, 1, b"x" * 100)])

            await asyncio.gather(*(writer() for _ in range(32)))
            after = log.stats()
            appends = after["appends"] - before["appends"]
            fsyncs = after["fsyncs"] - before["fsyncs"]
            assert appends == 32 * per_task
            assert log.durable_index == log.last_index == 32 * per_task
            # One fsync per append would be 640; the loop writes every ready
            # coroutine's batch while one sync runs.
            assert fsyncs * 4 < appends, (fsyncs, appends)

    run(main())


# ---- cancellation ----------------------------------------------------------


def test_cancelled_append_keeps_the_batch(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir) as log:
            held = HeldSync(log.sync_log)
            task = asyncio.ensure_future(log.append([Entry(1, 1, b"a")]))
            await held.wait_entered()  # the worker's sync is in flight
            queued = asyncio.ensure_future(log.append([Entry(2, 1, b"b")]))
            await asyncio.sleep(0)  # queued wrote its batch and waits for the next sync
            assert log.last_index == 2
            task.cancel()
            queued.cancel()
            for t in (task, queued):
                with pytest.raises(asyncio.CancelledError):
                    await t
            assert [e.data for e in log.entries()] == [b"a", b"b"]  # never un-written
            held.release()
            await log.sync()  # accounts for both cancelled waits' syncs, then its own
            assert log.durable_index == 2
            await log.append([Entry(3, 1, b"c")])
            assert log.durable_index == 3
            assert held.calls >= 2

    run(main())
    with raftwal.open(log_dir) as log:
        assert [e.data for e in log.entries()] == [b"a", b"b", b"c"]


def test_cancelled_job_before_it_runs_does_not_run(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir) as log:
            await log.append([Entry(i, 1, b"x") for i in range(1, 6)])
            held = HeldSync(log.sync_log)
            waiting = asyncio.ensure_future(log.sync())
            await held.wait_entered()  # the worker is busy: the truncate queues
            truncate = asyncio.ensure_future(log.truncate(3))
            await asyncio.sleep(0)
            truncate.cancel()
            with pytest.raises(asyncio.CancelledError):
                await truncate
            held.release()
            await waiting
            await log.sync()
            assert log.last_index == 5

    run(main())


def test_job_cancelled_before_its_task_started_does_not_run(log_dir):
    """A task cancelled before its first step (a TaskGroup whose sibling
    failed, wait_for timing out at once) never runs its coroutine's body:
    the queued call must not run either."""

    async def main():
        async with raftwal.aio.open(log_dir) as log:
            await log.append([Entry(i, 1, b"x") for i in range(1, 6)])
            held = HeldSync(log.sync_log)
            waiting = asyncio.ensure_future(log.sync())
            await held.wait_entered()  # the worker is busy: the calls queue
            truncate = asyncio.ensure_future(log.truncate(3))
            purge = asyncio.ensure_future(log.purge(4))
            truncate.cancel()  # no step of it ran
            purge.cancel()
            for task in (truncate, purge):
                with pytest.raises(asyncio.CancelledError):
                    await task
            held.release()
            await waiting
            await log.sync()
            assert (log.first_index, log.last_index) == (1, 5), "a cancelled call ran"

    run(main())


# ---- close -----------------------------------------------------------------


def test_close_fails_pending_waits_and_leaves_no_thread(log_dir):
    async def main():
        log = await raftwal.aio.open(log_dir)
        assert len(aio_threads()) == 1
        held = HeldSync(log.sync_log)
        first = asyncio.ensure_future(log.append([Entry(1, 1, b"a")]))
        await held.wait_entered()
        waits = [asyncio.ensure_future(log.append([Entry(i, 1, b"b")])) for i in (2, 3)]
        waits.append(asyncio.ensure_future(log.wait_durable(3)))
        waits.append(asyncio.ensure_future(log.purge(1)))  # queued behind the sync
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(log.close())
        # Failed at once, while the sync is still held:
        results = await asyncio.gather(first, *waits, return_exceptions=True)
        assert all(isinstance(r, raftwal.ClosedError) for r in results), results
        assert not closing.done()  # it waits for the worker's sync
        held.release()
        await closing
        assert aio_threads() == []
        with pytest.raises(raftwal.ClosedError):
            await log.append([Entry(4, 1, b"c")])

    run(main())
    with raftwal.open(log_dir) as log:  # close ran: the lock is released
        assert log.last_index == 3 and log.first_index == 1  # the purge never ran


def test_close_goes_on_when_its_waiter_is_cancelled(log_dir):
    async def main():
        log = await raftwal.aio.open(log_dir)
        await log.append([Entry(1, 1, b"a")], sync=False)
        held = HeldSync(log.sync_log)
        syncing = asyncio.ensure_future(log.sync())
        await held.wait_entered()
        first = asyncio.ensure_future(log.close())
        second = asyncio.ensure_future(log.close())  # waits for the same close
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(raftwal.ClosedError):
            await syncing
        assert not second.done()
        held.release()
        await second
        assert aio_threads() == []
        await log.close()  # a later close: nothing more to do

    run(main())
    with raftwal.open(log_dir) as log:
        assert log.last_index == 1


def test_forked_child_refuses_the_parents_log(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir) as log:
            await log.append([Entry(1, 1, b"a")])
            pid = os.fork()
            if pid == 0:  # the child: every write refuses before touching anything
                code = 0
                try:
                    for call in (lambda: log.append([Entry(2, 1, b"child")]), log.sync,
                                 lambda: log.truncate(1)):
                        try:
                            call()
                            code = 1
                        except raftwal.ClosedError:
                            pass
                except BaseException:
                    code = 2
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            await log.append([Entry(2, 1, b"parent")])  # the parent's log is unaffected
            assert log[2].data == b"parent"

    run(main())


def test_unclosed_log_closes_when_collected(log_dir):
    async def main():
        log = await raftwal.aio.open(log_dir)
        await log.append([Entry(1, 1, b"a")], sync=False)
        thread = aio_threads()[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del log
            gc.collect()
        assert any(issubclass(w.category, ResourceWarning) for w in caught)
        await asyncio.to_thread(thread.join, BOUND)
        assert not thread.is_alive()

    run(main())
    with raftwal.open(log_dir) as log:
        assert log.last_index == 1


def test_sync_error_reaches_every_waiter_once(log_dir):
    async def main():
        async with raftwal.aio.open(log_dir) as log:
            held = HeldSync(log.sync_log)

            def failing() -> None:
                held.calls += 1
                held.entered.set()
                assert held.go.wait(BOUND)
                raise raftwal.RaftwalIOError("fdatasync: injected", raftwal.EIO)

            log.sync_log.sync = failing  # type: ignore[method-assign]
            tasks = [asyncio.ensure_future(log.append([Entry(i, 1, b"x")])) for i in range(1, 5)]
            await held.wait_entered()
            held.release()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(r, raftwal.RaftwalIOError) for r in results), results
            assert len({id(r) for r in results}) == len(results)  # one object each
            calls = held.calls
            assert calls <= 2
            await asyncio.sleep(0.05)  # a retry loop would call sync meanwhile
            assert held.calls == calls
            log.sync_log.sync = held.real  # type: ignore[method-assign]

    run(main())


# ---- interleaved coroutines against the model ------------------------------

# One coroutine's step: (kind, a, b). a and b are small integers interpreted
# against the model's state when the step runs.
step_strategy = st.tuples(
    st.sampled_from(["append", "append", "append", "append_nosync", "overwrite", "gap",
                     "hardstate", "sync", "wait_durable", "truncate", "purge", "snapshot",
                     "cancel_wait"]),
    st.integers(0, 4),
    st.integers(0, 3),
)
program_strategy = st.lists(st.lists(step_strategy, min_size=1, max_size=8), min_size=2, max_size=6)


class Interleaving:
    """Runs coroutine programs against one AsyncLog and a LogModel.

    A write and its model update happen in one synchronous stretch (no await
    between them; aio writes before the coroutine first suspends), so
    siblings cannot slip in. The calls that run on the worker (truncate,
    purge, snapshot) suspend before they take effect: they hold `exclusive`,
    and writes wait until it is free before they read the model."""

    def __init__(self, log: raftwal.aio.AsyncLog) -> None:
        self.log = log
        self.model = LogModel()
        self.exclusive = asyncio.Lock()
        self.term = 1
        self.cancelled = 0
        self.rewrites = 0  # changes that replace or drop entries (durable_index may go down)

    def check_bounds(self) -> None:
        assert self.log.bounds() == (self.model.first, self.model.last)
        assert self.log.hardstate == self.model.hardstate

    async def write_gate(self) -> None:
        while self.exclusive.locked():
            async with self.exclusive:
                pass

    def batch_for(self, kind: str, a: int, b: int):
        m = self.model
        if kind == "overwrite":  # replace a suffix, maybe with a newer term (may be refused)
            self.term += b % 2
            return [Entry(max(1, m.last - a), self.term, b"ow")], None
        if kind == "gap":
            return [Entry(m.last + 2 + a, self.term, b"gap")], None
        if kind == "hardstate":
            return [], HardState(self.term, 1, min(m.last, m.hardstate.commit + a))
        batch = [Entry(m.last + 1 + k, self.term, b"%s-%d" % (kind.encode(), k)) for k in range(a % 3 + 1)]
        hs = HardState(self.term, 1, min(m.last, m.hardstate.commit + b)) if b == 3 else None
        return batch, hs

    async def write(self, kind: str, a: int, b: int) -> None:
        await self.write_gate()
        # From here to the append's first suspension: no await.
        batch, hs = self.batch_for(kind, a, b)
        expected = self.model.append_errors(batch, hs)
        sync = kind not in ("append_nosync",) and not (kind == "hardstate" and b == 0)
        if expected:
            with pytest.raises(raftwal.Error) as raised:
                self.log.append(batch, hs, sync=sync)  # the call raises: no coroutine
            assert type(raised.value) in expected, (raised.value, expected)
            self.check_bounds()
            return
        coro = self.log.append(batch, hs, sync=sync)  # written now
        if kind == "cancel_wait":
            # What task.cancel() does to a task suspended in the append:
            # cancel the future it awaits, then resume it.
            waited_on = coro.send(None)  # the write; then it suspends
            self.model.append(batch, hs)
            self.check_bounds()
            waited_on.cancel()
            with pytest.raises(asyncio.CancelledError):
                coro.send(None)
            self.cancelled += 1
            return
        if batch and batch[0].index <= self.model.last:
            self.rewrites += 1
        self.model.append(batch, hs)
        rewrites = self.rewrites
        await coro
        if sync and batch and self.rewrites == rewrites:  # nothing replaced it meanwhile
            assert self.log.durable_index >= batch[-1].index

    async def step(self, kind: str, a: int, b: int) -> None:
        m = self.model
        if kind == "sync":
            await self.log.sync()
        elif kind == "wait_durable":
            await self.log.wait_durable(max(m.first, m.last - a))
        elif kind in ("truncate", "purge", "snapshot"):
            async with self.exclusive:
                self.rewrites += 1
                await self.exclusive_step(kind, a)
                self.check_bounds()
        else:
            await self.write(kind, a, b)

    async def exclusive_step(self, kind: str, a: int) -> None:
        m = self.model
        if kind == "truncate":
            at = max(1, m.last - a)
            expected = m.truncate_errors(at)
            try:
                await self.log.truncate(at)
            except raftwal.Error as error:
                assert type(error) in expected, (error, expected)
            else:
                assert not expected, expected
                m.truncate(at)
        elif kind == "purge":
            upto = m.first - 1 + a
            await self.log.purge(upto)
            m.purge(upto)
        elif kind == "snapshot":
            index = max(m.snapshot.index, min(m.last, m.hardstate.commit))
            if m.first <= index <= m.last:
                term = m.entries[index].term
            elif index == m.snapshot.index:
                term = m.snapshot.term
            else:
                return
            await self.log.save_snapshot(index, term, b"snap")
            m.save_snapshot(index, term, b"snap")

    async def run_program(self, steps) -> None:
        for kind, a, b in steps:
            await self.step(kind, a, b)


@settings(max_examples=int(os.environ.get("RAFTWAL_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(programs=program_strategy)
def test_interleaved_coroutines_match_the_model(shm_dir, programs):
    path = shm_dir / ("wal-%d" % next(EXAMPLE_NUMBERS))  # the fixture outlives one example

    async def main():
        async with raftwal.aio.open(path, segment_size=SMALL_SEGMENT) as log:
            machine = Interleaving(log)
            await asyncio.gather(*(machine.run_program(p) for p in programs))
            await log.sync()
            assert log.durable_index == log.last_index
            view = (log.first_index, log.last_index, tuple(log.entries()), log.hardstate)
            m = machine.model
            assert view == (m.first, m.last, tuple(m.entries[i] for i in range(m.first, m.last + 1)),
                            m.hardstate)
        with raftwal.open(path) as reopened:  # everything was made durable
            assert (reopened.first_index, reopened.last_index, tuple(reopened.entries())) == view[:3]

    run(main())
    assert aio_threads() == []
