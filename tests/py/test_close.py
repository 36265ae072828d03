"""close() against signal handlers, Ctrl-C and racing threads.

The signal tests run in a child interpreter with a timeout (run_script), so
that a deadlock fails the test instead of hanging the suite, and they use
real signals (os.kill, setitimer). Every child ends by reopening the log for
writing in the same process: that succeeds only if raftwal_log_close() ran
(it releases the lock), so it proves the handle was really closed.
"""

from __future__ import annotations

import sys
import threading

import pytest

import raftwal

from conftest import run_script

# Prepended to every child script: argv[1] is the log directory.
PRELUDE = """
import os, signal, sys, threading
import raftwal
path = sys.argv[1]

def assert_closed_for_real(log, last_index):
    assert log.closed
    try:
        log.first_index
    except raftwal.ClosedError:
        pass
    else:
        raise AssertionError("a closed log answered")
    with raftwal.open(path) as again:  # LockedError unless close ran
        assert again.last_index == last_index, again.last_index
"""


def run_child(code: str, log_dir, timeout: float = 30) -> str:
    done = run_script(PRELUDE + code, str(log_dir), timeout=timeout)
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip().endswith("ok"), done.stdout + done.stderr
    return done.stdout


def test_close_from_a_signal_handler_inside_a_call(log_dir):
    # The entry's __index__ runs inside append's guarded call and sends
    # SIGTERM to the process: the handler runs right there, on the thread
    # that is inside the call, and closes the log (what services do on
    # SIGTERM). The close waits for that call to finish, then runs.
    run_child("""
log = raftwal.open(path)
class SigtermOnIndex:
    def __index__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return 1
seen_in_handler = []
def on_term(signo, frame):
    log.close()  # returns at once: the append it interrupted is in flight
    seen_in_handler.append(log.closed)
    try:
        log.last_index
    except raftwal.ClosedError:
        seen_in_handler.append("refused")
signal.signal(signal.SIGTERM, on_term)
log.append([(SigtermOnIndex(), 1, b"first")])
assert seen_in_handler == [False, "refused"], seen_in_handler
assert_closed_for_real(log, 1)
print("ok")
""", log_dir)


def test_close_from_a_signal_handler_waits_for_other_threads(log_dir):
    # As above, and another thread is inside a call too: the close that the
    # handler asked for runs when the main thread's call ends and the other
    # thread's call has left as well.
    run_child("""
log = raftwal.open(path)
log.append([(1, 1, b"first")])
inside, release = threading.Event(), threading.Event()
class WaitOnIndex:
    def __index__(self):
        inside.set()
        release.wait()
        return 1
def other_thread():
    log.set_hardstate((WaitOnIndex(), 0, 0))
def release_once_close_began():
    while True:  # new calls are refused once close() began
        try:
            log.durable_index
        except raftwal.ClosedError:
            break
    release.set()
class SigtermOnIndex:
    def __index__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return 2
signal.signal(signal.SIGTERM, lambda signo, frame: log.close())
other = threading.Thread(target=other_thread, daemon=True)
other.start()
inside.wait()
threading.Thread(target=release_once_close_began, daemon=True).start()
log.append([(SigtermOnIndex(), 1, b"second")])  # returns once the log is closed
other.join()
assert_closed_for_real(log, 2)
with raftwal.open(path) as again:
    assert again.hardstate == (1, 0, 0), again.hardstate
print("ok")
""", log_dir)


def test_iterator_close_from_a_signal_handler_inside_next(log_dir):
    # A profile hook sends SIGTERM just before next() calls
    # raftwal_iter_next(): the handler, which closes the iterator and the
    # log, runs inside next() on the same thread. Both closes wait for that
    # read; it returns its entry, and the iterator ends after it.
    run_child("""
log = raftwal.open(path)
log.append([(1, 1, b"first"), (2, 1, b"second")])
it = log.entries()
def on_term(signo, frame):
    it.close()
    log.close()
signal.signal(signal.SIGTERM, on_term)
def hook(frame, event, arg):
    if event == "c_call" and getattr(arg, "__name__", "") == "raftwal_iter_next":
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)
sys.setprofile(hook)
entry = next(it)
sys.setprofile(None)
assert entry.data == b"first", entry
try:
    next(it)
except StopIteration:
    pass
else:
    raise AssertionError("the closed iterator went on")
assert_closed_for_real(log, 2)
print("ok")
""", log_dir)


