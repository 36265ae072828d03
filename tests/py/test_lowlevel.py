"""The SWIG module refuses bad arguments with exceptions, never a crash.

Every raftwal_* function of raftwal._raftwal is called with arguments of the
wrong type (and with None), so that a typemap cleaning up something it never
set up would crash the interpreter here.
"""

from __future__ import annotations

import inspect

import pytest

import raftwal
from raftwal import _raftwal as low

FUNCTIONS = sorted(
    name for name, obj in vars(low).items()
    if name.startswith("raftwal_") and inspect.isfunction(obj)
    and not name.endswith(("_get", "_set")) and not name.startswith("raftwal_version")
    and name not in ("raftwal_strerror", "raftwal_errmsg")
)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("bad", ["not a handle", None, 3.5])
def test_bad_arguments_raise(name, bad):
    function = getattr(low, name)
    arity = len(inspect.signature(function).parameters)
    if arity == 0:
        pytest.skip("no arguments")
    if bad is None and name in ("raftwal_log_close", "raftwal_iter_close"):
        function(None)  # NULL is accepted and does nothing (raftwal.h)
        return
    with pytest.raises((TypeError, ValueError, OverflowError, raftwal.Error)):
        function(*([bad] * arity))


def test_a_good_handle_with_bad_later_arguments(log):
    with log._guard as handle:
        with pytest.raises(TypeError):
            low.raftwal_log_append(handle, [(1, 1, "str")], None, 0)
        with pytest.raises(TypeError):
            low.raftwal_log_append(handle, [(1, 1, b"x")], "hs", 0)
        with pytest.raises(TypeError):
            low.raftwal_log_save_snapshot(handle, 1, 1, 42)
        with pytest.raises(BufferError):
            low.raftwal_log_metadata(handle, b"read-only buffer")
    assert log.last_index == 0
