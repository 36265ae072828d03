--[[
raftwal_test_gate -- a thread-pool function for the nginx tests: occupies a
thread of an nginx thread pool until the test opens a FIFO for writing, so
that a durable wait queued behind it provably cannot finish before the test
says so (ordering, not timing). It creates <fifo>.parked once it runs.
    ngx.run_worker_thread("raftwal", "raftwal_test_gate", "wait", fifo_path)
]]
local _M = {}

function _M.wait(fifo)
    -- First say the thread is taken: the test queues its append after this.
    local mark = assert(io.open(fifo .. ".parked", "wb"))
    mark:close()
    local f, err = io.open(fifo, "rb") -- blocks until a writer opens the FIFO
    if not f then
        return nil, err
    end
    local data = f:read("*a")
    f:close()
    return data
end

return _M
