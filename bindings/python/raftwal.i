/*
 * raftwal.i -- SWIG interface for the low-level module raftwal._raftwal.
 *
 * Run SWIG with `-interface _raftwal_c`: the C extension is then
 * raftwal._raftwal_c and SWIG's Python half raftwal._raftwal. (The default
 * name, __raftwal, would be mangled by Python inside the proxy classes.)
 *
 * The declarations come from include/raftwal.h itself (%include below); this
 * file only says how C types cross into Python. Users import the pure-Python
 * package `raftwal` (raftwal/__init__.py), which is built on this module.
 *
 * Conventions of the low-level module:
 *   - Every fallible function (one returning int) raises the raftwal.Error
 *     subclass of its code, with the thread's raftwal_errmsg() as message.
 *     It returns None, or its out-parameters (one value, or a list of them).
 *   - The functions that report RAFTWAL_ERANGE as "your buffer is too small"
 *     (get, snapshot, metadata) do not raise for it: they return a bool
 *     "complete" first, then their out-parameters (the size needed).
 *   - (const void *, size_t) pairs take any C-contiguous bytes-like object
 *     (bytes, bytearray, memoryview, ...) through the buffer protocol, with
 *     no copy; (void *buf, size_t cap) pairs take a writable one, or None.
 *   - Handles (raftwal_log *, raftwal_iter *) are opaque SWIG pointers. The
 *     Python package guarantees, through HandleGuard (below), that no call
 *     uses a closed handle or one inherited through fork().
 *   - The GIL is released around every call into the library (threads="1")
 *     except the few that never block (%nothread below), so I/O, fsync and
 *     lock waits never stall other Python threads. Typemap code, which
 *     touches Python objects, always runs with the GIL held.
 */
%module(package="raftwal", threads="1") _raftwal

%{
#include <stdlib.h>
#include <string.h>
#include "raftwal.h"

/* Raises the raftwal.Error subclass of `code` with `message`. The classes
 * live in the pure-Python module raftwal._errors so that there is exactly
 * one definition of them; it is imported on the first error only. */
static void raftwal_py_raise_message(int code, const char *message)
{
    PyObject *errors = NULL, *text = NULL, *exc = NULL;

    text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (text == NULL)
        goto done;
    errors = PyImport_ImportModule("raftwal._errors");
    if (errors == NULL)
        goto done;
    exc = PyObject_CallMethod(errors, "error_from_code", "iO", code, text);
    if (exc == NULL)
        goto done;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
done:
    Py_XDECREF(exc);
    Py_XDECREF(errors);
    Py_XDECREF(text);
}

/* Raises for a code just returned by the library. Must run on the thread
 * that made the call, before any other raftwal call, so that
 * raftwal_errmsg() still describes this failure. */
static void raftwal_py_raise(int code)
{
    const char *message = raftwal_errmsg();

    if (message == NULL || message[0] == '\0')
        message = raftwal_strerror(code);
    raftwal_py_raise_message(code, message);
}

/* Converts a Python int to uint64_t. Non-integers raise TypeError; integers
 * outside [0, 2**64) raise raftwal.InvalidArgument (a ValueError), the same
 * error the library gives for an out-of-range argument. */
static int raftwal_py_to_u64(PyObject *obj, uint64_t *out, const char *what)
{
    PyObject *number = PyNumber_Index(obj);
    unsigned long long value;
    char message[128];

    if (number == NULL)
        return 0;
    value = PyLong_AsUnsignedLongLong(number);
    Py_DECREF(number);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return 0;
        PyErr_Clear();
        snprintf(message, sizeof message,
                 "%s must be an integer in [0, 2**64)", what);
        raftwal_py_raise_message(RAFTWAL_EINVAL, message);
        return 0;
    }
    *out = (uint64_t)value;
    return 1;
}

static int raftwal_py_to_u32(PyObject *obj, uint32_t *out, const char *what)
{
    uint64_t value;
    char message[128];

    if (!raftwal_py_to_u64(obj, &value, what))
        return 0;
    if (value > UINT32_MAX) {
        snprintf(message, sizeof message,
                 "%s must be an integer in [0, 2**32)", what);
        raftwal_py_raise_message(RAFTWAL_EINVAL, message);
        return 0;
    }
    *out = (uint32_t)value;
    return 1;
}

/* Gets a read-only, C-contiguous view of a bytes-like object. */
static int raftwal_py_get_buffer(PyObject *obj, Py_buffer *view)
{
    return PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) == 0;
}

