"""Unit tests of every method of raftwal.Log and the module functions."""

from __future__ import annotations

import array
import gc
import os
import stat
import warnings

import pytest

import raftwal
from raftwal import Entry, HardState, Snapshot

from conftest import SMALL_SEGMENT


def payload(index: int, size: int = 16) -> bytes:
    return (f"{index}:".encode() * size)[:size]


def fill(log, lo, hi, term=1, size=16):
    log.append([Entry(i, term, payload(i, size)) for i in range(lo, hi + 1)])


# ---- a new log --------------------------------------------------------------

def test_new_log(log):
    assert (log.first_index, log.last_index) == (1, 0)
    assert len(log) == 0 and list(log) == [] and 1 not in log
    assert log.hardstate == HardState(0, 0, 0)
    assert log.snapshot == Snapshot(0, 0, b"")
    assert log.metadata == b""
    assert log.term(0) == 0
    assert log.durable_index == 0
    assert not log.closed and not log.readonly


def test_open_accepts_str_bytes_and_pathlike(log_dir):
    for path in (log_dir, str(log_dir), str(log_dir).encode()):
        with raftwal.open(path) as log:
            assert log.path == (path if isinstance(path, (str, bytes)) else str(path))
    with raftwal.Log(log_dir) as log:  # the class itself opens too
        assert log.last_index == 0


@pytest.mark.parametrize("file_mode, files, dirs", [(None, 0o600, 0o700), (0o640, 0o640, 0o750)])
def test_file_mode(log_dir, file_mode, files, dirs):
    """A new log is its owner's alone unless file_mode widens it (raftwal.h)."""
    old = os.umask(0o022)
    try:
        with raftwal.open(log_dir, segment_size=SMALL_SEGMENT, file_mode=file_mode) as log:
            for lo in range(1, 200, 10):  # several segments
                fill(log, lo, lo + 9, size=300)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(log_dir).st_mode) == dirs
    names = os.listdir(log_dir)
    assert "LOCK" in names and sum(n.endswith(".wal") for n in names) > 2
    assert {stat.S_IMODE(os.stat(log_dir / n).st_mode) for n in names} == {files}


def test_create_false_on_a_missing_log(log_dir):
    with pytest.raises(raftwal.NotFoundError):
        raftwal.open(log_dir, create=False)
    assert not log_dir.exists()


def test_initial_metadata_is_written_only_on_creation(log_dir):
    with raftwal.open(log_dir, metadata=bytearray(b"cluster-7")) as log:
        assert log.metadata == b"cluster-7"
    with raftwal.open(log_dir, metadata=b"ignored") as log:
        assert log.metadata == b"cluster-7"


# ---- append and read ---------------------------------------------------------

def test_append_and_read_back(log):
    log.append([Entry(1, 1, b"one"), (2, 1, b"two"), (3, 2, b"three", 7), [4, 2, b"four"]])
    assert (log.first_index, log.last_index, len(log)) == (1, 4, 4)
    assert log[1] == Entry(1, 1, b"one", 0)
    assert log[3] == Entry(3, 2, b"three", 7)
    assert type(log[3].data) is bytes
    assert [e.index for e in log] == [1, 2, 3, 4]
    assert log[2:4] == [log[2], log[3]]
    assert log[:] == list(log)
    assert [log.term(i) for i in range(0, 5)] == [0, 1, 1, 2, 2]
    assert 4 in log and 5 not in log and "x" not in log


def test_a_single_entry_may_be_passed_alone(log):
    log.append(Entry(1, 1, b"alone"))
    assert log[1].data == b"alone"


def test_entries_from_a_generator(log):
    log.append(Entry(i, 1, payload(i)) for i in range(1, 6))
    assert log.last_index == 5


