"""Read-only handles in other processes against a live writer (issue 21,
"Readers in other processes").

A writer process appends, rotates (16 KiB segments), purges (its purged
files are recycled) and truncates as fast as it can. Two reader processes
open the log read-only again and again and read every entry (``log[i]`` and
``log.entries()``); one of them also runs ``raftwal.verify``. The only error
allowed is ``CompactedError`` (an entry purged since the open, or, from an
open or a verify, a log that changed under each attempt: the message says
so); every entry read holds its own bytes. Before the fix the opens failed
with ``RaftwalIOError`` ("open: No such file or directory") and
``CorruptError`` on this healthy log.
"""

from __future__ import annotations

import subprocess

from conftest import PYTHON, child_env, run_script

WRITER = r"""
import sys
import raftwal
log = raftwal.open(sys.argv[1], sync=False, segment_size=16 * 1024)
nxt, term, n = log.last_index + 1, 1, 0
def payload(i, t):
    return (b"%d:%d;" % (i, t)) * (1 + (i * 7 + t) % 40)
print("ready", flush=True)
while True:
    k = 1 + n % 4
    log.append([(i, term, payload(i, term)) for i in range(nxt, nxt + k)])
    nxt += k
    if n % 23 == 22:
        nxt -= 1 + n % 3
        term += 1
        log.truncate(nxt)
    if n % 8 == 7 and nxt > 120:
        log.purge(nxt - 100)
    n += 1
"""

READER = r"""
import sys
import raftwal
path, opens, verifies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def changed_under(err):
    return "changed under" in str(err)

def check(e):
    want = (b"%d:%d;" % (e.index, e.term)) * (1 + (e.index * 7 + e.term) % 40)
    assert e.data == want, f"entry {e.index} term {e.term}: wrong bytes {e.data[:40]!r}"

reads = compacted = changed = 0
for k in range(opens):
    try:
        log = raftwal.open(path, readonly=True)
    except raftwal.CompactedError as err:
        assert changed_under(err), err
        changed += 1
        continue
    with log:
        first, last = log.first_index, log.last_index
        for i in range(first, last + 1):
            try:
                check(log[i])
                reads += 1
            except raftwal.CompactedError:
                compacted += 1
        if k % 4 == 0:
            try:
                for e in log.entries(first, last + 1):
                    check(e)
            except raftwal.CompactedError:
                compacted += 1
    if k < verifies:
        try:
            raftwal.verify(path)
        except raftwal.CompactedError as err:
            assert changed_under(err), err
            changed += 1
print(f"opens {opens} reads {reads} compacted {compacted} changed {changed}")
assert reads > 0
"""


def test_readers_in_other_processes(tmp_path):
    path = str(tmp_path / "wal")
    writer = subprocess.Popen([PYTHON, "-c", WRITER, path], env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The log exists once the writer says so (its open created it).
        assert writer.stdout.readline() == "ready\n", writer.stderr.read()
        readers = [subprocess.Popen([PYTHON, "-c", READER, path, "600", str(v)],
                                    env=child_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
                   for v in (150, 300)]
        for r in readers:
            out, err = r.communicate(timeout=240)
            assert r.returncode == 0, f"reader failed:\n{out}\n{err}"
            print(out)
        assert writer.poll() is None, f"the writer stopped: {writer.stderr.read()}"
    finally:
        writer.kill()
        writer.wait()
    # The log the writer left (killed, not closed) is clean; it did purge.
    done = run_script("import raftwal, sys; print(raftwal.verify(sys.argv[1])['first_index'])", path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1000
