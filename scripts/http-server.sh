#!/usr/bin/env bash
# Sourced by the HTTP checks (protocol/http-fuzz/run.sh, tests/browser/run.sh): starts
# `sitesync serve --http` on a hub over loopback ports of its own and stops it.
#   start_http_server NAME BINARY HUB WORK   sets $server (its pid), $url and $endpoint
#   stop_http_server NAME WORK               SIGTERM; fails unless it exits 0
# Its output goes to WORK/serve.out and WORK/serve.err; NAME prefixes the messages.

start_http_server() {
    local name="$1" binary="$2" hub="$3" work="$4"
    "$binary" serve --data-dir "$hub" --listen 'tcp://127.0.0.1:*' --http 127.0.0.1:0 --quiet >"$work/serve.out" 2>"$work/serve.err" &
    server=$!
    url=""
    for _ in $(seq 1 100); do
        # The background shell may not have opened serve.out yet: no file is no line yet.
        url="$(sed -n 's/^http on //p' "$work/serve.out" 2>/dev/null || true)"
        [ -n "$url" ] && break
        kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; echo "$name: the server did not start" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "$name: the server printed no 'http on' line" >&2; exit 1; }
    endpoint="$(sed -n 's/^listening on //p' "$work/serve.out")"
}

stop_http_server() {
    local name="$1" work="$2" status=0
    kill -TERM "$server"
    wait "$server" || status=$?
    server=""
    if [ "$status" -ne 0 ]; then
        cat "$work/serve.err" >&2
        echo "$name: the server exited with $status on SIGTERM (expected 0)" >&2
        exit 1
    fi
}
