#!/bin/bash
# lua_nginx_durable: the README's OpenResty example under load, in a real
# nginx: durable appends yield instead of blocking the worker.
#
# 1. The wait yields. The conf gets `threads=1` and a test location that
#    parks the pool's only thread on a FIFO (tests/lua/lib/raftwal_test_gate.lua).
#    A POST /append is then written (GET /status shows last 1, durable 0)
#    but its durable wait is queued behind the parked thread: while that
#    POST is still unanswered, GET /status is answered by the same (only)
#    worker. Opening the FIFO releases the thread; only then does the POST
#    answer 201. With blocking calls the POST answers at once, before the
#    FIFO is touched, and the test fails.
# 2. kill -9. 4 clients post unique bodies and record each 201's index; the
#    writer worker is killed with SIGKILL in the middle, the master starts a
#    new one, which reopens the log and takes over.
# 3. Group commit. 32 connections post 1 KiB bodies (wrk, 1 s): every answer
#    is 2xx, and the log's stats show fewer fdatasyncs than appends.
# After a stop, `raftwal verify` is clean and every body acknowledged in 2
# is at its index. (2 runs before 3: the disk is slow for a while after 3.)
# Every wait is bounded; everything started is killed on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/nginx_harness.sh
. "$here/lib/nginx_harness.sh"
harness_init lua_nginx_durable
WRK=${RAFTWAL_WRK:-wrk}
command -v "$WRK" >/dev/null || fail "wrk is missing (apt-get install wrk; scripts/install-deps all)"

# Test-only locations, added to the README's server block.
cat >"$prefix/test_locations.conf" <<'EOF'
        location = /test/stats {
            content_by_lua_block {
                local st = assert(require("wal").log:stats())
                ngx.say(st.appends, " ", st.fsyncs)
            }
        }
        location = /test/park {
            content_by_lua_block {
                local ok, err = ngx.run_worker_thread("raftwal", "raftwal_test_gate", "wait",
                                                      ngx.var.arg_fifo)
                ngx.say(ok and "released" or ("run_worker_thread: " .. tostring(err)))
            }
        }
EOF
with_tests="/^        listen 127.0.0.1:/r $prefix/test_locations.conf"

status_line() { curl_ "$url/status"; }

# ---- 1. the durable wait yields ----------------------------------------------
harness_conf "$with_tests" 's/^thread_pool raftwal threads=16;/thread_pool raftwal threads=1;/'
grep -q '^thread_pool raftwal threads=1;' "$prefix/conf/nginx.conf" || fail "no thread_pool line to change"
harness_start
harness_wait_writer
worker=$writer_pid
[ "$(status_line)" = "writer $worker 1 0 0" ] || fail "status of a new log: $(status_line)"

# The FIFO and its mark live in a directory the workers (nobody, as root) may write.
mkdir "$prefix/gatedir"
if [ "$(id -u)" = 0 ]; then chown nobody "$prefix/gatedir"; fi
mkfifo "$prefix/gatedir/gate"
curl_ -o "$prefix/park.out" "$url/test/park?fifo=$prefix/gatedir/gate" &
park_curl=$!
background_pids+=("$park_curl")
for _ in $(seq 1 100); do # bounded: until the pool's thread is parked
    [ -e "$prefix/gatedir/gate.parked" ] && break
    sleep 0.05
done
[ -e "$prefix/gatedir/gate.parked" ] || fail "the park request never reached the thread pool"
printf 'waits for the disk' >"$prefix/body1"
curl_ -o "$prefix/append.out" -w '%{http_code}' --data-binary "@$prefix/body1" "$url/append" \
    >"$prefix/append.code" &
append_curl=$!
background_pids+=("$append_curl")

# The entry is written before the wait: wait (bounded) until /status shows it.
seen=
for _ in $(seq 1 100); do
    s=$(status_line)
    if [ "$s" = "writer $worker 1 1 0" ]; then seen=1; break; fi
    sleep 0.05
done
[ -n "$seen" ] || fail "the POST's entry never showed up as written-not-durable (status: $s)"
# ... and while its POST is still unanswered, the worker answers others.
for n in 1 2 3; do
    s=$(status_line) || fail "GET /status failed while an append waited"
    [ "$s" = "writer $worker 1 1 0" ] || fail "status while the append waits: $s"
done
kill -0 "$append_curl" 2>/dev/null || fail "the POST was answered before its durable wait could run:" \
    "$(cat "$prefix/append.code") $(cat "$prefix/append.out") (the wait blocked instead of yielding)"
[ ! -s "$prefix/append.code" ] || fail "the POST answered while the thread pool was parked"
# Release the thread: now the POST may finish, durable.
timeout 10 bash -c "echo open >'$prefix/gatedir/gate'" || fail "nothing read the FIFO"
wait "$park_curl" || fail "the park request failed"
[ "$(cat "$prefix/park.out")" = released ] || fail "park: $(cat "$prefix/park.out")"
wait "$append_curl" || fail "the POST failed"
[ "$(cat "$prefix/append.code") $(cat "$prefix/append.out")" = "201 1" ] ||
    fail "POST /append: $(cat "$prefix/append.code") $(cat "$prefix/append.out")"
