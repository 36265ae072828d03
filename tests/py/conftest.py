"""Shared fixtures for the raftwal Python tests.

Run with the build's package on the path:
    PYTHONPATH=build/bindings/python /usr/bin/python3 -m pytest tests/py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import raftwal

# Small segments make rotation, sealing and multi-segment purges happen
# with little data.
SMALL_SEGMENT = raftwal.MIN_SEGMENT_SIZE
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The interpreter for child processes: the one running the tests.
PYTHON = sys.executable


def fast_tmp_root() -> str:
    """A tmpfs directory when there is one: the property tests fsync a lot
    and durability to real media is not what they check (crash images are
    made by the tests themselves)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """A path for a log directory (not created: open creates it)."""
    return tmp_path / "wal"


@pytest.fixture
def log(log_dir: Path):
    """A fresh log with small segments, closed after the test."""
    with raftwal.open(log_dir, segment_size=SMALL_SEGMENT) as opened:
        yield opened


@pytest.fixture
def shm_dir():
    """A scratch directory on tmpfs (or the temp dir), removed afterwards."""
    path = tempfile.mkdtemp(prefix="raftwal-py-", dir=fast_tmp_root())
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def child_env() -> dict:
    """The environment for child Python processes: same package path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_script(code: str, *args: str, timeout: float = 60, python_args=()) -> "subprocess.CompletedProcess[str]":
    """Runs ``code`` in a fresh interpreter (the tests' own, same package
    path) and returns the finished process. A child still running after
    ``timeout`` seconds is killed and the test fails with its output: a
    deadlock fails the test instead of hanging the suite."""
    import subprocess  # noqa: PLC0415 - only the subprocess tests need it

    try:
        return subprocess.run(
            [PYTHON, *python_args, "-c", code, *args],
            env=child_env(), capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"child did not finish in {timeout} s (deadlock?)\n"
                    f"stdout: {expired.stdout!r}\nstderr: {expired.stderr!r}")
