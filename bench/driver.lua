-- driver.lua -- bench/'s durable-append loop through the LuaJIT module.
--
-- Run by raftwal-bench (phase "bindings") with RAFTWAL_LIB naming a build's
-- libraftwal.so.1 and bindings/lua on package.path; prints one JSON line
-- with the same fields as the C harness ("who": "luajit"). The loop is the
-- one an application would write: a table of entry tables per batch (the
-- payload strings are made once, outside the clock), one durable
-- log:append() per batch.
--
--   RAFTWAL_LIB=build/libraftwal.so.1 luajit bench/driver.lua \
--       --lua-path bindings/lua --dir /tmp/d --payload 1024 --batch 16 --commits 500
local ffi = require("ffi")

local args = {}
do
    local i = 1
    while i <= #arg do
        local k = arg[i]:match("^%-%-(.+)$")
        if not k then error("bad argument " .. arg[i]) end
        args[k] = arg[i + 1]
        i = i + 2
    end
end
package.path = args["lua-path"] .. "/?.lua;" .. package.path
local raftwal = require("raftwal")

local payload = tonumber(args.payload)
local batch = tonumber(args.batch)
local commits = tonumber(args.commits)
local min_commits = tonumber(args["min-commits"] or 5)
local max_seconds = tonumber(args["max-seconds"] or 3)
local segment_size = tonumber(args["segment-size"] or 0) -- 0: the engine's default

ffi.cdef [[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk, struct bench_timespec *ts);
int usleep(unsigned int usec);
]]
local ts = ffi.new("struct bench_timespec")
local function now() -- CLOCK_MONOTONIC, seconds
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- Random payloads (math.random is LuaJIT's PRNG; any bytes do).
math.randomseed(payload * 131 + batch)
local datas = {}
for i = 1, batch do
    local t = {}
    for j = 1, payload do t[j] = string.char(math.random(0, 255)) end
    datas[i] = table.concat(t)
end

local log = assert(raftwal.open(args.dir .. "/raftwal",
    { segment_size = segment_size > 0 and segment_size or nil }))
-- As the C harness (bench/wal.c): if the engine is preparing a segment file
-- in the background (NNN.wal.tmp), let it finish before the clock starts.
local function preparing()
    local p = io.popen("ls '" .. args.dir .. "/raftwal'")
    local out = p:read("*a")
    p:close()
    return out:find("%.wal%.tmp") ~= nil
end
local t_wait = now()
while now() - t_wait < 10 and preparing() do
    ffi.C.usleep(5000)
end

local lat = {}
local t0 = now()
local n = 0
for c = 0, commits - 1 do
    local first = c * batch + 1
    local entries = {}
    for i = 1, batch do
        entries[i] = { index = first + i - 1, term = 1, data = datas[i] }
    end
    local t = now()
    assert(log:append(entries))
    n = n + 1
    lat[n] = (now() - t) * 1e6
    if n >= min_commits and now() - t0 > max_seconds then break end
end
local dt = now() - t0
log:close()

table.sort(lat)
local function pct(p)
    local rank = math.max(1, math.min(n, math.floor(p * n + 0.999999)))
    return lat[rank]
end
io.write(string.format(
    '{"phase":"bindings","who":"luajit","payload":%d,"batch":%d,"entries_per_s":%.6g,' ..
    '"mb_per_s":%.6g,"p50_us":%.6g,"p99_us":%.6g,"p999_us":%.6g,"count":%d}\n',
    payload, batch, n * batch / dt, n * batch * payload / dt / 1e6, pct(0.5), pct(0.99), pct(0.999), n))
