--[[
lua_append_reentry: user code that runs in the middle of a write call
cannot mix one call's data into another's.

append() and set_hardstate() read entry and hard-state tables that may
have __index metamethods, and a metamethod may do anything: append to
another log, read a hard state, close the log, or yield (in OpenResty,
another request's coroutine then runs and appends). Whatever runs in
between, each log must receive exactly its own entries and hard state,
byte for byte, as read back after a reopen; and a log closed in between
must answer "closed" instead of being written through a freed handle.
]]
local T = require("testlib")
local raftwal = require("raftwal")

local function e(index, term, data)
    return { index = index, term = term, data = data }
end

-- A new log; returns it and its directory.
local function new_log()
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir))
    return log, dir
end

-- An entry table whose fields come from __index, which calls hook(field)
-- the first time `field` is read.
local function hooked_entry(index, term, data, field, hook)
    local fields = { index = index, term = term, data = data }
    local fired = false
    return setmetatable({}, {
        __index = function(_, k)
            if k == field and not fired then
                fired = true
                hook()
            end
            return fields[k]
        end,
    })
end

-- String number `n` of `size` bytes. A new string when nothing holds one
-- of the same text (Lua strings are interned: a copy would be the same
-- object), so a caller can hand one over that nothing else references and
-- build its expected value again later.
local function numbered_string(tag, n, size)
    return (tag .. n .. ":" .. string.rep(string.char(65 + n % 26), size)):sub(1, size)
end

