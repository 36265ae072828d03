"""Hostile arguments to the C layer: user code run during argument
conversion (``__index__``) mutates the very sequences being converted.

The binding must hold its own references while it converts, never items
borrowed from a list that user code can empty. Without that these tests
crash the interpreter (a null or freed pointer load); ctest also runs this
file against the AddressSanitizer build (py_asan_hostile), which catches
the reads that happen not to crash.
"""

from __future__ import annotations

import pytest

import raftwal


class Evil:
    """An integer whose conversion empties ``victim`` (and drops the only
    other references to its items)."""

    def __init__(self, value, victim):
        self.value = value
        self.victim = victim

    def __index__(self):
        self.victim.clear()
        return self.value


def test_entry_emptied_while_its_index_converts(log):
    entry = [None, 1, bytearray(b"data")]
    entry[0] = Evil(1, entry)
    log.append([entry])  # converted from a snapshot taken before __index__
    assert log[1] == raftwal.Entry(1, 1, b"data", 0)


def test_entry_emptied_while_its_type_converts(log):
    entry = [1, 1, bytearray(b"data"), None]
    entry[3] = Evil(7, entry)
    log.append([entry])
    assert log[1] == raftwal.Entry(1, 1, b"data", 7)


def test_batch_emptied_while_an_entry_converts(log):
    batch = [None, [2, 1, bytearray(b"second")], [3, 1, bytearray(b"third")]]
    batch[0] = [Evil(1, batch), 1, bytearray(b"first")]
    log.append(batch)
    assert [e.data for e in log] == [b"first", b"second", b"third"]


def test_hardstate_emptied_while_it_converts(log):
    log.append([(1, 1, b"x")])
    hardstate = [None, 3, 1]
    hardstate[0] = Evil(5, hardstate)
    log.set_hardstate(hardstate)
    assert log.hardstate == (5, 3, 1)
    hardstate = [None, 4, 1]
    hardstate[0] = Evil(6, hardstate)
    log.append([], hardstate)
    assert log.hardstate == (6, 4, 1)


@pytest.mark.parametrize("bad", ["abc", 5, [1, 2], [1, 2, 3, 4, 5]])
def test_malformed_entries_still_raise_type_error(log, bad):
    with pytest.raises(TypeError):
        log.append([bad])