@pytest.mark.parametrize(
    "make",
    [
        bytes,
        bytearray,
        memoryview,
        lambda b: memoryview(b"pad" + b + b"pad")[3:-3],  # a view at an offset
        lambda b: array.array("B", b),
        lambda b: memoryview(bytearray(b)).cast("B"),
    ],
    ids=["bytes", "bytearray", "memoryview", "memoryview-slice", "array", "cast"],
)
def test_bytes_like_data(log, make):
    log.append([(1, 1, make(b"payload")), (2, 1, make(b""))])
    assert log[1].data == b"payload" and log[2].data == b""


def test_non_bytes_data_is_refused(log):
    with pytest.raises(TypeError):
        log.append([(1, 1, "text is not bytes")])
    with pytest.raises(BufferError):
        log.append([(1, 1, memoryview(b"abcdef")[::2])])  # not contiguous
    with pytest.raises(TypeError):
        log.append([(1, 1)])
    with pytest.raises(TypeError):
        log.append([42])
    assert log.last_index == 0


def test_bytearray_cannot_be_resized_while_appended(log):
    # The buffer protocol pins the data for the duration of the call; after
    # it, the bytearray is free again (the view was released).
    data = bytearray(b"abc")
    log.append([(1, 1, data)])
    data.extend(b"def")
    assert log[1].data == b"abc"


def test_out_of_range_integers(log):
    for bad in ((-1, 1, b""), (1, -1, b""), (2**64, 1, b""), (1, 1, b"", 2**32)):
        with pytest.raises(raftwal.InvalidArgument):
            log.append([bad])
    with pytest.raises(TypeError):
        log.append([("1", 1, b"")])
    with pytest.raises(raftwal.InvalidArgument):
        log[-1]
    with pytest.raises(raftwal.InvalidArgument):
        log.truncate(-5)
    with pytest.raises(TypeError):
        log.term("3")


def test_empty_and_large_entries_across_segments(log):
    big = bytes(range(256)) * 200  # 51200 bytes: larger than a segment
    log.append([(1, 1, b""), (2, 1, big), (3, 1, b"")])
    log.append([(4, 1, big[::-1])])
    assert log[2].data == big and log[4].data == big[::-1]
    assert log[1].data == b"" and log[3].data == b""
    assert log.stats()["segments"] >= 2


def test_overwrite_suffix(log):
    fill(log, 1, 5)
    log.append([(3, 2, b"new3"), (4, 2, b"new4")])
    assert log.last_index == 4
    assert [e.data for e in log] == [payload(1), payload(2), b"new3", b"new4"]
    assert log.term(3) == 2


def test_append_with_hardstate_and_hardstate_alone(log):
    log.append([(1, 1, b"a")], HardState(1, 2, 1))
    assert log.hardstate == HardState(1, 2, 1)
    log.append([], (3, 3, 1))
    assert log.hardstate == (3, 3, 1)
    log.set_hardstate(HardState(4, 0, 1))
    assert log.hardstate == HardState(4, 0, 1) and log.last_index == 1


# ---- iteration --------------------------------------------------------------

def test_entries_ranges_and_caps(log):
    for i in range(1, 11):
        log.append([(i, 1, bytes(10))])
    assert [e.index for e in log.entries(3, 7)] == [3, 4, 5, 6]
    assert list(log.entries(5, 5)) == []
    assert [e.index for e in log.entries(3)] == list(range(3, 11))
    assert [e.index for e in log.entries(hi=3)] == [1, 2]
    assert [e.index for e in log.entries(1, 11, max_bytes=25)] == [1, 2]
    assert [e.index for e in log.entries(1, 11, max_bytes=30)] == [1, 2, 3]
    # At least one entry, whatever the cap.
    assert [e.index for e in log.entries(4, 11, max_bytes=0)] == [4]
    assert [e.index for e in log.entries(4, 11, max_bytes=5)] == [4]


def test_iterator_protocol_and_close(log):
    fill(log, 1, 3)
    it = log.entries()
    assert iter(it) is it
    assert next(it).index == 1
    it.close()
    with pytest.raises(StopIteration):
        next(it)
    with log.entries() as it2:
        assert [e.index for e in it2] == [1, 2, 3]
    with pytest.raises(StopIteration):
        next(it2)


