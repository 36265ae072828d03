--[[
json.lua -- a small strict JSON decoder for the tests, which read the
`raftwal dump --json` output (one object per line) without depending on
lua-cjson. It treats its input as untrusted: anything that is not valid
JSON raises an error naming the byte offset; nesting is bounded.

Numbers become Lua numbers when exact (below 2^53) and uint64_t cdata for
larger non-negative integers, so 64-bit indexes survive. \u escapes outside
ASCII are decoded to UTF-8. null becomes json.null (a unique sentinel).
]]
local ffi = require("ffi")

local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }

local MAX_DEPTH = 64

local function fail(s, pos, what)
    error(string.format("json: %s at byte %d", what, pos), 0)
end

local function skip_ws(s, pos)
    return s:find("[^ \t\r\n]", pos) or #s + 1
end

local function utf8(cp)
    if cp < 0x80 then
        return string.char(cp)
    elseif cp < 0x800 then
        return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64)
    end
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function decode_string(s, pos)
    -- pos is at the opening quote
    local out, i = {}, pos + 1
    while true do
        local c = s:sub(i, i)
        if c == "" then
            fail(s, i, "unterminated string")
        elseif c == '"' then
            return table.concat(out), i + 1
        elseif c == "\\" then
            local e = s:sub(i + 1, i + 1)
            if e == "u" then
                local hex = s:sub(i + 2, i + 5)
                if not hex:find("^%x%x%x%x$") then
                    fail(s, i, "bad \\u escape")
                end
                out[#out + 1] = utf8(tonumber(hex, 16))
                i = i + 6
            elseif ESCAPES[e] then
                out[#out + 1] = ESCAPES[e]
                i = i + 2
            else
                fail(s, i, "bad escape")
            end
        elseif c:byte() < 0x20 then
            fail(s, i, "control character in string")
        else
            local j = s:find('["\\%z\1-\31]', i) or #s + 1
            out[#out + 1] = s:sub(i, j - 1)
            i = j
        end
    end
end

local function decode_number(s, pos)
    local text = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not text or not text:find("^-?%d") then
        fail(s, pos, "bad number")
    end
    local n = tonumber(text)
    if not n then
        fail(s, pos, "bad number")
    end
    if text:find("^%d+$") and n >= 2 ^ 53 then
        if #text > 20 then
            fail(s, pos, "integer out of range")
        end
        local v = ffi.new("uint64_t", 0)
        for k = 1, #text do
            local nv = v * 10 + (text:byte(k) - 48)
            if nv < v then
                fail(s, pos, "integer out of range")
            end
            v = nv
        end
        return v, pos + #text
    end
    return n, pos + #text
end

local decode_value

local function decode_array(s, pos, depth)
    local arr, n = {}, 0
    pos = skip_ws(s, pos + 1)
    if s:sub(pos, pos) == "]" then
        return arr, pos + 1
    end
    while true do
        local v
        v, pos = decode_value(s, pos, depth)
        n = n + 1
        arr[n] = v
        pos = skip_ws(s, pos)
        local c = s:sub(pos, pos)
        if c == "]" then
            return arr, pos + 1
        elseif c ~= "," then
            fail(s, pos, "expected ',' or ']'")
        end
        pos = skip_ws(s, pos + 1)
    end
end

local function decode_object(s, pos, depth)
    local obj = {}
    pos = skip_ws(s, pos + 1)
    if s:sub(pos, pos) == "}" then
        return obj, pos + 1
    end
    while true do
        if s:sub(pos, pos) ~= '"' then
            fail(s, pos, "expected a key")
        end
        local k
        k, pos = decode_string(s, pos)
        pos = skip_ws(s, pos)
        if s:sub(pos, pos) ~= ":" then
            fail(s, pos, "expected ':'")
        end
        obj[k], pos = decode_value(s, skip_ws(s, pos + 1), depth)
        pos = skip_ws(s, pos)
        local c = s:sub(pos, pos)
        if c == "}" then
            return obj, pos + 1
        elseif c ~= "," then
            fail(s, pos, "expected ',' or '}'")
        end
        pos = skip_ws(s, pos + 1)
    end
end

function decode_value(s, pos, depth)
    if depth > MAX_DEPTH then
        fail(s, pos, "nesting too deep")
    end
    local c = s:sub(pos, pos)
    if c == "{" then
        return decode_object(s, pos, depth + 1)
    elseif c == "[" then
        return decode_array(s, pos, depth + 1)
    elseif c == '"' then
        return decode_string(s, pos)
    elseif s:sub(pos, pos + 3) == "true" then
        return true, pos + 4
    elseif s:sub(pos, pos + 4) == "false" then
        return false, pos + 5
    elseif s:sub(pos, pos + 3) == "null" then
        return json.null, pos + 4
    end
    return decode_number(s, pos)
end

function json.decode(s)
    local v, pos = decode_value(s, skip_ws(s, 1), 0)
    pos = skip_ws(s, pos)
    if pos <= #s then
        fail(s, pos, "trailing characters")
    end
    return v
end

-- Decodes one JSON value per non-empty line.
function json.decode_lines(text)
    local list = {}
    for line in text:gmatch("[^\n]+") do
        list[#list + 1] = json.decode(line)
    end
    return list
end

-- Lower-case hex of a byte string, as the CLI's data_hex.
function json.hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

return json