/* A sequence as a tuple the caller owns: obj itself if it is a tuple, else
 * a copy. Converting items runs user code (__index__) that may mutate a
 * list being converted; the items of a tuple held here cannot go away, where
 * PySequence_Fast would lend the list's own items and length. Any iterable
 * is accepted, as PySequence_Fast does; a TypeError says `message`. */
static PyObject *raftwal_py_as_tuple(PyObject *obj, const char *message)
{
    PyObject *tuple;

    if (PyTuple_Check(obj)) {
        Py_INCREF(obj);
        return obj;
    }
    tuple = PySequence_Tuple(obj);
    if (tuple == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, message);
    }
    return tuple;
}

/* Parses a hard state given as any 3-item sequence (term, vote, commit),
 * such as raftwal.HardState. */
static int raftwal_py_to_hardstate(PyObject *obj, raftwal_hardstate *hs)
{
    PyObject *seq = raftwal_py_as_tuple(obj, "hard state must be a (term, vote, commit) sequence");
    int ok = 0;

    if (seq == NULL)
        return 0;
    if (PyTuple_GET_SIZE(seq) != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "hard state must be a (term, vote, commit) sequence");
        goto done;
    }
    ok = raftwal_py_to_u64(PyTuple_GET_ITEM(seq, 0), &hs->term, "hard state term") &&
         raftwal_py_to_u64(PyTuple_GET_ITEM(seq, 1), &hs->vote, "hard state vote") &&
         raftwal_py_to_u64(PyTuple_GET_ITEM(seq, 2), &hs->commit, "hard state commit");
done:
    Py_DECREF(seq);
    return ok;
}

/* A batch of entries borrowed from Python for one raftwal_log_append():
 * the entry array plus one buffer view per entry, so the data is read in
 * place (no copy) and stays pinned (a bytearray cannot be resized while
 * viewed) while the GIL is released. Batches of up to
 * RAFTWAL_PY_SMALL_BATCH entries (the common case) use the arrays inside
 * the struct, which lives on the wrapper's stack: no allocation per call. */
#define RAFTWAL_PY_SMALL_BATCH 32
typedef struct raftwal_py_batch {
    raftwal_entry *entries;
    Py_buffer *views;
    size_t count;  /* entries parsed so far = views to release */
    raftwal_entry small_entries[RAFTWAL_PY_SMALL_BATCH];
    Py_buffer small_views[RAFTWAL_PY_SMALL_BATCH];
} raftwal_py_batch;

static void raftwal_py_batch_release(raftwal_py_batch *batch)
{
    size_t i;

    for (i = 0; i < batch->count; i++)
        PyBuffer_Release(&batch->views[i]);
    if (batch->entries != batch->small_entries)
        free(batch->entries);
    if (batch->views != batch->small_views)
        free(batch->views);
    batch->entries = NULL;
    batch->views = NULL;
    batch->count = 0;
}

/* Parses one entry: any sequence (index, term, data) or (index, term, data,
 * type), such as raftwal.Entry. */
static int raftwal_py_parse_entry(PyObject *obj, raftwal_entry *entry,
                                  Py_buffer *view)
{
    static const char shape[] =
        "each entry must be an Entry or an (index, term, data[, type]) sequence";
    PyObject *seq = raftwal_py_as_tuple(obj, shape);
    Py_ssize_t n;
    int ok = 0;

    if (seq == NULL)
        return 0;
    n = PyTuple_GET_SIZE(seq);
    if (n != 3 && n != 4) {
        PyErr_SetString(PyExc_TypeError, shape);
        goto done;
    }
    memset(entry, 0, sizeof *entry);
    if (!raftwal_py_to_u64(PyTuple_GET_ITEM(seq, 0), &entry->index, "entry index") ||
        !raftwal_py_to_u64(PyTuple_GET_ITEM(seq, 1), &entry->term, "entry term") ||
        (n == 4 && !raftwal_py_to_u32(PyTuple_GET_ITEM(seq, 3), &entry->type, "entry type")))
        goto done;
    if (!raftwal_py_get_buffer(PyTuple_GET_ITEM(seq, 2), view))
        goto done;
    entry->data = view->buf;
    entry->size = (size_t)view->len;
    ok = 1;
done:
    Py_DECREF(seq);
    return ok;
}

