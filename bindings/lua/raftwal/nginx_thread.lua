--[[
raftwal.nginx_thread -- the half of raftwal's durable waits that runs in an
nginx thread pool (ngx.run_worker_thread), off the worker's event loop.

raftwal.lua calls, from a request's coroutine,
    ngx.run_worker_thread(pool, "raftwal.nginx_thread", "wait_durable",
                          library, handle_address, index_hi, index_lo)
and the request's coroutine sleeps until the function below returns; the
event loop keeps serving meanwhile. The function runs in a Lua VM of the
thread pool's own (lua-nginx-module creates one per busy thread and reuses
them), which shares nothing with the worker's VM but the process: so it
loads the library itself, by the same name (dlopen hands back the copy the
worker already loaded), and gets the handle as its address, a number (only
nil, booleans, numbers, strings and tables cross between the two VMs).

The C library is thread-safe and groups concurrent waiters: of many threads
blocked in raftwal_log_wait_durable(), one runs the fdatasync and the
others return with it. The caller guarantees the handle stays open while
this runs (raftwal.lua defers log:close() until every wait has returned).

Returns 0 or the error code and the library's message (raftwal_errmsg() is
per thread: only this thread can read it).
]]
local ffi = require("ffi")
local cdef = require("raftwal.cdef")

cdef.declare()

local _M = {}

local libs = {} -- library name -> namespace, loaded once per thread VM

local function library(name)
    local lib = libs[name]
    if lib == nil then
        lib = ffi.load(name)
        libs[name] = lib
    end
    return lib
end

local function result(lib, rc)
    if rc == 0 then
        return 0
    end
    return rc, ffi.string(lib.raftwal_errmsg())
end

local function as_handle(addr)
    return ffi.cast("raftwal_log *", ffi.cast("uintptr_t", addr))
end

--- wait_durable(library, address, index_hi, index_lo) -> 0 | code, message
-- The index comes as two 32-bit halves: a uint64_t cannot cross the VMs.
function _M.wait_durable(name, addr, hi, lo)
    local lib = library(name)
    local index = ffi.new("uint64_t", hi) * 4294967296ULL + lo
    return result(lib, lib.raftwal_log_wait_durable(as_handle(addr), index))
end

--- sync(library, address) -> 0 | code, message
function _M.sync(name, addr)
    local lib = library(name)
    return result(lib, lib.raftwal_log_sync(as_handle(addr)))
end

return _M
