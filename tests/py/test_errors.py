"""The exception hierarchy and each error raised where the header says."""

from __future__ import annotations

import os
import pickle

import pytest

import raftwal
from raftwal import _errors

from conftest import SMALL_SEGMENT

BUILTIN_BASES = {
    raftwal.InvalidArgument: ValueError,
    raftwal.RaftwalIOError: OSError,
    raftwal.NoSpaceError: OSError,
    raftwal.NotFoundError: FileNotFoundError,
    raftwal.CompactedError: IndexError,
    raftwal.UnavailableError: IndexError,
    raftwal.OutOfMemoryError: MemoryError,
    raftwal.GapError: ValueError,
    raftwal.TermError: ValueError,
    raftwal.CommittedError: ValueError,
}


@pytest.mark.parametrize("code", sorted(_errors.ERROR_CLASSES))
def test_error_from_code(code):
    err = _errors.error_from_code(code, "details here")
    assert isinstance(err, raftwal.Error)
    assert type(err) is _errors.ERROR_CLASSES[code]
    assert err.code == code
    assert err.message == "details here" and str(err) == "details here"
    assert getattr(raftwal, err.name) == code
    # An empty message falls back to the library's description of the code.
    assert str(_errors.error_from_code(code, "")) == raftwal.strerror(code)
    assert pickle.loads(pickle.dumps(err)).code == code


def test_builtin_bases():
    for cls, base in BUILTIN_BASES.items():
        assert issubclass(cls, base), cls
        assert issubclass(cls, raftwal.Error)
    assert issubclass(raftwal.NoSpaceError, raftwal.RaftwalIOError)


def test_unknown_code_gives_base_error():
    err = _errors.error_from_code(-999, "")
    assert type(err) is raftwal.Error and err.code == -999
    assert str(err) == "unknown error"


def test_raised_errors_carry_the_detailed_message(log_dir):
    with pytest.raises(raftwal.NotFoundError) as info:
        raftwal.open(log_dir, create=False)
    assert info.value.code == raftwal.ENOTFOUND
    assert str(info.value)  # the thread's raftwal_errmsg(), never empty


def test_invalid_argument_is_a_value_error(log_dir):
    with pytest.raises(ValueError) as info:
        raftwal.open(log_dir, segment_size=raftwal.MIN_SEGMENT_SIZE - 1)
    assert type(info.value) is raftwal.InvalidArgument
    assert info.value.code == raftwal.EINVAL


def test_errors_per_operation(log):
    log.append([(1, 1, b"a"), (2, 2, b"b"), (3, 2, b"c")], (2, 1, 2))
    with pytest.raises(raftwal.GapError):
        log.append([(5, 2, b"gap")])
    with pytest.raises(raftwal.GapError):
        log.append([(4, 2, b"x"), (6, 2, b"y")])
    with pytest.raises(raftwal.TermError):
        log.append([(4, 1, b"lower term")])
    with pytest.raises(raftwal.TermError):
        log.append([(4, 3, b"x"), (5, 2, b"y")])
    with pytest.raises(raftwal.CommittedError):
        log.append([(2, 3, b"overwrites committed")])
    with pytest.raises(raftwal.CommittedError):
        log.truncate(2)
    with pytest.raises(raftwal.InvalidArgument):
        log.set_hardstate((2, 1, 4))  # commit above last
    with pytest.raises(raftwal.InvalidArgument):
        log.append([(4, 2, b"d")], (2, 1, 5))
    log.purge(1)
    with pytest.raises(raftwal.CompactedError):
        log[1]
    with pytest.raises(raftwal.CompactedError):
        log.term(0)
    # Index 1 is both below first and at or below commit: either is right.
    with pytest.raises((raftwal.CompactedError, raftwal.CommittedError)):
        log.append([(1, 5, b"below first")])
    with pytest.raises(raftwal.CompactedError):
        log.entries(1, 3)
    with pytest.raises(raftwal.UnavailableError):
        log[4]
    with pytest.raises(raftwal.UnavailableError):
        log.term(4)
    with pytest.raises(raftwal.UnavailableError):
        log.entries(2, 5)
    # Past last + 1 is unavailable whether or not the range is empty
    # (issue 19), as etcd's MemoryStorage.Entries has it.
    assert list(log.entries(4, 4)) == []
    with pytest.raises(raftwal.UnavailableError):
        log.entries(5, 5)
    with pytest.raises(raftwal.UnavailableError):
        log.entries(9, 9)
    with pytest.raises(raftwal.UnavailableError):
        log.entries(4, 5)
    # A single read names the index asked for, not a range's end.
    with pytest.raises(raftwal.UnavailableError, match=r"\bindex 7\b"):
        log[7]
    with pytest.raises(raftwal.UnavailableError, match=r"\bindex 7\b"):
        log.entries(7, 8)
    with pytest.raises(raftwal.InvalidArgument):
        log.entries(3, 2)
    log.save_snapshot(2, 2)
    with pytest.raises(raftwal.InvalidArgument):
        log.save_snapshot(1, 1)
    with pytest.raises(raftwal.InvalidArgument):
        log.set_metadata(b"x" * (raftwal.MAX_META_SIZE + 1))
    with pytest.raises(raftwal.InvalidArgument):
        log.save_snapshot(3, 2, b"x" * (raftwal.MAX_META_SIZE + 1))
    with pytest.raises(raftwal.RangeError):
        log.segment(10_000)
    # Nothing above changed the log.
    assert log.bounds() == (2, 3)
    assert [e.data for e in log] == [b"b", b"c"]