static int raftwal_py_batch_parse(PyObject *obj, raftwal_py_batch *batch)
{
    PyObject *seq = raftwal_py_as_tuple(obj, "entries must be a sequence");
    Py_ssize_t n, i;
    int ok = 0;

    batch->entries = NULL;
    batch->views = NULL;
    batch->count = 0;
    if (seq == NULL)
        return 0;
    n = PyTuple_GET_SIZE(seq);
    if ((size_t)n > RAFTWAL_MAX_BATCH_ENTRIES) {
        raftwal_py_raise_message(RAFTWAL_EINVAL,
                                 "too many entries in one batch (RAFTWAL_MAX_BATCH_ENTRIES)");
        goto done;
    }
    if (n <= RAFTWAL_PY_SMALL_BATCH) {  /* entries is never NULL, even if empty */
        batch->entries = batch->small_entries;
        batch->views = batch->small_views;
    } else {
        batch->entries = calloc((size_t)n, sizeof *batch->entries);
        batch->views = calloc((size_t)n, sizeof *batch->views);
        if (batch->entries == NULL || batch->views == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        if (!raftwal_py_parse_entry(PyTuple_GET_ITEM(seq, i),
                                    &batch->entries[i], &batch->views[i]))
            goto done;
        batch->count++;
    }
    ok = 1;
done:
    Py_DECREF(seq);
    return ok;
}

/* Copies an entry's data (a borrowed view into the log's mapped file) into
 * a new bytes object: the one copy a read makes. Large copies run without
 * the GIL, since touching mapped pages may wait for the disk. */
static PyObject *raftwal_py_entry_tuple(const raftwal_entry *e)
{
    PyObject *data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)e->size);

    if (data == NULL)
        return NULL;
    if (e->size >= 65536) {
        Py_BEGIN_ALLOW_THREADS
        memcpy(PyBytes_AS_STRING(data), e->data, e->size);
        Py_END_ALLOW_THREADS
    } else if (e->size > 0) {
        memcpy(PyBytes_AS_STRING(data), e->data, e->size);
    }
    return Py_BuildValue("(KKNI)", (unsigned long long)e->index,
                         (unsigned long long)e->term, data,
                         (unsigned int)e->type);
}
%}

%include <stdint.i>

/* ---- the handle guard ------------------------------------------------ */
/* raftwal._raftwal_c.HandleGuard owns a log's handle for the package and
 * keeps the C API's one rule for it: raftwal_log_close() never races with
 * another call on the handle (raftwal/_log.py documents the behaviour).
 *
 * It is written in C for one reason: signal handlers. Python runs them
 * between bytecodes, and a handler may raise (KeyboardInterrupt) or call
 * close() itself. Entering and leaving the guard are C calls that run no
 * Python code, so no handler runs between counting a call and the `with`
 * statement taking charge of it, or between leaving the `with` and the
 * count going down. Everything here runs with the GIL held, which
 * serializes it; only the waits and raftwal_log_close() release it.
 *
 * Fork: a child made by fork() has the parent's memory but none of its
 * threads and none of its log locks, so it must never use, sync or close
 * an inherited handle. A pthread_atfork() hook bumps a generation counter
 * in every child; a guard made under another generation is "inherited" and
 * refuses everything without touching the handle or any lock. */
