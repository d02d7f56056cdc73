#!/usr/bin/env bash
# Holds the HTTP API to its contract (protocol/http-api.yaml): schemathesis generates requests from
# the contract — valid and invalid — against a live `sitesync serve --http` over the demo's hub,
# once with a token that sees the whole city and once with a department-scoped one, and fails on
# any 5xx or any answer outside the contract (status, content type, headers, body schema). Then
# the server must stop cleanly on SIGTERM.
# Usage: protocol/http-fuzz/run.sh PATH/TO/sitesync [extra schemathesis arguments]
# Needs python3 with venv (scripts/setup.sh installs it) and PyPI access the first time: the
# packages go into .build/http-fuzz-venv, created once and reused while requirements.txt is
# unchanged. SITESYNC_FUZZ_EXAMPLES sets the cases per operation (default 60); the seed is fixed,
# so a failure reproduces (SITESYNC_FUZZ_SEED to try another).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/http-server.sh
source "$root/scripts/http-server.sh"
if [ $# -lt 1 ]; then
    echo "usage: $0 PATH/TO/sitesync [schemathesis arguments]" >&2
    exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
if [ ! -x "$binary" ]; then
    echo "http-fuzz: $binary is not an executable; build it first (swift build)" >&2
    exit 2
fi

venv="${HTTP_FUZZ_VENV:-$root/.build/http-fuzz-venv}"
"$root/scripts/python-venv.sh" "$venv" "$here/requirements.txt" http-fuzz

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The demo's hub: three departments' plans, progress, costs, risks, KPIs, conflicts, a fleet.
"$binary" demo --dir "$work/demo" >"$work/demo.log" 2>&1 || {
    cat "$work/demo.log" >&2
    echo "http-fuzz: the demo failed" >&2
    exit 1
}
hub="$work/demo/hub"
token() { "$binary" api token create --data-dir "$hub" "$@" | grep -o 'sst_[A-Za-z0-9_-]*' | head -n 1; }
city_token="$(token --name fuzz-office --role office)"
roads_token="$(token --name fuzz-roads --role field --department roads)"

start_http_server http-fuzz "$binary" "$hub" "$work"

# The coverage phase is left out: with Python 3.11's ast module it crashes inside hypothesis
# (an interpreter bug, "AST constructor recursion depth mismatch"), not on the API.
fuzz() {
    "$venv/bin/schemathesis" run "$url/openapi.yaml" --url "$url" -H "Authorization: Bearer $1" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --phases examples,fuzzing --max-examples "${SITESYNC_FUZZ_EXAMPLES:-60}" --seed "${SITESYNC_FUZZ_SEED:-17}" \
        --generation-database none --workers 2 --no-color "${@:2}"
}
fuzz "$city_token" "$@"
fuzz "$roads_token" "$@"

stop_http_server http-fuzz "$work"
echo "http-fuzz: both tokens passed; the server stopped cleanly on SIGTERM"
