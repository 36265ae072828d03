--[[
free_port.lua -- prints a TCP port on 127.0.0.1 that is free right now: it
binds port 0, asks the kernel which port it got, and closes the socket.
(Another process could take the port before nginx binds it; the nginx test
reports a bind failure clearly if that ever happens.) LuaJIT only: no
Python or socket library needed.
]]
local ffi = require("ffi")
ffi.cdef[[
struct raftwal_test_sockaddr_in {
    uint16_t sin_family;
    uint16_t sin_port;
    uint32_t sin_addr;
    uint8_t  sin_zero[8];
};
int socket(int domain, int type, int protocol);
int bind(int fd, const void *addr, uint32_t len);
int getsockname(int fd, void *addr, uint32_t *len);
int close(int fd);
uint32_t htonl(uint32_t host);
uint16_t ntohs(uint16_t net);
]]
local AF_INET, SOCK_STREAM = 2, 1
local fd = ffi.C.socket(AF_INET, SOCK_STREAM, 0)
assert(fd >= 0, "socket() failed")
local addr = ffi.new("struct raftwal_test_sockaddr_in")
addr.sin_family = AF_INET
addr.sin_port = 0
addr.sin_addr = ffi.C.htonl(0x7f000001)
local len = ffi.new("uint32_t[1]", ffi.sizeof(addr))
assert(ffi.C.bind(fd, addr, len[0]) == 0, "bind() failed")
assert(ffi.C.getsockname(fd, addr, len) == 0, "getsockname() failed")
ffi.C.close(fd)
print(ffi.C.ntohs(addr.sin_port))
