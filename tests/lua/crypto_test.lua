--[[
lua_crypto: encryption at rest and compression from Lua: open's key,
compression and compress_min options, verify/repair with { key = },
raftwal.rekey(), raftwal.features() and the "EKEY" code.

A test that needs an engine feature asks raftwal.features(): with the
feature it asserts the behaviour, without it the documented refusal
(nil, err, "EINVAL", err naming the feature). Argument checks, error
names and the wiping of the key buffer are checked in every build.
]]
local T = require("testlib")
local ffi = require("ffi")
local raftwal = require("raftwal")

local THIS_FILE = "crypto_test.lua:"
local KEY = string.rep("k", 16) .. string.rep("\1\2", 8)
local OTHER_KEY = string.rep("\255", 32)
local FEATURES = assert(raftwal.features())

local function e(index, term, data)
    return { index = index, term = term, data = data }
end

-- Compressible entries.
local PAYLOADS = {}
for i = 1, 20 do
    PAYLOADS[i] = string.rep("raftwal compresses this entry " .. i .. " ", 40)
end

local function append_payloads(log, first)
    local batch = {}
    for i = 1, #PAYLOADS do
        batch[i] = e(first + i - 1, 1, PAYLOADS[i])
    end
    T.ok(log:append(batch, { term = 1, vote = 1, commit = 0 }))
end

local function assert_key_scratch_wiped(what)
    local buf, size = raftwal._key_scratch()
    for i = 0, size - 1 do
        if buf[i] ~= 0 then
            error(what .. ": key byte " .. i .. " left in the scratch buffer", 2)
        end
    end
end

local function assert_no_key_in(text)
    T.ok(not text:find(KEY, 1, true), "the message holds no key: " .. text)
    T.ok(not text:find(OTHER_KEY, 1, true), "the message holds no key: " .. text)
end

-- The refusal of a build without the feature: nil, err, "EINVAL", with err
-- naming the feature.
local function refused_for_lack_of(word, fn, ...)
    local msg = T.fails("EINVAL", fn, ...)
    T.ok(msg:lower():find(word, 1, true), "the message names " .. word .. ": " .. msg)
    assert_no_key_in(msg)
    return msg
end

local function all_files(dir)
    local out = T.sh("cat " .. T.quote(dir) .. "/* 2>/dev/null")
    return out
end

T.test("features(), KEY_SIZE and the EKEY code", function()
    T.eq(raftwal.KEY_SIZE, 32, "KEY_SIZE")
    T.eq(raftwal.errors.EKEY, -17, "errors.EKEY")
    T.eq(type(FEATURES.encryption), "boolean", "features().encryption")
    T.eq(type(FEATURES.lz4), "boolean", "features().lz4")
    T.eq(type(FEATURES.zstd), "boolean", "features().zstd")
    local C = ffi.load(os.getenv("RAFTWAL_LIB"))
    local bits = tonumber(C.raftwal_features())
    T.eq(FEATURES.encryption, bit.band(bits, 1) ~= 0, "encryption bit")
    T.eq(FEATURES.lz4, bit.band(bits, 2) ~= 0, "lz4 bit")
    T.eq(FEATURES.zstd, bit.band(bits, 4) ~= 0, "zstd bit")
end)

T.test("bad key, compression and compress_min options raise at the caller", function()
    local dir = T.tmpdir() .. "/wal"
    local msg = T.raises("option key must be a string of 32 bytes (got 31)",
        function() raftwal.open(dir, { key = string.rep("x", 31) }) end)
    T.ok(msg:find(THIS_FILE, 1, true), "points at the caller: " .. msg)
    T.ok(not msg:find(string.rep("x", 31), 1, true), "the message shows no key")
    T.raises("option key must be a string", function() raftwal.open(dir, { key = 42 }) end)
    T.raises("(got 33)", function() raftwal.open(dir, { key = string.rep("x", 33) }) end)
    T.raises("option compression must be", function() raftwal.open(dir, { compression = "gzip" }) end)
    T.raises("option compression must be a string", function() raftwal.open(dir, { compression = 1 }) end)
    T.raises("option compress_min must be an integer", function() raftwal.open(dir, { compress_min = -1 }) end)
    T.raises("option compress_min must be an integer", function() raftwal.open(dir, { compress_min = 2 ^ 32 }) end)
    T.raises("option key must be a string of 32 bytes",
        function() raftwal.verify(dir, { key = "short" }) end)
    T.raises("unknown option", function() raftwal.verify(dir, { keys = KEY }) end)
    T.raises("opts must be a table", function() raftwal.repair(dir, KEY) end)
    T.raises("old_key must be a string of 32 bytes", function() raftwal.rekey(dir, "short", KEY) end)
    T.raises("new_key must be a string of 32 bytes", function() raftwal.rekey(dir, KEY, "short") end)
    T.raises("old_key and new_key are required", function() raftwal.rekey(dir, KEY) end)
    T.eq(io.open(dir), nil, "nothing was created")
end)

