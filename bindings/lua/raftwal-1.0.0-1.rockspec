-- `luarocks make` (from bindings/lua) installs the LuaJIT binding: two pure
-- Lua files. libraftwal.so.1 itself is installed by the C build.
rockspec_format = "3.0"
package = "raftwal"
version = "1.0.0-1"
-- source is read only when a published rock is built (`luarocks install`);
-- `luarocks make` uses this directory. Set the real URL when publishing.
source = {
   url = "git+https://example.invalid/raftwal.git",
   tag = "v1.0.0",
   dir = "raftwal/bindings/lua",
}
description = {
   summary = "LuaJIT FFI binding of raftwal, the write-ahead log under a Raft node",
   detailed = [[
      OpenResty-style (nil, err) binding of libraftwal's C ABI for LuaJIT 2.1
      and nginx with the Lua module. Needs libraftwal.so.1 at run time.
   ]],
}
supported_platforms = { "linux" }
dependencies = {
   "lua == 5.1",
}
build = {
   type = "builtin",
   modules = {
      raftwal = "raftwal.lua",
      ["raftwal.cdef"] = "raftwal/cdef.lua",
      ["raftwal.nginx_thread"] = "raftwal/nginx_thread.lua",
   },
}
