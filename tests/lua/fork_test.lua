--[[
lua_fork: a log handle inherited through fork() belongs to the parent.

In the child every method of an inherited log answers nil, "closed",
"ECLOSED" (an append there would write without the lock, and the parent
would silently overwrite it), an inherited iteration ends the same way,
and neither close() nor the ffi.gc finalizers nor the exit of the child's
Lua state may call into the library for it: the parent's threads do not
exist in the child, and raftwal_log_close() there hangs or syncs and frees
what the parent still uses. The parent's log must come out untouched.

Each case runs a real fork() from LuaJIT. The child reports through a pipe
and exits; the parent waits for the pipe to close with a bounded poll(), so
a child that hangs fails the test (and is killed) instead of hanging it.

The module tells a forked child by a page marked MADV_WIPEONFORK, or, where
madvise() refuses that, by getpid() on every call. ctest runs this file
twice: lua_fork as the machine is, and lua_fork_getpid with
RAFTWAL_TEST_NO_WIPEONFORK=1, where the module is handed an ffi whose
madvise() fails, as on a kernel before 4.14.
]]
local T = require("testlib")
local ffi = require("ffi")

-- The module loads through an ffi whose C.madvise is counted (and, with
-- RAFTWAL_TEST_NO_WIPEONFORK=1, fails with EINVAL).
local NO_WIPEONFORK = os.getenv("RAFTWAL_TEST_NO_WIPEONFORK") == "1"
local madvise_results = {}
package.loaded.ffi = setmetatable({
    C = setmetatable({
        madvise = function(addr, len, advice)
            local rc = NO_WIPEONFORK and -1 or ffi.C.madvise(addr, len, advice)
            madvise_results[#madvise_results + 1] = rc
            return rc
        end,
    }, { __index = ffi.C }),
}, { __index = ffi })
local raftwal = require("raftwal")
package.loaded.ffi = ffi

-- Each declaration on its own: raftwal.lua may have declared some already,
-- and ffi.cdef refuses to redeclare.
for _, decl in ipairs({
    "int fork(void);",
    "int pipe(int fds[2]);",
    "int close(int fd);",
    "long read(int fd, void *buf, size_t count);",
    "long write(int fd, const void *buf, size_t count);",
    "int waitpid(int pid, int *status, int options);",
    "int kill(int pid, int sig);",
    "void _exit(int status);",
    "int getpid(void);",
    "struct pollfd { int fd; short events; short revents; };",
    "int poll(struct pollfd *fds, unsigned long nfds, int timeout);",
}) do
    pcall(ffi.cdef, decl)
end
local C = ffi.C

local CHILD_DEADLINE_MS = 10000 -- a healthy child is done in milliseconds
local POLLIN, SIGKILL = 1, 9

-- Runs child_fn(log...) in a forked child. The child writes "ok" or the
-- error into a pipe, then leaves by `exit` ("_exit": no Lua cleanup at all;
-- "lua_close": os.exit(0, true), which closes the Lua state and so runs every
-- finalizer of everything it inherited). Returns the child's report, or
-- raises if the child did not finish in time or died by a signal.
local function in_child(exit, child_fn)
    local fds = ffi.new("int[2]")
    assert(C.pipe(fds) == 0, "pipe")
    io.stdout:flush()
    io.stderr:flush()
    local pid = C.fork()
    assert(pid >= 0, "fork")
    if pid == 0 then
        C.close(fds[0])
        local ok, err = xpcall(child_fn, debug.traceback)
        local report = ok and "ok" or tostring(err)
        C.write(fds[1], report, #report)
        if exit == "lua_close" then
            -- The write end closes with the process, after lua_close.
            os.exit(0, true)
        end
        C._exit(0)
    end
    C.close(fds[1])
    local chunks, buf = {}, ffi.new("char[4096]")
    local pfd = ffi.new("struct pollfd[1]")
    pfd[0].fd, pfd[0].events = fds[0], POLLIN
    local hung = false
    while true do
        local ready = C.poll(pfd, 1, CHILD_DEADLINE_MS)
        if ready == 0 then
            hung = true
            break
        end
        if ready > 0 then -- (-1: interrupted by a signal, poll again)
            local n = tonumber(C.read(fds[0], buf, 4096))
            if n == 0 then
                break -- EOF: the child has exited
            end
            if n > 0 then
                chunks[#chunks + 1] = ffi.string(buf, n)
            end
        end
    end
    C.close(fds[0])
    if hung then
        C.kill(pid, SIGKILL)
    end
    local status = ffi.new("int[1]")
    C.waitpid(pid, status, 0)
    local report = table.concat(chunks)
    if hung then
        error("the child hung (killed after " .. CHILD_DEADLINE_MS .. " ms); it had reported: "
            .. (report == "" and "nothing" or report), 2)
    end
    local signal = bit.band(status[0], 0x7f)
    if signal ~= 0 then
        error("the child died by signal " .. signal .. "; it had reported: " .. report, 2)
    end
    return report
end

local function e(index, term, data)
    return { index = index, term = term, data = data }
end

-- Every method with arguments valid on an open log (as lifecycle_test.lua).
local CALLS = {
    { "append", { e(3, 2, "from the child") } },
    { "append", {}, { term = 9, vote = 9, commit = 0 } },
    { "get", 1 },
    { "entries" },
    { "term", 1 },
    { "first_index" },
    { "last_index" },
    { "durable_index" },
    { "hardstate" },
    { "set_hardstate", { term = 9, vote = 9, commit = 0 } },
    { "snapshot" },
    { "save_snapshot", 1, 1, "child meta" },
    { "metadata" },
    { "set_metadata", "child metadata" },
    { "truncate", 1 },
    { "purge", 1 },
    { "sync" },
    { "wait_durable", 1 },
    { "stats" },
    { "segments" },
}

T.test("the module asked for a wipe-on-fork page (and, in lua_fork_getpid, was refused)", function()
    T.eq(#madvise_results, 1, "madvise calls while loading the module")
    if NO_WIPEONFORK then
        T.eq(madvise_results[1], -1, "madvise result")
    else
        print("    madvise(MADV_WIPEONFORK) returned " .. tostring(madvise_results[1])
            .. (madvise_results[1] == 0 and "" or ": the module calls getpid() on every call"))
    end
end)

T.test("the call list covers every method of the log object", function()
    local listed = { close = true, is_closed = true, __index = true, __tostring = true }
    for _, c in ipairs(CALLS) do
        listed[c[1]] = true
    end
    for name in pairs(raftwal.Log) do
        T.ok(listed[name], "method " .. name .. " is not exercised in the child")
    end
end)

-- A log in a new directory with two entries and a hard state.
local function prepared_log(opts)
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir, opts))
    T.ok(log:append({ e(1, 1, "one"), e(2, 2, "two") }, { term = 2, vote = 1, commit = 1 }))
    T.ok(log:set_metadata("parent metadata"))
    return log, dir
end

-- The parent's view after the child: nothing the child did reached the
-- log, the handle still works and holds the lock, and a reopen reads it back.
local function assert_parent_intact(log, dir)
    T.eq(log:last_index(), 2, "last index after the child")
    T.eq(log:first_index(), 1, "first index after the child")
    T.eq(log:hardstate(), { term = 2, vote = 1, commit = 1 }, "hard state after the child")
    T.eq(log:metadata(), "parent metadata", "metadata after the child")
    T.eq(log:snapshot(), { index = 0, term = 0, meta = "" }, "snapshot after the child")
    T.fails("ELOCKED", raftwal.open, dir)
    T.ok(log:append({ e(3, 2, "three") }), "the parent appends after the child")
    T.ok(log:close())
    local again = T.ok(raftwal.open(dir, { readonly = true }))
    local got = {}
    for entry in T.ok(again:entries()) do
        got[#got + 1] = entry
    end
    T.eq(got, {
        { index = 1, term = 1, type = 0, data = "one" },
        { index = 2, term = 2, type = 0, data = "two" },
        { index = 3, term = 2, type = 0, data = "three" },
    }, "entries after reopen")
    T.eq(again:hardstate(), { term = 2, vote = 1, commit = 1 }, "hard state after reopen")
    T.ok(again:close())
    local report = T.ok(raftwal.verify(dir))
    T.eq(report.entries, 3, "verify after the child")
end

for _, mode in ipairs({ "durable", "nosync" }) do
    local opts = { nosync = mode == "nosync" }

    T.test(mode .. " log: every method of an inherited handle answers 'closed' in the child", function()
        local log, dir = prepared_log(opts)
        local it = T.ok(log:entries())
        T.eq(it().data, "one", "the parent's iteration starts")
        local report = in_child("_exit", function()
            T.eq(it(), false, "an inherited iteration's next step")
            T.eq(it(), nil, "then it ends")
            it:close()
            for _, c in ipairs(CALLS) do
                local r, msg, code = log[c[1]](log, select(2, unpack(c)))
                T.eq({ r, msg, code }, { nil, "closed", "ECLOSED" }, c[1] .. " in the child")
            end
            T.eq(log:is_closed(), true, "is_closed in the child")
            T.ok(tostring(log):find("closed", 1, true), "tostring in the child says closed")
            T.eq(log:close(), true, "close in the child (forgets the handle)")
            T.eq(log:close(), true, "close again in the child")
            -- Misuse still raises in the child.
            T.raises("fork_test.lua:", function() log:get("one") end)
            -- The child may open logs of its own, and they work.
            local own = T.ok(raftwal.open(dir .. "-child", opts))
            T.ok(own:append({ e(1, 1, "child's own") }))
            T.eq(own:get(1).data, "child's own", "the child's own log")
            T.ok(own:close())
        end)
        T.eq(report, "ok", "the child's report")
        -- The parent's iteration goes on.
        T.eq(it().data, "two", "the parent's iteration after the fork")
        it:close()
        assert_parent_intact(log, dir)
    end)

    T.test(mode .. " log: a child dropping inherited handles and exiting never closes them", function()
        -- The child collects one log and an iteration, then leaves through
        -- lua_close(), which runs the finalizer of the other log (still
        -- referenced) and of everything else the state holds.
        local box = {}
        box.log, box.dir = prepared_log(opts)
        box.it = T.ok(box.log:entries())
        local other, other_dir = prepared_log(opts)
        local other_it = T.ok(other:entries())
        local report = in_child("lua_close", function()
            box.log, box.it = nil, nil
            collectgarbage()
            collectgarbage()
        end)
        T.eq(report, "ok", "the child's report")
        box.it:close()
        other_it:close()
        assert_parent_intact(box.log, box.dir)
        assert_parent_intact(other, other_dir)
    end)
end

T.test("a grandchild refuses what its parent (the child) opened", function()
    local log, dir = prepared_log()
    local report = in_child("_exit", function()
        local own = T.ok(raftwal.open(dir .. "-child"))
        T.ok(own:append({ e(1, 1, "child") }))
        local inner = in_child("_exit", function()
            T.eq({ own:get(1) }, { nil, "closed", "ECLOSED" }, "the child's log in the grandchild")
            T.eq({ log:get(1) }, { nil, "closed", "ECLOSED" }, "the parent's log in the grandchild")
        end)
        T.eq(inner, "ok", "the grandchild's report")
        T.eq(own:get(1).data, "child", "the child's log still works in the child")
        T.ok(own:close())
    end)
    T.eq(report, "ok", "the child's report")
    assert_parent_intact(log, dir)
end)

return T.run()
