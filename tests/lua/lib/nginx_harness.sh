# nginx_harness.sh -- sourced by the nginx tests and the nginx bench: runs the
# README's OpenResty example (bindings/lua/README.md, the nginx.conf block
# after the "lua_nginx test" marker) under a temporary prefix.
#
#   harness_init NAME          checks the environment, makes $prefix, arms cleanup
#   harness_conf [SED...]      writes $prefix/conf/nginx.conf: the README's
#                              conf with a free port and each given sed
#                              expression applied (extra test locations...)
#   harness_start              starts nginx in the foreground ($nginx_pid)
#   harness_wait_writer        waits (bounded) until /status names a writer;
#                              sets $writer_pid
#   harness_stop               SIGQUIT, waits (bounded) for the master to exit
#   fail MESSAGE               reports, dumps the error log, exits 1
#
# Environment (set by ctest): RAFTWAL_NGINX RAFTWAL_CURL RAFTWAL_CLI RAFTWAL_LIB
# LUA_PATH RAFTWAL_LUAJIT RAFTWAL_LUA_README; RAFTWAL_KEEP=1 keeps the prefix.

harness_init() {
    harness_name=$1
    local var tool
    for var in RAFTWAL_NGINX RAFTWAL_CURL RAFTWAL_CLI RAFTWAL_LIB LUA_PATH RAFTWAL_LUAJIT RAFTWAL_LUA_README; do
        if [ -z "${!var:-}" ]; then
            echo "$harness_name: $var is not set (run through ctest)" >&2
            exit 1
        fi
    done
    for tool in "$RAFTWAL_NGINX" "$RAFTWAL_CURL" "$RAFTWAL_CLI"; do
        if [ ! -x "$tool" ]; then
            echo "$harness_name: $tool is missing (nginx, curl and the raftwal CLI are needed)" >&2
            exit 1
        fi
    done
    harness_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    prefix=$(mktemp -d "${TMPDIR:-/tmp}/raftwal-$harness_name.XXXXXX")
    nginx_pid=
    passed=0
    background_pids=()
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/wal"
    # Workers run as nobody when nginx starts as root.
    chmod 755 "$prefix"
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$prefix/wal"
    fi
    trap harness_cleanup EXIT
    harness_stage_modules
}

# The workers run as nobody, and each thread-pool thread loads the Lua
# modules afresh as that user: a source or build tree under a private
# directory (a clone in a mode-0700 temporary directory, as CI's may be)
# would hide them, and the durable waits would fall back to blocking. So
# the LUA_PATH directories and the library are copied into the prefix,
# which the workers can read, and the copies are what nginx is given.
harness_stage_modules() {
    local entry dir rest staged="" i=0
    local IFS=';'
    for entry in $LUA_PATH; do
        dir=${entry%%\?*}
        rest=${entry#"$dir"}
        if [ -n "$entry" ] && [ -d "$dir" ]; then
            i=$((i + 1))
            mkdir -p "$prefix/lua/$i"
            cp -R "$dir/." "$prefix/lua/$i/"
            staged+="$prefix/lua/$i/$rest;"
        elif [ -n "$entry" ]; then
            staged+="$entry;"
        fi
    done
    unset IFS
    LUA_PATH="$staged;"
    mkdir -p "$prefix/lib"
    cp "$RAFTWAL_LIB" "$prefix/lib/"
    RAFTWAL_LIB="$prefix/lib/$(basename "$RAFTWAL_LIB")"
    chmod -R a+rX "$prefix/lua" "$prefix/lib"
    export LUA_PATH RAFTWAL_LIB
}

harness_cleanup() {
    local p
    for p in "${background_pids[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        # The workers first: a worker of a killed master lingers.
        pkill -KILL -P "$nginx_pid" 2>/dev/null || true
        kill -KILL "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if [ "$passed" != 1 ]; then
        echo "---- $prefix/logs/error.log (last 40 lines)" >&2
        tail -n 40 "$prefix/logs/error.log" >&2 2>/dev/null || true
        echo "---- nginx's stdout and stderr" >&2
        cat "$prefix/logs/stdout.log" >&2 2>/dev/null || true
    fi
    if [ -n "${RAFTWAL_KEEP:-}" ]; then
        echo "$harness_name: kept $prefix" >&2
    else
        rm -rf "$prefix"
    fi
}

fail() {
    echo "$harness_name: FAILED: $*" >&2
    exit 1
}

harness_conf() {
    awk '/<!-- lua_nginx test:/ { armed = 1; next }
         armed && /^```nginx$/ { inside = 1; next }
         inside && /^```$/ { exit }
         inside { print }' "$RAFTWAL_LUA_README" >"$prefix/conf/readme.conf"
    [ -s "$prefix/conf/readme.conf" ] || fail "no nginx.conf block in $RAFTWAL_LUA_README"
    port=$("$RAFTWAL_LUAJIT" "$harness_lib/free_port.lua")
    local args=(-e "s/^        listen 127.0.0.1:8080;$/        listen 127.0.0.1:$port;/")
    local e
    for e in "$@"; do
        args+=(-e "$e")
    done
    sed "${args[@]}" "$prefix/conf/readme.conf" >"$prefix/conf/nginx.conf"
    grep -q "listen 127.0.0.1:$port;" "$prefix/conf/nginx.conf" || fail "the listen line was not found"
    url="http://127.0.0.1:$port"
}

curl_() { "$RAFTWAL_CURL" --silent --show-error --max-time 20 "$@"; }

harness_start() {
    unset NGINX
    RAFTWAL_DIR="$prefix/wal" "$RAFTWAL_NGINX" -p "$prefix/" -c "$prefix/conf/nginx.conf" \
        -e "$prefix/logs/error.log" -g 'daemon off;' >"$prefix/logs/stdout.log" 2>&1 &
    nginx_pid=$!
}

# Waits (bounded: 10 s) for a writer; $1: a pid the writer must not have.
harness_wait_writer() {
    local not_pid=${1:-} code status
    for _ in $(seq 1 100); do
        code=$(curl_ -o "$prefix/status" -w '%{http_code}' "$url/status" 2>/dev/null || true)
        if [ "$code" = 200 ]; then
            status=$(cat "$prefix/status")
            writer_pid=$(echo "$status" | cut -d' ' -f2)
            if [ "${status%% *}" = writer ] && [ "$writer_pid" != "$not_pid" ]; then
                return 0
            fi
        fi
        kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
        sleep 0.1
    done
    fail "no worker opened the log within 10 s (last answer: $code)"
}

harness_stop() {
    kill -QUIT "$nginx_pid"
    timeout 15 tail --pid="$nginx_pid" -f /dev/null || fail "nginx did not exit within 15 s of SIGQUIT"
    wait "$nginx_pid" || fail "nginx exited with status $?"
    nginx_pid=
}
