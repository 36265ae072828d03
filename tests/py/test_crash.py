"""A process holding the log is killed with SIGKILL in the middle of its
appends: after recovery every acknowledged batch is there, byte for byte,
and a batch in flight is there completely or not at all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import textwrap

import pytest

import raftwal

from conftest import PYTHON, SMALL_SEGMENT, child_env

# Appends batches forever and prints "last_index" after each durable
# (acknowledged) one. Batch sizes and payloads are a function of the index,
# so the parent can check every byte without being told what was written.
CHILD = textwrap.dedent(
    """
    import random, sys, raftwal
    path, seed, segment_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    sys.path.insert(0, sys.argv[4])
    from test_crash import payload
    with raftwal.open(path, segment_size=segment_size) as log:
        index = log.last_index + 1
        while True:
            count = rng.randint(1, 8)
            batch = [(i, 1, payload(i)) for i in range(index, index + count)]
            log.append(batch, (1, 1, index - 1))
            index += count
            print(index - 1, flush=True)
    """
)


def payload(index: int) -> bytes:
    """Data of entry `index`: 0 to ~9 KiB, some spanning segment boundaries."""
    size = (index * 2654435761) % 9000 if index % 3 else index % 5
    return (index.to_bytes(8, "little") * (size // 8 + 1))[:size]


@pytest.mark.parametrize("seed", range(4))
def test_sigkill_during_appends(log_dir, seed):
    rng = random.Random(seed)
    acked = start = 0  # start: the last index when the child starts
    for round_ in range(3):  # kill, recover, continue, kill again
        child_seed = seed * 10 + round_
        child = subprocess.Popen(
            [PYTHON, "-c", CHILD, str(log_dir), str(child_seed), str(SMALL_SEGMENT),
             os.path.dirname(__file__)],
            env=child_env(), stdout=subprocess.PIPE, text=True,
        )
        try:
            for _ in range(rng.randint(5, 60)):
                line = child.stdout.readline()
                assert line, "the child died on its own"
                acked = int(line)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            # The child ran ahead of our reads: every line it printed before
            # the kill was acknowledged (a cut-off last line was not).
            for line in child.stdout:
                if line.endswith("\n"):
                    acked = int(line)
            child.stdout.close()
        # The child's batches end at these indexes (same seed, same sizes).
        batch_rng = random.Random(child_seed)
        ends = [start]
        while ends[-1] <= acked + 8:
            ends.append(ends[-1] + batch_rng.randint(1, 8))
        with raftwal.open(log_dir) as log:
            first, last = log.bounds()
            assert first == 1
            # Everything acknowledged is there; the batch in flight is there
            # whole or not at all (its hard state with it).
            assert last in ends and acked <= last <= acked + 8
            for entry in log:
                assert entry.data == payload(entry.index)
            if last > start:
                assert log.hardstate.commit == ends[ends.index(last) - 1]
            acked = start = last
        raftwal.verify(log_dir)
