#!/usr/bin/env bash
# Runs the SSP/1 conformance suite against a built sitesync binary.
# Usage: protocol/conformance/run.sh PATH/TO/sitesync [pytest arguments]
# Needs python3 with venv (Debian: python3-venv; scripts/setup.sh installs it) and PyPI access the
# first time: the packages go into a virtual environment under .build/conformance-venv, created
# once and reused while requirements.txt is unchanged. The Python protobuf code is generated from
# protocol/sitesync.proto at every run, so the suite speaks the schema as it stands.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: $0 PATH/TO/sitesync [pytest arguments]" >&2
    exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
if [ ! -x "$binary" ]; then
    echo "conformance: $binary is not an executable; build it first (swift build)" >&2
    exit 2
fi

venv="${CONFORMANCE_VENV:-$root/.build/conformance-venv}"
"$root/scripts/python-venv.sh" "$venv" "$here/requirements.txt" conformance

generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
"$venv/bin/python" -m grpc_tools.protoc -I"$root/protocol" --python_out="$generated" "$root/protocol/sitesync.proto"

cd "$here"
SITESYNC_BIN="$binary" PYTHONPATH="$generated${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/python" -m pytest -p no:cacheprovider --basetemp="$generated/tmp" -rfE "$@"
