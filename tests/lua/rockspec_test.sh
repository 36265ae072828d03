#!/bin/bash
# lua_rockspec: `luarocks make` installs the binding from its rockspec, and
# the installed copy (not the source tree) works: require("raftwal") from
# the rock tree opens a log and reads back what it wrote.
# Environment (set by ctest): LUAROCKS RAFTWAL_LUAJIT RAFTWAL_LIB RAFTWAL_LUA_SRC
set -euo pipefail
tree=$(mktemp -d "${TMPDIR:-/tmp}/raftwal-rock.XXXXXX")
trap 'rm -rf "$tree"' EXIT

cd "$RAFTWAL_LUA_SRC"
"$LUAROCKS" --lua-version 5.1 --tree "$tree" make raftwal-1.0.0-1.rockspec >"$tree/make.log" 2>&1 ||
    { cat "$tree/make.log"; echo "lua_rockspec: luarocks make failed" >&2; exit 1; }

# Only the rock tree on the path (";;" would add the defaults, not the source tree).
TREE="$tree" LUA_PATH="$tree/share/lua/5.1/?.lua" "$RAFTWAL_LUAJIT" -e '
    local raftwal = require("raftwal")
    local where = package.searchpath("raftwal", package.path)
    assert(where:find(os.getenv("TREE"), 1, true), "raftwal.lua did not come from the rock tree: " .. where)
    local log = assert(raftwal.open(os.getenv("TREE") .. "/wal"))
    assert(log:append({ { index = 1, term = 1, data = "from the rock" } }))
    assert(log:get(1).data == "from the rock")
    assert(log:close())
    print("lua_rockspec: ok, raftwal " .. raftwal.version() .. " from " .. where)
'
