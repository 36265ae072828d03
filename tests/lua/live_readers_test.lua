--[[
lua_live_readers: read-only handles and raftwal.verify() against a writer in
another process (issue 21, "Readers in other processes").

A forked child opens the log for writing and appends, rotates (16 KiB
segments), purges (its purged files are recycled) and truncates as fast as
it can, until killed. This process opens the log read-only again and again
and reads every entry (log:get and log:entries), and runs raftwal.verify().
The only failure allowed is ECOMPACTED: an entry purged since the open, or,
from an open or a verify, a log that changed under every attempt (the
message says so). Every entry read holds its own bytes.
]]
local T = require("testlib")
local ffi = require("ffi")
local raftwal = require("raftwal")

for _, decl in ipairs({
    "int fork(void);",
    "int waitpid(int pid, int *status, int options);",
    "int kill(int pid, int sig);",
    "void _exit(int status);",
}) do
    pcall(ffi.cdef, decl)
end
local C = ffi.C

local OPENS, VERIFIES = 800, 400

local function payload(i, t)
    return string.rep(string.format("%d:%d;", i, t), 1 + (i * 7 + t) % 40)
end

-- The writer's loop (in the child): never returns; exits 2 on a refusal.
local function writer(dir)
    local log = raftwal.open(dir, { nosync = true, segment_size = 16 * 1024 })
    if not log then
        C._exit(2)
    end
    local nxt, term, n = log:last_index() + 1, 1, 0
    while true do
        local batch = {}
        for i = nxt, nxt + n % 4 do
            batch[#batch + 1] = { index = i, term = term, data = payload(i, term) }
        end
        if not log:append(batch) then
            C._exit(2)
        end
        nxt = nxt + #batch
        if n % 23 == 22 then
            nxt = nxt - 1 - n % 3
            term = term + 1
            if not log:truncate(nxt) then
                C._exit(2)
            end
        end
        if n % 8 == 7 and nxt > 120 and not log:purge(nxt - 100) then
            C._exit(2)
        end
        n = n + 1
    end
end

local function allowed_open_failure(err, code)
    return code == "ECOMPACTED" and tostring(err):find("changed under", 1, true) ~= nil
end

T.test("readers and verify against a live writer: only ECOMPACTED", function()
    local dir = T.tmpdir() .. "/wal"
    T.ok(raftwal.open(dir, { segment_size = 16 * 1024 })):close()
    local pid = C.fork()
    T.ok(pid >= 0, "fork")
    if pid == 0 then
        writer(dir)
    end
    T.defer(function()
        C.kill(pid, 9)
        C.waitpid(pid, nil, 0)
    end)
    local reads, compacted, changed = 0, 0, 0
    for k = 1, OPENS do
        local log, err, code = raftwal.open(dir, { readonly = true })
        if not log then
            T.ok(allowed_open_failure(err, code), "open: " .. tostring(code) .. " " .. tostring(err))
            changed = changed + 1
        else
            local first, last = log:first_index(), log:last_index()
            for i = first, last do
                local e, gerr, gcode = log:get(i)
                if e then
                    T.eq(e.data, payload(i, e.term), "entry " .. i)
                    reads = reads + 1
                else
                    T.eq(gcode, "ECOMPACTED", "get " .. i .. ": " .. tostring(gerr))
                    compacted = compacted + 1
                end
            end
            if k % 4 == 0 then
                local it = T.ok(log:entries(first, last + 1))
                for e, ierr, icode in it do
                    if not e then
                        T.eq(icode, "ECOMPACTED", "iteration: " .. tostring(ierr))
                        compacted = compacted + 1
                        break
                    end
                    T.eq(e.data, payload(e.index, e.term), "iterated entry " .. e.index)
                end
            end
            log:close()
        end
        if k <= VERIFIES then
            local r, verr, vcode = raftwal.verify(dir)
            if not r then
                T.ok(allowed_open_failure(verr, vcode), "verify: " .. tostring(vcode) .. " " .. tostring(verr))
                changed = changed + 1
            end
        end
    end
    print(string.format("  %d opens, %d reads, %d compacted, %d changed under the reader",
        OPENS, reads, compacted, changed))
    T.ok(reads > 0, "read something")
    local status = ffi.new("int[1]")
    T.eq(C.waitpid(pid, status, 1), 0, "the writer is still running (WNOHANG)")
end)

return T.run()
