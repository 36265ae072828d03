--[[
raftwal -- the LuaJIT FFI binding of libraftwal, in the style of OpenResty's
lua-resty-* libraries. See bindings/lua/README.md for the user's guide.

Conventions (the same as lua-resty-core, lua-resty-lmdb):
  * a runtime failure returns nil, message, code name ("ECOMPACTED", ...);
    use after close returns nil, "closed", "ECLOSED";
  * misuse (a wrong argument type, a method called with '.') raises
    error(message, 2), pointing at the caller's line;
  * handles are closed by an ffi.gc finalizer when collected, or at once by
    log:close(), which may be called any number of times;
  * a handle belongs to the process that opened it: in a child made by
    fork() it answers nil, "closed", "ECLOSED" and is never closed there.

Indexes and terms are unsigned 64-bit. They are accepted as Lua numbers
(non-negative integers below 2^53) or as uint64_t cdata, and returned as
Lua numbers when below 2^53 and as uint64_t cdata from 2^53 on, where a
double could no longer hold them exactly.

The hot paths (append, get, term, entries) are written to stay
JIT-compilable: no closures created per call, no pairs(), no varargs, one
FFI call per batch, out-parameters preallocated once per module. Those
shared buffers are filled only after every value of the caller's tables has
been read (reading may run an __index metamethod, which may call this module
again or yield), right before the C call.
tests/lua/jit_trace_test.lua checks that their loops trace without NYI.

In nginx, where a request may yield, durable appends, log:sync() and
log:wait_durable() wait for the disk in an nginx thread pool instead of
blocking the worker (see "Durable waits in nginx" below).

The library itself is loaded lazily, on the first call that needs it, so
that raftwal.load(path) can choose it after require("raftwal").
]]
local ffi = require("ffi")
local cdef = require("raftwal.cdef")

cdef.declare()

local type, tonumber, tostring = type, tonumber, tostring
local error, pcall, setmetatable, getmetatable = error, pcall, setmetatable, getmetatable
local pairs, ipairs = pairs, ipairs
local ffi_new, ffi_string, ffi_gc, ffi_istype, ffi_sizeof =
    ffi.new, ffi.string, ffi.gc, ffi.istype, ffi.sizeof
local ffi_copy, ffi_fill = ffi.copy, ffi.fill
local concat, find, gsub = table.concat, string.find, string.gsub
local getenv = os.getenv
-- table.new(narray, nhash) preallocates (LuaJIT 2.1); plain {} elsewhere.
local table_new = (function()
    local ok, new = pcall(require, "table.new")
    return ok and new or function() return {} end
end)()

local K = cdef.constants
local TWO53 = 2 ^ 53
local TWO32 = 2 ^ 32

local _M = {
    _VERSION = K.RAFTWAL_VERSION_STRING, -- the ABI version this binding declares
    NO_LIMIT = K.RAFTWAL_NO_LIMIT,
    MAX_ENTRY_SIZE = K.RAFTWAL_MAX_ENTRY_SIZE,
    MAX_BATCH_ENTRIES = K.RAFTWAL_MAX_BATCH_ENTRIES,
}

-- ---------------------------------------------------------------------------
-- Error codes: raftwal.errors.ECOMPACTED == -6, and back.
-- ---------------------------------------------------------------------------

local CODE_NAMES = {
    "EINVAL", "ENOMEM", "EIO", "ECORRUPT", "ELOCKED", "ECOMPACTED",
    "EUNAVAILABLE", "ENOTFOUND", "EVERSION", "EREADONLY", "ENOSPC", "EGAP",
    "ETERM", "ECOMMITTED", "ERANGE", "ECLOSED", "EKEY",
}
local code_name = {}  -- -6 -> "ECOMPACTED"
_M.errors = {}        -- "ECOMPACTED" -> -6
for _, name in ipairs(CODE_NAMES) do
    local code = tonumber(ffi.cast("enum raftwal_error", "RAFTWAL_" .. name))
    code_name[code] = name
    _M.errors[name] = code
end
local ERANGE = _M.errors.ERANGE

-- ---------------------------------------------------------------------------
-- Finding the shared library
-- ---------------------------------------------------------------------------

local C            -- the library's namespace once loaded
local loaded_from  -- the name or path it was loaded by

-- The names tried when neither raftwal.load() nor RAFTWAL_LIB chose one:
-- the versioned SONAME first (the ABI this file declares), then the plain
-- development name ("raftwal" -> libraftwal.so).
local DEFAULT_NAMES = { "libraftwal.so.1", "raftwal" }

local function try_load(name)
    local ok, lib = pcall(ffi.load, name)
    if not ok then
        return nil, tostring(lib)
    end
    local v = lib.raftwal_version_number()
    if v < 10000 * K.RAFTWAL_VERSION_MAJOR or v >= 10000 * (K.RAFTWAL_VERSION_MAJOR + 1) then
        return nil, "ABI version mismatch: the library is "
            .. ffi_string(lib.raftwal_version()) .. ", this binding needs "
            .. K.RAFTWAL_VERSION_MAJOR .. ".x"
    end
    return lib
end

-- C reads a path up to its first NUL byte, so "base\0/node-7/wal" would
-- open "base": such paths are refused, with EINVAL.
local function nul_path(fname, path)
    return nil, "raftwal." .. fname .. ": the path \"" .. gsub(path, "%z", "\\0")
        .. "\" contains a NUL byte", "EINVAL"
end

--- raftwal.load(path) -> true | nil, err
-- Loads the library from an explicit file path (or dlopen name) instead of
-- the default lookup. Call it before the first open/verify/repair/version.
-- Loading again from the same path is a no-op; from another path, an error.
function _M.load(path)
    if type(path) ~= "string" or path == "" then
        error("raftwal.load: path must be a non-empty string", 2)
    end
    if find(path, "\0", 1, true) then
        return nul_path("load", path)
    end
    if C then
        if path == loaded_from then
            return true
        end
        return nil, "raftwal: the library is already loaded from " .. loaded_from
    end
    local lib, err = try_load(path)
    if not lib then
        return nil, "raftwal: cannot load the library from " .. path .. ": " .. err
    end
    C, loaded_from = lib, path
    return true
end

