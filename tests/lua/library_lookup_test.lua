--[[
lua_library_lookup: where require("raftwal") finds libraftwal. Loading
happens once per process, so each case runs a child luajit with its own
environment:
  raftwal.load(path) > RAFTWAL_LIB > libraftwal.so.1 (linker search path)
  > raftwal (libraftwal.so), and a failure lists where it looked.
]]
local T = require("testlib")

local LUAJIT = T.env("RAFTWAL_LUAJIT")
local LIB = T.env("RAFTWAL_LIB")          -- the built library file
local LIB_DIR = T.env("RAFTWAL_LIB_DIR")  -- holds libraftwal.so.1 and libraftwal.so
local LUA_PATH = T.env("LUA_PATH")

-- Runs `code` in a child luajit with exactly the given RAFTWAL_LIB and
-- LD_LIBRARY_PATH (nil: unset). Returns its output lines joined by "|".
local function child(code, env)
    local parts = { "env -u RAFTWAL_LIB -u LD_LIBRARY_PATH" }
    parts[#parts + 1] = "LUA_PATH=" .. T.quote(LUA_PATH)
    if env.RAFTWAL_LIB then
        parts[#parts + 1] = "RAFTWAL_LIB=" .. T.quote(env.RAFTWAL_LIB)
    end
    if env.LD_LIBRARY_PATH then
        parts[#parts + 1] = "LD_LIBRARY_PATH=" .. T.quote(env.LD_LIBRARY_PATH)
    end
    parts[#parts + 1] = T.quote(LUAJIT) .. " -e " .. T.quote("local raftwal = require('raftwal') " .. code)
    local out, rc = T.sh(table.concat(parts, " "), true)
    T.eq(rc, 0, "child exit status (output: " .. out .. ")")
    return (out:gsub("\n$", ""))
end

local REPORT = "local v, err, code = raftwal.version() "
    .. "print(tostring(v), tostring(code), tostring(raftwal.library_path()), tostring(err))"

-- Is some libraftwal.so.1 installed system-wide? Then "nothing found" cannot
-- be observed without it.
local function system_has_library()
    local out = T.sh("ldconfig -p 2>/dev/null | grep -c 'libraftwal\\.so' || true")
    return tonumber(out) ~= nil and tonumber(out) > 0
end

T.test("RAFTWAL_LIB names the file", function()
    local out = child(REPORT, { RAFTWAL_LIB = LIB })
    T.ok(out:find("^1%.0%.0\tnil\t" .. LIB:gsub("%p", "%%%0") .. "\t"), out)
end)

T.test("a RAFTWAL_LIB that does not load is an error naming it, with no fall-back", function()
    local out = child(REPORT, { RAFTWAL_LIB = "/nonexistent/libraftwal.so.1", LD_LIBRARY_PATH = LIB_DIR })
    T.ok(out:find("^nil\tELOAD\tnil\t"), "fails with ELOAD: " .. out)
    T.ok(out:find("RAFTWAL_LIB=/nonexistent/libraftwal.so.1", 1, true), "names RAFTWAL_LIB: " .. out)
end)

T.test("without RAFTWAL_LIB, the SONAME is found on the linker's search path", function()
    local out = child(REPORT, { LD_LIBRARY_PATH = LIB_DIR })
    T.ok(out:find("^1%.0%.0\tnil\tlibraftwal%.so%.1\t"), out)
end)

T.test("the plain name libraftwal.so is the last resort", function()
    local dir = T.tmpdir()
    -- Only the unversioned name in this directory.
    local _, rc = T.sh("ln -s " .. T.quote(LIB) .. " " .. T.quote(dir .. "/libraftwal.so"))
    T.eq(rc, 0, "ln -s")
    if system_has_library() then
        print("  (skipped: a libraftwal.so.1 is installed system-wide)")
        return
    end
    local out = child(REPORT, { LD_LIBRARY_PATH = dir })
    T.ok(out:find("^1%.0%.0\tnil\traftwal\t"), out)
end)

T.test("when nothing loads, the error lists every place looked at", function()
    if system_has_library() then
        print("  (skipped: a libraftwal.so.1 is installed system-wide)")
        return
    end
    local out = child(REPORT, { LD_LIBRARY_PATH = T.tmpdir() })
    T.ok(out:find("^nil\tELOAD\tnil\t"), out)
    T.ok(out:find("libraftwal.so.1:", 1, true), "lists the SONAME: " .. out)
    T.ok(out:find("raftwal:", 1, true), "lists the plain name: " .. out)
    T.ok(out:find("LD_LIBRARY_PATH", 1, true), "says which search path: " .. out)
    T.ok(out:find("RAFTWAL_LIB", 1, true), "says how to choose a file: " .. out)
end)

T.test("raftwal.load(path) wins over RAFTWAL_LIB", function()
    local code = "print(raftwal.load(" .. string.format("%q", LIB) .. ")) " .. REPORT
    local out = child(code, { RAFTWAL_LIB = "/nonexistent/libraftwal.so.1" })
    T.ok(out:find("^true\n1%.0%.0\tnil\t" .. LIB:gsub("%p", "%%%0")), out)
end)

T.test("raftwal.load: a bad path fails; a second library is refused", function()
    local code = [[
        local ok, err = raftwal.load("/nonexistent/lib.so")
        print(tostring(ok), err)
        print(raftwal.load(os.getenv("RAFTWAL_LIB")))
        print(raftwal.load(os.getenv("RAFTWAL_LIB")))
        print(raftwal.load("/other/libraftwal.so.1"))
        print(pcall(raftwal.load, 42))
    ]]
    local out = child(code, { RAFTWAL_LIB = LIB })
    local lines = {}
    for line in (out .. "\n"):gmatch("([^\n]*)\n") do
        lines[#lines + 1] = line
    end
    T.ok(lines[1]:find("^nil\traftwal: cannot load the library from /nonexistent/lib.so: "), lines[1])
    T.eq(lines[2], "true", "load(path)")
    T.eq(lines[3], "true", "the same path again")
    T.ok(lines[4]:find("^nil\traftwal: the library is already loaded from "), lines[4])
    T.ok(lines[5]:find("^false\t.*path must be a non%-empty string"), lines[5])
end)

return T.run()
