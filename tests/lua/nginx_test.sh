#!/bin/bash
# lua_nginx: the README's OpenResty example, run by a real nginx.
#
# Takes the nginx.conf block from bindings/lua/README.md (the one after the
# "lua_nginx test" marker), changes only its listen port to a free one,
# starts nginx in the foreground under a temporary prefix, and:
#   - appends request bodies (text, binary, empty) with curl, reads them
#     back byte for byte, lists them, checks the error answers;
#   - reloads nginx (SIGHUP) and checks the new worker 0 takes the log over
#     (it retries while the old worker still holds the lock) and appends
#     after the old entries;
#   - stops nginx (SIGQUIT, waiting for the master to exit), then runs
#     `raftwal verify` and `raftwal dump --json` on the log;
#   - starts the same conf with `worker_processes 2;`: worker 1 serves
#     entries through its read-only handle, byte for byte, refuses appends
#     (503), and serves an entry appended through worker 0 once its bounded
#     refresh has reopened the handle.
# Every wait is bounded; nginx is killed on any failure.
#
# Environment (set by ctest): RAFTWAL_NGINX RAFTWAL_CURL RAFTWAL_CLI RAFTWAL_LIB LUA_PATH
# RAFTWAL_LUAJIT RAFTWAL_LUA_README. (Not NGINX: nginx itself reads that
# variable, for sockets inherited across a binary upgrade.)
set -euo pipefail

for var in RAFTWAL_NGINX RAFTWAL_CURL RAFTWAL_CLI RAFTWAL_LIB LUA_PATH RAFTWAL_LUAJIT RAFTWAL_LUA_README; do
    if [ -z "${!var:-}" ]; then
        echo "lua_nginx: $var is not set (run through ctest)" >&2
        exit 1
    fi
done
for tool in "$RAFTWAL_NGINX" "$RAFTWAL_CURL" "$RAFTWAL_CLI"; do
    if [ ! -x "$tool" ]; then
        echo "lua_nginx: $tool is missing (nginx, curl and the raftwal CLI are needed)" >&2
        exit 1
    fi
done
here=$(cd "$(dirname "$0")" && pwd)

prefix=$(mktemp -d "${TMPDIR:-/tmp}/raftwal-nginx.XXXXXX")
nginx_pid=
passed=0

cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -KILL "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    # Workers of a killed master exit when they notice; do not leave any.
    if [ -f "$prefix/worker.pids" ]; then
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$prefix/worker.pids"
    fi
    if [ "$passed" != 1 ]; then
        echo "---- $prefix/logs/error.log" >&2
        cat "$prefix/logs/error.log" >&2 2>/dev/null || true
        echo "---- nginx's stdout and stderr" >&2
        cat "$prefix/logs/stdout.log" >&2 2>/dev/null || true
    fi
    rm -rf "$prefix"
}
trap cleanup EXIT

fail() {
    echo "lua_nginx: FAILED: $*" >&2
    exit 1
}

