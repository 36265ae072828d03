--[[
lua_lifecycle: handles. close() releases the lock and is idempotent; every
method of a closed log answers nil, "closed", "ECLOSED"; a log dropped
without close() is closed by its ffi.gc finalizer (proved by reopening the
directory, which the lock would refuse otherwise); iterators keep working
or fail cleanly around their log's close.
]]
local T = require("testlib")
local raftwal = require("raftwal")

local function fresh_dir()
    return T.tmpdir() .. "/wal"
end

local function e(index, term, data)
    return { index = index, term = term, data = data }
end

-- Every method with arguments that would be valid on an open log.
local CALLS = {
    { "append", { e(1, 1, "a") } },
    { "get", 1 },
    { "entries" },
    { "term", 1 },
    { "first_index" },
    { "last_index" },
    { "durable_index" },
    { "hardstate" },
    { "set_hardstate", { term = 1, vote = 0, commit = 0 } },
    { "snapshot" },
    { "save_snapshot", 1, 1, "m" },
    { "metadata" },
    { "set_metadata", "m" },
    { "truncate", 1 },
    { "purge", 1 },
    { "sync" },
    { "wait_durable", 1 },
    { "stats" },
    { "segments" },
}

T.test("the method list covers every method of the log object", function()
    local listed = { close = true, is_closed = true, __index = true, __tostring = true }
    for _, c in ipairs(CALLS) do
        listed[c[1]] = true
    end
    for name in pairs(raftwal.Log) do
        T.ok(listed[name], "method " .. name .. " is not exercised after close")
    end
end)

T.test("close releases the lock; closing twice is harmless", function()
    local dir = fresh_dir()
    local log = T.ok(raftwal.open(dir))
    T.fails("ELOCKED", raftwal.open, dir)
    T.eq(log:is_closed(), false, "is_closed before")
    T.eq(log:close(), true, "first close")
    T.eq(log:is_closed(), true, "is_closed after")
    T.eq(log:close(), true, "second close")
    local again = T.ok(raftwal.open(dir), "reopen after close")
    T.ok(again:close())
end)

T.test("every method of a closed log returns nil, 'closed', 'ECLOSED'", function()
    local log = T.ok(raftwal.open(fresh_dir()))
    T.ok(log:close())
    for _, c in ipairs(CALLS) do
        local r, msg, code = log[c[1]](log, select(2, unpack(c)))
        T.eq({ r, msg, code }, { nil, "closed", "ECLOSED" }, c[1] .. " after close")
    end
    T.ok(tostring(log):find("closed", 1, true), "tostring says closed")
end)

T.test("misuse of a closed log still raises", function()
    local log = T.ok(raftwal.open(fresh_dir()))
    T.ok(log:close())
    T.raises("lifecycle_test.lua:", function() log:get("one") end)
    T.raises("entries must be", function() log:append(nil) end)
end)

T.test("data written before close is there after reopen", function()
    local dir = fresh_dir()
    local log = T.ok(raftwal.open(dir))
    T.ok(log:append({ e(1, 1, "kept"), e(2, 1, "also") }, { term = 1, vote = 1, commit = 2 }))
    T.ok(log:close())
    log = T.ok(raftwal.open(dir))
    T.eq(log:get(2).data, "also", "entry after reopen")
    T.eq(log:hardstate(), { term = 1, vote = 1, commit = 2 }, "hardstate after reopen")
    T.ok(log:close())
end)

-- Opens dir, appends an entry, checks that the lock holds while the handle
-- is referenced, and returns without keeping any reference. A separate
-- function, so that no stale copy of the handle can linger in a register
-- of the test's own frame and keep it alive.
local function open_append_and_drop(dir)
    local log = T.ok(raftwal.open(dir))
    T.ok(log:append({ e(1, 1, "from the dropped handle") }))
    collectgarbage()
    collectgarbage()
    T.fails("ELOCKED", raftwal.open, dir)
end

T.test("a dropped log is closed by the GC finalizer, releasing the lock", function()
    local dir = fresh_dir()
    open_append_and_drop(dir)
    collectgarbage()
    collectgarbage()
    local again = T.ok(raftwal.open(dir), "reopen after collection")
    T.eq(again:get(1).data, "from the dropped handle", "entry written by the collected handle")
    T.ok(again:close())
end)

-- An iterator over a new 3-entry log in dir, the log object referenced by
-- nothing but the iterator.
local function iterator_only(dir)
    local log = T.ok(raftwal.open(dir))
    T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b"), e(3, 1, "c") }))
    return T.ok(log:entries())
end

T.test("an iterator keeps its log alive; a closed log ends it with ECLOSED", function()
    local dir = fresh_dir()
    local it = iterator_only(dir)
    collectgarbage()
    collectgarbage()
    -- The iterator references the log object: still open, still locked.
    T.fails("ELOCKED", raftwal.open, dir)
    T.eq(it().data, "a", "iteration goes on")
    local owner = it._log
    T.eq(getmetatable(owner), raftwal.Log, "the iterator holds its log object")
    T.ok(owner:close())
    local r, msg, code = it()
    T.eq(r, false, "next step after close")
    T.eq(code, "ECLOSED", "code after close")
    T.ok(type(msg) == "string" and #msg > 0, "message")
    T.eq(it(), nil, "then the iteration ends")
end)

T.test("an iteration left early is released by close() or the GC", function()
    local dir = fresh_dir()
    local log = T.ok(raftwal.open(dir))
    local batch = {}
    for i = 1, 20 do
        batch[i] = e(i, 1, "x")
    end
    T.ok(log:append(batch))
    for _ = 1, 50 do
        for entry in T.ok(log:entries()) do
            if entry.index == 2 then
                break
            end
        end
    end
    local it = T.ok(log:entries())
    T.eq(it().index, 1, "first step")
    it:close()
    it:close()
    T.eq(it(), nil, "a closed iteration ends")
    collectgarbage()
    T.ok(log:close())
    T.ok(raftwal.open(dir)):close()
end)

-- Runs `code` in a child luajit (same RAFTWAL_LIB and LUA_PATH) with the
-- log directory as arg[1]; returns its output and exit status. A crash of
-- the child (SIGSEGV: status 139) fails the test, not this process.
local function child_luajit(code, dir)
    local script = T.tmpdir() .. "/child.lua"
    T.write_file(script, code)
    return T.sh(T.quote(T.env("RAFTWAL_LUAJIT")) .. " " .. T.quote(script) .. " " .. T.quote(dir), true)
end

T.test("a log and an iteration outliving the module (and its library) are closed safely", function()
    -- Dropping the last references to a log, an iteration and the module
    -- together lets the collector free the library namespace (dlclose) in
    -- the same cycle as the handles: their finalizers must keep it loaded.
    local out, rc = child_luajit([[
        local raftwal = require("raftwal")
        local log = assert(raftwal.open(arg[1]))
        assert(log:append({ { index = 1, term = 1, data = "x" }, { index = 2, term = 1, data = "y" } }))
        local it = assert(log:entries())
        assert(it().index == 1)
        log, it, raftwal = nil, nil, nil
        package.loaded.raftwal = nil
        package.loaded["raftwal.cdef"] = nil
        for _ = 1, 4 do collectgarbage() end
        -- The finalizer closed the log: the lock is free for a new load.
        local again = assert(require("raftwal").open(arg[1]))
        assert(again:get(2).data == "y")
        assert(again:close())
        print("survived")
    ]], fresh_dir())
    T.eq({ rc, out }, { 0, "survived\n" }, "the child's exit status and output")
end)

return T.run()
