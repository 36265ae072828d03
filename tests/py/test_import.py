"""The package imports, is generated from the header, and documents itself."""

from __future__ import annotations

import inspect
import pydoc
import re

import raftwal
from raftwal import _raftwal as low

from conftest import REPO_ROOT

HEADER = (REPO_ROOT / "include" / "raftwal.h").read_text()


def test_versions_match_the_header():
    version = re.search(r'#define RAFTWAL_VERSION_STRING "([^"]+)"', HEADER).group(1)
    assert raftwal.__version__ == version
    assert raftwal.library_version() == version


def test_every_public_c_function_is_wrapped():
    # SWIG %includes the header: a function added there must appear here.
    functions = set(re.findall(r"RAFTWAL_API[^;]*?\b(raftwal_\w+)\s*\(", HEADER))
    assert len(functions) >= 30
    missing = sorted(name for name in functions if not hasattr(low, name))
    assert missing == []


def test_every_error_code_has_its_own_class():
    codes = set(re.findall(r"\b(RAFTWAL_E[A-Z]+)\s*=\s*-\d+", HEADER))
    assert len(codes) >= 16
    classes = {}
    for c_name in codes:
        code = getattr(low, c_name)
        cls = raftwal._errors.ERROR_CLASSES[code]
        assert issubclass(cls, raftwal.Error)
        assert cls.name == c_name[len("RAFTWAL_"):]
        assert getattr(raftwal, cls.name) == code
        classes[code] = cls
    assert len(set(classes.values())) == len(codes)  # 1:1


def test_public_names_have_docstrings():
    undocumented = []
    for name in raftwal.__all__:
        obj = getattr(raftwal, name)
        if not inspect.getdoc(obj):
            undocumented.append(name)
        if inspect.isclass(obj):
            for member_name, member in vars(obj).items():
                if member_name.startswith("_") and member_name not in (
                    "__init__", "__getitem__", "__len__", "__iter__", "__contains__", "__next__"
                ):
                    continue
                if callable(member) or isinstance(member, property):
                    if not inspect.getdoc(member):
                        undocumented.append(f"{name}.{member_name}")
    assert undocumented == []


def test_help_reads_well():
    text = pydoc.render_doc(raftwal.Log, renderer=pydoc.plaintext)
    for word in ("append", "entries", "truncate", "purge", "hardstate", "ClosedError"):
        assert word in text


def test_type_hints_are_present():
    hints = inspect.signature(raftwal.Log.append)
    assert hints.parameters["sync"].kind is inspect.Parameter.KEYWORD_ONLY
    assert raftwal.open.__annotations__["return"] in ("Log", raftwal.Log)
