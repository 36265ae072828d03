"""Threads: blocking calls release the GIL, and concurrent appenders and
readers neither lose nor mix up entries."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import raftwal

from conftest import SMALL_SEGMENT


@pytest.fixture
def no_forced_switches():
    """Makes the interpreter (practically) never take the GIL away from a
    running thread: another thread can then only run while the running one
    releases the GIL itself, e.g. inside a blocking raftwal call."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


# Calls that block (fsync, I/O) and must release the GIL while they do.
BLOCKING_CALLS = {
    "append-sync": lambda log, i: log.append([(log.last_index + 1, 1, b"x" * 4096)], sync=True),
    "set_hardstate": lambda log, i: log.set_hardstate((i, 0, 0)),
    "sync": lambda log, i: (log.append([(log.last_index + 1, 1, b"y")], sync=False), log.sync()),
    "save_snapshot": lambda log, i: log.save_snapshot(1, 1, b"s" * 1000),
    "set_metadata": lambda log, i: log.set_metadata(b"m" * 1000),
    "read": lambda log, i: log[1],
    "iterate": lambda log, i: sum(1 for _ in log.entries()),
    "term": lambda log, i: log.term(1),
}


@pytest.mark.parametrize("call", list(BLOCKING_CALLS.values()), ids=list(BLOCKING_CALLS))
def test_blocking_calls_release_the_gil(log_dir, no_forced_switches, call):
    log = raftwal.open(log_dir, segment_size=SMALL_SEGMENT)
    log.append([(1, 1, b"first")])
    go = threading.Event()
    stop = threading.Event()
    progress = [0]

    def reader():
        go.wait()
        while not stop.is_set():
            assert log[1].data == b"first"
            progress[0] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        # With forced switches off, this thread keeps the GIL from here on
        # unless a raftwal call releases it: the reader can only make
        # progress inside those calls. A call that is over in microseconds
        # may return and retake the GIL before the reader's thread wakes up,
        # so repeat the call until the reader got in once (bounded in count
        # and time; if the GIL were held, no number of calls would do).
        go.set()
        before = progress[0]
        deadline = time.monotonic() + 10
        calls = 0
        while progress[0] == before and calls < 100_000 and time.monotonic() < deadline:
            call(log, calls)
            calls += 1
        during = progress[0] - before
    finally:
        stop.set()
        thread.join()
        log.close()
    assert before == 0
    assert during > 0, f"no reader progress in {calls} calls: the GIL was held through them"


def test_concurrent_appenders_and_readers(log_dir):
    writers, per_writer, readers = 4, 300, 2
    log = raftwal.open(log_dir, segment_size=SMALL_SEGMENT)
    index_lock = threading.Lock()
    written = {}  # index -> data, as acknowledged
    errors = []
    done = threading.Event()

    def data_for(index, writer, k):
        return f"{index}|{writer}|{k}|".encode() * (1 + k % 7)

    def writer(w):
        try:
            for k in range(per_writer):
                # Choosing the index and appending (without waiting for the
                # disk) must be atomic; waiting for durability is not: the
                # writers' fsyncs overlap and share work (group commit).
                with index_lock:
                    index = log.last_index + 1
                    data = data_for(index, w, k)
                    log.append([(index, 1, data)], sync=False)
                    written[index] = data
                log.wait_durable(index)
                assert log.durable_index >= index
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader():
        try:
            while not done.is_set():
                first, last = log.bounds()
                for entry in log.entries(first, last + 1):
                    index, w, k = entry.data.split(b"|")[:3]
                    assert int(index) == entry.index
                    assert entry.data == data_for(entry.index, int(w), int(k))
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads[:writers]:
        t.join()
    done.set()
    for t in threads[writers:]:
        t.join()
    try:
        assert errors == []
        total = writers * per_writer
        assert log.bounds() == (1, total)
        assert {e.index: e.data for e in log} == written
        # Each writer's entries are in its own order.
        for w in range(writers):
            ks = [int(e.data.split(b"|")[2]) for e in log if int(e.data.split(b"|")[1]) == w]
            assert ks == list(range(per_writer))
        # Group commit: fewer fsyncs than durable waits is allowed, more
        # than one per entry would mean something is off.
        assert log.stats()["fsyncs"] <= total + 10
    finally:
        log.close()
    with raftwal.open(log_dir) as reopened:
        assert {e.index: e.data for e in reopened} == written