%wrapper %{
#include <pthread.h>

static volatile unsigned long raftwal_py_fork_generation = 0;

static void raftwal_py_after_fork_in_child(void)
{
    raftwal_py_fork_generation++;
}

enum { RAFTWAL_PY_OPEN, RAFTWAL_PY_CLOSING, RAFTWAL_PY_CLOSED };

typedef struct {
    PyObject_HEAD
    PyObject *handle;          /* the SWIG raftwal_log pointer; NULL once closed */
    unsigned long generation;  /* raftwal_py_fork_generation when opened */
    int state;                 /* RAFTWAL_PY_OPEN, _CLOSING, _CLOSED */
    Py_ssize_t users;          /* calls in flight, all threads together */
    PyObject *depths;          /* {thread ident: that thread's calls in flight} */
    PyObject *deferred;        /* threads whose close() waits for their own calls */
    PyThread_type_lock idle;   /* held exactly while users > 0 */
} raftwal_py_guard;

static int raftwal_py_guard_inherited(const raftwal_py_guard *g)
{
    return g->generation != raftwal_py_fork_generation;
}

/* Raises ClosedError, saying why, if the guard cannot be entered. */
static int raftwal_py_guard_refuse(const raftwal_py_guard *g)
{
    if (raftwal_py_guard_inherited(g)) {
        raftwal_py_raise_message(RAFTWAL_ECLOSED,
            "the log was opened by another process: a handle inherited "
            "through fork() is not usable in the child");
        return 1;
    }
    if (g->state != RAFTWAL_PY_OPEN) {
        raftwal_py_raise_message(RAFTWAL_ECLOSED, "the log is closed");
        return 1;
    }
    return 0;
}

/* This thread's calls in flight (0 if none), or -1 with an exception. */
static Py_ssize_t raftwal_py_guard_depth(raftwal_py_guard *g, PyObject *me)
{
    PyObject *depth = PyDict_GetItemWithError(g->depths, me);

    if (depth == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return PyLong_AsSsize_t(depth);
}

static int raftwal_py_guard_set_depth(raftwal_py_guard *g, PyObject *me, Py_ssize_t depth)
{
    PyObject *value;
    int rc;

    if (depth == 0)
        return PyDict_DelItem(g->depths, me);
    value = PyLong_FromSsize_t(depth);
    if (value == NULL)
        return -1;
    rc = PyDict_SetItem(g->depths, me, value);
    Py_DECREF(value);
    return rc;
}

/* Waits until no call is in flight, then closes the handle. Ctrl-C (any
 * exception from a signal handler) interrupts the wait and leaves the
 * guard CLOSING with its handle: a later close() finishes the job. */
static PyObject *raftwal_py_guard_finish_close(raftwal_py_guard *g)
{
    PyObject *handle;
    void *log = NULL;
    PyLockStatus got;
    int rc;

    while (g->users > 0 && g->state != RAFTWAL_PY_CLOSED) {
        Py_BEGIN_ALLOW_THREADS
        got = PyThread_acquire_lock_timed(g->idle, -1, 1);
        Py_END_ALLOW_THREADS
        if (got == PY_LOCK_ACQUIRED)
            PyThread_release_lock(g->idle);  /* let the other waiters see it too */
        else if (PyErr_CheckSignals() < 0)
            return NULL;
    }
    if (g->state == RAFTWAL_PY_CLOSED)  /* another close() got there first */
        Py_RETURN_NONE;
    /* From here to raftwal_log_close() no Python code runs: `closed` is
     * True only once the close is certain. */
    g->state = RAFTWAL_PY_CLOSED;
    handle = g->handle;
    g->handle = NULL;
    if (handle == NULL)
        Py_RETURN_NONE;
    if (!SWIG_IsOK(SWIG_ConvertPtr(handle, &log, SWIGTYPE_p_raftwal_log, 0)))
        log = NULL;  /* not a log handle: nothing to close */
    Py_BEGIN_ALLOW_THREADS
    rc = raftwal_log_close((raftwal_log *)log);
    Py_END_ALLOW_THREADS
    Py_DECREF(handle);
    if (rc < 0) {
        raftwal_py_raise(rc);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *raftwal_py_guard_enter(PyObject *self, PyObject *unused)
{
    raftwal_py_guard *g = (raftwal_py_guard *)self;
    PyObject *me;
    Py_ssize_t depth;
    int rc;

    (void)unused;
    if (raftwal_py_guard_refuse(g))
        return NULL;
    me = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (me == NULL)
        return NULL;
    depth = raftwal_py_guard_depth(g, me);
    rc = depth < 0 ? -1 : raftwal_py_guard_set_depth(g, me, depth + 1);
    Py_DECREF(me);
    if (rc < 0)
        return NULL;
    /* Nothing below can fail: the call now counts until __exit__. */
    if (g->users++ == 0 && !PyThread_acquire_lock(g->idle, NOWAIT_LOCK))
        Py_FatalError("raftwal: handle guard idle lock held with no user");
    Py_INCREF(g->handle);
    return g->handle;
}

static PyObject *raftwal_py_guard_exit(PyObject *self, PyObject *args)
{
    raftwal_py_guard *g = (raftwal_py_guard *)self;
    PyObject *me;
    Py_ssize_t depth;
    int deferred = 0;

    (void)args;
    if (raftwal_py_guard_inherited(g))  /* forked inside a call: leave it all */
        Py_RETURN_FALSE;
    me = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (me == NULL)
        return NULL;
    depth = raftwal_py_guard_depth(g, me);
    if (depth > 0 && raftwal_py_guard_set_depth(g, me, depth - 1) < 0)
        depth = -1;
    if (depth < 0)
        PyErr_Clear();  /* cannot happen short of memory; the count below matters */
    if (--g->users == 0)
        PyThread_release_lock(g->idle);
    if (depth == 1) {
        deferred = PySet_Discard(g->deferred, me);
        if (deferred < 0) {
            PyErr_Clear();
            deferred = 0;
        }
    }
    Py_DECREF(me);
    if (deferred) {  /* this thread's close() waited for this call */
        PyObject *done = raftwal_py_guard_finish_close(g);
        if (done == NULL)
            return NULL;
        Py_DECREF(done);
    }
    Py_RETURN_FALSE;
}

static PyObject *raftwal_py_guard_close(PyObject *self, PyObject *unused)
{
    raftwal_py_guard *g = (raftwal_py_guard *)self;
    PyObject *me;
    Py_ssize_t depth;

    (void)unused;
    if (raftwal_py_guard_inherited(g)) {
        /* Forget the handle without closing it: it is the parent's. */
        g->state = RAFTWAL_PY_CLOSED;
        Py_CLEAR(g->handle);
        Py_RETURN_NONE;
    }
    if (g->state == RAFTWAL_PY_CLOSED)
        Py_RETURN_NONE;
    me = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (me == NULL)
        return NULL;
    depth = raftwal_py_guard_depth(g, me);
    if (depth > 0 && PySet_Add(g->deferred, me) < 0)
        depth = -1;
    Py_DECREF(me);
    if (depth < 0)
        return NULL;
    g->state = RAFTWAL_PY_CLOSING;  /* refuse new calls from now on */
    if (depth > 0)  /* called from inside a call of this thread (a signal */
        Py_RETURN_NONE;  /* handler): the call's __exit__ closes */
    return raftwal_py_guard_finish_close(g);
}

static PyObject *raftwal_py_guard_get_closed(PyObject *self, void *unused)
{
    const raftwal_py_guard *g = (const raftwal_py_guard *)self;

    (void)unused;
    return PyBool_FromLong(g->state == RAFTWAL_PY_CLOSED || raftwal_py_guard_inherited(g));
}

static PyObject *raftwal_py_guard_get_inherited(PyObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(raftwal_py_guard_inherited((const raftwal_py_guard *)self));
}

static PyObject *raftwal_py_guard_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    raftwal_py_guard *g;
    PyObject *handle;

    if (!PyArg_ParseTuple(args, "O:HandleGuard", &handle) || (kwds && PyDict_Size(kwds))) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "HandleGuard(handle) takes no keywords");
        return NULL;
    }
    g = (raftwal_py_guard *)type->tp_alloc(type, 0);
    if (g == NULL)
        return NULL;
    g->generation = raftwal_py_fork_generation;
    g->state = RAFTWAL_PY_OPEN;
    g->depths = PyDict_New();
    g->deferred = PySet_New(NULL);
    g->idle = PyThread_allocate_lock();
    if (g->depths == NULL || g->deferred == NULL || g->idle == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        Py_DECREF(g);
        return NULL;
    }
    Py_INCREF(handle);
    g->handle = handle;
    return (PyObject *)g;
}

/* Frees the guard, never the handle: Log.__del__ closes an unclosed log
 * (with a ResourceWarning), and an inherited one must stay untouched. */
static void raftwal_py_guard_dealloc(PyObject *self)
{
    raftwal_py_guard *g = (raftwal_py_guard *)self;

    Py_XDECREF(g->handle);
    Py_XDECREF(g->depths);
    Py_XDECREF(g->deferred);
    if (g->idle != NULL) {
        if (g->users > 0)  /* only in a forked child: release before freeing */
            PyThread_release_lock(g->idle);
        PyThread_free_lock(g->idle);
    }
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef raftwal_py_guard_methods[] = {
    {"__enter__", raftwal_py_guard_enter, METH_NOARGS,
     "Counts a call in flight and returns the handle; ClosedError if closed, "
     "closing or inherited through fork()."},
    {"__exit__", raftwal_py_guard_exit, METH_VARARGS,
     "Ends the call; runs a close() this thread asked for meanwhile."},
    {"close", raftwal_py_guard_close, METH_NOARGS,
     "Refuses new calls, waits for those in flight, closes the handle."},
    {NULL, NULL, 0, NULL}
};

static PyGetSetDef raftwal_py_guard_getset[] = {
    {"closed", raftwal_py_guard_get_closed, NULL,
     "True once raftwal_log_close() ran or is running, or in a forked child.", NULL},
    {"inherited", raftwal_py_guard_get_inherited, NULL,
     "True in a process made by fork() after the log was opened.", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static PyTypeObject raftwal_py_guard_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "raftwal._raftwal_c.HandleGuard",
    .tp_basicsize = sizeof(raftwal_py_guard),
    .tp_dealloc = raftwal_py_guard_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Owns a raftwal_log handle; see raftwal/_log.py.",
    .tp_methods = raftwal_py_guard_methods,
    .tp_getset = raftwal_py_guard_getset,
    .tp_new = raftwal_py_guard_new,
};

static int raftwal_py_guard_register(PyObject *module)
{
    static int hooked = 0;

    if (PyType_Ready(&raftwal_py_guard_type) < 0)
        return -1;
    if (!hooked) {
        if (pthread_atfork(NULL, NULL, raftwal_py_after_fork_in_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "raftwal: pthread_atfork failed");
            return -1;
        }
        hooked = 1;
    }
    Py_INCREF(&raftwal_py_guard_type);
    if (PyModule_AddObject(module, "HandleGuard", (PyObject *)&raftwal_py_guard_type) < 0) {
        Py_DECREF(&raftwal_py_guard_type);
        return -1;
    }
    return 0;
}
%}

%init %{
    if (raftwal_py_guard_register(m) < 0)
        return NULL;
%}


/* ---- calls that never block keep the GIL ------------------------------ */
%nothread raftwal_version;
%nothread raftwal_version_number;
%nothread raftwal_strerror;
%nothread raftwal_errmsg;
%nothread raftwal_options_init;
%nothread raftwal_features;

/* ---- integers ---------------------------------------------------------- */
%typemap(in) uint64_t {
    if (!raftwal_py_to_u64($input, &$1, "$1_name"))
        SWIG_fail;
}
%typemap(out) uint64_t "$result = PyLong_FromUnsignedLongLong((unsigned long long)$1);";

/* ---- return codes ------------------------------------------------------ */
/* Every int-returning function is fallible unless listed below. */
%typemap(out) int {
    if ($1 < 0) {
        raftwal_py_raise($1);
        SWIG_fail;
    }
    $result = SWIG_Py_Void();
}
%typemap(out) int raftwal_version_number "$result = PyLong_FromLong($1);";

/* RAFTWAL_ERANGE means "buffer too small, size stored": not an error here. */
%typemap(out) int raftwal_log_get, int raftwal_log_snapshot, int raftwal_log_metadata {
    if ($1 < 0 && $1 != RAFTWAL_ERANGE) {
        raftwal_py_raise($1);
        SWIG_fail;
    }
    $result = PyBool_FromLong($1 == RAFTWAL_OK);
}

/* raftwal_iter_next: returns 1 with an entry, 0 at the end. The entry is
 * returned as (index, term, data: bytes, type), or None at the end. */
%typemap(out) int raftwal_iter_next {
    if ($1 < 0) {
        raftwal_py_raise($1);
        SWIG_fail;
    }
    $result = SWIG_Py_Void();
}
%typemap(in, numinputs=0) raftwal_entry *out (raftwal_entry entry) {
    memset(&entry, 0, sizeof entry);
    $1 = &entry;
}
%typemap(argout) raftwal_entry *out {
    if (result == 1) {
        PyObject *tuple = raftwal_py_entry_tuple($1);
        if (tuple == NULL)
            SWIG_fail;
        Py_DECREF($result);
        $result = tuple;
    }
}

/* ---- handles ----------------------------------------------------------- */
%define RAFTWAL_HANDLE_OUT(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *handle = NULL) {
    $1 = &handle;
}
%typemap(argout) TYPE **out {
    $result = SWIG_Python_AppendOutput($result,
                  SWIG_NewPointerObj(SWIG_as_voidptr(handle$argnum), $*1_descriptor, 0));
}
%enddef
RAFTWAL_HANDLE_OUT(raftwal_log)
RAFTWAL_HANDLE_OUT(raftwal_iter)

/* ---- scalar out-parameters -------------------------------------------- */
%typemap(in, numinputs=0) uint64_t *out (uint64_t value = 0),
                          uint64_t *index (uint64_t value = 0),
                          uint64_t *term (uint64_t value = 0) {
    $1 = &value;
}
%typemap(argout) uint64_t *out, uint64_t *index, uint64_t *term {
    $result = SWIG_Python_AppendOutput($result,
                  PyLong_FromUnsignedLongLong((unsigned long long)value$argnum));
}

/* ---- hard state -------------------------------------------------------- */
/* Input: None (no hard state in this batch) or (term, vote, commit). */
%typemap(in) const raftwal_hardstate *hs (raftwal_hardstate hs) {
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        if (!raftwal_py_to_hardstate($input, &hs))
            SWIG_fail;
        $1 = &hs;
    }
}
/* Output: (term, vote, commit). */
%typemap(in, numinputs=0) raftwal_hardstate *out (raftwal_hardstate hs) {
    memset(&hs, 0, sizeof hs);
    $1 = &hs;
}
%typemap(argout) raftwal_hardstate *out {
    $result = SWIG_Python_AppendOutput($result,
                  Py_BuildValue("(KKK)", (unsigned long long)$1->term,
                                (unsigned long long)$1->vote,
                                (unsigned long long)$1->commit));
}

/* ---- entries in -------------------------------------------------------- */
/* batch starts zeroed: freearg also runs when an earlier argument failed. */
%typemap(in) (const raftwal_entry *entries, size_t count) (raftwal_py_batch batch = {NULL, NULL, 0}) {
    if (!raftwal_py_batch_parse($input, &batch))
        SWIG_fail;
    $1 = batch.entries;
    $2 = batch.count;
}
%typemap(freearg) (const raftwal_entry *entries, size_t count) {
    raftwal_py_batch_release(&batch$argnum);
}

/* ---- bytes-like in: (const void *, size_t) ----------------------------- */
%typemap(in) (const void *data, size_t size) (Py_buffer view, int have_view = 0),
             (const void *meta, size_t meta_size) (Py_buffer view, int have_view = 0) {
    if (!raftwal_py_get_buffer($input, &view))
        SWIG_fail;
    have_view = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (const void *data, size_t size), (const void *meta, size_t meta_size) {
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
}

/* ---- writable buffers out: (void *buf, size_t cap, size_t *size) ------- */
/* Input: a writable bytes-like object, or None to ask for the size. The
 * size needed is returned after the "complete" flag. */
%typemap(in) (void *buf, size_t cap, size_t *size) (Py_buffer view, int have_view = 0, size_t needed = 0) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_WRITABLE) != 0)
            SWIG_fail;
        have_view = 1;
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
    $3 = &needed;
}
%typemap(argout) (void *buf, size_t cap, size_t *size) {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromSize_t(needed$argnum));
}
%typemap(freearg) (void *buf, size_t cap, size_t *size) {
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
}

