#!/usr/bin/env bash
# A scripted tour of the plumbing in a temporary directory: an office node and two field
# sites edit offline, exchange change bundles (no network at all), show and resolve a conflict
# and end with equal digests; then a hub on loopback with CURVE keys and an allow-list, syncs,
# and the hub's reports. (`scripts/demo.sh` runs `sitesync demo`, the tour for users.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product sitesync >&2
bin="$PWD/.build/release/sitesync"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ sitesync'; printf ' %q' "$@"; printf '\n'; "$bin" "$@"; }

step "Three nodes: the central office and two road crews' laptops"
run init --data-dir office --node office-1 --department office --role office
run init --data-dir site-a --node site-a --department roads
run init --data-dir site-b --node site-b --department roads

step "The office plans a project (baselines are plan fields: only office nodes write them)"
run record put --data-dir office department roads name="Roads Bureau"
run record put --data-dir office project p1 code=R-001 name="Ring road, section 3" department=roads budget=1200000.50 \
    planned_start=2026-03-01 planned_finish=2026-12-31
run record put --data-dir office activity a1 project=p1 name="Earthworks" budget=300000 \
    ev_method=manual planned_start=2026-03-01 planned_finish=2026-06-30
run record put --data-dir office issue i1 project=p1 title="Drain blocked at km 2.4" assignees=wang priority=low opened_on=2026-03-02

step "No network: the plan goes to both sites on a USB stick"
run bundle export --data-dir office --output plan.bundle --all
run bundle import --data-dir site-a plan.bundle
run bundle import --data-dir site-b plan.bundle

step "Offline, both crews report on the same activity, log the same day and work the same issue"
run record put --data-dir site-a activity a1 actual_start=2026-03-05 status=in_progress remarks="Slow start: rain"
run record put --data-dir site-b activity a1 actual_start=2026-03-03 status=in_progress remarks="Ahead of plan"
run record put --data-dir site-a percent_entry new activity=a1 date=2026-05-15 percent=40
run record put --data-dir site-b percent_entry new activity=a1 date=2026-05-15 percent=55
run record put --data-dir site-a daily_log new project=p1 date=2026-11-30 weather=sunny crew_count=8
run record put --data-dir site-b daily_log new project=p1 date=2026-11-30 weather=sunny crew_count=12
run record put --data-dir site-a issue i1 assignees+=chen priority=high
run record put --data-dir site-b issue i1 assignees+=li assignees-=wang
run record put --data-dir site-a quantity_entry new activity=a1 date=2026-11-30 quantity=120.5
run record put --data-dir site-b quantity_entry new activity=a1 date=2026-11-30 quantity=80
echo "(a field site cannot change the plan:)"
run record put --data-dir site-a activity a1 budget=1 || true

step "Bundles travel, in any order, repeated: nothing is lost or counted twice"
run bundle export --data-dir site-a --output a.bundle --for office-1
run bundle export --data-dir site-b --output b.bundle --for office-1
run bundle import --data-dir office b.bundle
run bundle import --data-dir office a.bundle
run bundle import --data-dir office a.bundle
run bundle export --data-dir office --output to-a.bundle --for site-a
run bundle export --data-dir office --output to-b.bundle --for site-b
run bundle import --data-dir site-a to-a.bundle
run bundle import --data-dir site-b to-b.bundle

step "Merged field by field: the earliest start, one percentage of the day (the higher), one daily log with the larger crew, both assignees, both quantities"
run record get --data-dir office activity a1
run record list --data-dir office percent_entry
run record list --data-dir office daily_log
run record get --data-dir office issue i1
run record list --data-dir office quantity_entry

step "The two remarks are a real conflict: kept side by side until a person decides"
run conflicts --data-dir office
run resolve --data-dir site-a activity a1 remarks --value "Started 3 March; ahead of plan since"
run bundle export --data-dir site-a --output resolution.bundle --for office-1
run bundle import --data-dir office resolution.bundle
run bundle export --data-dir office --output to-b2.bundle --for site-b
run bundle import --data-dir site-b to-b2.bundle
run conflicts --data-dir site-b

step "Every replica that has seen the same changes shows the same data"
for node in office site-a site-b; do printf '%-8s ' "$node"; "$bin" digest --data-dir "$node"; done

step "With a network: a hub at the central office, on loopback ZeroMQ, CURVE and signed changes"
run init --data-dir hub --node hub-1 --department office --role hub --listen 'tcp://127.0.0.1:*'
hub_key=$("$bin" keys show --data-dir hub)
# The hub allows each node's key with the role and department it gets; each node pins the hub's key.
for spec in "office office-1 office office" "site-a site-a field roads" "site-b site-b field roads"; do
    read -r dir name role department <<< "$spec"
    run keys trust-hub --data-dir "$dir" "$hub_key"
    run keys allow --data-dir hub --node "$name" --department "$department" --role "$role" --key "$("$bin" keys show --data-dir "$dir")"
done
run keys list --data-dir hub
"$bin" serve --data-dir hub --quiet > hub.out 2> hub.log &
hub_pid=$!
trap 'kill $hub_pid 2>/dev/null; wait $hub_pid 2>/dev/null; rm -rf "$work"' EXIT
while ! grep -q 'listening on' hub.out; do sleep 0.1; done
endpoint=$(sed -n 's/listening on //p' hub.out)
echo "hub listening on $endpoint"
for node in office site-a site-b; do
    sed -i "s|^\[sync\]|[sync]\nhub = \"$endpoint\"|" "$node/node.toml"
done
run sync --data-dir office
run record put --data-dir site-b activity a1 status=completed actual_finish=2026-11-30
run sync --data-dir site-b
run sync --data-dir site-a
run sync --data-dir office
run record get --data-dir site-a activity a1
for node in hub office site-a site-b; do printf '%-8s ' "$node"; "$bin" digest --data-dir "$node" --department roads; done

step "At the hub: earned value, scores and early warnings over every department"
run report projects --data-dir hub --as-of 2026-05-15
run report departments --data-dir hub --as-of 2026-05-15
run audit verify --data-dir hub
