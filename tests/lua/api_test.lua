--[[
lua_api: every method of the Lua binding, its results and its errors,
against the real library (RAFTWAL_LIB). Runtime failures must come back as
nil, message, code; misuse must raise an error pointing at this file.
]]
local T = require("testlib")
local ffi = require("ffi")
local raftwal = require("raftwal")

local THIS_FILE = "api_test.lua:"

-- A fresh log in a new directory.
local function new_log(opts)
    local dir = T.tmpdir() .. "/wal"
    local log, err = raftwal.open(dir, opts)
    T.ok(log, "open: " .. tostring(err))
    T.defer(function() log:close() end)
    return log, dir
end

local function e(index, term, data, typ)
    return { index = index, term = term, data = data, type = typ }
end

T.test("version and constants", function()
    T.eq(raftwal.version(), raftwal._VERSION, "raftwal.version()")
    T.eq(raftwal.errors.ECOMPACTED, -6, "errors.ECOMPACTED")
    T.eq(raftwal.errors.ECLOSED, -16, "errors.ECLOSED")
    T.ok(raftwal.NO_LIMIT == 0xffffffffffffffffULL, "NO_LIMIT is UINT64_MAX")
end)

T.test("open creates an empty log; create=false refuses a missing one", function()
    local log = new_log()
    T.eq(log:first_index(), 1, "first_index")
    T.eq(log:last_index(), 0, "last_index")
    T.eq(log:hardstate(), { term = 0, vote = 0, commit = 0 }, "hardstate")
    T.eq(log:snapshot(), { index = 0, term = 0, meta = "" }, "snapshot")
    T.eq(log:term(0), 0, "term(0) of a new log")
    local msg = T.fails("ENOTFOUND", raftwal.open, T.tmpdir() .. "/missing", { create = false })
    T.ok(msg:find("missing", 1, true) or msg:find("not found", 1, true), "message names the problem: " .. msg)
end)

T.test("open: bad options fail or raise", function()
    T.fails("EINVAL", raftwal.open, T.tmpdir() .. "/wal", { segment_size = 100 })
    T.raises(THIS_FILE, function() raftwal.open(42) end)
    T.raises("unknown option", function() raftwal.open("/tmp/x", { creat = true }) end)
    T.raises("option nosync must be a boolean", function() raftwal.open("/tmp/x", { nosync = 1 }) end)
    T.raises("opts must be a table", function() raftwal.open("/tmp/x", "nosync") end)
end)

