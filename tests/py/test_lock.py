"""One writer per log: a second open raises LockedError, in this process
and from another one; the lock dies with its owner, not with a fork."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

import raftwal

from conftest import PYTHON, child_env

# Opens the log named by argv[1] and prints the outcome's class name.
CHILD_OPEN = textwrap.dedent(
    """
    import sys, raftwal
    try:
        with raftwal.open(sys.argv[1], readonly=sys.argv[2] == "ro") as log:
            print("opened", log.last_index)
    except raftwal.Error as e:
        print(type(e).__name__, e.code)
    """
)


def open_in_child(path, mode="rw"):
    out = subprocess.run(
        [PYTHON, "-c", CHILD_OPEN, str(path), mode],
        env=child_env(), capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout.split()


def test_second_open_in_process_is_locked(log_dir):
    with raftwal.open(log_dir) as log:
        log.append([(1, 1, b"a")])
        with pytest.raises(raftwal.LockedError) as info:
            raftwal.open(log_dir)
        assert info.value.code == raftwal.ELOCKED
        # The failed open did not disturb the holder.
        log.append([(2, 1, b"b")])
        # A read-only open takes no lock.
        with raftwal.open(log_dir, readonly=True) as ro:
            assert ro.last_index == 2
    with raftwal.open(log_dir) as again:  # released by close
        assert again.last_index == 2


def test_second_open_from_another_process_is_locked(log_dir):
    with raftwal.open(log_dir) as log:
        log.append([(1, 1, b"a")])
        assert open_in_child(log_dir) == ["LockedError", str(raftwal.ELOCKED)]
        assert open_in_child(log_dir, "ro") == ["opened", "1"]
    assert open_in_child(log_dir) == ["opened", "1"]


def test_lock_held_by_another_process_blocks_us(log_dir):
    raftwal.open(log_dir).close()
    # The child holds the log open until we close its stdin.
    holder = subprocess.Popen(
        [PYTHON, "-c", "import sys, raftwal\n"
                       "log = raftwal.open(sys.argv[1])\n"
                       "print('held', flush=True)\n"
                       "sys.stdin.read()\n"
                       "log.close()\n", str(log_dir)],
        env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(raftwal.LockedError):
            raftwal.open(log_dir)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with raftwal.open(log_dir):
        pass


def test_lock_is_not_inherited_by_a_forked_child(log_dir):
    log = raftwal.open(log_dir)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: outlive the parent's close, holding nothing
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    try:
        log.close()
        # The child is still alive; the log must be free for a new owner.
        assert open_in_child(log_dir) == ["opened", "0"]
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)
