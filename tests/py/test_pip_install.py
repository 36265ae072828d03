"""`pip install bindings/python` works offline with Debian's setuptools, in
a virtual environment that sees the system packages, and the installed
package (engine compiled in, no libraftwal.so needed) works.

The sources are copied first (bindings/python, include, src, keeping their
layout) so the build leaves nothing behind in the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import REPO_ROOT

SMOKE = textwrap.dedent(
    """
    import os, sys, raftwal
    assert os.path.dirname(raftwal.__file__).startswith(sys.prefix), raftwal.__file__
    with raftwal.open(sys.argv[1]) as log:
        log.append([raftwal.Entry(1, 1, memoryview(b"installed"))], raftwal.HardState(1, 1, 1))
        assert log[1].data == b"installed" and log.hardstate.commit == 1
    print("ok", raftwal.library_version())
    """
)


def test_pip_install_into_a_venv(tmp_path):
    system_python = os.environ.get("RAFTWAL_TEST_PYTHON", "/usr/bin/python3")
    if shutil.which("swig") is None:
        pytest.skip("swig is not installed")
    tree = tmp_path / "raftwal"
    shutil.copytree(REPO_ROOT / "bindings" / "python", tree / "bindings" / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so",
                                                  "_raftwal.py"))
    shutil.copytree(REPO_ROOT / "include", tree / "include")
    shutil.copytree(REPO_ROOT / "src", tree / "src")
    venv = tmp_path / "venv"
    subprocess.run([system_python, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_NO_INDEX"] = "1"  # offline: never reach for a package index
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
         str(tree / "bindings" / "python")],
        check=True, timeout=600, env=env, cwd=tmp_path,
    )
    out = subprocess.run([python, "-c", SMOKE, str(tmp_path / "wal")], check=True,
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.stdout.startswith("ok ")