T.test("a second writer is refused with ELOCKED; read-only opens are not", function()
    local log, dir = new_log()
    T.ok(log:append({ e(1, 1, "a") }))
    local msg = T.fails("ELOCKED", raftwal.open, dir)
    T.ok(#msg > 0, "a message")
    local ro = T.ok(raftwal.open(dir, { readonly = true }), "read-only open beside the writer")
    T.eq(ro.readonly, true, "ro.readonly")
    T.eq(ro:get(1).data, "a", "read-only handle reads")
    T.fails("EREADONLY", ro.append, ro, { e(2, 1, "b") })
    T.fails("EREADONLY", ro.truncate, ro, 1)
    T.ok(ro:close())
end)

T.test("append and get round-trip bytes, types and terms", function()
    local log = new_log()
    local all_bytes = {}
    for b = 0, 255 do
        all_bytes[#all_bytes + 1] = string.char(b)
    end
    local batch = {
        e(1, 1, "first"),
        e(2, 1, table.concat(all_bytes), 7),
        e(3, 2, nil),                             -- no data: stored as ""
        e(4, 2, ""),
        e(5, 3, string.rep("x", 100 * 1024), 0xffffffff), -- bigger than the read buffer
    }
    T.eq(log:append(batch), true, "append")
    T.eq(log:last_index(), 5, "last_index")
    for _, want in ipairs(batch) do
        T.eq(log:get(want.index), {
            index = want.index, term = want.term, type = want.type or 0, data = want.data or "",
        }, "get(" .. want.index .. ")")
        T.eq(log:term(want.index), want.term, "term(" .. want.index .. ")")
    end
end)

T.test("entries, snapshot meta and metadata above 1 MiB read back whole", function()
    -- Above 1 MiB the binding reads into a buffer of its own for the call.
    local log = new_log()
    local function pattern(n, seed)
        local chunk = {}
        for i = 1, 251 do
            chunk[i] = string.char((i * seed) % 256)
        end
        local s = table.concat(chunk)
        return string.rep(s, math.ceil(n / #s)):sub(1, n)
    end
    local big1, big2 = pattern(3 * 1024 * 1024 + 7, 3), pattern(2 * 1024 * 1024, 5)
    T.ok(log:append({ e(1, 1, big1), e(2, 1, "small"), e(3, 1, big2) }))
    for _ = 1, 3 do
        T.ok(log:get(1).data == big1, "3 MiB entry")
        collectgarbage()
        T.ok(log:get(3).data == big2, "2 MiB entry")
        T.eq(log:get(2).data, "small", "small entry after big ones")
    end
    T.ok(log:save_snapshot(1, 1, big2))
    T.ok(log:snapshot().meta == big2, "2 MiB snapshot meta")
    T.ok(log:set_metadata(big1))
    T.ok(log:metadata() == big1, "3 MiB metadata")
end)

T.test("get and term: ECOMPACTED below first, EUNAVAILABLE above last", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b"), e(3, 2, "c") }))
    T.ok(log:purge(1))
    T.eq(log:first_index(), 2, "first after purge")
    T.fails("ECOMPACTED", log.get, log, 1)
    T.fails("EUNAVAILABLE", log.get, log, 4)
    T.fails("EUNAVAILABLE", log.term, log, 4)
    -- A single read names the index asked for (issue 19).
    local msg = T.fails("EUNAVAILABLE", log.get, log, 7)
    T.ok(msg:find("index 7 ", 1, true), "message names index 7: " .. msg)
    T.fails("ECOMPACTED", log.term, log, 0)
end)

T.test("append: Raft's rules come back as codes", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 2, "b"), e(3, 2, "c") }))
    T.fails("EGAP", log.append, log, { e(5, 2, "gap") })
    T.fails("EGAP", log.append, log, { e(4, 2, "x"), e(6, 2, "y") })
    T.fails("ETERM", log.append, log, { e(4, 1, "older term") })
    T.fails("ETERM", log.append, log, { e(4, 3, "x"), e(5, 2, "y") })
    -- Conflict: replacing the suffix from index 2 with a newer term.
    T.ok(log:append({ e(2, 3, "B"), e(3, 3, "C"), e(4, 3, "D") }))
    T.eq(log:last_index(), 4, "last after overwrite")
    T.eq(log:get(2).data, "B", "overwritten entry")
    T.eq(log:term(3), 3, "overwritten term")
    -- Nothing at or below the commit index may be replaced.
    T.ok(log:set_hardstate({ term = 3, vote = 1, commit = 3 }))
    T.fails("ECOMMITTED", log.append, log, { e(3, 4, "no") })
    T.fails("ECOMMITTED", log.truncate, log, 2)
    -- A failed append changed nothing.
    T.eq(log:last_index(), 4, "last after refusals")
    T.eq(log:get(3).data, "C", "entry 3 kept")
end)

T.test("append with a hard state and nosync; empty batch with a hard state", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b") }, { term = 1, vote = 2, commit = 2 }, { nosync = true }))
    T.eq(log:hardstate(), { term = 1, vote = 2, commit = 2 }, "hardstate from append")
    T.ok(log:sync())
    T.eq(log:durable_index(), 2, "durable_index after sync")
    T.ok(log:wait_durable(2))
    T.ok(log:append({}, { term = 2, vote = 0, commit = 2 }))
    T.eq(log:hardstate(), { term = 2, vote = 0, commit = 2 }, "hardstate-only batch")
    T.fails("EINVAL", log.append, log, {}, { term = 2, vote = 0, commit = 9 })
end)

T.test("append: misuse raises at the caller's line", function()
    local log = new_log()
    T.raises(THIS_FILE, function() log:append("x") end)
    T.raises("entries[1] must be a table", function() log:append({ "x" }) end)
    T.raises("entries[2].index", function() log:append({ e(1, 1, "a"), e("2", 1, "b") }) end)
    T.raises("entries[1].index", function() log:append({ e(1.5, 1, "a") }) end)
    T.raises("entries[1].index", function() log:append({ e(-1, 1, "a") }) end)
    T.raises("entries[1].index", function() log:append({ e(2 ^ 53, 1, "a") }) end)
    T.raises("entries[1].term", function() log:append({ e(1, nil, "a") }) end)
    T.raises("entries[1].type", function() log:append({ e(1, 1, "a", -1) }) end)
    T.raises("entries[1].type", function() log:append({ e(1, 1, "a", 2 ^ 32) }) end)
    T.raises("entries[1].data", function() log:append({ e(1, 1, 42) }) end)
    T.raises("hardstate", function() log:append({}, { term = 1, vote = 0 }) end)
    T.raises("opts", function() log:append({}, nil, "nosync") end)
    T.raises("expected a log object", function() log.append({ e(1, 1, "a") }) end)
    T.eq(log:last_index(), 0, "nothing was appended")
end)

