"""Builds the raftwal Python package with setuptools, offline.

The extension raftwal._raftwal_c is compiled from the SWIG wrapper of
raftwal.i plus the engine's own C sources (../../src/*.c), so the installed
package needs no libraftwal.so. SWIG (the `swig` program, or $SWIG) runs at
build time; its Python half, raftwal/_raftwal.py, is written straight into
the build directory (or next to the package for in-place builds).

    /usr/bin/python3 -m pip install --no-build-isolation --break-system-packages ./bindings/python

The package is built for the interpreter that runs pip.
"""

import glob
import os
import re
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
INCLUDE_DIR = os.path.join(ROOT, "include")
SRC_DIR = os.path.join(ROOT, "src")
INTERFACE = os.path.join(HERE, "raftwal.i")


def engine_sources():
    sources = sorted(glob.glob(os.path.join(SRC_DIR, "*.c")))
    if not sources or not os.path.exists(os.path.join(INCLUDE_DIR, "raftwal.h")):
        raise SystemExit(
            f"raftwal: engine sources not found under {ROOT} (expected include/raftwal.h "
            "and src/*.c two levels above setup.py: build from a raftwal checkout)"
        )
    return sources


def header_version():
    with open(os.path.join(INCLUDE_DIR, "raftwal.h"), encoding="utf-8") as header:
        match = re.search(r'#define RAFTWAL_VERSION_STRING "([^"]+)"', header.read())
    if match is None:
        raise SystemExit("raftwal: RAFTWAL_VERSION_STRING not found in include/raftwal.h")
    return match.group(1)


class BuildExtWithSwig(build_ext):
    """Runs SWIG on raftwal.i, then compiles the wrapper with the engine."""

    def run(self):
        swig = os.environ.get("SWIG") or shutil.which("swig")
        if swig is None:
            raise SystemExit("raftwal: the `swig` program is needed (Debian: apt-get install swig)")
        package_out = (
            os.path.join(HERE, "raftwal") if self.inplace else os.path.join(self.build_lib, "raftwal")
        )
        wrapper = os.path.join(self.build_temp, "raftwal_wrap.c")
        os.makedirs(package_out, exist_ok=True)
        os.makedirs(self.build_temp, exist_ok=True)
        subprocess.check_call(
            [swig, "-python", "-interface", "_raftwal_c", "-I" + INCLUDE_DIR, "-outdir", package_out, "-o", wrapper, INTERFACE]
        )
        for ext in self.extensions:
            ext.sources = [wrapper] + engine_sources()
        super().run()


setup(
    name="raftwal",
    version=header_version(),
    description="Python binding of raftwal, a write-ahead log engine for Raft",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="see the raftwal repository",
    python_requires=">=3.8",
    packages=["raftwal"],
    package_data={"raftwal": ["py.typed"]},
    ext_modules=[
        Extension(
            "raftwal._raftwal_c",
            sources=[],  # filled in by BuildExtWithSwig
            include_dirs=[INCLUDE_DIR, SRC_DIR],
            define_macros=[("RAFTWAL_BUILDING", None), ("_GNU_SOURCE", None)],
            extra_compile_args=["-std=c11", "-fvisibility=hidden", "-pthread", "-Wno-unused-parameter"],
            extra_link_args=["-pthread"],
        )
    ],
    cmdclass={"build_ext": BuildExtWithSwig},
    zip_safe=False,
)