-- Loads the library the default way if it is not loaded yet.
-- RAFTWAL_LIB, when set, is the only place looked at: a configured path
-- that fails must not silently fall back to another copy of the library.
local function library()
    if C then
        return C
    end
    local env = getenv("RAFTWAL_LIB")
    local names = DEFAULT_NAMES
    if env and env ~= "" then
        names = { env }
    end
    local tried = {}
    for i = 1, #names do
        local lib, err = try_load(names[i])
        if lib then
            C, loaded_from = lib, names[i]
            return C
        end
        tried[#tried + 1] = names[i] .. ": " .. err
    end
    local where = (env and env ~= "")
        and "RAFTWAL_LIB=" .. env
        or "the dynamic linker's search path (LD_LIBRARY_PATH, /etc/ld.so.cache, /lib, /usr/lib)"
            .. " for " .. concat(DEFAULT_NAMES, ", ")
    return nil, "raftwal: cannot load libraftwal; looked in " .. where
        .. " (call raftwal.load(path) or set RAFTWAL_LIB to choose a file); tried: "
        .. concat(tried, "; ")
end

--- raftwal.library_path() -> the name or path the library was loaded by, or nil.
function _M.library_path()
    return loaded_from
end

-- ---------------------------------------------------------------------------
-- Which process owns a handle
-- ---------------------------------------------------------------------------

-- A child made by fork() inherits the Lua state and every handle in it, but
-- neither the library's threads nor the directory lock: a write there would
-- go unlocked into the parent's files, and raftwal_log_close() hangs or
-- frees what the parent still uses. So each handle records the pid of the
-- process that opened it, every method compares it with current_pid(), and
-- in any other process the handle is forgotten, never closed.
--
-- current_pid() runs on every method call, and getpid() is a system call
-- (about 1 us on some virtual machines, 30 times a log:term()). So the pid
-- is cached, and the kernel tells when the cache is stale: fork_canary is a
-- byte on a page marked MADV_WIPEONFORK, which a forked child sees zeroed.
-- Where that is unavailable (not Linux, kernels before 4.14) the canary is
-- nil and getpid() is called every time.

-- Each declaration on its own: another module may have made it already, and
-- ffi.cdef refuses to redeclare.
for _, decl in ipairs({
    "int getpid(void);",
    "void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset);",
    "int madvise(void *addr, size_t length, int advice);",
}) do
    pcall(ffi.cdef, decl)
end
local libc = ffi.C
local getpid = libc.getpid

local function wipe_on_fork_page()
    -- Linux's generic values; MIPS numbers MAP_ANONYMOUS differently.
    if ffi.os ~= "Linux" or find(ffi.arch, "mips", 1, true) then
        return nil
    end
    local PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, MADV_WIPEONFORK = 3, 0x22, 18
    local ok, page = pcall(function()
        local p = libc.mmap(nil, 4096, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0)
        if p == nil or ffi.cast("intptr_t", p) == -1 then
            return nil
        end
        if libc.madvise(p, 4096, MADV_WIPEONFORK) ~= 0 then
            return nil -- the page stays mapped, unused: 4 KiB, once
        end
        return ffi.cast("volatile uint8_t *", p)
    end)
    return ok and page or nil
end

local fork_canary = wipe_on_fork_page() -- 1 while cached_pid is this process's
local cached_pid = 0

local function current_pid()
    local canary = fork_canary
    if canary ~= nil and canary[0] == 1 then
        return cached_pid
    end
    cached_pid = getpid()
    if canary ~= nil then
        canary[0] = 1
    end
    return cached_pid
end

-- ---------------------------------------------------------------------------
-- Shared helpers
-- ---------------------------------------------------------------------------

-- Out-parameters and scratch buffers, allocated once. Every use fills and
-- reads them within one Lua call with no user code in between (no
-- metamethod, no yield), so sharing them is safe: Lua code runs on one OS
-- thread per Lua state. Write calls read the caller's tables first, into
-- locals and a table of their own, and fill these buffers only then.
local log_out = ffi_new("raftwal_log *[1]")
local iter_out = ffi_new("raftwal_iter *[1]")
local u64_out = ffi_new("uint64_t[1]")
local u64_out2 = ffi_new("uint64_t[1]")
local size_out = ffi_new("size_t[1]")
local entry_out = ffi_new("raftwal_entry[1]")
local hs_buf = ffi_new("raftwal_hardstate[1]")
local opts_buf = ffi_new("raftwal_options[1]")
local stats_buf = ffi_new("raftwal_stats[1]")
local seginfo_buf = ffi_new("raftwal_segment_info[1]")
local uint64_t = ffi.typeof("uint64_t")
local int64_t = ffi.typeof("int64_t")
local entry_array_t = ffi.typeof("raftwal_entry[?]")
local byte_array_t = ffi.typeof("uint8_t[?]")

-- The buffer entry data and metadata are copied into before ffi.string.
-- It grows on demand up to SHARED_MAX bytes and is reused; anything bigger
-- gets a buffer of its own for that one call, so that reading one huge
-- entry does not pin its size in memory for the life of the process.
local SHARED_MAX = 1024 * 1024
local buf_size = 4096
local buf = ffi_new(byte_array_t, buf_size)

-- A one-off buffer stays referenced here until the data is copied out of
-- it: afterwards only a raw pointer (entry_out.data) points into it, which
-- does not keep it from the garbage collector.
local oneoff = nil

-- A buffer of at least `need` bytes: the shared one (grown) or a one-off
-- one (call release_oneoff() once the data is copied out).
local function buffer_for(need)
    if need <= buf_size then
        return buf, buf_size
    end
    if need > SHARED_MAX then
        oneoff = ffi_new(byte_array_t, need)
        return oneoff, need
    end
    local size = buf_size * 2
    if size < need then
        size = need
    end
    buf, buf_size = ffi_new(byte_array_t, size), size
    return buf, buf_size
end

-- The entry array of append(): grown on demand and reused, up to
-- BATCH_KEEP entries; a bigger batch gets an array for that call only.
local BATCH_KEEP = 4096
local batch_cap = 64
local batch = ffi_new(entry_array_t, batch_cap)

-- The entry array for a batch of n: the shared one, grown if needed, or
-- one of its own for a batch above BATCH_KEEP.
local function batch_array(n)
    if n <= batch_cap then
        return batch
    end
    if n > BATCH_KEEP then
        return ffi_new(entry_array_t, n)
    end
    local cap = batch_cap * 2
    if cap < n then
        cap = n
    end
    batch, batch_cap = ffi_new(entry_array_t, cap), cap
    return batch
end

-- nil, message, code name: the OpenResty convention for failures.
local function fail(rc)
    local msg = ffi_string(C.raftwal_errmsg())
    if msg == "" then
        msg = ffi_string(C.raftwal_strerror(rc))
    end
    return nil, msg, code_name[rc] or tostring(rc)
end

local function closed()
    return nil, "closed", "ECLOSED"
end

-- Raises a misuse error pointing at the caller of the public function that
-- called this helper (level 3: this function, the API function, its caller).
-- Never tail-call it: a tail call would drop the API function's frame.
local function argerror(msg)
    error("raftwal: " .. msg, 3)
end

-- A uint64_t result as a Lua number when exact, else as cdata.
local function u64_result(v)
    if v < TWO53 then
        return tonumber(v)
    end
    return v
end

-- A valid 64-bit index argument, or nil.
local function to_u64(v)
    if type(v) == "number" then
        if v >= 0 and v < TWO53 and v % 1 == 0 then
            return v
        end
        return nil
    end
    if ffi_istype(uint64_t, v) then
        return v
    end
    if ffi_istype(int64_t, v) and v >= 0 then
        return v
    end
    return nil
end

local function to_u32(v)
    if type(v) == "number" and v >= 0 and v < TWO32 and v % 1 == 0 then
        return v
    end
    return nil
end

local function entry_table(e)
    return {
        index = u64_result(e.index),
        term = u64_result(e.term),
        type = tonumber(e.type),
        data = ffi_string(e.data, tonumber(e.size)),
    }
end

-- The term, vote and commit of a {term=, vote=, commit=} table, or nil.
local function read_hardstate(t)
    if type(t) ~= "table" then
        return nil
    end
    local term, vote, commit = to_u64(t.term), to_u64(t.vote), to_u64(t.commit)
    if not (term and vote and commit) then
        return nil
    end
    return term, vote, commit
end

-- hs_buf holding term, vote, commit. Call it right before the C call.
local function fill_hardstate(term, vote, commit)
    local hs = hs_buf[0]
    hs.term, hs.vote, hs.commit = term, vote, commit
    return hs_buf
end

-- Write flags from an optional { nosync = true } table; nil when invalid.
local function write_flags(opts)
    if opts == nil then
        return 0
    end
    if type(opts) ~= "table" then
        return nil
    end
    if opts.nosync then
        return K.RAFTWAL_NOSYNC
    end
    return 0
end

-- ---------------------------------------------------------------------------
-- Durable waits in nginx
-- ---------------------------------------------------------------------------

-- An nginx worker is one event loop: a call that blocks for an fdatasync
-- stops every request of the worker meanwhile, and requests that each
-- block in turn can never share an fdatasync. So in the phases where a
-- request's coroutine may yield, a durable append writes its batch at once
-- with RAFTWAL_NOSYNC (no yield between the caller choosing its index and
-- the write: requests of the worker cannot interleave there) and then waits
-- for the disk in a thread of an nginx thread pool (ngx.run_worker_thread,
-- lua-nginx-module 0.10.21 and later), which suspends only this request;
-- log:sync() and log:wait_durable() wait the same way. The C library
-- groups concurrent waiters: whichever finds no fdatasync running starts
-- one for all of them. The thread side is raftwal/nginx_thread.lua.
--
-- Chosen by measurement (bindings/lua/README.md, "Numbers"): the thread
-- hop costs tens of microseconds per wait, far below an fdatasync, and
-- needs nothing but a `thread_pool` line in nginx.conf. The other way, a
-- descriptor the library signals when the durable index moves, would need
-- a thread in C that this pure-Lua binding cannot start, or a change to
-- the C API.
--
-- Everywhere else (init_worker_by_lua*, header and body filters, the log
-- phase, plain LuaJIT, opened with yield = false) the calls block, as the C
-- API does. If the thread pool is missing, the call blocks too, and the
-- error log says so once per pool name.

local DEFAULT_THREAD_POOL = "raftwal"
local THREAD_MODULE = "raftwal.nginx_thread"

-- The values of ngx.get_phase() in which ngx.run_worker_thread may yield.
local YIELDING_PHASES = {
    rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
}

-- The ngx table when a durable wait of this log may yield here, else nil.
local function nginx_for_wait(self)
    if not self._yield or self.readonly then
        return nil
    end
    local ngx = rawget(_G, "ngx")
    if ngx == nil or ngx.run_worker_thread == nil or not YIELDING_PHASES[ngx.get_phase()] then
        return nil
    end
    return ngx
end

-- A 64-bit index as two 32-bit halves (numbers): only nil, booleans,
-- numbers, strings and tables cross into the thread pool's Lua VM.
local function split_u64(i)
    if type(i) == "number" then
        local lo = i % TWO32
        return (i - lo) / TWO32, lo
    end
    local u = ffi.cast("uint64_t", i)
    return tonumber(u / 4294967296ULL), tonumber(u % 4294967296ULL)
end

-- Logs with waits in the thread pool: a strong reference, so that the
-- garbage collector never finalizes (closes) a handle a thread still uses,
-- even when the waiting request is aborted and never resumes.
local waiting = {}

local warned_pools = {} -- pool name -> true once its absence was logged

-- Closes the handle of a log whose close() was deferred until its last
-- wait in the thread pool had returned.
local function finish_deferred_close(self)
    local h = self._closing
    self._closing = nil
    ffi_gc(h, nil)
    local rc = C.raftwal_log_close(h)
    local ngx = rawget(_G, "ngx")
    if rc ~= 0 and ngx ~= nil then
        ngx.log(ngx.ERR, "raftwal: closing ", self.path, ": ", ffi_string(C.raftwal_errmsg()))
    end
end

-- The blocking call behind a wait: "wait_durable" (with index) or "sync".
local function wait_here(h, fname, index)
    if fname == "sync" then
        return C.raftwal_log_sync(h)
    end
    return C.raftwal_log_wait_durable(h, index)
end

-- Waits for the disk in the thread pool (fname: "wait_durable" with index,
-- or "sync"), suspending only the calling coroutine. Returns 0, or an
-- error code and its message. When the pool cannot take the call (no such
-- thread_pool, no Lua VM left), waits here instead, blocking.
local function wait_in_thread(self, ngx, h, fname, index)
    local hi, lo = 0, 0
    if index ~= nil then
        hi, lo = split_u64(index)
    end
    self._waits = self._waits + 1
    waiting[self] = true
    -- pcall (LuaJIT yields across it): an error raised here must not leave
    -- _waits counted, which would defer a close() forever.
    local called, ok, rc, msg = pcall(ngx.run_worker_thread, self._pool, THREAD_MODULE, fname,
        loaded_from, tonumber(ffi.cast("uintptr_t", h)), hi, lo)
    if not called then
        ok, rc = false, ok
    end
    if not ok then
        if not warned_pools[self._pool] then
            warned_pools[self._pool] = true
            ngx.log(ngx.WARN, "raftwal: durable waits block the worker: ngx.run_worker_thread(\"",
                self._pool, "\") failed: ", rc, " (add `thread_pool ", self._pool,
                " threads=16;` to the main context of nginx.conf)")
        end
        rc = wait_here(h, fname, index) -- before the deferred close below
        msg = rc ~= 0 and ffi_string(C.raftwal_errmsg()) or nil
    end
    self._waits = self._waits - 1
    if self._waits == 0 then
        waiting[self] = nil
        if self._closing ~= nil then
            finish_deferred_close(self)
        end
    end
    return rc, msg
end

-- The result of a wait: true, or nil, message, code name.
local function wait_result(rc, msg)
    if rc == 0 then
        return true
    end
    if msg == nil or msg == "" then
        msg = ffi_string(C.raftwal_strerror(rc))
    end
    return nil, msg, code_name[rc] or tostring(rc)
end

-- ---------------------------------------------------------------------------
-- Opening
-- ---------------------------------------------------------------------------

local Log = {}
Log.__index = Log
_M.Log = Log

local OPEN_OPTIONS = {
    create = "boolean", readonly = "boolean", nosync = "boolean", verify = "boolean",
    segment_size = "number", metadata = "string", file_mode = "number",
    thread_pool = "string", yield = "boolean",
    key = "string", compression = "string", compress_min = "number",
}

-- ---------------------------------------------------------------------------
-- Encryption keys and compression
-- ---------------------------------------------------------------------------

local KEY_SIZE = K.RAFTWAL_KEY_SIZE
_M.KEY_SIZE = KEY_SIZE

local COMPRESSIONS = {
    none = K.RAFTWAL_COMPRESS_NONE,
    lz4 = K.RAFTWAL_COMPRESS_LZ4,
    zstd = K.RAFTWAL_COMPRESS_ZSTD,
}

-- The keys of one call (open, verify, repair: the first; rekey: both),
-- copied from the caller's strings right before the C call and wiped right
-- after it, so that no cdata holding key material is left for the garbage
-- collector (which frees without wiping). The caller's Lua strings are
-- immutable and cannot be wiped: that is up to the caller's design.
local key_buf = ffi_new("uint8_t[?]", 2 * KEY_SIZE)

-- Raises at the caller of the public function `fname` unless key is nil or
-- a string of KEY_SIZE bytes. The message never shows the key.
local function check_key(fname, key, what)
    if key ~= nil and (type(key) ~= "string" or #key ~= KEY_SIZE) then
        error("raftwal." .. fname .. ": " .. what .. " must be a string of " .. KEY_SIZE
            .. " bytes" .. (type(key) == "string" and " (got " .. #key .. ")" or
            " (got a " .. type(key) .. ")"), 3)
    end
end

-- Copies key into slot 0 or 1 of key_buf; returns the pointer to it.
local function stage_key(key, slot)
    local p = key_buf + slot * KEY_SIZE
    ffi_copy(p, key, KEY_SIZE)
    return p
end

local function wipe_keys()
    ffi_fill(key_buf, 2 * KEY_SIZE)
end

-- For tests/lua/crypto_test.lua, which checks that every call wiped it.
function _M._key_scratch()
    return key_buf, 2 * KEY_SIZE
end

--- raftwal.features() -> { encryption = bool, lz4 = bool, zstd = bool }
-- What the loaded library supports (raftwal_features()). A key or a
-- compression it lacks makes open() return nil, err, "EINVAL" (err names
-- the feature). nil, err, "ELOAD" when the library cannot be loaded.
function _M.features()
    local lib, err = library()
    if not lib then
        return nil, err, "ELOAD"
    end
    local band = require("bit").band
    local bits = tonumber(lib.raftwal_features())
    return {
        encryption = band(bits, K.RAFTWAL_FEATURE_ENCRYPTION) ~= 0,
        lz4 = band(bits, K.RAFTWAL_FEATURE_LZ4) ~= 0,
        zstd = band(bits, K.RAFTWAL_FEATURE_ZSTD) ~= 0,
    }
end

-- The largest file_mode: permission bits only (no setuid, setgid, sticky).
local MAX_FILE_MODE = 511 -- 0777

-- The value of option `name` (nil or of the option's type); raises at the
-- caller of open() otherwise.
local function option(opts, name)
    local v = opts[name]
    local want = OPEN_OPTIONS[name]
    if v ~= nil and type(v) ~= want then
        error("raftwal.open: option " .. name .. " must be a " .. want, 3)
    end
    return v
end

-- The ffi.gc finalizer of a log handle opened by process `pid`. A Lua
-- closure, not the bare C function: it references the library namespace
-- `lib`, and so keeps libraftwal loaded as long as a handle may still need
-- closing (a bare function pointer does not: dropping the module together
-- with its last log let the collector unload the library first, and the
-- finalizer then jumped into unmapped code). In any other process (a
-- forked child) the handle is not ours to close: it is dropped.
local function log_finalizer(lib, pid)
    return function(h)
        if current_pid() == pid then
            lib.raftwal_log_close(h)
        end
    end
end

--- raftwal.open(path, opts) -> log | nil, err, code
-- opts (all optional): create (default true), readonly, nosync, verify,
-- segment_size (bytes; 0 = the default), metadata (string, written when the
-- log is created), file_mode (0..0777, e.g. tonumber("640", 8); 0 = the
-- log's own: 0600 for a new log, else its LOCK file's; see raftwal.h),
-- key (the 32-byte master key of an encrypted log: creates one, and must
-- be given, the same, for every later open of it; a wrong or missing key
-- returns nil, err, "EKEY"), compression ("lz4", "zstd" or "none": how the
-- entries this handle writes are stored; readers need no option),
-- compress_min (entries below this many bytes are stored as they are;
-- 0 = 64). A key or compression the library lacks (raftwal.features())
-- returns nil, err, "EINVAL". The key is copied for the call and wiped.
function _M.open(path, opts)
    if type(path) ~= "string" then
        error("raftwal.open: path must be a string", 2)
    end
    if opts == nil then
        opts = {}
    elseif type(opts) ~= "table" then
        error("raftwal.open: opts must be a table", 2)
    end
    for k in pairs(opts) do
        if not OPEN_OPTIONS[k] then
            error("raftwal.open: unknown option " .. tostring(k), 2)
        end
    end
    -- Every option is read (through __index, if opts has one) before
    -- opts_buf is touched: a metamethod may itself open a log.
    local create, readonly = option(opts, "create"), option(opts, "readonly")
    local nosync, verify = option(opts, "nosync"), option(opts, "verify")
    local segment_size, file_mode = option(opts, "segment_size"), option(opts, "file_mode")
    local meta = option(opts, "metadata") -- stays referenced until the call returns
    local thread_pool, yield = option(opts, "thread_pool"), option(opts, "yield")
    local key, compression = option(opts, "key"), option(opts, "compression")
    local compress_min = option(opts, "compress_min")
    check_key("open", key, "option key")
    if compression ~= nil and COMPRESSIONS[compression] == nil then
        error("raftwal.open: option compression must be \"lz4\", \"zstd\" or \"none\"", 2)
    end
    if compress_min ~= nil and not to_u32(compress_min) then
        error("raftwal.open: option compress_min must be an integer in [0, 2^32)", 2)
    end
    if segment_size ~= nil and not to_u64(segment_size) then
        error("raftwal.open: option segment_size must be an integer in [0, 2^53)"
            .. " (bytes; 0 = the default)", 2)
    end
    if file_mode ~= nil and not (to_u32(file_mode) and file_mode <= MAX_FILE_MODE) then
        error("raftwal.open: option file_mode must be an integer in 0..0777"
            .. " (permission bits, e.g. tonumber(\"640\", 8); 0 = the log's own, 0600 when new)", 2)
    end
    if find(path, "\0", 1, true) then
        return nul_path("open", path)
    end
    local lib, err = library()
    if not lib then
        return nil, err, "ELOAD"
    end
    local o = opts_buf
    local rc = lib.raftwal_options_init(o, K.RAFTWAL_OPTIONS_VERSION)
    if rc ~= 0 then
        return fail(rc)
    end
    local flags = 0
    if create ~= false then flags = flags + K.RAFTWAL_OPEN_CREATE end
    if readonly then flags = flags + K.RAFTWAL_OPEN_READONLY end
    if nosync then flags = flags + K.RAFTWAL_OPEN_NOSYNC end
    if verify then flags = flags + K.RAFTWAL_OPEN_VERIFY end
    o[0].flags = flags
    o[0].segment_size = segment_size or 0
    o[0].file_mode = file_mode or 0
    o[0].metadata = meta
    o[0].metadata_size = meta and #meta or 0
    o[0].compression = COMPRESSIONS[compression or "none"]
    o[0].compress_min = compress_min or 0
    if key then
        o[0].key = stage_key(key, 0)
        o[0].key_size = KEY_SIZE
    end
    rc = lib.raftwal_log_open(log_out, path, o)
    wipe_keys()
    o[0].metadata = nil
    o[0].key = nil
    o[0].key_size = 0
    if rc ~= 0 then
        return fail(rc)
    end
    local raw = log_out[0]
    log_out[0] = nil
    local pid = current_pid()
    local h = ffi_gc(raw, log_finalizer(lib, pid))
    return setmetatable({
        _h = h, _pid = pid, path = path, readonly = readonly == true,
        _nosync = nosync == true,
        -- Durable waits in nginx (see "Durable waits in nginx" below).
        _pool = thread_pool or DEFAULT_THREAD_POOL, _yield = yield ~= false,
        _waits = 0,       -- waits running in the thread pool on _h
        _closing = nil,   -- the C handle of a close deferred until _waits is 0
    }, Log)
end

-- In a process other than the opener's (a forked child): forgets the
-- handle, without a call into the library, finalizer included.
local function forget_inherited(self)
    ffi_gc(self._h, nil)
    self._h = nil
end

-- The handle of a log object: nil once closed, and in a process other
-- than the one that opened it. Raises on a non-log self.
local function handle(self)
    if getmetatable(self) ~= Log then
        error("raftwal: expected a log object (call methods with ':')", 3)
    end
    local h = self._h
    if h ~= nil and self._pid ~= current_pid() then
        forget_inherited(self)
        return nil
    end
    return h
end

--- log:close() -> true | nil, err, code. Closing again returns true.
-- In a forked child, closing an inherited log only forgets it (the parent
-- still uses it), and returns true.
function Log:close()
    local h = handle(self)
    if h == nil then
        return true
    end
    self._h = nil
    if self._waits > 0 then
        -- Waits in the thread pool still use h: the last to return closes it.
        self._closing = h
        return true
    end
    ffi_gc(h, nil)
    local rc = C.raftwal_log_close(h)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

function Log:is_closed()
    return handle(self) == nil
end

function Log:__tostring()
    return "raftwal.log(" .. self.path .. (handle(self) == nil and ", closed)" or ")")
end

-- ---------------------------------------------------------------------------
-- Writing
-- ---------------------------------------------------------------------------

-- Raises a misuse error about entries[i] at the caller of append()
-- (level 4: this function, read_entries, append, its caller).
local function entry_error(i, what)
    error("raftwal: append: entries[" .. i .. "]" .. what, 4)
end

-- Reads and checks entries[1..n] into a new array of four values per
-- entry: index, term, type, and data (false for none). Entry tables may
-- have __index metamethods, and whatever those do (append to another log,
-- close this one, yield to another coroutine that appends) this touches
-- nothing shared. The array also keeps every data string alive through the
-- C call, which holds only pointers into them.
local function read_entries(entries, n)
    local values = table_new(4 * n, 0)
    for i = 1, n do
        local e = entries[i]
        if type(e) ~= "table" then
            entry_error(i, " must be a table")
        end
        local k = 4 * (i - 1)
        values[k + 1] = to_u64(e.index) or entry_error(i, ".index must be a 64-bit integer")
        values[k + 2] = to_u64(e.term) or entry_error(i, ".term must be a 64-bit integer")
        local t = e.type
        if t == nil then
            t = 0
        end
        values[k + 3] = to_u32(t) or entry_error(i, ".type must be a 32-bit unsigned integer")
        local data = e.data
        if data == nil then
            data = false
        elseif type(data) ~= "string" then
            entry_error(i, ".data must be a string")
        end
        values[k + 4] = data
    end
    return values
end

-- Fills arr[0 .. n-1] from read_entries' values: no user code runs here.
local function fill_batch(arr, values, n)
    for i = 0, n - 1 do
        local k = 4 * i
        local dst = arr[i]
        dst.index, dst.term, dst.type, dst.flags = values[k + 1], values[k + 2], values[k + 3], 0
        local data = values[k + 4]
        if data then
            dst.data, dst.size = data, #data
        else
            dst.data, dst.size = nil, 0
        end
    end
end

--- log:append(entries, hardstate, opts) -> true | nil, err, code
-- entries: an array of {index=, term=, data= (string, may be nil), type= (default 0)};
-- hardstate: nil or {term=, vote=, commit=}, stored in the same atomic batch;
-- opts: nil or {nosync = true}. One FFI call for the whole batch.
function Log:append(entries, hardstate, opts)
    handle(self) -- checks self; the handle is taken below, after user code
    if type(entries) ~= "table" then
        argerror("append: entries must be an array of entry tables")
    end
    -- 1. Every value of the caller's tables, read and checked.
    local term, vote, commit
    if hardstate ~= nil then
        term, vote, commit = read_hardstate(hardstate)
        if term == nil then
            argerror("append: hardstate must be {term=, vote=, commit=} with 64-bit integers")
        end
    end
    local flags = write_flags(opts) or argerror("append: opts must be a table")
    local n = #entries
    local values = read_entries(entries, n)
    -- 2. The shared buffers, filled right before the call.
    local arr = batch_array(n)
    fill_batch(arr, values, n)
    local hs = nil
    if term ~= nil then
        hs = fill_hardstate(term, vote, commit)
    end
    -- 3. The handle, taken last: a metamethod may have closed the log.
    local h = handle(self)
    if h == nil then
        return closed()
    end
    -- 4. In nginx, a durable batch is written now and waited for off the
    -- event loop (see "Durable waits in nginx").
    local ngx = nil
    if flags == 0 and not self._nosync then
        ngx = nginx_for_wait(self)
    end
    if ngx ~= nil then
        flags = K.RAFTWAL_NOSYNC
    end
    local rc = C.raftwal_log_append(h, arr, n, hs, flags)
    if rc ~= 0 then
        return fail(rc)
    end
    if ngx ~= nil then
        if n > 0 then
            return wait_result(wait_in_thread(self, ngx, h, "wait_durable", values[4 * n - 3]))
        end
        if hs ~= nil then
            return wait_result(wait_in_thread(self, ngx, h, "sync")) -- the hard state alone
        end
    end
    return true
end

--- log:set_hardstate({term=, vote=, commit=}, opts) -> true | nil, err, code
function Log:set_hardstate(t, opts)
    handle(self) -- checks self; the handle is taken below, after user code
    local term, vote, commit = read_hardstate(t)
    if term == nil then
        argerror("set_hardstate: expected {term=, vote=, commit=} with 64-bit integers")
    end
    local flags = write_flags(opts) or argerror("set_hardstate: opts must be a table")
    local hs = fill_hardstate(term, vote, commit)
    local h = handle(self) -- taken last: reading t and opts may have run a metamethod
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_set_hardstate(h, hs, flags)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

--- log:save_snapshot(index, term, meta) -> true | nil, err, code
function Log:save_snapshot(index, term, meta)
    local h = handle(self)
    local i = to_u64(index) or argerror("save_snapshot: index must be a 64-bit integer")
    local t = to_u64(term) or argerror("save_snapshot: term must be a 64-bit integer")
    if meta ~= nil and type(meta) ~= "string" then
        argerror("save_snapshot: meta must be a string or nil")
    end
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_save_snapshot(h, i, t, meta, meta and #meta or 0)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

--- log:set_metadata(data) -> true | nil, err, code
function Log:set_metadata(data)
    local h = handle(self)
    if type(data) ~= "string" then
        argerror("set_metadata: data must be a string")
    end
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_set_metadata(h, data, #data)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

-- truncate(from), purge(upto): one index, no result.
local function index_op(cname, method)
    return function(self, index)
        local h = handle(self)
        local i = to_u64(index) or argerror(method .. ": index must be a 64-bit integer")
        if h == nil then
            return closed()
        end
        local rc = C[cname](h, i)
        if rc ~= 0 then
            return fail(rc)
        end
        return true
    end
end

--- log:truncate(from) -> true | nil, err, code   (drops entries >= from)
Log.truncate = index_op("raftwal_log_truncate", "truncate")
--- log:purge(upto) -> true | nil, err, code      (drops entries <= upto)
Log.purge = index_op("raftwal_log_purge", "purge")

--- log:wait_durable(index) -> true | nil, err, code
-- Yields instead of blocking in nginx (see "Durable waits in nginx").
function Log:wait_durable(index)
    local h = handle(self)
    local i = to_u64(index) or argerror("wait_durable: index must be a 64-bit integer")
    if h == nil then
        return closed()
    end
    local ngx = nginx_for_wait(self)
    if ngx ~= nil then
        if C.raftwal_log_durable_index(h, u64_out) == 0 and u64_out[0] >= i then
            return true -- durable already: no thread needed
        end
        return wait_result(wait_in_thread(self, ngx, h, "wait_durable", i))
    end
    local rc = C.raftwal_log_wait_durable(h, i)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

--- log:sync() -> true | nil, err, code
-- Yields instead of blocking in nginx (see "Durable waits in nginx").
function Log:sync()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local ngx = nginx_for_wait(self)
    if ngx ~= nil then
        return wait_result(wait_in_thread(self, ngx, h, "sync"))
    end
    local rc = C.raftwal_log_sync(h)
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

-- ---------------------------------------------------------------------------
-- Reading
-- ---------------------------------------------------------------------------

-- first_index(), last_index(), durable_index(): one uint64_t out-parameter.
local function u64_getter(cname)
    return function(self)
        local h = handle(self)
        if h == nil then
            return closed()
        end
        local rc = C[cname](h, u64_out)
        if rc ~= 0 then
            return fail(rc)
        end
        return u64_result(u64_out[0])
    end
end

--- log:first_index() / log:last_index() / log:durable_index() -> index | nil, err, code
Log.first_index = u64_getter("raftwal_log_first_index")
Log.last_index = u64_getter("raftwal_log_last_index")
Log.durable_index = u64_getter("raftwal_log_durable_index")

--- log:term(index) -> term | nil, err, code
function Log:term(index)
    local h = handle(self)
    local i = to_u64(index) or argerror("term: index must be a 64-bit integer")
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_term(h, i, u64_out)
    if rc ~= 0 then
        return fail(rc)
    end
    return u64_result(u64_out[0])
end

--- log:get(index) -> {index=, term=, type=, data=} | nil, err, code
function Log:get(index)
    local h = handle(self)
    local i = to_u64(index) or argerror("get: index must be a 64-bit integer")
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_get(h, i, entry_out, buf, buf_size)
    -- Too big for the buffer: get one of the size the library reported and
    -- read again (bounded, in case another thread keeps replacing it).
    for _ = 1, 3 do
        if rc ~= ERANGE then
            break
        end
        local b, size = buffer_for(tonumber(entry_out[0].size))
        rc = C.raftwal_log_get(h, i, entry_out, b, size)
    end
    if rc ~= 0 then
        oneoff = nil
        return fail(rc)
    end
    local t = entry_table(entry_out[0])
    oneoff = nil
    return t
end

-- An entries() iteration: a callable object, so that it survives being
-- stored in a local (`local it = assert(log:entries())`) and needs no
-- closure per call (closure creation is not JIT-compiled).
local Iter = {}
Iter.__index = Iter

-- An iteration's C iterator with the pid of the process that opened it:
-- the finalizer needs both, and one module-wide finalizer function (no
-- closure per entries() call) can only get them from the object it frees.
local iter_owned_t = ffi.typeof("struct { raftwal_iter *it; int pid; }")

-- The ffi.gc finalizer of every iteration. A Lua function whose upvalue C
-- keeps the library loaded as long as an iteration may still need closing;
-- in another process than the opener's (a forked child) it does nothing.
local function iter_finalizer(owned)
    if owned.pid == current_pid() then
        C.raftwal_iter_close(owned.it)
    end
end

-- Ends the iteration: closes the C iterator when this process opened it,
-- else only forgets it.
local function end_iteration(self, owned)
    self._it = nil
    self._log = nil
    ffi_gc(owned, nil)
    if owned.pid == current_pid() then
        C.raftwal_iter_close(owned.it)
    end
end

-- One step: an entry table, nil at the end, or false, err, code once on a
-- failure (which ends the iteration).
local function entries_step(self)
    local owned = self._it
    if owned == nil then
        return nil
    end
    if owned.pid ~= current_pid() then
        end_iteration(self, owned) -- inherited through fork(): not ours
        return false, "closed", "ECLOSED"
    end
    local rc = C.raftwal_iter_next(owned.it, entry_out)
    if rc == 1 then
        return entry_table(entry_out[0])
    end
    local _, msg, code
    if rc ~= 0 then
        _, msg, code = fail(rc) -- before iter_close, which may reset the message
    end
    end_iteration(self, owned)
    if rc == 0 then
        return nil
    end
    return false, msg, code
end
Iter.__call = entries_step

--- it:close(): releases the iteration at once (else the GC does). Harmless twice.
function Iter:close()
    local owned = self._it
    if owned ~= nil then
        end_iteration(self, owned)
    end
end

--- log:entries(lo, hi, max_bytes) -> iterator | nil, err, code
-- Iterates the entries in [lo, hi) (defaults: first index, last index + 1)
-- whose data adds up to at most max_bytes (default: no limit), always at
-- least one if the range is not empty:
--   local it, err = log:entries(lo, hi)
--   if not it then ... end
--   for e, err in it do if not e then ... end ... end
-- The iterator is a callable object: each call returns the next entry
-- table, nil at the end, or false, err, code once when a failure ends the
-- iteration. An iteration left early (break) is released by it:close() or
-- the garbage collector.
function Log:entries(lo, hi, max_bytes)
    local h = handle(self)
    local l, hh, mb
    if lo ~= nil then
        l = to_u64(lo) or argerror("entries: lo must be a 64-bit integer")
    end
    if hi ~= nil then
        hh = to_u64(hi) or argerror("entries: hi must be a 64-bit integer")
    end
    if max_bytes ~= nil then
        mb = to_u64(max_bytes) or argerror("entries: max_bytes must be a 64-bit integer")
    else
        mb = K.RAFTWAL_NO_LIMIT
    end
    if h == nil then
        return closed()
    end
    local rc
    if l == nil then
        rc = C.raftwal_log_first_index(h, u64_out)
        if rc ~= 0 then
            return fail(rc)
        end
        l = u64_out[0]
    end
    if hh == nil then
        rc = C.raftwal_log_last_index(h, u64_out)
        if rc ~= 0 then
            return fail(rc)
        end
        -- last <= RAFTWAL_MAX_INDEX, so last + 1 never wraps.
        hh = u64_out[0] + 1
    end
    rc = C.raftwal_iter_open(iter_out, h, l, hh, mb)
    if rc ~= 0 then
        return fail(rc)
    end
    local owned = ffi_gc(iter_owned_t(iter_out[0], self._pid), iter_finalizer)
    iter_out[0] = nil
    -- _log keeps the log object (and so its handle) alive while iterating.
    return setmetatable({ _it = owned, _log = self }, Iter)
end

--- log:hardstate() -> {term=, vote=, commit=} | nil, err, code
function Log:hardstate()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local rc = C.raftwal_log_hardstate(h, hs_buf)
    if rc ~= 0 then
        return fail(rc)
    end
    local hs = hs_buf[0]
    return { term = u64_result(hs.term), vote = u64_result(hs.vote), commit = u64_result(hs.commit) }
end

--- log:snapshot() -> {index=, term=, meta=} | nil, err, code
-- index and term are 0 and meta "" when no snapshot was saved.
function Log:snapshot()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local b = buf
    local rc = C.raftwal_log_snapshot(h, u64_out, u64_out2, b, buf_size, size_out)
    for _ = 1, 3 do
        if rc ~= ERANGE then
            break
        end
        local size
        b, size = buffer_for(tonumber(size_out[0]))
        rc = C.raftwal_log_snapshot(h, u64_out, u64_out2, b, size, size_out)
    end
    oneoff = nil -- `b` itself keeps a one-off buffer alive from here on
    if rc ~= 0 then
        return fail(rc)
    end
    return {
        index = u64_result(u64_out[0]),
        term = u64_result(u64_out2[0]),
        meta = ffi_string(b, tonumber(size_out[0])),
    }
end

--- log:metadata() -> string | nil, err, code
function Log:metadata()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local b = buf
    local rc = C.raftwal_log_metadata(h, b, buf_size, size_out)
    for _ = 1, 3 do
        if rc ~= ERANGE then
            break
        end
        local size
        b, size = buffer_for(tonumber(size_out[0]))
        rc = C.raftwal_log_metadata(h, b, size, size_out)
    end
    oneoff = nil -- `b` itself keeps a one-off buffer alive from here on
    if rc ~= 0 then
        return fail(rc)
    end
    return ffi_string(b, tonumber(size_out[0]))
end

-- The fields of raftwal_stats returned by stats(), in header order.
_M.STATS_FIELDS = {
    "first_index", "last_index", "durable_index", "entries", "segments",
    "disk_bytes", "appends", "appended_entries", "appended_bytes",
    "written_bytes", "fsyncs", "fsync_ns_total", "fsync_ns_max", "dir_fsyncs",
    "reads", "footer_loads", "footer_hits", "torn_tails", "torn_bytes",
    "rotations", "segments_deleted", "open_ns", "segments_recycled",
    "encrypted", "compressed_entries", "stored_entry_bytes",
}
local STATS_FIELDS = _M.STATS_FIELDS

-- Fills the shared stats buffer for handle h: the struct, or nil and a code.
local function read_stats(h)
    local st = stats_buf[0]
    st.size = ffi_sizeof("raftwal_stats")
    local rc = C.raftwal_log_stats(h, stats_buf)
    if rc ~= 0 then
        return nil, rc
    end
    return st
end

--- log:stats() -> table of the raftwal_stats counters | nil, err, code
function Log:stats()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local st, rc = read_stats(h)
    if st == nil then
        return fail(rc)
    end
    local t = {}
    for i = 1, #STATS_FIELDS do
        local f = STATS_FIELDS[i]
        t[f] = u64_result(st[f])
    end
    return t
end

--- log:segments() -> array of {seq=, first_index=, last_index=, file_bytes=,
--- used_bytes=, sealed=} (oldest first) | nil, err, code
function Log:segments()
    local h = handle(self)
    if h == nil then
        return closed()
    end
    local st, rc = read_stats(h)
    if st == nil then
        return fail(rc)
    end
    local list = {}
    local si = seginfo_buf[0]
    for i = 0, tonumber(st.segments) - 1 do
        si.size = ffi_sizeof("raftwal_segment_info")
        rc = C.raftwal_log_segment_info(h, i, seginfo_buf)
        if rc ~= 0 then
            return fail(rc)
        end
        list[i + 1] = {
            seq = u64_result(si.seq),
            first_index = u64_result(si.first_index),
            last_index = u64_result(si.last_index),
            file_bytes = u64_result(si.file_bytes),
            used_bytes = u64_result(si.used_bytes),
            sealed = si.sealed ~= 0,
        }
    end
    return list
end

-- ---------------------------------------------------------------------------
-- Offline checks and version
-- ---------------------------------------------------------------------------

local CHECK_FIELDS = {
    "segments", "entries", "first_index", "last_index", "torn_seq",
    "torn_offset", "torn_bytes", "cut_seq", "cut_offset", "cut_bytes",
    "leftovers", "leftover_below_seq", "encrypted", "compressed_entries",
    "entry_bytes", "stored_entry_bytes",
}

-- Runs raftwal_verify_opts / raftwal_repair_opts with `key` (nil: none).
local function run_check(cname, dir, key)
    local lib, err = library()
    if not lib then
        return nil, err, "ELOAD"
    end
    local out = ffi_new("raftwal_check[1]")
    out[0].size = ffi_sizeof("raftwal_check")
    local o = nil
    if key then
        o = opts_buf
        local rc = lib.raftwal_options_init(o, K.RAFTWAL_OPTIONS_VERSION)
        if rc ~= 0 then
            return fail(rc)
        end
        o[0].key = stage_key(key, 0)
        o[0].key_size = KEY_SIZE
    end
    local rc = lib[cname](dir, o, out)
    if o then
        wipe_keys()
        o[0].key = nil
        o[0].key_size = 0
    end
    if rc ~= 0 then
        return fail(rc)
    end
    local t = { backup_path = ffi_string(out[0].backup_path) }
    for i = 1, #CHECK_FIELDS do
        local f = CHECK_FIELDS[i]
        t[f] = u64_result(out[0][f])
    end
    return t
end

-- The key of verify's or repair's optional { key = s } table.
local function check_options(fname, opts)
    if opts == nil then
        return nil
    end
    if type(opts) ~= "table" then
        error("raftwal." .. fname .. ": opts must be a table", 3)
    end
    for k in pairs(opts) do
        if k ~= "key" then
            error("raftwal." .. fname .. ": unknown option " .. tostring(k), 3)
        end
    end
    local key = opts.key
    if key ~= nil and (type(key) ~= "string" or #key ~= KEY_SIZE) then
        error("raftwal." .. fname .. ": option key must be a string of " .. KEY_SIZE
            .. " bytes", 3)
    end
    return key
end

--- raftwal.verify(dir [, { key = s }]) -> report | nil, err, code
-- Never changes the log. An encrypted log needs its 32-byte key (else
-- nil, err, "EKEY"). The report has the raftwal_check fields, among them
-- encrypted (1/0), compressed_entries, entry_bytes and stored_entry_bytes
-- (entry_bytes / stored_entry_bytes is the compression ratio).
function _M.verify(dir, opts)
    if type(dir) ~= "string" then
        error("raftwal.verify: dir must be a string", 2)
    end
    local key = check_options("verify", opts)
    if find(dir, "\0", 1, true) then
        return nul_path("verify", dir)
    end
    return run_check("raftwal_verify_opts", dir, key)
end

--- raftwal.repair(dir [, { key = s }]) -> report | nil, err, code   (report.backup_path)
function _M.repair(dir, opts)
    if type(dir) ~= "string" then
        error("raftwal.repair: dir must be a string", 2)
    end
    local key = check_options("repair", opts)
    if find(dir, "\0", 1, true) then
        return nul_path("repair", dir)
    end
    return run_check("raftwal_repair_opts", dir, key)
end

--- raftwal.rekey(dir, old_key, new_key) -> true | nil, err, code
-- Changes the master key of the encrypted log in dir (32-byte strings; the
-- log must not be open for writing: "ELOCKED"). "EKEY": old_key is not the
-- log's key, or the log is not encrypted. "EINVAL": no encryption in this
-- library (raftwal.features()). The keys are copied for the call and wiped.
function _M.rekey(dir, old_key, new_key)
    if type(dir) ~= "string" then
        error("raftwal.rekey: dir must be a string", 2)
    end
    if old_key == nil or new_key == nil then
        error("raftwal.rekey: old_key and new_key are required", 2)
    end
    check_key("rekey", old_key, "old_key")
    check_key("rekey", new_key, "new_key")
    if find(dir, "\0", 1, true) then
        return nul_path("rekey", dir)
    end
    local lib, err = library()
    if not lib then
        return nil, err, "ELOAD"
    end
    local rc = lib.raftwal_rekey(dir, stage_key(old_key, 0), KEY_SIZE,
                                 stage_key(new_key, 1), KEY_SIZE)
    wipe_keys()
    if rc ~= 0 then
        return fail(rc)
    end
    return true
end

--- raftwal.version() -> the loaded library's version ("1.0.0") | nil, err
function _M.version()
    local lib, err = library()
    if not lib then
        return nil, err, "ELOAD"
    end
    return ffi_string(lib.raftwal_version())
end

return _M