T.test("entries(): ranges, byte cap, defaults and errors", function()
    local log = new_log()
    local batch = {}
    for i = 1, 10 do
        batch[i] = e(i, 1, string.rep(string.char(64 + i), i * 10))
    end
    T.ok(log:append(batch))
    local function collect(...)
        local it, err, code = log:entries(...)
        T.ok(it, "entries: " .. tostring(err) .. " " .. tostring(code))
        local got = {}
        for entry, ierr in it do
            T.ok(entry, "iteration error: " .. tostring(ierr))
            got[#got + 1] = entry
        end
        return got
    end
    local all = collect()
    T.eq(#all, 10, "whole log by default")
    for i = 1, 10 do
        T.eq(all[i], { index = i, term = 1, type = 0, data = batch[i].data }, "entry " .. i)
    end
    T.eq(#collect(3, 6), 3, "[3, 6)")
    T.eq(collect(3, 6)[1].index, 3, "starts at lo")
    T.eq(#collect(4, 4), 0, "lo == hi: empty")
    -- 30 + 40 + 50 bytes: a cap of 75 stops after two entries.
    T.eq(#collect(3, 11, 75), 2, "byte cap")
    T.eq(#collect(3, 11, 1), 1, "at least one entry")
    T.eq(#collect(3, 11, ffi.new("uint64_t", 75)), 2, "cdata cap")
    T.fails("EINVAL", log.entries, log, 5, 4)
    T.fails("EUNAVAILABLE", log.entries, log, 1, 12)
    -- Past last + 1 is unavailable whether or not the range is empty
    -- (issue 19); up to last + 1 an empty range is fine.
    T.eq(#collect(11, 11), 0, "empty range at last + 1")
    T.fails("EUNAVAILABLE", log.entries, log, 12, 12)
    T.fails("EUNAVAILABLE", log.entries, log, 20, 20)
    T.ok(log:purge(2))
    T.fails("ECOMPACTED", log.entries, log, 1, 5)
    T.raises(THIS_FILE, function() log:entries("1") end)
    T.raises("max_bytes", function() log:entries(3, 4, -1) end)
end)

T.test("entries(): an entry truncated under the iterator ends it with an error", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b"), e(3, 1, "c"), e(4, 1, "d") }))
    local it = T.ok(log:entries(1, 5))
    local first = it()
    T.eq(first.index, 1, "first step")
    T.ok(log:truncate(2))
    local r, msg, code
    for _ = 1, 4 do
        r, msg, code = it()
        if r ~= nil and r ~= false then
            T.ok(r.index < 2, "entry " .. tostring(r.index) .. " was truncated but still returned")
        else
            break
        end
    end
    T.eq(r, false, "the iterator reports the truncation")
    T.eq(code, "EUNAVAILABLE", "code")
    T.ok(type(msg) == "string" and #msg > 0, "message")
    T.eq(it(), nil, "and ends")
end)

T.test("hard state: set, read back, commit beyond last refused", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a") }))
    T.ok(log:set_hardstate({ term = 5, vote = 3, commit = 1 }))
    T.eq(log:hardstate(), { term = 5, vote = 3, commit = 1 }, "hardstate")
    T.fails("EINVAL", log.set_hardstate, log, { term = 5, vote = 3, commit = 2 })
    T.ok(log:set_hardstate({ term = 6, vote = 0, commit = 1 }, { nosync = true }))
    T.raises(THIS_FILE, function() log:set_hardstate({ term = 1 }) end)
    T.raises("opts", function() log:set_hardstate({ term = 1, vote = 0, commit = 0 }, true) end)
end)

T.test("snapshot: save, read back, term after purge, no going back", function()
    local log = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 2, "b"), e(3, 2, "c") }))
    local meta = "conf\0state" .. string.rep("m", 10000) -- binary and bigger than the buffer
    T.ok(log:save_snapshot(2, 2, meta))
    T.eq(log:snapshot(), { index = 2, term = 2, meta = meta }, "snapshot")
    T.ok(log:purge(2))
    T.eq(log:first_index(), 3, "first after purge")
    T.eq(log:term(2), 2, "term of the snapshot index after purge")
    T.fails("EINVAL", log.save_snapshot, log, 1, 1, "older")
    T.ok(log:save_snapshot(3, 2))
    T.eq(log:snapshot().meta, "", "nil meta")
    T.raises(THIS_FILE, function() log:save_snapshot(3, 2, 12) end)
    T.raises("term", function() log:save_snapshot(3, "2") end)
end)

T.test("truncate and purge", function()
    local log = new_log()
    local batch = {}
    for i = 1, 6 do
        batch[i] = e(i, 1, "v" .. i)
    end
    T.ok(log:append(batch))
    T.ok(log:truncate(5))
    T.eq(log:last_index(), 4, "last after truncate")
    T.ok(log:truncate(100))
    T.eq(log:last_index(), 4, "truncate past last is a no-op")
    T.ok(log:purge(0))
    T.eq(log:first_index(), 1, "purge below first is a no-op")
    T.ok(log:purge(2))
    T.eq(log:first_index(), 3, "first after purge")
    T.fails("ECOMPACTED", log.truncate, log, 2)
    -- Purging past the last index empties the log (installing a snapshot).
    T.ok(log:purge(10))
    T.eq(log:first_index(), 11, "first after purging past last")
    T.eq(log:last_index(), 10, "last after purging past last")
    T.fails("ECOMPACTED", log.append, log, { e(5, 1, "below first") })
    T.fails("EGAP", log.append, log, { e(12, 1, "gap") })
    T.ok(log:append({ e(11, 1, "after") }))
    T.eq(log:get(11).data, "after", "append continues at upto + 1")
    T.raises(THIS_FILE, function() log:truncate(-1) end)
    T.raises("purge", function() log:purge({}) end)
end)

T.test("metadata: written at creation, replaced, read back", function()
    local log, dir = new_log({ metadata = "cluster=7\0node=3" })
    T.eq(log:metadata(), "cluster=7\0node=3", "initial metadata")
    local big = string.rep("\1\2\3", 5000)
    T.ok(log:set_metadata(big))
    T.eq(log:metadata(), big, "replaced metadata")
    T.ok(log:close())
    local again = T.ok(raftwal.open(dir, { metadata = "ignored: the log exists" }))
    T.eq(again:metadata(), big, "metadata survives reopen; creation metadata ignored")
    T.ok(again:close())
    T.raises(THIS_FILE, function() log:set_metadata(nil) end)
end)

T.test("stats and segments", function()
    local log = new_log({ segment_size = 16 * 1024, nosync = true })
    for i = 1, 64 do -- one batch each: a batch never spans segments
        T.ok(log:append({ e(i, 1, string.rep("s", 1000)) }))
    end
    T.ok(log:get(1))
    local st = T.ok(log:stats())
    for _, f in ipairs(raftwal.STATS_FIELDS) do
        T.ok(type(st[f]) == "number", "stats." .. f .. " is a number")
    end
    T.eq(st.first_index, 1, "stats.first_index")
    T.eq(st.last_index, 64, "stats.last_index")
    T.eq(st.entries, 64, "stats.entries")
    T.eq(st.appended_entries, 64, "stats.appended_entries")
    T.eq(st.appended_bytes, 64000, "stats.appended_bytes")
    T.eq(st.appends, 64, "stats.appends")
    T.ok(st.reads >= 1, "stats.reads")
    T.ok(st.segments >= 2, "64 KB in 16 KB segments rotates: " .. st.segments)
    local segs = T.ok(log:segments())
    T.eq(#segs, st.segments, "one table per segment")
    T.eq(segs[1].first_index, 1, "oldest segment starts at 1")
    T.eq(segs[1].sealed, true, "a full segment is sealed")
    T.eq(segs[#segs].last_index, 64, "newest segment ends at last")
    for i = 2, #segs do
        T.eq(segs[i].seq, segs[i - 1].seq + 1, "consecutive sequence numbers")
        T.eq(segs[i].first_index, segs[i - 1].last_index + 1, "contiguous segments")
    end
end)

T.test("indexes beyond 2^53 travel as uint64_t cdata", function()
    local log = new_log()
    local big = ffi.new("uint64_t", 2 ^ 53) + 10
    T.ok(log:purge(big))                         -- empties the log: first = big + 1
    local first = log:first_index()
    T.eq(type(first), "cdata", "first_index beyond 2^53 is cdata")
    T.ok(first == big + 1, "first_index value: " .. tostring(first))
    T.ok(log:last_index() == big, "last_index value")
    T.ok(log:append({ e(big + 1, 4, "far"), e(big + 2, 4, "farther") }))
    local got = T.ok(log:get(big + 2))
    T.eq(type(got.index), "cdata", "entry index is cdata")
    T.ok(got.index == big + 2, "entry index value")
    T.eq(got.term, 4, "small terms stay numbers")
    T.eq(got.data, "farther", "data")
    T.eq(log:term(big + 1), 4, "term by cdata index")
    T.eq(log:term(ffi.new("int64_t", big + 1)), 4, "int64_t cdata is accepted too")
    local n = 0
    for entry in T.ok(log:entries(big + 1)) do
        n = n + 1
        T.ok(entry.index == big + n, "iterated index")
    end
    T.eq(n, 2, "iterated entries")
    T.raises(THIS_FILE, function() log:get(2 ^ 53 + 2) end) -- not exact as a number
    T.raises("index", function() log:get(ffi.new("int64_t", -1)) end)
end)

T.test("verify and repair a closed log", function()
    local log, dir = new_log()
    T.ok(log:append({ e(1, 1, "a"), e(2, 1, "b") }))
    T.ok(log:close())
    local report = T.ok(raftwal.verify(dir))
    T.eq(report.entries, 2, "verify: entries")
    T.eq(report.first_index, 1, "verify: first")
    T.eq(report.last_index, 2, "verify: last")
    T.eq(report.torn_bytes, 0, "verify: no torn tail")
    local rep = T.ok(raftwal.repair(dir))
    T.eq(rep.cut_bytes, 0, "repair of a sound log cuts nothing")
    T.eq(rep.backup_path, "", "no backup")
    T.fails("ENOTFOUND", raftwal.verify, T.tmpdir() .. "/none")
    T.raises(THIS_FILE, function() raftwal.verify(nil) end)
    T.raises(THIS_FILE, function() raftwal.repair(1) end)
end)

T.test("a path with an embedded NUL is refused with EINVAL, never shortened", function()
    -- C would stop at the NUL: open, verify and repair would act on `base`.
    local base = T.tmpdir()
    local log, dir = new_log()
    T.ok(log:append({ e(1, 1, "a") }))
    T.ok(log:close())
    for _, path in ipairs({ base .. "\0/node-7/wal", dir .. "\0", "\0" .. dir }) do
        local shown = path:gsub("%z", "\\0")
        T.ok(T.fails("EINVAL", raftwal.open, path):find("NUL", 1, true), "open message names the NUL")
        T.fails("EINVAL", raftwal.open, path, { readonly = true, create = false })
        T.fails("EINVAL", raftwal.verify, path)
        T.fails("EINVAL", raftwal.repair, path)
        T.fails("EINVAL", raftwal.load, path)
        T.eq(T.sh("ls -A " .. T.quote(base)), "", "nothing created in the base directory for " .. shown)
    end
    T.eq(T.ok(raftwal.verify(dir)).entries, 1, "the log itself is untouched")
end)

T.test("open: numeric options must be integers in range", function()
    local base = T.tmpdir()
    local function refused(opts, text)
        T.raises(text, function() raftwal.open(base .. "/wal", opts) end)
        T.raises(THIS_FILE, function() raftwal.open(base .. "/wal", opts) end)
    end
    local nan = 0 / 0
    for _, bad in ipairs({ -1, 16384.9, nan, math.huge, -math.huge, -2 ^ 63, 2 ^ 64, 2 ^ 53 }) do
        refused({ segment_size = bad }, "option segment_size must be")
    end
    for _, bad in ipairs({ -1, 0.5, nan, math.huge, 512, 4095, 2 ^ 32 + 420, -2 ^ 63 }) do
        refused({ file_mode = bad }, "option file_mode must be")
    end
    T.eq(T.sh("ls -A " .. T.quote(base)), "", "no refused open created anything")
    -- In range: accepted (the library checks the segment size limits).
    T.fails("EINVAL", raftwal.open, base .. "/small", { segment_size = 16 * 1024 - 1 })
    T.fails("EINVAL", raftwal.open, base .. "/big", { segment_size = 2 ^ 40 })
    local log = T.ok(raftwal.open(base .. "/ok", { segment_size = 16 * 1024, file_mode = tonumber("600", 8) }))
    T.ok(log:append({ e(1, 1, "a") }))
    T.ok(log:close())
    local modes = T.sh("find " .. T.quote(base .. "/ok") .. " -type f -printf '%m\\n' | sort -u")
    T.eq(modes, "600\n", "files are created with file_mode 0600")
    T.ok(raftwal.open(base .. "/default", { segment_size = 0, file_mode = 0 })):close()
end)

return T.run()