/* raftwal_log_get: the entry is read into a writable buffer (or None to
 * ask for the size); returns complete, then (index, term, type, size). */
%typemap(in) (raftwal_entry *out, void *buf, size_t buf_size) (raftwal_entry entry, Py_buffer view, int have_view = 0) {
    memset(&entry, 0, sizeof entry);
    $1 = &entry;
    if ($input == Py_None) {
        $2 = NULL;
        $3 = 0;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_WRITABLE) != 0)
            SWIG_fail;
        have_view = 1;
        $2 = view.buf;
        $3 = (size_t)view.len;
    }
}
%typemap(argout) (raftwal_entry *out, void *buf, size_t buf_size) {
    $result = SWIG_Python_AppendOutput($result,
                  Py_BuildValue("(KKIn)", (unsigned long long)entry$argnum.index,
                                (unsigned long long)entry$argnum.term,
                                (unsigned int)entry$argnum.type,
                                (Py_ssize_t)entry$argnum.size));
}
%typemap(freearg) (raftwal_entry *out, void *buf, size_t buf_size) {
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
}

/* ---- sized structs out (stats, segment info, check) -------------------- */
/* A fresh struct with `size` set, returned as an owned SWIG proxy whose
 * attributes are the header's fields (the package turns it into a dict). */