T.test("a plain log: compression 'none', verify without a key, the new report fields", function()
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir, { compression = "none", compress_min = 0 }))
    append_payloads(log, 1)
    local st = log:stats()
    T.eq(st.encrypted, 0, "stats.encrypted")
    T.eq(st.compressed_entries, 0, "stats.compressed_entries")
    T.eq(type(st.stored_entry_bytes), "number", "stats.stored_entry_bytes")
    log:close()
    local report = T.ok(raftwal.verify(dir))
    T.eq(report.encrypted, 0, "report.encrypted")
    T.eq(report.compressed_entries, 0, "report.compressed_entries")
    T.eq(type(report.entry_bytes), "number", "report.entry_bytes")
    T.eq(type(report.stored_entry_bytes), "number", "report.stored_entry_bytes")
    T.eq(report.last_index, #PAYLOADS, "report.last_index")
    T.ok(raftwal.repair(dir, {}), "repair with empty options")
end)

T.test("an encrypted log opens only with its key; the key buffer is wiped", function()
    local dir = T.tmpdir() .. "/wal"
    if not FEATURES.encryption then
        refused_for_lack_of("encryption", raftwal.open, dir, { key = KEY })
        assert_key_scratch_wiped("open")
        refused_for_lack_of("encryption", raftwal.verify, dir, { key = KEY })
        assert_key_scratch_wiped("verify")
        refused_for_lack_of("encryption", raftwal.repair, dir, { key = KEY })
        assert_key_scratch_wiped("repair")
        return
    end
    local log = T.ok(raftwal.open(dir, { key = KEY }))
    assert_key_scratch_wiped("open")
    append_payloads(log, 1)
    T.eq(log:stats().encrypted, 1, "stats.encrypted")
    log:close()
    log = T.ok(raftwal.open(dir, { key = KEY, readonly = true }))
    T.eq(log:get(3).data, PAYLOADS[3], "decrypted entry")
    log:close()
    assert_no_key_in(T.fails("EKEY", raftwal.open, dir))
    assert_no_key_in(T.fails("EKEY", raftwal.open, dir, { key = OTHER_KEY }))
    assert_key_scratch_wiped("a failed open")
    local report = T.ok(raftwal.verify(dir, { key = KEY }))
    assert_key_scratch_wiped("verify")
    T.eq(report.encrypted, 1, "report.encrypted")
    T.eq(report.last_index, #PAYLOADS, "report.last_index")
    T.fails("EKEY", raftwal.verify, dir)
    T.fails("EKEY", raftwal.verify, dir, { key = OTHER_KEY })
    T.fails("EKEY", raftwal.repair, dir, { key = OTHER_KEY })
    T.eq(T.ok(raftwal.repair(dir, { key = KEY })).cut_bytes, 0, "repair of a sound log")
    local stored = all_files(dir)
    T.ok(not stored:find(PAYLOADS[1]:sub(1, 40), 1, true), "no entry in clear on disk")
    T.ok(not stored:find(KEY, 1, true), "no key on disk")
end)

T.test("a key for a plaintext log is refused", function()
    local dir = T.tmpdir() .. "/wal"
    local log = T.ok(raftwal.open(dir))
    append_payloads(log, 1)
    log:close()
    if not FEATURES.encryption then
        refused_for_lack_of("encryption", raftwal.open, dir, { key = KEY })
        return
    end
    T.fails("EKEY", raftwal.open, dir, { key = KEY })
    T.fails("EKEY", raftwal.verify, dir, { key = KEY })
    T.fails("EKEY", raftwal.rekey, dir, KEY, OTHER_KEY)
end)

T.test("rekey", function()
    local dir = T.tmpdir() .. "/wal"
    if not FEATURES.encryption then
        local log = T.ok(raftwal.open(dir))
        log:close()
        refused_for_lack_of("encryption", raftwal.rekey, dir, KEY, OTHER_KEY)
        assert_key_scratch_wiped("rekey")
        return
    end
    local log = T.ok(raftwal.open(dir, { key = KEY }))
    append_payloads(log, 1)
    T.fails("ELOCKED", raftwal.rekey, dir, KEY, OTHER_KEY)
    log:close()
    assert_no_key_in(T.fails("EKEY", raftwal.rekey, dir, OTHER_KEY, KEY))
    assert_key_scratch_wiped("a failed rekey")
    T.eq(raftwal.rekey(dir, KEY, OTHER_KEY), true, "rekey")
    assert_key_scratch_wiped("rekey")
    T.fails("EKEY", raftwal.open, dir, { key = KEY })
    log = T.ok(raftwal.open(dir, { key = OTHER_KEY }))
    T.eq(log:get(20).data, PAYLOADS[20], "read with the new key")
    log:close()
end)

for _, name in ipairs({ "lz4", "zstd" }) do
    T.test("compression " .. name, function()
        local dir = T.tmpdir() .. "/wal"
        if not FEATURES[name] then
            refused_for_lack_of(name, raftwal.open, dir, { compression = name })
            return
        end
        local log = T.ok(raftwal.open(dir, { compression = name, compress_min = 16 }))
        append_payloads(log, 1)
        local st = log:stats()
        T.eq(st.compressed_entries, #PAYLOADS, "stats.compressed_entries")
        T.ok(st.stored_entry_bytes < st.appended_bytes, "stored less than appended")
        log:close()
        log = T.ok(raftwal.open(dir)) -- readers need no option
        for i = 1, #PAYLOADS do
            T.eq(log:get(i).data, PAYLOADS[i], "entry " .. i)
        end
        log:close()
        local report = T.ok(raftwal.verify(dir))
        T.eq(report.compressed_entries, #PAYLOADS, "report.compressed_entries")
        T.ok(report.entry_bytes / report.stored_entry_bytes > 2, "compression ratio above 2")
    end)
end

T.run()