-- Closes `log` and reads the directory back: every entry and the hard state.
local function read_back(log, dir)
    if not log:is_closed() then
        T.ok(log:close())
    end
    local ro = T.ok(raftwal.open(dir, { readonly = true }))
    local entries = {}
    for entry in T.ok(ro:entries()) do
        entries[#entries + 1] = entry
    end
    local hs = ro:hardstate()
    T.ok(ro:close())
    return entries, hs
end

local function stored(index, term, data)
    return { index = index, term = term, type = 0, data = data }
end

-- Churns the allocator: frees what is collectable and fills the memory
-- with strings of `size` bytes, so that a freed string's bytes change.
local function churn(size)
    collectgarbage()
    collectgarbage()
    local junk = {}
    for i = 1, 200 do
        junk[i] = string.rep(string.char(48 + i % 10), size - 4) .. string.format("%04d", i)
    end
    return junk
end

T.test("an __index that appends to another log mid-append", function()
    local a, a_dir = new_log()
    local b, b_dir = new_log()
    local hook = function()
        T.ok(b:append({ e(1, 7, string.rep("B", 40)), e(2, 7, "b2") }, { term = 9, vote = 9, commit = 0 }))
    end
    T.ok(a:append({ e(1, 1, "a-one"), hooked_entry(2, 1, "a-two", "data", hook), e(3, 2, "a-three") },
        { term = 5, vote = 3, commit = 1 }))
    local got, hs = read_back(a, a_dir)
    T.eq(got, { stored(1, 1, "a-one"), stored(2, 1, "a-two"), stored(3, 2, "a-three") }, "log a")
    T.eq(hs, { term = 5, vote = 3, commit = 1 }, "log a's hard state")
    got, hs = read_back(b, b_dir)
    T.eq(got, { stored(1, 7, string.rep("B", 40)), stored(2, 7, "b2") }, "log b")
    T.eq(hs, { term = 9, vote = 9, commit = 0 }, "log b's hard state")
end)

T.test("an __index that reads a hard state mid-append does not lose the vote", function()
    local a, a_dir = new_log()
    local b = new_log()
    local hook = function()
        T.eq(b:hardstate(), { term = 0, vote = 0, commit = 0 }, "b's hard state")
    end
    T.ok(a:append({ hooked_entry(1, 5, "x", "term", hook) }, { term = 5, vote = 3, commit = 0 }))
    local _, hs = read_back(a, a_dir)
    T.eq(hs, { term = 5, vote = 3, commit = 0 }, "log a's hard state")
    T.ok(b:close())
end)

T.test("hard state and option tables whose __index writes elsewhere", function()
    local a, a_dir = new_log()
    local b, b_dir = new_log()
    -- A hard state table read through __index, which appends to b.
    local hs_fields = { term = 5, vote = 3, commit = 1 }
    local hs = setmetatable({}, { __index = function(_, k)
        if k == "commit" then
            T.ok(b:append({ e(1, 8, "b-one") }, { term = 8, vote = 8, commit = 0 }))
        end
        return hs_fields[k]
    end })
    -- Write options read through __index, which set b's hard state.
    local function opts_setting_b(term, vote)
        return setmetatable({}, { __index = function(_, k)
            if k == "nosync" then
                T.ok(b:set_hardstate({ term = term, vote = vote, commit = 1 }))
            end
        end })
    end
    T.ok(a:append({ e(1, 1, "a-one") }, hs, opts_setting_b(8, 1)))
    T.eq(a:hardstate(), { term = 5, vote = 3, commit = 1 }, "a's hard state after append")
    T.ok(a:set_hardstate({ term = 6, vote = 4, commit = 1 }, opts_setting_b(8, 2)))
    local got, a_hs = read_back(a, a_dir)
    T.eq(got, { stored(1, 1, "a-one") }, "log a")
    T.eq(a_hs, { term = 6, vote = 4, commit = 1 }, "log a's hard state")
    local b_got, b_hs = read_back(b, b_dir)
    T.eq(b_got, { stored(1, 8, "b-one") }, "log b")
    T.eq(b_hs, { term = 8, vote = 2, commit = 1 }, "log b's hard state")
end)

T.test("a coroutine yielding from __index while another appends", function()
    local a, a_dir = new_log()
    local b, b_dir = new_log()
    local SIZE = 300
    -- Entry 1's data is produced by __index and referenced by nothing but
    -- the append call; entry 2's __index yields.
    local co = coroutine.create(function()
        local first = numbered_string("a", 1, SIZE) -- referenced only by this upvalue
        local e1 = setmetatable({ index = 1, term = 3 }, { __index = function(_, k)
            if k == "data" then
                local s = first
                first = nil
                return s
            end
        end })
        local e2 = setmetatable({ index = 2, term = 3 }, { __index = function(_, k)
            if k == "data" then
                coroutine.yield("inside append")
                return "a-two"
            end
        end })
        return a:append({ e1, e2 }, { term = 5, vote = 3, commit = 1 })
    end)
    local ok, where = coroutine.resume(co)
    T.ok(ok, "first resume: " .. tostring(where))
    T.eq(where, "inside append", "the coroutine is suspended inside append")
    -- Meanwhile: another log is written (with strings that are garbage
    -- once the call returns) and read, its hard state too, and the memory
    -- of unreferenced strings is reused.
    T.ok(b:append({
        e(1, 4, numbered_string("b", 1, SIZE)),
        e(2, 4, numbered_string("b", 2, SIZE)),
        e(3, 4, numbered_string("b", 3, SIZE)),
    }, { term = 4, vote = 4, commit = 0 }))
    T.eq(b:hardstate(), { term = 4, vote = 4, commit = 0 }, "b's hard state")
    T.ok(b:get(1).data == numbered_string("b", 1, SIZE), "b's entry")
    local junk = churn(SIZE)
    local ok2, res, msg = coroutine.resume(co)
    T.ok(ok2, "second resume: " .. tostring(res))
    T.eq(res, true, "a's append result (" .. tostring(msg) .. ")")
    T.eq(coroutine.status(co), "dead", "the coroutine finished")
    T.ok(#junk == 200)
    local got, hs = read_back(a, a_dir)
    T.eq(got, { stored(1, 3, numbered_string("a", 1, SIZE)), stored(2, 3, "a-two") }, "log a")
    T.eq(hs, { term = 5, vote = 3, commit = 1 }, "log a's hard state")
    local b_got, b_hs = read_back(b, b_dir)
    T.eq(#b_got, 3, "log b's entries")
    for i = 1, 3 do
        T.eq(b_got[i], stored(i, 4, numbered_string("b", i, SIZE)), "log b's entry " .. i)
    end
    T.eq(b_hs, { term = 4, vote = 4, commit = 0 }, "log b's hard state")
end)

T.test("an __index that closes the log mid-append gets 'closed'", function()
    local a, a_dir = new_log()
    T.ok(a:append({ e(1, 1, "kept") }))
    local entry = hooked_entry(2, 1, "never", "data", function()
        T.ok(a:close())
        -- Reuse the freed memory of the handle.
        local others = {}
        for i = 1, 4 do
            others[i] = T.ok(raftwal.open(a_dir .. "-other" .. i))
        end
        for i = 1, 4 do
            T.ok(others[i]:close())
        end
    end)
    T.eq({ a:append({ entry }, { term = 1, vote = 1, commit = 0 }) }, { nil, "closed", "ECLOSED" },
        "append on a log closed by its own entry")
    local got, hs = read_back(a, a_dir)
    T.eq(got, { stored(1, 1, "kept") }, "log a")
    T.eq(hs, { term = 0, vote = 0, commit = 0 }, "log a's hard state")
end)

T.test("an options table whose __index opens another log mid-open", function()
    local dir = T.tmpdir() .. "/wal"
    local other_dir = T.tmpdir() .. "/other"
    local other
    local opts = setmetatable({ segment_size = 64 * 1024 }, { __index = function(_, k)
        if k == "metadata" and not other then
            other = T.ok(raftwal.open(other_dir, { segment_size = 1024 * 1024, metadata = "other meta" }))
        end
    end })
    local log = T.ok(raftwal.open(dir, opts))
    T.eq(log:metadata(), "", "the log's metadata")
    -- A segment takes appends until it has grown past the segment size.
    for i = 1, 3 do
        T.ok(log:append({ e(i, 1, string.rep("x", 40 * 1024)) }))
    end
    T.eq(#log:segments(), 2, "64 KiB segments: three 40 KiB appends take two")
    T.ok(log:close())
    if other then
        T.ok(other:close())
    end
end)

return T.run()
