--[[
lua_interop_cli: the bytes are the same whichever side wrote them.
  - A log written from Lua is read back by the C tool (`raftwal dump
    --json`: every entry's index, term, type and data_hex, the hard state,
    snapshot and metadata) and passes `raftwal verify`.
  - A log written by C (`raftwal demo`) reads the same from Lua as from
    `raftwal dump --json`.
]]
local T = require("testlib")
local json = require("json")
local raftwal = require("raftwal")

local CLI = T.env("RAFTWAL_CLI")

local function cli(args)
    local out, rc = T.sh(T.quote(CLI) .. " " .. args, false)
    return out, rc
end

T.test("the raftwal CLI is built", function()
    local _, rc = T.sh("test -x " .. T.quote(CLI))
    T.eq(rc, 0, CLI .. " must exist (build target raftwal_cli)")
end)

-- The `dump --json` lines of dir, grouped: state, segments, entries.
local function dump(dir)
    local out, rc = cli("dump --json " .. T.quote(dir))
    T.eq(rc, 0, "raftwal dump exit status")
    local got = { segments = {}, entries = {} }
    for _, obj in ipairs(json.decode_lines(out)) do
        if obj.kind == "state" then
            T.ok(not got.state, "one state line")
            got.state = obj
        elseif obj.kind == "segment" then
            got.segments[#got.segments + 1] = obj
        elseif obj.kind == "entry" then
            got.entries[#got.entries + 1] = obj
        else
            error("unexpected kind " .. tostring(obj.kind))
        end
    end
    T.ok(got.state, "a state line")
    return got
end

-- Every byte value, text, empty and big payloads, several types and terms.
local function lua_entries()
    local list = {}
    local all = {}
    for b = 0, 255 do
        all[#all + 1] = string.char(b)
    end
    local payloads = { table.concat(all), "", "plain text", string.rep("\0\255", 40000), "\n\"\\" }
    for i = 1, 300 do
        list[i] = {
            index = i,
            term = 1 + math.floor(i / 100),
            type = i % 3,
            data = payloads[i % #payloads + 1] .. tostring(i),
        }
    end
    return list
end

T.test("a log written from Lua reads back identically with raftwal dump", function()
    local dir = T.tmpdir() .. "/from-lua"
    local log = T.ok(raftwal.open(dir, { segment_size = 64 * 1024, metadata = "node=\0lua" }))
    local entries = lua_entries()
    for i = 1, #entries, 50 do
        local batch = {}
        for k = i, math.min(i + 49, #entries) do
            batch[#batch + 1] = entries[k]
        end
        T.ok(log:append(batch, { term = batch[#batch].term, vote = 2, commit = batch[#batch].index - 10 }))
    end
    T.ok(log:save_snapshot(20, 1, "conf\1state"))
    T.ok(log:purge(20))
    T.ok(log:close())

    local _, rc = cli("verify " .. T.quote(dir))
    T.eq(rc, 0, "raftwal verify of the Lua-written log")

    local d = dump(dir)
    T.eq(d.state.first_index, 21, "state.first_index")
    T.eq(d.state.last_index, 300, "state.last_index")
    T.eq(d.state.hardstate, { term = 4, vote = 2, commit = 290 }, "state.hardstate")
    T.eq(d.state.snapshot.index, 20, "snapshot.index")
    T.eq(d.state.snapshot.term, 1, "snapshot.term")
    T.eq(d.state.snapshot.meta_hex, json.hex("conf\1state"), "snapshot.meta_hex")
    T.eq(d.state.metadata_hex, json.hex("node=\0lua"), "metadata_hex")
    T.ok(#d.segments >= 2, "the log rotated: " .. #d.segments .. " segments")
    T.eq(#d.entries, 280, "dumped entries")
    for k, got in ipairs(d.entries) do
        local want = entries[20 + k]
        T.eq(got, {
            kind = "entry", index = want.index, term = want.term, type = want.type,
            size = #want.data, data_hex = json.hex(want.data),
        }, "entry " .. want.index)
    end
end)

T.test("a log written by C (raftwal demo) reads the same from Lua", function()
    local dir = T.tmpdir() .. "/from-c"
    local _, rc = cli("demo --entries 600 --batch 25 --segment-size 65536 " .. T.quote(dir) .. " >/dev/null")
    T.eq(rc, 0, "raftwal demo exit status")
    local d = dump(dir)
    T.ok(#d.entries > 0, "the demo left entries")

    local log = T.ok(raftwal.open(dir, { readonly = true }))
    T.eq(log:first_index(), d.state.first_index, "first_index")
    T.eq(log:last_index(), d.state.last_index, "last_index")
    T.eq(log:hardstate(), d.state.hardstate, "hardstate")
    local snap = log:snapshot()
    T.eq({ index = snap.index, term = snap.term, meta_hex = json.hex(snap.meta) },
        { index = d.state.snapshot.index, term = d.state.snapshot.term, meta_hex = d.state.snapshot.meta_hex },
        "snapshot")
    T.eq(json.hex(log:metadata()), d.state.metadata_hex, "metadata")
    local k = 0
    for e, err in T.ok(log:entries()) do
        T.ok(e, "iteration: " .. tostring(err))
        k = k + 1
        local want = d.entries[k]
        T.eq({ index = e.index, term = e.term, type = e.type, size = #e.data, data_hex = json.hex(e.data) },
            { index = want.index, term = want.term, type = want.type, size = want.size, data_hex = want.data_hex },
            "entry " .. tostring(want.index))
        T.eq(log:get(e.index).data, e.data, "get agrees with entries at " .. tostring(e.index))
    end
    T.eq(k, #d.entries, "as many entries as the dump")
    T.ok(log:close())
end)

return T.run()