[ "$(status_line)" = "writer $worker 1 1 1" ] || fail "status after the wait: $(status_line)"
echo "lua_nginx_durable: a GET /status was served while a durable append waited"
harness_stop
echo "lua_nginx_durable: phase 1 done at ${SECONDS}s"

# ---- 2. kill -9 of the worker under load -------------------------------------
harness_conf "$with_tests"
harness_start
harness_wait_writer
first_writer=$writer_pid
base=$(status_line | cut -d' ' -f4)
client() { # k: posts unique bodies until $prefix/stop exists; logs "index body" per 201
    local k=$1 n=0 code body
    while [ ! -e "$prefix/stop" ] && [ $n -lt 3000 ]; do
        n=$((n + 1))
        body="client-$k-post-$n"
        code=$("$RAFTWAL_CURL" --silent --max-time 10 -o "$prefix/c$k.out" -w '%{http_code}' \
            --data-binary "$body" "$url/append" 2>/dev/null || true)
        if [ "$code" = 201 ]; then
            echo "$(cat "$prefix/c$k.out") $body" >>"$prefix/acks"
        fi
    done
}
: >"$prefix/acks"
for k in 1 2 3 4; do
    client "$k" &
    background_pids+=("$!")
done
acks_at_least() { # n: waits (bounded: 20 s) for n acknowledgements
    for _ in $(seq 1 200); do
        [ "$(wc -l <"$prefix/acks")" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "fewer than $1 acknowledged POSTs within 20 s"
}
acks_at_least 40
kill -KILL "$first_writer"
killed_at=$(wc -l <"$prefix/acks")
harness_wait_writer "$first_writer"
echo "lua_nginx_durable: a new writer at ${SECONDS}s"
acks_at_least $((killed_at + 40))
touch "$prefix/stop"
echo "lua_nginx_durable: enough acks at ${SECONDS}s"
for p in "${background_pids[@]}"; do wait "$p" 2>/dev/null || true; done
background_pids=()
last_acked=$(status_line | cut -d' ' -f4) # every ack is at or below this
echo "lua_nginx_durable: phase 2 done at ${SECONDS}s"

# ---- 3. 32 connections share fdatasyncs ----------------------------------------
cat >"$prefix/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
EOF
"$WRK" -t2 -c32 -d1s --timeout 10s -s "$prefix/post.lua" "$url/append" >"$prefix/wrk.out" 2>&1 ||
    fail "wrk: $(cat "$prefix/wrk.out")"
cat "$prefix/wrk.out"
! grep -q 'Non-2xx' "$prefix/wrk.out" || fail "some POSTs were not answered 2xx"
! grep -q 'Socket errors' "$prefix/wrk.out" || fail "wrk saw socket errors"
read -r appends fsyncs <<<"$(curl_ "$url/test/stats")"
echo "lua_nginx_durable: $appends durable appends with $fsyncs fdatasyncs (32 connections)"
[ "$appends" -ge 32 ] || fail "only $appends appends"
[ "$fsyncs" -lt "$appends" ] || fail "no fdatasync was shared: $fsyncs fdatasyncs for $appends appends"

echo "lua_nginx_durable: phase 3 done at ${SECONDS}s"
harness_stop
grep -q 'exited on signal 9' "$prefix/logs/error.log" || fail "the master did not see the kill"

"$RAFTWAL_CLI" verify "$prefix/wal" >"$prefix/verify.out" || fail "raftwal verify: $(cat "$prefix/verify.out")"
"$RAFTWAL_CLI" dump --json --to "$last_acked" "$prefix/wal" >"$prefix/dump.json" || fail "raftwal dump failed"
PREFIX="$prefix" BASE="$base" "$RAFTWAL_LUAJIT" -e '
    local json = require("json")
    local prefix = os.getenv("PREFIX")
    local f = assert(io.open(prefix .. "/dump.json", "rb"))
    local data = {}
    for _, obj in ipairs(json.decode_lines(f:read("*a"))) do
        if obj.kind == "entry" then data[obj.index] = obj.data_hex end
    end
    f:close()
    local n = 0
    for line in io.lines(prefix .. "/acks") do
        local index, body = line:match("^(%d+) (.*)$")
        assert(index, "bad ack line: " .. line)
        index = tonumber(index)
        assert(index > tonumber(os.getenv("BASE")), "ack " .. index .. " below the load phase")
        assert(data[index] == json.hex(body),
            "acknowledged entry " .. index .. " (" .. body .. ") is not in the log")
        n = n + 1
    end
    print("lua_nginx_durable: all " .. n .. " acknowledged entries are in the log")
' || fail "an acknowledged entry is missing"
echo "lua_nginx_durable: $killed_at POSTs acknowledged before the kill -9, $(wc -l <"$prefix/acks") in all"

if grep -E '\[(error|crit|alert|emerg)\]' "$prefix/logs/error.log" | grep -v 'exited on signal 9'; then
    fail "errors in nginx's error.log"
fi
passed=1
echo "lua_nginx_durable: ok"