%define RAFTWAL_SIZED_OUT(TYPE)
%typemap(in, numinputs=0) TYPE *out {
    $1 = (TYPE *)calloc(1, sizeof(TYPE));
    if ($1 == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
    $1->size = (uint32_t)sizeof(TYPE);
}
%typemap(argout) TYPE *out {
    $result = SWIG_Python_AppendOutput($result,
                  SWIG_NewPointerObj(SWIG_as_voidptr($1), $1_descriptor, SWIG_POINTER_OWN));
    $1 = NULL;
}
%typemap(freearg) TYPE *out {
    free($1);
}
%enddef
RAFTWAL_SIZED_OUT(raftwal_stats)
RAFTWAL_SIZED_OUT(raftwal_segment_info)
RAFTWAL_SIZED_OUT(raftwal_check)

/* ---- paths ------------------------------------------------------------- */
/* str, bytes or os.PathLike, encoded like the os module does. */
%typemap(in) const char *dir (PyObject *encoded = NULL) {
    if (!PyUnicode_FSConverter($input, &encoded))
        SWIG_fail;
    $1 = PyBytes_AS_STRING(encoded);
}
%typemap(freearg) const char *dir {
    Py_XDECREF(encoded$argnum);
}

/* ---- open options ------------------------------------------------------ */
/* None for the defaults, or a tuple (flags, segment_size, metadata,
 * file_mode[, compression, key, compress_min]) where metadata and key are
 * None or bytes-like. The struct is filled by raftwal_options_init() so
 * that fields added later keep their defaults. The key is read in place
 * (no copy here; the library copies it during the call). */
%typemap(in) const raftwal_options *opts (raftwal_options opts, Py_buffer view, int have_view = 0,
                                          Py_buffer key_view, int have_key_view = 0) {
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        PyObject *flags, *segment_size, *metadata, *file_mode;
        PyObject *compression = NULL, *key = Py_None, *compress_min = NULL;
        uint32_t u32;
        if (!PyTuple_Check($input)) {
            PyErr_SetString(PyExc_TypeError,
                            "options must be a tuple (flags, segment_size, metadata, file_mode"
                            "[, compression, key, compress_min])");
            SWIG_fail;
        }
        if (!PyArg_ParseTuple($input, "OOOO|OOO;options must be (flags, segment_size, metadata, "
                              "file_mode[, compression, key, compress_min])",
                              &flags, &segment_size, &metadata, &file_mode,
                              &compression, &key, &compress_min))
            SWIG_fail;
        if (raftwal_options_init(&opts, RAFTWAL_OPTIONS_VERSION) != RAFTWAL_OK) {
            raftwal_py_raise(RAFTWAL_EINVAL);
            SWIG_fail;
        }
        if (!raftwal_py_to_u32(flags, &u32, "flags"))
            SWIG_fail;
        opts.flags = u32;
        if (!raftwal_py_to_u64(segment_size, &opts.segment_size, "segment_size"))
            SWIG_fail;
        if (!raftwal_py_to_u32(file_mode, &u32, "file_mode"))
            SWIG_fail;
        opts.file_mode = u32;
        if (metadata != Py_None) {
            if (!raftwal_py_get_buffer(metadata, &view))
                SWIG_fail;
            have_view = 1;
            opts.metadata = view.buf;
            opts.metadata_size = (size_t)view.len;
        }
        if (compression != NULL) {
            if (!raftwal_py_to_u32(compression, &u32, "compression"))
                SWIG_fail;
            opts.compression = u32;
        }
        if (compress_min != NULL && !raftwal_py_to_u32(compress_min, &opts.compress_min, "compress_min"))
            SWIG_fail;
        if (key != Py_None) {
            if (!raftwal_py_get_buffer(key, &key_view))
                SWIG_fail;
            have_key_view = 1;
            opts.key = key_view.buf;
            opts.key_size = (size_t)key_view.len;
        }
        $1 = &opts;
    }
}
%typemap(freearg) const raftwal_options *opts {
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
    if (have_key_view$argnum)
        PyBuffer_Release(&key_view$argnum);
    memset(&opts$argnum, 0, sizeof opts$argnum);  /* no pointer to the key left behind */
}

/* raftwal_rekey: each key is any bytes-like object, read in place. */
%typemap(in) (const void *old_key, size_t old_size) = (const void *data, size_t size);
%typemap(freearg) (const void *old_key, size_t old_size) = (const void *data, size_t size);
%typemap(in) (const void *new_key, size_t new_size) = (const void *data, size_t size);
%typemap(freearg) (const void *new_key, size_t new_size) = (const void *data, size_t size);

/* ---- what not to expose ------------------------------------------------ */
/* Raw pointers have no safe meaning in Python: entries cross as tuples and
 * options as the tuple above. */
%ignore raftwal_entry;
%ignore raftwal_options::metadata;
%ignore raftwal_options::metadata_size;
%ignore raftwal_options::key;
%ignore raftwal_options::key_size;

/* SWIG's preprocessor does not know UINT64_MAX, so it would drop these. */
%constant uint64_t RAFTWAL_NO_LIMIT = RAFTWAL_NO_LIMIT;
%constant uint64_t RAFTWAL_MAX_INDEX = RAFTWAL_MAX_INDEX;

%include "raftwal.h"
