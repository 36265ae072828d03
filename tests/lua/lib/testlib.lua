--[[
testlib -- the few helpers the Lua tests share: a test list and runner,
assertions that say what differed, temporary directories and a shell
runner that reports exit codes (LuaJIT's os.execute and io.popen do not,
portably).

Each test file ends with `return T.run()`, which exits 0 when every test
passed and 1 otherwise, so ctest sees the result.
]]
local T = {}

local tests = {}
local cleanups = {}

function T.test(name, fn)
    tests[#tests + 1] = { name = name, fn = fn }
end

-- Runs fn when the test file finishes (passed or not).
function T.defer(fn)
    cleanups[#cleanups + 1] = fn
end

local function show(v)
    if type(v) == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

local function deep_equal(a, b, path)
    if rawequal(a, b) then
        return true
    end
    if type(a) == "table" and type(b) == "table" then
        for k, v in pairs(a) do
            local ok, where = deep_equal(v, b[k], path .. "." .. tostring(k))
            if not ok then
                return false, where
            end
        end
        for k, v in pairs(b) do
            if a[k] == nil then
                return false, path .. "." .. tostring(k) .. ": missing on the left, right has " .. show(v)
            end
        end
        return true
    end
    if a == b then
        return true
    end
    return false, path .. ": " .. show(a) .. " ~= " .. show(b)
end

function T.eq(actual, expected, what)
    local ok, where = deep_equal(actual, expected, what or "value")
    if not ok then
        error(where, 2)
    end
end

function T.ok(v, what)
    if not v then
        error((what or "expected a true value") .. ", got " .. show(v), 2)
    end
    return v
end

-- Calls fn and expects the OpenResty failure triple (nil, message, code).
-- Returns the message.
function T.fails(code, fn, ...)
    local r, msg, c = fn(...)
    if r ~= nil then
        error("expected a failure " .. code .. ", got " .. show(r), 2)
    end
    if c ~= code then
        error("expected code " .. code .. ", got " .. show(c) .. " (" .. show(msg) .. ")", 2)
    end
    if type(msg) ~= "string" or msg == "" then
        error("expected an error message, got " .. show(msg), 2)
    end
    return msg
end

-- Calls fn and expects it to raise an error whose message contains `text`
-- (plain text, not a pattern). Returns the message.
function T.raises(text, fn, ...)
    local ok, msg = pcall(fn, ...)
    if ok then
        error("expected an error containing " .. show(text) .. ", none raised", 2)
    end
    msg = tostring(msg)
    if not msg:find(text, 1, true) then
        error("expected an error containing " .. show(text) .. ", got " .. show(msg), 2)
    end
    return msg
end

-- Runs a shell command; returns its stdout (stderr too when `merge`) and
-- its exit status.
function T.sh(cmd, merge)
    local p = assert(io.popen("(" .. cmd .. ")" .. (merge and " 2>&1" or "") .. "; echo \"__rc=$?\""))
    local out = p:read("*a")
    p:close()
    local body, rc = out:match("^(.-)__rc=(%d+)\n?$")
    return body, tonumber(rc)
end

function T.quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- A new empty directory, removed when the test file ends.
function T.tmpdir()
    local out, rc = T.sh("mktemp -d \"${TMPDIR:-/tmp}/raftwal-lua.XXXXXX\"")
    assert(rc == 0, "mktemp failed")
    local dir = out:gsub("%s+$", "")
    T.defer(function() T.sh("rm -rf " .. T.quote(dir)) end)
    return dir
end

function T.read_file(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

function T.write_file(path, data)
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
end

-- A required environment variable (the CMake test registration sets them).
function T.env(name)
    local v = os.getenv(name)
    if not v or v == "" then
        error("environment variable " .. name .. " is not set (run the tests through ctest)", 2)
    end
    return v
end

function T.run()
    local failed = 0
    for _, t in ipairs(tests) do
        local ok, err = xpcall(t.fn, debug.traceback)
        if ok then
            print("ok     " .. t.name)
        else
            failed = failed + 1
            print("FAILED " .. t.name .. "\n" .. tostring(err))
        end
    end
    for i = #cleanups, 1, -1 do
        pcall(cleanups[i])
    end
    print(string.format("%d tests, %d failed", #tests, failed))
    os.exit(failed == 0 and 0 or 1)
end

return T
