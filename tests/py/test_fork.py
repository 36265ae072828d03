"""A log inherited through os.fork(): the child must not use it.

The child holds no lock on the log (fcntl locks are not inherited) and has
none of the parent's threads, so anything it did with the handle would be
wrong: appends the parent overwrites silently, or a close that hangs. In the
child every call raises ClosedError, close() does nothing, and finalizers at
exit leave the handle alone. The forks happen in a child interpreter with a
timeout (run_script), so a hang fails the test.
"""

from __future__ import annotations

from conftest import run_script

# argv[1]: the log directory; argv[2]: what the child does: "checks" tries
# every kind of call, then leaves with os._exit(); "exit" leaves at once
# with sys.exit(), so the interpreter's finalizers meet the open log and
# iterator (Log.__del__, EntryIterator.__del__).
SCRIPT = r"""
import gc, os, sys, traceback
import raftwal
path, ending = sys.argv[1], sys.argv[2]

log = raftwal.open(path, sync=False)
log.append([(1, 1, b"parent")], (1, 0, 1))
log.sync()
it = log.entries()

def refused(call):
    try:
        call()
    except raftwal.ClosedError:
        return True
    return False

def child():
    calls = {
        "append": lambda: log.append([(2, 1, b"child")], (1, 0, 2)),
        "set_hardstate": lambda: log.set_hardstate((9, 9, 1)),
        "truncate": lambda: log.truncate(1),
        "sync": log.sync,
        "getitem": lambda: log[1],
        "last_index": lambda: log.last_index,
        "entries": log.entries,
        "next": lambda: next(it),
        "stats": log.stats,
    }
    answered = [name for name, call in calls.items() if not refused(call)]
    assert not answered, f"the child used the inherited handle: {answered}"
    assert log.closed, "an inherited log must read as closed in the child"
    log.close()  # does nothing (and must not hang)
    it.close()

pid = os.fork()
if pid == 0:
    if ending == "exit":
        sys.exit(0)  # at once, with the log open: finalizers run at exit
    try:
        child()
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)

_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, f"child failed: {status}"
# The parent's handle is intact and the child changed nothing.
assert log[1].data == b"parent"
assert log.hardstate == (1, 0, 1)
log.append([(2, 2, b"parent again")])
it.close()
log.close()
with raftwal.open(path) as again:
    assert [e.data for e in again] == [b"parent", b"parent again"]
    assert again.hardstate == (1, 0, 1)
print("ok")
"""


def run_fork(log_dir, ending):
    done = run_script(SCRIPT, str(log_dir), ending, timeout=30)
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip().endswith("ok"), done.stdout + done.stderr


def test_inherited_log_refuses_every_call_in_the_child(log_dir):
    run_fork(log_dir, "checks")


def test_child_exit_leaves_the_inherited_log_alone(log_dir):
    run_fork(log_dir, "exit")
