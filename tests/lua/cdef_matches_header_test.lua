--[[
The hand-written ffi.cdef of bindings/lua/raftwal/cdef.lua must match
include/raftwal.h. This test fails when they drift:

  1. It parses the header: every RAFTWAL_API function, every typedef'd
     struct and its fields, every enum member and object-like macro.
  2. It generates a C program that includes the header and
       - declares a pointer of the cdef's type for every cdef function and
         initializes it with the header's function (compiled with
         -Werror=incompatible-pointer-types: a signature mismatch fails);
       - re-declares every cdef struct under another tag and asserts, at
         compile time, that each field has the header's type and offset
         and the struct the header's size;
       - prints sizeof/offsetof of every header struct and field and the
         value of every enum member and macro.
  3. It compares the printed layout with ffi.sizeof/ffi.offsetof (what
     LuaJIT computes from the cdef) and the printed values with the cdef's
     enum and cdef.constants.

Run with: RAFTWAL_HEADER=include/raftwal.h CC=cc luajit cdef_matches_header_test.lua
]]
local T = require("testlib")
local ffi = require("ffi")
local cdef = require("raftwal.cdef")
local raftwal = require("raftwal")

local HEADER = T.env("RAFTWAL_HEADER")
local CC = os.getenv("CC") or "cc"

local function strip_comments(s)
    s = s:gsub("/%*.-%*/", " ")
    s = s:gsub("//[^\n]*", "")
    return s
end

local function normalize(s)
    s = s:gsub("%s+", " ")
    s = s:gsub("%s*([%(%)%*,%[%]])%s*", "%1")
    return (s:gsub("^ ", ""):gsub(" $", ""))
end

-- The name of the function a normalized declaration declares.
local function function_name(decl)
    return decl:match("([%w_]+)%(")
end

