-- lua_vs_c.lua -- the LuaJIT binding's own cost: durable 16 x 1 KiB commits
-- through log:append (a table of entry tables per batch, as an application
-- writes them) against the C API called through the FFI with a prebuilt
-- entry array (what bench/'s C harness does), interleaved commit by commit
-- in one process so that both meet the same moods of a shared disk. Per
-- block of commits: C's time over LuaJIT's (the throughput ratio) and the
-- ratio of median commit latencies; medians over the blocks. With --dir on
-- tmpfs (fdatasync costs nothing) it measures the binding's cost per commit.
--
--   RAFTWAL_LIB=build/libraftwal.so.1 luajit bench/lua_vs_c.lua \
--       --lua-path bindings/lua --dir /var/tmp/lua-vs-c [--blocks 7] [--per-block 150]
local ffi = require("ffi")

local args = { blocks = "7", ["per-block"] = "150" }
for i = 1, #arg, 2 do
    local k = arg[i]:match("^%-%-(.+)$")
    if not k or arg[i + 1] == nil then error("bad argument " .. arg[i]) end
    args[k] = arg[i + 1]
end
package.path = args["lua-path"] .. "/?.lua;" .. package.path
local raftwal = require("raftwal")
local K = require("raftwal.cdef").constants
local dir, blocks, per_block = assert(args.dir, "--dir"), tonumber(args.blocks), tonumber(args["per-block"])

ffi.cdef [[
struct lvc_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk, struct lvc_timespec *ts);
]]
local ts = ffi.new("struct lvc_timespec")
local function now() -- CLOCK_MONOTONIC, seconds
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local function median(t)
    table.sort(t)
    return t[math.floor((#t + 1) / 2)]
end

assert(os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "'"))
math.randomseed(1024 * 131 + 16)
local datas = {}
for i = 1, 16 do
    local t = {}
    for j = 1, 1024 do t[j] = string.char(math.random(0, 255)) end
    datas[i] = table.concat(t)
end

local log = assert(raftwal.open(dir .. "/lua"))
local C = ffi.load(raftwal.library_path())
local opts = ffi.new("raftwal_options[1]")
assert(C.raftwal_options_init(opts, K.RAFTWAL_OPTIONS_VERSION) == 0)
opts[0].flags = K.RAFTWAL_OPEN_CREATE
local out = ffi.new("raftwal_log *[1]")
assert(C.raftwal_log_open(out, dir .. "/c", opts) == 0, "raftwal_log_open")
local clog = out[0]
local arr = ffi.new("raftwal_entry[16]")
for i = 0, 15 do
    arr[i].term, arr[i].data, arr[i].size = 1, datas[i + 1], 1024
end
local c_next = 1

local function lua_commit()
    local first = log:last_index() + 1
    local entries = {}
    for j = 1, 16 do
        entries[j] = { index = first + j - 1, term = 1, data = datas[j] }
    end
    assert(log:append(entries))
end
local function c_commit()
    for j = 0, 15 do arr[j].index = c_next + j end
    assert(C.raftwal_log_append(clog, arr, 16, nil, 0) == 0, "raftwal_log_append")
    c_next = c_next + 16
end

local throughput, medians, c_medians = {}, {}, {}
for b = 1, blocks do
    local lc, ll = {}, {}
    for i = 1, per_block do
        for k = 1, 2 do
            local t = now()
            if (k + i) % 2 == 0 then
                lua_commit()
                ll[#ll + 1] = now() - t
            else
                c_commit()
                lc[#lc + 1] = now() - t
            end
        end
    end
    local sc, sl = 0, 0
    for j = 1, #lc do sc, sl = sc + lc[j], sl + ll[j] end
    throughput[b], medians[b], c_medians[b] = sc / sl, median(lc) / median(ll), median(lc)
end
log:close()
C.raftwal_log_close(clog)
os.execute("rm -rf '" .. dir .. "'")
io.write(string.format("durable 16 x 1 KiB, %d blocks of %d commits each: C median commit %.0f us; "
    .. "LuaJIT %.3fx of C (throughput), %.3fx (median latency)\n",
    blocks, per_block, median(c_medians) * 1e6, median(throughput), median(medians)))
