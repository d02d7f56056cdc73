#!/usr/bin/env bash
# The test command: set up, build, run every test (unit, property-based, end-to-end through
# the built binary), then the protocol's conformance suite: an independent Python client
# against the built binary (protocol/conformance/README.md), and the HTTP API's fuzzer against
# its contract (protocol/http-fuzz/run.sh), and the web dashboard in headless Chromium
# (tests/browser/run.sh).
# Usage: scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
protocol/conformance/run.sh "$(swift build --show-bin-path)/sitesync"
protocol/http-fuzz/run.sh "$(swift build --show-bin-path)/sitesync"
tests/browser/run.sh "$(swift build --show-bin-path)/sitesync"
