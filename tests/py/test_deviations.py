"""Where the engine and include/raftwal.h disagree, as found by these tests.

Each test states what the header promises and is marked as an expected
failure (strict: it turns red the day the engine is fixed, so the tolerance
in model.py can go). Fix the engine or the header, then delete the test.
"""

from __future__ import annotations

import pytest

import raftwal


@pytest.mark.xfail(strict=True, raises=raftwal.InvalidArgument,
                   reason="engine: truncate(0) gives EINVAL, header says ECOMPACTED (0 < first)")
def test_truncate_below_first_index_zero_is_compacted(log):
    with pytest.raises(raftwal.CompactedError):
        log.truncate(0)