def test_close_from_a_timer_signal_during_appends(log_dir):
    # The realistic shape: a loop of appends, and a handler that closes the
    # log whenever the signal comes. The loop ends with ClosedError.
    run_child("""
log = raftwal.open(path, sync=False)
def on_alarm(signo, frame):
    signal.setitimer(signal.ITIMER_REAL, 0)
    log.close()
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.02)
index = 0
try:
    while True:
        log.append([(index + 1, 1, b"x" * 100)])
        index += 1
except raftwal.ClosedError:
    pass
assert_closed_for_real(log, index)
print("ok")
""", log_dir)


def test_keyboard_interrupts_during_calls_leak_nothing(log_dir):
    # KeyboardInterrupt raised by a signal handler at arbitrary points of
    # calls (entering and leaving the handle guard included). Afterwards
    # close() must not wait for a call that is not there any more.
    run_child("""
log = raftwal.open(path, sync=False)
armed = [True]
def interrupt(signo, frame):
    if armed[0]:
        armed[0] = False
        raise KeyboardInterrupt
signal.signal(signal.SIGALRM, interrupt)
signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
interrupts = 0
while interrupts < 400:
    try:
        armed[0] = True  # only inside the try: the loop's own code is not under test
        while True:
            log.first_index
            log.append([(log.last_index + 1, 1, b"y")])
            log.bounds()
    except KeyboardInterrupt:
        interrupts += 1
signal.setitimer(signal.ITIMER_REAL, 0)
last = log.last_index
log.close()
assert_closed_for_real(log, last)
print("ok")
""", log_dir, timeout=60)


def test_interrupted_close_keeps_the_handle(log_dir):
    # A thread is inside a call (its entry's __index__ waits); the main
    # thread's close() waits for it and gets Ctrl-C. The log is not closed
    # yet, so `closed` must say so, and a later close() must close it.
    run_child("""
log = raftwal.open(path)
inside = threading.Event()
release = threading.Event()
class WaitOnIndex:
    def __index__(self):
        inside.set()
        release.wait()
        return 1
def appender():
    log.append([(WaitOnIndex(), 1, b"first")])
def interrupt_once_close_started():
    inside.wait()
    while True:  # new calls are refused once close() began
        try:
            log.durable_index
        except raftwal.ClosedError:
            break
    os.kill(os.getpid(), signal.SIGINT)
thread = threading.Thread(target=appender, daemon=True)
thread.start()
threading.Thread(target=interrupt_once_close_started, daemon=True).start()
inside.wait()
try:
    log.close()
except KeyboardInterrupt:
    pass
else:
    raise AssertionError("close() returned with a call in flight")
assert not log.closed, "closed is True but raftwal_log_close did not run"
release.set()
thread.join()
log.close()
assert_closed_for_real(log, 1)
print("ok")
""", log_dir)


def pause_before_c_call(name, paused, resume):
    """A profile hook for this thread: sets ``paused`` and waits for
    ``resume`` just before the builtin ``name`` is called."""
    def hook(frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") == name:
            sys.setprofile(None)
            paused.set()
            resume.wait()
    return hook


@pytest.mark.parametrize("read", [lambda log: next(log.entries()), lambda log: log[1]],
                         ids=["next", "getitem"])
def test_close_waits_for_a_read_in_flight(log_dir, read):
    # A reader is stopped right before raftwal_iter_next(); another thread
    # starts close(). The read is a call in flight: the handle must stay
    # open until it is done, and the read must get its entry.
    log = raftwal.open(log_dir)
    log.append([(1, 1, b"first")])
    paused, resume = threading.Event(), threading.Event()
    result = []

    def reader():
        sys.setprofile(pause_before_c_call("raftwal_iter_next", paused, resume))
        try:
            result.append(read(log))
        except Exception as error:  # noqa: BLE001 - asserted below
            result.append(error)

    reading = threading.Thread(target=reader)
    reading.start()
    paused.wait()
    closing = threading.Thread(target=log.close)
    closing.start()
    while True:  # new calls are refused once close() began
        try:
            log.durable_index
        except raftwal.ClosedError:
            break
    closed_under_the_reader = log.closed
    resume.set()
    reading.join()
    closing.join()
    assert not closed_under_the_reader, "the handle was taken from a call in flight"
    assert result == [raftwal.Entry(1, 1, b"first", 0)]
    assert log.closed
