#!/usr/bin/env bash
# The main job: set up (missing Debian packages included), build, and run `sitesync demo`: a hub,
# an office and three field sites on loopback, plans, offline work, sync, conflicts, reports.
# Extra arguments go to `sitesync demo` (for instance --dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The debug build the test command also makes: the demo is small, and CI runs it right after
# the tests, where this build is already done.
swift build --product sitesync >&2
exec "$(swift build --show-bin-path)/sitesync" demo "$@"