expect_eq() { # what actual expected
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# ---- the configuration, from the README ------------------------------------
mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/wal"
awk '/<!-- lua_nginx test:/ { armed = 1; next }
     armed && /^```nginx$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$RAFTWAL_LUA_README" >"$prefix/conf/readme.conf"
[ -s "$prefix/conf/readme.conf" ] || fail "no nginx.conf block after the marker in $RAFTWAL_LUA_README"
grep -c '^        listen 127.0.0.1:8080;$' "$prefix/conf/readme.conf" | grep -qx 1 ||
    fail "the README's conf must have exactly one 'listen 127.0.0.1:8080;'"

port=$("$RAFTWAL_LUAJIT" "$here/lib/free_port.lua")
sed "s/^        listen 127.0.0.1:8080;$/        listen 127.0.0.1:$port;/" \
    "$prefix/conf/readme.conf" >"$prefix/conf/nginx.conf"
# The change is the port and nothing else.
changed=$(diff "$prefix/conf/readme.conf" "$prefix/conf/nginx.conf" | grep -c '^[<>]' || true)
[ "$changed" = 2 ] ||
    fail "more than the listen line changed"

# Workers run as nobody when nginx starts as root: let them reach the log
# directory and write it.
chmod 755 "$prefix"
if [ "$(id -u)" = 0 ]; then
    chown nobody "$prefix/wal"
fi

url="http://127.0.0.1:$port"
curl_() { "$RAFTWAL_CURL" --silent --show-error --max-time 10 "$@"; }

# Waits (bounded) until /status answers 200 from a worker whose pid is not
# $1 (pass "" for any); prints the status line.
wait_for_owner() {
    local not_pid=$1 status code
    for _ in $(seq 1 100); do
        code=$(curl_ -o "$prefix/status" -w '%{http_code}' "$url/status" 2>/dev/null || true)
        if [ "$code" = 200 ]; then
            status=$(cat "$prefix/status")
            if [ -z "$not_pid" ] || [ "$(echo "$status" | cut -d' ' -f2)" != "$not_pid" ]; then
                echo "$status"
                return 0
            fi
        fi
        kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
        sleep 0.1
    done
    fail "no worker opened the log within 10 s (last answer: $code)"
}

# ---- start -----------------------------------------------------------------
unset NGINX
RAFTWAL_DIR="$prefix/wal" "$RAFTWAL_NGINX" -p "$prefix/" -c "$prefix/conf/nginx.conf" \
    -e "$prefix/logs/error.log" -g 'daemon off;' >"$prefix/logs/stdout.log" 2>&1 &
nginx_pid=$!

status=$(wait_for_owner "")
first_worker=$(echo "$status" | cut -d' ' -f2)
echo "$first_worker" >>"$prefix/worker.pids"
expect_eq "status of a new log" "$status" "writer $first_worker 1 0 0"

# ---- appends and reads -----------------------------------------------------
printf 'hello nginx' >"$prefix/body1"
head -c 4096 /dev/urandom >"$prefix/body2"            # binary, with NUL bytes
: >"$prefix/body3"                                    # empty

for n in 1 2 3; do
    code=$(curl_ -o "$prefix/answer" -w '%{http_code}' --data-binary "@$prefix/body$n" "$url/append")
    expect_eq "POST /append #$n status" "$code" 201
    expect_eq "POST /append #$n index" "$(cat "$prefix/answer")" "$n"
done

for n in 1 2 3; do
    code=$(curl_ -o "$prefix/read$n" -w '%{http_code}' -D "$prefix/headers" "$url/entry?index=$n")
    expect_eq "GET /entry?index=$n status" "$code" 200
    cmp -s "$prefix/read$n" "$prefix/body$n" || fail "entry $n does not read back byte for byte"
    grep -qi '^X-Raftwal-Term: 1' "$prefix/headers" || fail "entry $n: no X-Raftwal-Term: 1 header"
done

expect_eq "GET /entries" "$(curl_ "$url/entries?from=2")" "$(printf '2 1 4096\n3 1 0')"

code=$(curl_ -o "$prefix/answer" -w '%{http_code}' "$url/entry?index=99")
expect_eq "GET /entry?index=99 status" "$code" 404
grep -q '^EUNAVAILABLE: ' "$prefix/answer" || fail "index 99: $(cat "$prefix/answer")"
code=$(curl_ -o "$prefix/answer" -w '%{http_code}' "$url/entry?index=x")
expect_eq "GET /entry?index=x status" "$code" 400

# ---- reload: the new worker 0 takes the log over -----------------------------
kill -HUP "$nginx_pid"
status=$(wait_for_owner "$first_worker")
second_worker=$(echo "$status" | cut -d' ' -f2)
echo "$second_worker" >>"$prefix/worker.pids"
expect_eq "status after reload" "$status" "writer $second_worker 1 3 3"
printf 'after reload' >"$prefix/body4"
code=$(curl_ -o "$prefix/answer" -w '%{http_code}' --data-binary "@$prefix/body4" "$url/append")
expect_eq "POST /append after reload" "$code $(cat "$prefix/answer")" "201 4"

# ---- stop ------------------------------------------------------------------
kill -QUIT "$nginx_pid"
timeout 15 tail --pid="$nginx_pid" -f /dev/null || fail "nginx did not exit within 15 s of SIGQUIT"
wait "$nginx_pid" || fail "nginx exited with status $?"
nginx_pid=

if grep -E '\[(error|crit|alert|emerg)\]' "$prefix/logs/error.log"; then
    fail "errors in nginx's error.log"
fi
grep -q 'raftwal: opened' "$prefix/logs/error.log" || fail "the open was not logged"
# Whether the new worker met the old one's lock depends on timing; say which.
if grep -q 'is still locked, retrying' "$prefix/logs/error.log"; then
    echo "lua_nginx: after the reload the new worker met ELOCKED and retried"
else
    echo "lua_nginx: after the reload the old worker had already exited"
fi

# ---- the log, checked by the C tool -----------------------------------------
"$RAFTWAL_CLI" verify "$prefix/wal" >"$prefix/verify.out" || fail "raftwal verify: $(cat "$prefix/verify.out")"
"$RAFTWAL_CLI" dump --json "$prefix/wal" >"$prefix/dump.json" || fail "raftwal dump failed"
# Each dumped entry must be a body we sent, in order, byte for byte.
PREFIX="$prefix" "$RAFTWAL_LUAJIT" -e '
    local json = require("json")
    local prefix = os.getenv("PREFIX")
    local f = assert(io.open(prefix .. "/dump.json", "rb"))
    local n = 0
    for _, obj in ipairs(json.decode_lines(f:read("*a"))) do
        if obj.kind == "entry" then
            n = n + 1
            local b = assert(io.open(prefix .. "/body" .. n, "rb"))
            local body = b:read("*a")
            b:close()
            assert(obj.index == n, "index " .. tostring(obj.index) .. ", expected " .. n)
            assert(obj.term == 1 and obj.type == 0 and obj.size == #body, "entry " .. n .. ": term/type/size")
            assert(obj.data_hex == json.hex(body), "entry " .. n .. ": data differs from the request body")
        end
    end
    assert(n == 4, "dumped " .. n .. " entries, expected 4")
' || fail "raftwal dump --json does not show the request bodies"

# ---- readers: the same conf with two workers --------------------------------
# Worker 1 opens the log read-only and serves durable entries; an entry
# appended through worker 0 reaches it within the reader's refresh bound.
sed 's/^worker_processes 1; /worker_processes 2; /' "$prefix/conf/nginx.conf" >"$prefix/conf/two.conf"
grep -q '^worker_processes 2; ' "$prefix/conf/two.conf" || fail "no worker_processes line to change"
RAFTWAL_DIR="$prefix/wal" "$RAFTWAL_NGINX" -p "$prefix/" -c "$prefix/conf/two.conf" \
    -e "$prefix/logs/error.log" -g 'daemon off;' >"$prefix/logs/stdout.log" 2>&1 &
nginx_pid=$!
# Connections land on either worker: ask (bounded) until each has answered.
get_from_worker() { # wanted-worker-id url-path -> body in $prefix/got, 0 when it answered
    local code
    for _ in $(seq 1 200); do
        code=$(curl_ -o "$prefix/got" -D "$prefix/got.h" -w '%{http_code}' "$url$2" 2>/dev/null || true)
        if [ "$code" = 200 ] && grep -qi "^X-Raftwal-Worker: $1" "$prefix/got.h"; then return 0; fi
        kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
        sleep 0.02
    done
    fail "worker $1 did not answer $2 with 200 (last: $code $(cat "$prefix/got" 2>/dev/null))"
}
get_from_worker 1 "/entry?index=4"
cmp -s "$prefix/got" "$prefix/body4" || fail "the reader worker reads entry 4 differently"
get_from_worker 0 "/entry?index=4"
cmp -s "$prefix/got" "$prefix/body4" || fail "the writer worker reads entry 4 differently"
printf 'seen by the reader' >"$prefix/body5"
for _ in $(seq 1 200); do # only worker 0 takes appends; the other answers 503
    code=$(curl_ -o "$prefix/answer" -w '%{http_code}' --data-binary "@$prefix/body5" "$url/append")
    [ "$code" = 201 ] && break
    expect_eq "POST /append on the reader" "$code" 503
done
expect_eq "POST /append with two workers" "$code $(cat "$prefix/answer")" "201 5"
get_from_worker 1 "/entry?index=5"
cmp -s "$prefix/got" "$prefix/body5" || fail "the reader worker reads entry 5 differently"
kill -QUIT "$nginx_pid"
timeout 15 tail --pid="$nginx_pid" -f /dev/null || fail "nginx did not exit within 15 s of SIGQUIT"
wait "$nginx_pid" || fail "nginx exited with status $?"
nginx_pid=
if grep -E '\[(error|crit|alert|emerg)\]' "$prefix/logs/error.log"; then
    fail "errors in nginx's error.log (two workers)"
fi
"$RAFTWAL_CLI" verify "$prefix/wal" >"$prefix/verify.out" || fail "raftwal verify: $(cat "$prefix/verify.out")"

passed=1
echo "lua_nginx: ok (port $port, workers $first_worker then $second_worker)"
