--[[
lua_nginx_wait: the binding's durable waits for nginx, in plain LuaJIT with
a stand-in `ngx` global. Its run_worker_thread runs the real thread-side
module (raftwal.nginx_thread: its own FFI load of the library, the handle
by address, the index in two halves) at once, on this thread, and records
each call. Checks which phases wait in the "pool" and which block, that a
durable append is written before the wait and durable after it, the
fall-back (and its one warning) without a thread pool, 64-bit indexes, and
a close() while a wait is in flight (deferred: the waiting call still
succeeds, then the handle is closed and its lock released). The real
nginx runs are lua_nginx and lua_nginx_durable.
]]
local T = require("testlib")
local raftwal = require("raftwal")

local function e(index, term, data)
    return { index = index, term = term, data = data }
end

-- The stand-in: phase, the calls made, the warnings logged, and a hook
-- run inside run_worker_thread before the thread-side function.
local fake = { phase = "content", calls = {}, logged = {}, during = nil }
local ngx_stub = {
    WARN = 5, ERR = 4,
    get_phase = function() return fake.phase end,
    log = function(_, ...) fake.logged[#fake.logged + 1] = table.concat({ ... }) end,
    run_worker_thread = function(pool, module, fname, ...)
        fake.calls[#fake.calls + 1] = { pool = pool, module = module, fname = fname, args = { ... } }
        if pool ~= "raftwal" then
            return false, "thread_pool not found"
        end
        if fake.during then
            fake.during()
        end
        return true, require(module)[fname](...)
    end,
}

local function with_ngx(phase, fn)
    fake.phase, fake.calls, fake.logged, fake.during = phase, {}, {}, nil
    rawset(_G, "ngx", ngx_stub)
    local ok, err = pcall(fn)
    rawset(_G, "ngx", nil)
    if not ok then
        error(err, 0)
    end
end

local function new_log(opts)
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir, opts))
    T.defer(function() log:close() end)
    return log, dir
end

T.test("in a yielding phase a durable append waits in the thread pool", function()
    for _, phase in ipairs({ "content", "access", "rewrite", "timer" }) do
        local log = new_log()
        with_ngx(phase, function()
            T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b") }))
            T.eq(#fake.calls, 1, phase .. ": one wait in the pool")
            local c = fake.calls[1]
            T.eq({ c.pool, c.module, c.fname }, { "raftwal", "raftwal.nginx_thread", "wait_durable" }, phase)
            T.eq({ c.args[3], c.args[4] }, { 0, 2 }, phase .. ": the batch's last index, in halves")
            T.eq(log:durable_index(), 2, phase .. ": durable once append returns")
            T.ok(log:sync())
            T.eq(fake.calls[2].fname, "sync", phase .. ": sync waits in the pool")
            T.ok(log:wait_durable(2))
            T.eq(#fake.calls, 2, phase .. ": wait_durable of a durable index needs no thread")
            T.ok(log:append({ e(3, 1, "c") }, nil, { nosync = true }))
            T.eq(#fake.calls, 2, phase .. ": a no-sync append does not wait")
            T.ok(log:wait_durable(3))
            T.eq(fake.calls[3].fname, "wait_durable", phase)
            T.eq(log:durable_index(), 3, phase .. ": wait_durable made 3 durable")
            T.ok(log:append({}, { term = 1, vote = 1, commit = 1 }))
            T.eq(fake.calls[4].fname, "sync", phase .. ": a hard state alone waits with sync")
        end)
        T.eq(log:hardstate(), { term = 1, vote = 1, commit = 1 }, phase)
    end
end)

T.test("where nginx cannot yield, or with yield = false, the calls block", function()
    for _, phase in ipairs({ "init_worker", "header_filter", "body_filter", "log", "set", "init" }) do
        local log = new_log()
        with_ngx(phase, function()
            T.ok(log:append({ e(1, 1, "a") }))
            T.ok(log:sync())
            T.ok(log:wait_durable(1))
            T.eq(#fake.calls, 0, phase .. ": no thread")
        end)
        T.eq(log:durable_index(), 1, phase)
    end
    local log = new_log({ yield = false })
    with_ngx("content", function()
        T.ok(log:append({ e(1, 1, "a") }))
        T.ok(log:sync())
        T.eq(#fake.calls, 0, "yield = false: no thread")
    end)
    local ro = T.ok(raftwal.open(select(2, new_log()), { readonly = true }))
    with_ngx("content", function()
        T.fails("EREADONLY", ro.sync, ro)
        T.eq(#fake.calls, 0, "read-only: no thread")
    end)
    ro:close()
end)

T.test("without the thread pool the call blocks and warns once", function()
    local log = new_log({ thread_pool = "missing" })
    with_ngx("content", function()
        T.ok(log:append({ e(1, 1, "a") }))
        T.ok(log:append({ e(2, 1, "b") }))
        T.eq(#fake.calls, 2, "both tried the pool")
        T.eq(fake.calls[1].pool, "missing", "the pool named at open")
        T.eq(#fake.logged, 1, "one warning")
        T.ok(fake.logged[1]:find("thread_pool missing", 1, true), fake.logged[1])
    end)
    T.eq(log:durable_index(), 2, "durable all the same")
end)

T.test("a 64-bit index crosses into the thread in two halves", function()
    local log = new_log()
    with_ngx("content", function()
        T.ok(log:append({ e(1, 1, "a") }, nil, { nosync = true }))
        -- Beyond the last index: waits until everything is durable.
        T.ok(log:wait_durable(2 ^ 40 + 5))
        T.eq({ fake.calls[1].args[3], fake.calls[1].args[4] }, { 256, 5 }, "a number")
        T.ok(log:wait_durable(0x123456789abcdefULL))
        T.eq({ fake.calls[2].args[3], fake.calls[2].args[4] }, { 0x1234567, 0x89abcdef }, "a uint64_t")
    end)
    T.eq(log:durable_index(), 1)
end)

T.test("close() while a wait is in flight is deferred to its end", function()
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir))
    with_ngx("content", function()
        fake.during = function()
            -- Another request closes the log while this one waits.
            T.eq(log:close(), true, "close with a wait in flight")
            T.eq(log:is_closed(), true, "closed for everyone else")
            T.fails("ECLOSED", log.last_index, log)
            T.fails("ELOCKED", raftwal.open, dir) -- the handle is still open
        end
        T.ok(log:append({ e(1, 1, "a") }), "the waiting append still succeeds")
    end)
    -- The wait's return closed the handle: the lock is free.
    local again = T.ok(raftwal.open(dir), "reopen after the deferred close")
    T.eq(again:last_index(), 1, "the entry is there")
    T.eq(again:get(1).data, "a")
    again:close()
end)

T.test("an error raised by run_worker_thread falls back and leaves close() immediate", function()
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir))
    with_ngx("content", function()
        fake.during = function() error("API disabled in the context of this test") end
        T.ok(log:append({ e(1, 1, "a") }), "the append blocks instead")
        T.eq(#fake.logged, 1, "and warns")
    end)
    T.eq(log:durable_index(), 1, "durable")
    T.ok(log:close())
    T.ok(raftwal.open(dir), "the close was not deferred: the lock is free"):close()
end)

T.test("open checks the nginx options' types", function()
    T.raises("option thread_pool must be a string", function()
        raftwal.open(T.tmpdir() .. "/wal", { thread_pool = 1 })
    end)
    T.raises("option yield must be a boolean", function()
        raftwal.open(T.tmpdir() .. "/wal", { yield = "no" })
    end)
end)

return T.run()