def test_iterator_sees_a_truncation(log):
    fill(log, 1, 6)
    it = log.entries(1, 7)
    assert next(it).index == 1
    log.truncate(3)
    assert next(it).index == 2
    with pytest.raises(raftwal.UnavailableError):
        next(it)


# ---- truncate, purge, snapshot, metadata --------------------------------------

def test_truncate(log):
    fill(log, 1, 6)
    log.set_hardstate((1, 1, 2))
    log.truncate(10)  # past last: nothing
    assert log.last_index == 6
    log.truncate(4)
    assert (log.first_index, log.last_index) == (1, 3)
    log.truncate(3)
    assert log.last_index == 2
    log.append([(3, 2, b"after truncate")])
    assert log[3].data == b"after truncate"


def test_purge(log):
    for i in range(1, 101):
        log.append([(i, 1, payload(i, 500))])
    segments_before = log.stats()["segments"]
    log.purge(0)  # below first: nothing
    assert log.first_index == 1
    log.purge(60)
    assert (log.first_index, log.last_index) == (61, 100)
    assert log[61].data == payload(61, 500)
    stats = log.stats()
    assert stats["segments"] < segments_before and stats["segments_deleted"] > 0


def test_purge_past_last_then_append(log):
    fill(log, 1, 5)
    log.save_snapshot(20, 3, b"conf")
    log.purge(20)
    assert (log.first_index, log.last_index, len(log)) == (21, 20, 0)
    assert log.term(20) == 3
    with pytest.raises(raftwal.GapError):
        log.append([(22, 3, b"gap")])
    log.append([(21, 3, b"next")])
    assert log[21] == Entry(21, 3, b"next")


def test_snapshot(log):
    fill(log, 1, 5, term=2)
    log.save_snapshot(3, 2, memoryview(b"confstate"))
    assert log.snapshot == Snapshot(3, 2, b"confstate")
    log.purge(3)
    assert log.term(3) == 2
    big = bytes(range(256)) * 1000
    log.save_snapshot(4, 2, big)
    assert log.snapshot == Snapshot(4, 2, big)
    log.save_snapshot(4, 2)
    assert log.snapshot.meta == b""


def test_metadata(log):
    log.set_metadata(b"node-1")
    assert log.metadata == b"node-1"
    log.set_metadata(bytearray(100_000))
    assert log.metadata == bytes(100_000)
    log.set_metadata(b"")
    assert log.metadata == b""


# ---- durability, sync, stats --------------------------------------------------

def test_everything_survives_reopen(log_dir):
    with raftwal.open(log_dir, segment_size=SMALL_SEGMENT) as log:
        fill(log, 1, 50, size=700)
        log.set_hardstate((5, 2, 40))
        log.save_snapshot(10, 1, b"snap")
        log.set_metadata(b"meta")
        log.purge(10)
        expected = list(log)
    with raftwal.open(log_dir) as log:
        assert list(log) == expected
        assert log.hardstate == (5, 2, 40)
        assert log.snapshot == (10, 1, b"snap")
        assert log.metadata == b"meta"
        assert log.first_index == 11


def test_nosync_appends_then_sync(log_dir):
    with raftwal.open(log_dir, sync=False) as log:
        fill(log, 1, 10)
        log.sync()
        assert log.durable_index == 10
        log.append([(11, 1, b"x")], sync=True)  # explicit sync on a nosync log
        assert log.durable_index == 11
        log.wait_durable(11)
    with raftwal.open(log_dir) as log:
        log.append([(12, 1, b"y")], sync=False)
        log.wait_durable(12)
        assert log.durable_index == 12


