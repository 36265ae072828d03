--[[
lua_jit_traces: the hot paths of the binding stay JIT-compilable.

Each hot loop below (single-entry appends, batch appends, get, term,
entries iteration, bounds) runs a few thousand times under jit.attach, the
same hook `luajit -jv` uses. The test fails if
  - any trace aborts for an NYI ("not yet implemented") reason, i.e. the
    loop contains an operation the JIT cannot compile, or
  - a loop never becomes a completed trace starting inside it.
Other aborts (e.g. "inner loop in root trace") are normal trace-selection
events and only printed.

To see the trace log yourself: luajit -jv tests/lua/jit_traces_test.lua
]]
local T = require("testlib")
local jit = require("jit")
local jutil = require("jit.util")
local vmdef = require("jit.vmdef")
local raftwal = require("raftwal")

local N = 3000

T.ok(jit.status(), "the JIT is on")

local function location(func, pc)
    local info = jutil.funcinfo(func, pc)
    if info.source then
        return info.source:gsub("^@", "") .. ":" .. tostring(info.currentline), info
    end
    return "[builtin#" .. tostring(info.ffid) .. "]", info
end

-- The reason of an abort, formatted as jit/v.lua does.
local function reason(otr, oex)
    if type(otr) == "number" then
        local fmt = vmdef.traceerr[otr]
        if type(oex) == "function" then
            oex = location(oex)
        end
        return string.format(fmt, oex)
    end
    return tostring(otr)
end

-- Runs fn with the JIT's trace events recorded; returns the aborts and the
-- completed traces, each with the file and line where it started.
local function traced(fn)
    local starts, aborts, stops = {}, {}, {}
    local function on_trace(what, tr, func, pc, otr, oex)
        if what == "start" then
            local loc, info = location(func, pc)
            starts[tr] = { loc = loc, source = info.source, line = info.currentline }
        elseif what == "stop" then
            stops[#stops + 1] = starts[tr]
        elseif what == "abort" then
            aborts[#aborts + 1] = {
                start = starts[tr] and starts[tr].loc or "?",
                at = (location(func, pc)),
                reason = reason(otr, oex),
            }
        end
    end
    jit.flush()
    jit.attach(on_trace, "trace")
    local ok, err = pcall(fn)
    jit.attach(on_trace) -- detach
    assert(ok, err)
    return aborts, stops
end

-- Asserts that `loop` (a function of this file) compiles without NYI.
local function assert_compiles(name, loop)
    local aborts, stops = traced(loop)
    local def = debug.getinfo(loop, "S")
    for _, a in ipairs(aborts) do
        local line = string.format("    abort: trace from %s, at %s: %s", a.start, a.at, a.reason)
        print(line)
        T.ok(not a.reason:find("NYI", 1, true), name .. ": NYI abort\n" .. line)
    end
    local inside = 0
    for _, s in ipairs(stops) do
        if s and s.source == def.source and s.line >= def.linedefined and s.line <= def.lastlinedefined then
            inside = inside + 1
        end
    end
    print(string.format("    %s: %d traces completed, %d start in the loop, %d aborts",
        name, #stops, inside, #aborts))
    T.ok(inside >= 1, name .. ": no completed trace starts in the loop")
end

local log = T.ok(raftwal.open(T.tmpdir() .. "/wal", { nosync = true }))
T.defer(function() log:close() end)
local NOSYNC = { nosync = true }
local PAYLOAD = string.rep("p", 100)

T.test("single-entry appends compile", function()
    assert_compiles("append", function()
        for i = 1, N do
            assert(log:append({ { index = i, term = 1, data = PAYLOAD } }, nil, NOSYNC))
        end
    end)
end)

T.test("batch appends with a hard state compile", function()
    assert_compiles("append batch", function()
        local base = log:last_index()
        local hs = { term = 2, vote = 1, commit = 0 }
        for b = 0, N / 16 - 1 do
            local batch = {}
            for k = 1, 16 do
                batch[k] = { index = base + b * 16 + k, term = 2, data = PAYLOAD, type = 1 }
            end
            assert(log:append(batch, hs, NOSYNC))
        end
    end)
end)

T.test("get compiles", function()
    assert_compiles("get", function()
        local bytes = 0
        for i = 1, N do
            local e = log:get(i)
            bytes = bytes + #e.data
        end
        assert(bytes == N * #PAYLOAD)
    end)
end)

T.test("term and bounds compile", function()
    assert_compiles("term", function()
        local sum = 0
        for i = 1, N do
            sum = sum + log:term(i) + log:last_index() - log:first_index()
        end
        assert(sum > 0)
    end)
end)

T.test("entries iteration compiles", function()
    assert_compiles("entries", function()
        local n = 0
        for lo = 1, N, 100 do
            for e in log:entries(lo, lo + 100) do
                n = n + #e.data
            end
        end
        assert(n == N * #PAYLOAD)
    end)
end)

return T.run()