def test_snapshot_protects_entries_like_commit(log):
    log.append([(i, 1, b"x") for i in range(1, 6)], (1, 1, 1))
    log.save_snapshot(3, 1)  # above commit: allowed, and protects 1..3
    with pytest.raises(raftwal.CommittedError):
        log.truncate(3)
    with pytest.raises(raftwal.CommittedError):
        log.append([(2, 2, b"y")])
    log.truncate(4)
    log.append([(4, 2, b"z")])
    assert log.bounds() == (1, 4) and log[4].term == 2


def test_index_limits(log):
    with pytest.raises(raftwal.InvalidArgument):
        log.append([(0, 1, b"index 0")])
    with pytest.raises(raftwal.InvalidArgument):
        log.purge(raftwal.MAX_INDEX + 1)
    assert raftwal.MAX_INDEX == 2**64 - 2


@pytest.mark.parametrize("index", [raftwal.MAX_INDEX, 2**64 - 1, 2**64, 2**70])
def test_index_past_the_last_is_unavailable_up_to_any_size(log, index):
    # log[i] reads the range [i, i + 1): for 2**64 - 1 that end does not fit
    # in 64 bits, which must not turn the documented error into another.
    log.append([(1, 1, b"x")])
    with pytest.raises(raftwal.UnavailableError):
        log[index]


@pytest.mark.parametrize("position", [-1, 1, 2**32, 2**64])
def test_segment_position_out_of_range_is_range_error(log, position):
    with pytest.raises(raftwal.RangeError):
        log.segment(position)


def test_readonly_errors(log_dir):
    with raftwal.open(log_dir) as log:
        log.append([(1, 1, b"a")])
    with raftwal.open(log_dir, readonly=True) as ro:
        assert ro[1].data == b"a"
        for change in (
            lambda: ro.append([(2, 1, b"b")]),
            lambda: ro.set_hardstate((1, 0, 0)),
            lambda: ro.truncate(1),
            lambda: ro.purge(1),
            lambda: ro.save_snapshot(1, 1),
            lambda: ro.set_metadata(b"m"),
            lambda: ro.sync(),
        ):
            with pytest.raises(raftwal.ReadOnlyError):
                change()
        assert ro.bounds() == (1, 1)


def test_version_error(log_dir):
    with raftwal.open(log_dir) as log:
        log.append([(1, 1, b"a")])
    segment = sorted(n for n in os.listdir(log_dir) if n.endswith(".wal"))[0]
    path = log_dir / segment
    with open(path, "r+b") as f:
        f.seek(8)
        f.write((99).to_bytes(4, "little"))  # format version field
    with pytest.raises((raftwal.VersionError, raftwal.CorruptError)) as info:
        raftwal.open(log_dir)
    # The header's CRC covers the version field, so either answer is honest;
    # what matters is a clear refusal, not a misread.
    assert info.value.code in (raftwal.EVERSION, raftwal.ECORRUPT)


def test_corruption_is_reported_and_repaired(log_dir):
    with raftwal.open(log_dir, segment_size=SMALL_SEGMENT) as log:
        for i in range(1, 200):
            log.append([(i, 1, bytes([i % 251]) * 300)], sync=False)
        log.sync()
        segments = log.segments()
    assert len(segments) >= 3 and segments[0]["sealed"]
    first = log_dir / f"{segments[0]['seq']:016x}.wal"
    with open(first, "r+b") as f:  # flip a byte inside the first sealed segment
        f.seek(2000)
        byte = f.read(1)
        f.seek(2000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(raftwal.CorruptError) as info:
        raftwal.verify(log_dir)
    assert first.name in str(info.value)
    report = raftwal.repair(log_dir)
    assert report["cut_bytes"] > 0 and report["backup_path"]
    assert os.path.isdir(report["backup_path"])
    assert raftwal.verify(log_dir)["last_index"] == report["last_index"]
    with raftwal.open(log_dir) as log:
        first_index, last_index = log.bounds()
        assert last_index < 199
        for e in log:
            assert e.data == bytes([e.index % 251]) * 300