def test_stats_and_segments(log):
    for lo in range(1, 101, 10):  # 10 batches: a batch never spans segments
        fill(log, lo, lo + 9, size=400)
    stats = log.stats()
    for key in ("first_index", "last_index", "durable_index", "entries", "segments",
                "disk_bytes", "appends", "appended_entries", "fsyncs", "open_ns"):
        assert key in stats, key
    assert "size" not in stats and "thisown" not in stats
    assert (stats["first_index"], stats["last_index"], stats["entries"]) == (1, 100, 100)
    assert stats["appends"] == 10 and stats["appended_entries"] == 100
    segments = log.segments()
    assert len(segments) == stats["segments"] >= 2
    assert all(s["sealed"] for s in segments[:-1]) and not segments[-1]["sealed"]
    assert segments[0]["first_index"] == 1 and segments[-1]["last_index"] == 100
    assert isinstance(segments[0]["sealed"], bool)


def test_verify_and_repair_a_sound_log(log_dir):
    with raftwal.open(log_dir, segment_size=SMALL_SEGMENT) as log:
        fill(log, 1, 60, size=500)
    report = raftwal.verify(log_dir)
    assert (report["first_index"], report["last_index"], report["entries"]) == (1, 60, 60)
    assert report["torn_bytes"] == 0
    repaired = raftwal.repair(log_dir)
    assert repaired["cut_bytes"] == 0 and repaired["backup_path"] == ""
    with pytest.raises(raftwal.NotFoundError):
        raftwal.verify(log_dir / "missing")


# ---- lifetime -----------------------------------------------------------------

def test_context_manager_closes(log_dir):
    with raftwal.open(log_dir) as log:
        pass
    assert log.closed
    assert "closed" in repr(log)
    log.close()  # idempotent


USES = {
    "append": lambda log: log.append([(1, 1, b"")]),
    "set_hardstate": lambda log: log.set_hardstate((0, 0, 0)),
    "truncate": lambda log: log.truncate(1),
    "purge": lambda log: log.purge(1),
    "save_snapshot": lambda log: log.save_snapshot(0, 0),
    "set_metadata": lambda log: log.set_metadata(b""),
    "sync": lambda log: log.sync(),
    "wait_durable": lambda log: log.wait_durable(0),
    "durable_index": lambda log: log.durable_index,
    "first_index": lambda log: log.first_index,
    "last_index": lambda log: log.last_index,
    "bounds": lambda log: log.bounds(),
    "len": len,
    "contains": lambda log: 1 in log,
    "getitem": lambda log: log[1],
    "slice": lambda log: log[1:2],
    "entries": lambda log: log.entries(),
    "iter": iter,
    "term": lambda log: log.term(0),
    "hardstate": lambda log: log.hardstate,
    "snapshot": lambda log: log.snapshot,
    "metadata": lambda log: log.metadata,
    "stats": lambda log: log.stats(),
    "segment": lambda log: log.segment(0),
    "segments": lambda log: log.segments(),
}


@pytest.mark.parametrize("use", list(USES.values()), ids=list(USES))
def test_use_after_close_raises_closed_error(log_dir, use):
    log = raftwal.open(log_dir)
    log.close()
    with pytest.raises(raftwal.ClosedError) as info:
        use(log)
    assert info.value.code == raftwal.ECLOSED


def test_iterator_outlives_its_log(log_dir):
    log = raftwal.open(log_dir)
    fill(log, 1, 3)
    it = log.entries()
    assert next(it).index == 1
    log.close()
    with pytest.raises(raftwal.ClosedError):
        next(it)


def test_garbage_collected_log_releases_its_lock(log_dir):
    log = raftwal.open(log_dir)
    fill(log, 1, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del log
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    with raftwal.open(log_dir) as log:  # not LOCKED: the finalizer closed it
        assert log.last_index == 2


def test_finalizer_closes_even_when_resource_warnings_are_errors(log_dir):
    # Under -W error::ResourceWarning the warning raises inside __del__: the
    # close must have happened by then.
    log = raftwal.open(log_dir)
    fill(log, 1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del log
        gc.collect()
    with raftwal.open(log_dir) as log:  # not LOCKED: the finalizer closed it
        assert log.last_index == 2