-- { name = {field, ...} } of "typedef struct NAME { ... } NAME;" blocks.
local function parse_structs(text)
    local structs, order = {}, {}
    for name, body, alias in text:gmatch("typedef%s+struct%s+([%w_]+)%s*(%b{})%s*([%w_]+)%s*;") do
        assert(name == alias, "typedef struct " .. name .. " is aliased as " .. alias)
        local fields = {}
        for decl in body:sub(2, -2):gmatch("([^;]+);") do
            local field = normalize(decl):match("([%w_]+)%[?[%w_]*%]?$")
            fields[#fields + 1] = assert(field, "cannot parse field: " .. decl)
        end
        structs[name] = { fields = fields, body = body }
        order[#order + 1] = name
    end
    return structs, order
end

local function parse_header(path)
    local text = strip_comments(T.read_file(path)):gsub("\\\n", " ")
    local h = { functions = {}, function_order = {}, macros = {}, enum = {} }
    local code = text:gsub("\n%s*#[^\n]*", "\n") -- without preprocessor lines
    for decl in code:gmatch("RAFTWAL_API%s+([^;]-)%s*;") do
        decl = normalize(decl)
        local name = assert(function_name(decl), "cannot parse " .. decl)
        h.functions[name] = decl
        h.function_order[#h.function_order + 1] = name
    end
    for line in text:gmatch("[^\n]+") do
        local name, value = line:match("^%s*#%s*define%s+(RAFTWAL_[%w_]+)%s+(.-)%s*$")
        -- Skip the export macro and the brace initializer: not constants.
        if name and name ~= "RAFTWAL_API" and not value:find("^{") and value ~= "" then
            h.macros[#h.macros + 1] = { name = name, is_string = value:find('^"') ~= nil }
        end
    end
    for body in text:gmatch("enum%s+raftwal_error%s*(%b{})") do
        for member in body:gmatch("(RAFTWAL_[%w_]+)%s*=") do
            h.enum[#h.enum + 1] = member
        end
    end
    h.structs, h.struct_order = parse_structs(text)
    return h
end

-- The cdef's function declarations: statements with a parameter list once
-- struct and enum bodies are removed.
local function parse_cdef_functions(text)
    local funcs = {}
    local flat = text:gsub("%b{}", "{}")
    for stmt in flat:gmatch("([^;]+);") do
        if stmt:find("%(") then
            local decl = normalize(stmt)
            funcs[assert(function_name(decl), decl)] = decl
        end
    end
    return funcs
end

local header = parse_header(HEADER)
local cdef_funcs = parse_cdef_functions(cdef.declarations)
local cdef_structs = parse_structs(cdef.declarations)

T.test("the header parser found what the header declares", function()
    -- Guards against a parser that silently finds nothing and so checks nothing.
    T.ok(#header.function_order >= 30, "functions found: " .. #header.function_order)
    T.ok(header.structs.raftwal_entry and header.structs.raftwal_stats, "structs found")
    T.ok(#header.enum == 18, "enum members found: " .. #header.enum)
    T.ok(#header.macros >= 15, "macros found: " .. #header.macros)
end)

T.test("every header function is declared in the cdef, and nothing else", function()
    for _, name in ipairs(header.function_order) do
        T.ok(cdef_funcs[name], "cdef lacks " .. name)
    end
    for name in pairs(cdef_funcs) do
        T.ok(header.functions[name], "cdef declares " .. name .. ", which the header does not")
    end
end)

T.test("every header struct is in the cdef with the same fields in the same order", function()
    for _, name in ipairs(header.struct_order) do
        local c = cdef_structs[name]
        T.ok(c, "cdef lacks struct " .. name)
        T.eq(c.fields, header.structs[name].fields, name .. " fields")
    end
end)

-- The generated signature check: compiled (not linked), it fails when a
-- cdef function's type differs from the header's.
local function c_signatures()
    local out = { '#include "raftwal.h"', "" }
    for name, decl in pairs(cdef_funcs) do
        local ptr = decl:gsub(name .. "%(", "(*cdef_" .. name .. ")(", 1)
        out[#out + 1] = ptr .. " = " .. name .. ";"
    end
    return table.concat(out, "\n") .. "\n"
end

-- The generated layout check: compile-time asserts on the cdef's structs,
-- and a program printing the header's layout and constants.
local function c_program()
    local out = {
        "#include <stddef.h>",
        "#include <stdio.h>",
        '#include "raftwal.h"',
        "",
    }
    local function add(s) out[#out + 1] = s end
    -- Struct fields, as the cdef declares them, under another tag.
    for name, s in pairs(cdef_structs) do
        add("struct cdef_" .. name .. " " .. s.body .. ";")
        add(string.format("_Static_assert(sizeof(struct cdef_%s) == sizeof(%s), \"size of %s\");", name, name, name))
        for _, f in ipairs(s.fields) do
            add(string.format(
                "_Static_assert(offsetof(struct cdef_%s, %s) == offsetof(%s, %s), \"offset of %s.%s\");",
                name, f, name, f, name, f))
            add(string.format(
                "_Static_assert(__builtin_types_compatible_p(__typeof__(((struct cdef_%s *)0)->%s), "
                .. "__typeof__(((%s *)0)->%s)), \"type of %s.%s\");", name, f, name, f, name, f))
        end
    end
    add("static void num(const char *name, int neg, long long s, unsigned long long u)")
    add("{ if (neg) printf(\"const %s %lld\\n\", name, s); else printf(\"const %s %llu\\n\", name, u); }")
    add("int main(void)")
    add("{")
    for _, name in ipairs(header.struct_order) do
        add(string.format('    printf("sizeof %s %%zu\\n", sizeof(%s));', name, name))
        for _, f in ipairs(header.structs[name].fields) do
            add(string.format('    printf("offsetof %s %s %%zu\\n", offsetof(%s, %s));', name, f, name, f))
        end
    end
    for _, m in ipairs(header.macros) do
        if m.is_string then
            add(string.format('    printf("string %s %%s\\n", %s);', m.name, m.name))
        else
            add(string.format("    num(\"%s\", (%s) < 0, (long long)(%s), (unsigned long long)(%s));",
                m.name, m.name, m.name, m.name))
        end
    end
    for _, e in ipairs(header.enum) do
        add(string.format("    num(\"%s\", (%s) < 0, (long long)(%s), (unsigned long long)(%s));", e, e, e, e))
    end
    add("    return 0;")
    add("}")
    return table.concat(out, "\n") .. "\n"
end

local compiled_output -- what the generated program printed

T.test("the cdef's signatures and struct fields compile against the header", function()
    local dir = T.tmpdir()
    local include = HEADER:match("^(.*)/[^/]+$") or "."
    local function compile(name, text, flags)
        local src = dir .. "/" .. name .. ".c"
        T.write_file(src, text)
        local cmd = string.format("%s -std=c11 -Wall -Werror=incompatible-pointer-types -I%s %s %s %s",
            CC, T.quote(include), flags, T.quote(dir .. "/" .. name .. (flags == "-c -o" and ".o" or "")), T.quote(src))
        local out, rc = T.sh(cmd, true)
        if rc ~= 0 then
            error("the generated " .. name .. ".c does not compile (the cdef drifted from the header):\n"
                .. out .. "\n" .. text)
        end
    end
    compile("signatures", c_signatures(), "-c -o")
    compile("layout", c_program(), "-o")
    local out, rc = T.sh(T.quote(dir .. "/layout"))
    T.eq(rc, 0, "check program exit status")
    compiled_output = out
end)

-- A constant as canonical decimal text: numbers and uint64_t cdata alike.
local function decimal(v)
    if type(v) == "number" then
        return string.format("%.0f", v)
    end
    return (tostring(v):gsub("U?LL$", ""))
end

T.test("LuaJIT lays out every struct as the C compiler does", function()
    T.ok(compiled_output, "needs the compile test")
    local checked = 0
    for name, size in compiled_output:gmatch("sizeof ([%w_]+) (%d+)") do
        T.eq(ffi.sizeof(name), tonumber(size), "ffi.sizeof(" .. name .. ")")
        checked = checked + 1
    end
    for name, field, off in compiled_output:gmatch("offsetof ([%w_]+) ([%w_]+) (%d+)") do
        T.eq(ffi.offsetof(name, field), tonumber(off), "ffi.offsetof(" .. name .. ", " .. field .. ")")
    end
    T.eq(checked, #header.struct_order, "structs compared")
end)

T.test("every enum member and macro has the header's value", function()
    T.ok(compiled_output, "needs the compile test")
    local enum = {}
    for _, e in ipairs(header.enum) do
        enum[e] = true
    end
    local checked = 0
    for name, value in compiled_output:gmatch("const ([%w_]+) (%-?%d+)") do
        local mine
        if enum[name] then
            mine = tonumber(ffi.cast("enum raftwal_error", name))
        else
            mine = cdef.constants[name]
            T.ok(mine ~= nil, "cdef.constants lacks " .. name)
        end
        T.eq(decimal(mine), value, name)
        checked = checked + 1
    end
    for name, value in compiled_output:gmatch("string ([%w_]+) ([^\n]*)") do
        T.eq(cdef.constants[name], value, name)
        checked = checked + 1
    end
    T.eq(checked, #header.enum + #header.macros, "constants compared")
    -- And nothing in cdef.constants that the header does not define.
    local defined = {}
    for _, m in ipairs(header.macros) do
        defined[m.name] = true
    end
    for name in pairs(cdef.constants) do
        T.ok(defined[name], "cdef.constants has " .. name .. ", which the header does not define")
    end
end)

T.test("the module's error names cover the header's error codes", function()
    for _, e in ipairs(header.enum) do
        if e ~= "RAFTWAL_OK" then
            local short = e:gsub("^RAFTWAL_", "")
            T.eq(raftwal.errors[short], tonumber(ffi.cast("enum raftwal_error", e)), "raftwal.errors." .. short)
        end
    end
end)

T.test("stats() reports every counter of raftwal_stats", function()
    local fields = {}
    for _, f in ipairs(header.structs.raftwal_stats.fields) do
        if f ~= "size" and f ~= "reserved" then
            fields[#fields + 1] = f
        end
    end
    T.eq(raftwal.STATS_FIELDS, fields, "STATS_FIELDS")
end)

return T.run()
