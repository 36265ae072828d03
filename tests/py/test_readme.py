"""The README's Python example runs as written (in a scratch directory)."""

from __future__ import annotations

import re
import subprocess

from conftest import PYTHON, REPO_ROOT, child_env

READMES = [REPO_ROOT / "bindings" / "python" / "README.md", REPO_ROOT / "README.md"]


def python_examples(text: str):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_example_runs(tmp_path):
    for n, readme in enumerate(READMES):
        [example, *_] = python_examples(readme.read_text())
        assert len(example.strip().splitlines()) <= 5
        # The example writes to /tmp/raftwal-demo; point it at a fresh dir.
        script = example.replace("/tmp/raftwal-demo", str(tmp_path / f"demo{n}"))
        assert script != example
        out = subprocess.run([PYTHON, "-c", script], env=child_env(), capture_output=True,
                             text=True, timeout=60, check=True)
        assert "Entry(index=1, term=1, data=b'hello', type=0)" in out.stdout
        assert "[b'hello']" in out.stdout
