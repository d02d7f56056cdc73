#!/usr/bin/env bash
# Installs what SiteSync needs on a Debian machine, only when it is missing:
# the system libraries (libsqlite3-dev, libzmq3-dev, libpq-dev for hubs on PostgreSQL) and tools
# the tests use (sqlite3, tmux for the progress bar seen on a real terminal, python3 with venv
# for the protocol's conformance suite and the HTTP API's fuzzer, which install their own Python
# packages: protocol/conformance/run.sh, protocol/http-fuzz/run.sh; curl and openssl for the HTTP
# API's end-to-end tests: requests, and a throwaway TLS certificate; chromium and chromium-driver
# for the web dashboard's browser tests, tests/browser/run.sh, with fonts-noto-cjk so that its
# Chinese pages show their characters; postgresql, whose initdb and pg_ctl the PostgreSQL tests
# use to start a private cluster of their own: the package's own cluster is not used).
# Swift 6 itself is not a Debian package; it must already be on PATH.
set -euo pipefail

packages=(libsqlite3-dev libzmq3-dev libpq-dev postgresql sqlite3 tmux python3 python3-venv curl openssl chromium chromium-driver fonts-noto-cjk)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: run as root or install sudo to install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "setup: Swift 6 is not on PATH; install the Swift 6 toolchain for Debian 12 from swift.org and retry" >&2
    exit 1
fi
version=$(swift --version 2>&1 | sed -n 's/.*Swift version \([0-9]*\)\..*/\1/p' | head -n 1)
if [ "${version:-0}" -lt 6 ]; then
    echo "setup: SiteSync needs Swift 6 or later; found $(swift --version 2>&1 | head -n 1)" >&2
    exit 1
fi
