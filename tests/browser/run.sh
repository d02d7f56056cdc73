#!/usr/bin/env bash
# The web dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver,
# which scripts/setup.sh installs) driven by Selenium against `sitesync serve --http` over the
# demo's hub, with two people added as an administrator would: an office person and the roads
# department head. dashboard_test.py signs them in, follows the links, switches the language,
# resolves a conflict, and watches the overview change by itself after a site syncs; it opens
# every page in both languages (the planning pages and the project's forecast too), leaves and
# answers a suggestion, and saves a screenshot of each page. Then the server must stop cleanly on SIGTERM. Last, the demo on a
# terminal (tmux gives it one) must leave its dashboard running with the person it prints, until
# Ctrl-C stops both.
# Usage: tests/browser/run.sh PATH/TO/sitesync
# Needs PyPI access the first time: Selenium goes into .build/browser-venv, created once and
# reused while requirements.txt is unchanged. Screenshots go to $SITESYNC_SCREENSHOTS (default
# .build/screenshots/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/http-server.sh
source "$root/scripts/http-server.sh"
if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/sitesync" >&2
    exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
if [ ! -x "$binary" ]; then
    echo "browser: $binary is not an executable; build it first (swift build)" >&2
    exit 2
fi
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$tool" ] || { echo "browser: $tool is missing; run scripts/setup.sh (it installs chromium and chromium-driver)" >&2; exit 2; }
done

venv="${BROWSER_VENV:-$root/.build/browser-venv}"
"$root/scripts/python-venv.sh" "$venv" "$here/requirements.txt" browser
screenshots="${SITESYNC_SCREENSHOTS:-$root/.build/screenshots}"
mkdir -p "$screenshots"

work="$(mktemp -d)"
server=""
socket="sitesync-browser-$$"
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The demo's hub: three departments' plans, progress, costs, risks, KPIs, a fleet. Not on a
# terminal, the demo stops its hub at the end and leaves no dashboard running.
demo="$work/demo"
"$binary" demo --dir "$demo" --no-dashboard >"$work/demo.log" 2>&1 || {
    cat "$work/demo.log" >&2
    echo "browser: the demo failed" >&2
    exit 1
}
hub="$demo/hub"
password="browser test password"
add_person() {
    printf '%s\n' "$password" | "$binary" user add --data-dir "$hub" "$@" >/dev/null || {
        echo "browser: user add $* failed" >&2
        exit 1
    }
}
add_person --name office-browser --role office
add_person --name roads-head --role department_head --department roads

start_http_server browser "$binary" "$hub" "$work"
hub_key="$("$binary" keys show --data-dir "$hub" | tr -d '[:space:]')"

# The nodes' configuration names the demo's hub at its old port: the sites sync with this
# server through --peer.
sync_with_hub() {
    "$binary" sync --data-dir "$demo/$1" --peer "$endpoint" --peer-key "$hub_key" >/dev/null || {
        echo "browser: sync of $1 with the hub failed" >&2
        exit 1
    }
}

# An open conflict for the office person to resolve in the page: the office and a road crew
# write the same activity's remarks offline, then both sync.
kerbs="$("$binary" activity list --data-dir "$demo/site-r1" R-101 | awk '$3 == "Kerbs" { print $1 }')"
[ -n "$kerbs" ] || { echo "browser: the demo has no R-101 Kerbs activity at site-r1" >&2; exit 1; }
"$binary" record put --data-dir "$demo/office" activity "$kerbs" "remarks=Office: kerbs wait for the stone delivery" >/dev/null
"$binary" record put --data-dir "$demo/site-r1" activity "$kerbs" "remarks=Crew: first 200 m of kerbs set" >/dev/null
sync_with_hub site-r1
sync_with_hub office
open_conflicts="$("$binary" conflicts --data-dir "$hub")"
grep -q "$kerbs" <<<"$open_conflicts" || {
    echo "$open_conflicts" >&2
    echo "browser: the hub shows no open conflict on the kerbs' remarks; the test needs one" >&2
    exit 1
}

# A template in the library for the planning pages.
"$binary" template import --data-dir "$demo/office" "$root/config/templates/park.toml" >/dev/null
sync_with_hub office

started=$SECONDS
SITESYNC="$binary" DEMO="$demo" HUB_ENDPOINT="$endpoint" HUB_KEY="$hub_key" URL="$url" PASSWORD="$password" \
    CONFLICT_ID="$kerbs" SCREENSHOTS="$screenshots" "$venv/bin/python" "$here/dashboard_test.py"
echo "browser: the pages passed in $((SECONDS - started)) s; screenshots in $screenshots"

stop_http_server browser "$work"
echo "browser: the server stopped cleanly on SIGTERM"

# The demo on a terminal. bash traps SIGINT (a handler, reset for the demo it starts) so that it
# outlives the Ctrl-C and writes the demo's exit status.
cat >"$work/terminal-demo.sh" <<END
trap : INT
'$binary' demo --dir '$work/terminal-demo'
echo \$? >'$work/demo-exit'
sleep 60
END
tmux -L "$socket" new-session -d -x 200 -y 50 -s demo "bash '$work/terminal-demo.sh'"
screen=""
for _ in $(seq 1 900); do
    screen="$(tmux -L "$socket" capture-pane -p -S -60 -t demo)"
    grep -q '^Press Ctrl-C' <<<"$screen" && break
    sleep 0.1
done
grep -q '^Press Ctrl-C' <<<"$screen" || { echo "$screen" >&2; echo "browser: the demo on a terminal did not leave its dashboard running" >&2; exit 1; }
demo_url="$(awk '/^Dashboard:/ { print $2 }' <<<"$screen")"
demo_name="$(awk '/^Sign in as:/ { print $4 }' <<<"$screen")"
demo_password="$(awk '/^Password:/ { print $2 }' <<<"$screen")"
answer="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --data-urlencode "name=$demo_name" \
    --data-urlencode "password=$demo_password" "$demo_url/login")"
[ "$answer" = "303 $demo_url/" ] || {
    echo "$screen" >&2
    echo "browser: signing in to the demo's dashboard at $demo_url as '$demo_name' answered '$answer' (expected 303 to /)" >&2
    exit 1
}
tmux -L "$socket" send-keys -t demo C-c
for _ in $(seq 1 100); do
    [ -s "$work/demo-exit" ] && break
    sleep 0.1
done
[ "$(cat "$work/demo-exit" 2>/dev/null)" = 0 ] || {
    tmux -L "$socket" capture-pane -p -S -20 -t demo >&2
    echo "browser: the demo did not end with status 0 within 10 s of Ctrl-C" >&2
    exit 1
}
if curl -s -o /dev/null "$demo_url/login"; then
    echo "browser: the demo's dashboard at $demo_url still answers after Ctrl-C" >&2
    exit 1
fi
echo "browser: the demo on a terminal left its dashboard at $demo_url for $demo_name; Ctrl-C stopped it"
