#!/usr/bin/env bash
# `make demo`: the whole "snapshot, upgrade, roll back on failure" story against a local simulator.
# Sets up the tools, starts the provider simulator with three fake servers, runs vps.cloud.pre_upgrade twice
# (an upgrade that works, one that fails on purpose and is rolled back), shows vps.cloud.report, and checks
# in the simulator's own records that exactly the right server was restored. Exit 0 only if all of that held.
# VPS_CORE=X.Y (make demo CORE=X.Y) runs it with that ansible-core line's venv (.venvs/core-X.Y) instead of .venv.
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

BOLD="" PLAIN=""
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; fi
banner() {
    printf '\n%s========================================================================\n' "$BOLD"
    printf '%s\n' "$@"
    printf '========================================================================%s\n' "$PLAIN"
}
die() { printf '\nDEMO FAILED: %s\n' "$*" >&2; exit 1; }

CORE=${VPS_CORE:-$DEFAULT_CORE}
banner "Step 1/6: tools and collection" \
    "A Python venv with ansible-core $CORE (created on first run), and the collection copied to" \
    "$COLLECTION_DIR so that 'vps.cloud.*' names resolve."
ensure_core_venv "$CORE"
activate_core "$CORE"
lay_out_collection
# Read the whole output first: a pipe into head would close early and break ansible's stdout (BrokenPipeError).
ansible_version=$(ansible --version 2>&1) || die "ansible --version failed: $ansible_version"
echo "ansible-playbook: $(command -v ansible-playbook) (${ansible_version%%$'\n'*})"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vps-demo.XXXXXX")
SIM_PID=""
cleanup() {
    local rc=$?
    if [ -n "$SIM_PID" ]; then
        stop_simulator
        echo "Simulator stopped."
    fi
    if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "Demo files kept for a look: $WORK" >&2; fi
}
trap cleanup EXIT

# A fresh random token for this run only; the modules read it from VPS_API_TOKEN and never print it.
VPS_API_TOKEN=$(python -c 'import secrets; print("demo-" + secrets.token_urlsafe(24))')
export VPS_API_TOKEN

cat > "$WORK/seed.json" <<'JSON'
[
  {"id": 101, "name": "web-01", "status": "running"},
  {"id": 102, "name": "web-02", "status": "running"},
  {"id": 103, "name": "db-01", "status": "running"}
]
JSON

cat > "$WORK/inventory.yml" <<'YAML'
---
# Three fake hosts run locally; vps_server_id maps each one to its server at the (simulated) provider.
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  children:
    web:
      hosts:
        web-1:
          vps_server_id: 101
        web-2:
          vps_server_id: 102
    db:
      hosts:
        db-1:
          vps_server_id: 103
YAML

banner "Step 2/6: start the provider simulator" \
    "A local stand-in for the provider's Snapshots API: 3 servers (web-01, web-02, db-01)," \
    "snapshots take 3 s and restores 4 s instead of minutes. It is stopped when the demo ends."
# The simulator runs on the active venv's Python (every venv here has Flask); start_simulator reads SIM_PYTHON.
# shellcheck disable=SC2034
SIM_PYTHON=$(command -v python)
start_simulator "$WORK" "$VPS_API_TOKEN" --seed "$WORK/seed.json" --create-seconds 3 --restore-seconds 4 \
    || die "the simulator did not start"
VPS_API_URL=$SIM_URL
export VPS_API_URL
SIM_BASE=${VPS_API_URL%/api/v1}
echo "Simulator listening on $VPS_API_URL (token in VPS_API_TOKEN, not shown)."

export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_RETRY_FILES_ENABLED=false
# A fact cache, as "The report" in docs/docsite/rst/pre_upgrade.rst says: pre_upgrade stores each host's outcome there
# (pre_upgrade_outcome), and the report, a run of its own, reads it from there for its HOST OUTCOME column (AWX/AAP:
# enable fact storage).
export ANSIBLE_CACHE_PLUGIN=jsonfile ANSIBLE_CACHE_PLUGIN_CONNECTION="$WORK/facts"
DEMO_TASKS=$COLLECTION_DIR/playbooks/demo/tasks
cd "$WORK"

banner "Step 3/6: dry run with --check" \
    "Check mode shows the plan for every host; nothing is snapshotted, upgraded, restored or deleted."
ansible-playbook -i inventory.yml vps.cloud.pre_upgrade --check 2>&1 | tee "$WORK/run-check.log"

banner "Step 4/6: an upgrade that works, on web-1, from a consistent snapshot" \
    "pre_upgrade stops web-1's demo application (pre_upgrade_quiesce=tasks, playbooks/demo/tasks/app_stop.yml)," \
    "snapshots server 101, starts the application again once the snapshot has completed (app_start.yml), runs" \
    "the upgrade (upgrade_ok.yml), checks health, and keeps the snapshot (pre_upgrade_keep_snapshot=true)."
mkdir -p "$WORK/app" && touch "$WORK/app/app.running"
ok_rc=0
ansible-playbook -i inventory.yml vps.cloud.pre_upgrade \
    -e pre_upgrade_hosts=web-1 -e pre_upgrade_snapshot_name=before-app-v2 \
    -e pre_upgrade_quiesce=tasks -e "pre_upgrade_quiesce_tasks_file=$DEMO_TASKS/app_stop.yml" \
    -e "pre_upgrade_thaw_tasks_file=$DEMO_TASKS/app_start.yml" -e "demo_app_state_dir=$WORK/app" \
    -e "pre_upgrade_tasks_file=$DEMO_TASKS/upgrade_ok.yml" -e pre_upgrade_keep_snapshot=true \
    2>&1 | tee "$WORK/run-ok.log" || ok_rc=$?
[ "$ok_rc" -eq 0 ] || die "the working upgrade should have succeeded (ansible-playbook exit $ok_rc)"

banner "Step 5/6: an upgrade that fails on purpose, on web-2" \
    "playbooks/demo/tasks/upgrade_fail.yml fails like a broken package would. pre_upgrade then restores" \
    "server 102 from the snapshot it just took, and marks web-2 failed: the play failing is expected here."
fail_rc=0
ansible-playbook -i inventory.yml vps.cloud.pre_upgrade \
    -e pre_upgrade_hosts=web-2 -e pre_upgrade_snapshot_name=before-app-v3 \
    -e "pre_upgrade_tasks_file=$DEMO_TASKS/upgrade_fail.yml" \
    2>&1 | tee "$WORK/run-fail.log" || fail_rc=$?
[ "$fail_rc" -ne 0 ] || die "the failing upgrade should have made ansible-playbook fail"
echo "ansible-playbook exited $fail_rc, as expected for a rolled-back host."

banner "Step 6/6: the report, and a check of what the simulator saw" \
    "vps.cloud.report lists every snapshot of the account as a table, and writes it as CSV too;" \
    "its HOST OUTCOME column comes from the fact cache the pre_upgrade runs wrote (the dry run writes none)."
ansible-playbook -i inventory.yml vps.cloud.report -e "report_output_path=$WORK/report.csv" \
    2>&1 | tee "$WORK/run-report.log"
printf '\nThe same report as CSV (report_output_path=report.csv):\n'
cat "$WORK/report.csv"

curl_json() { python -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
curl_json "$SIM_BASE/_sim/log" >"$WORK/sim-log.json"
curl_json "$SIM_BASE/_sim/state" >"$WORK/sim-state.json"

# The simulator's request log and state are the evidence: restores seen, snapshots and server states.
python - "$WORK" <<'PY'
import csv, io, json, pathlib, re, sys

work = pathlib.Path(sys.argv[1])
log = json.loads((work / "sim-log.json").read_text())
state = json.loads((work / "sim-state.json").read_text())
snaps = {s["id"]: s for s in state["snapshots"]}
servers = {s["id"]: s for s in state["servers"]}
restores = []
for entry in log:
    m = re.fullmatch(r"/api/v1/snapshots/(\d+)/restore/", entry["path"])
    if entry["method"] == "POST" and m and entry["status"] == 200:
        restores.append(int(m.group(1)))
restored_servers = {snaps[i]["server"]["id"] for i in restores if i in snaps}

def named(server_id, name):
    return [s for s in state["snapshots"] if s["server"]["id"] == server_id and s["name"] == name]

problems = []
v2 = named(101, "before-app-v2")
v3 = named(102, "before-app-v3")
if len(v2) != 1 or v2[0]["status"] != "completed":
    problems.append("web-1's snapshot before-app-v2 should be kept and completed")
elif not v2[0]["description"].endswith("[vps.cloud quiesce: tasks held until completed]"):
    problems.append("web-1's snapshot should note that it was quiesced: %r" % v2[0]["description"])
if not (work / "app" / "app.running").exists():
    problems.append("web-1's demo application was not started again after its snapshot")
if "quiesced (tasks until completed)" not in (work / "run-report.log").read_text():
    problems.append("the report does not show web-1's snapshot as quiesced")
# The HOST OUTCOME of each host's snapshot, in the CSV and in the table, from the fact cache of the earlier runs.
report_rows = dict((r["name"], r) for r in csv.DictReader(io.StringIO((work / "report.csv").read_text())))
report_log = (work / "run-report.log").read_text()
for name, outcome in (("before-app-v2", "upgraded"), ("before-app-v3", "rolled back and healthy")):
    shown = report_rows.get(name, {}).get("host_outcome")
    if shown != outcome:
        problems.append("the report's HOST OUTCOME of %s should be %r, is %r" % (name, outcome, shown))
    elif not re.search(r"\b%s\b.*  %s\"?,?$" % (re.escape(name), re.escape(outcome)), report_log, re.M):
        problems.append("the report's table does not show %r next to %s" % (outcome, name))
if len(v3) != 1:
    problems.append("web-2's snapshot before-app-v3 should exist")
elif restores != [v3[0]["id"]]:
    problems.append("expected exactly one restore, of snapshot %s; the simulator saw %s" % (v3[0]["id"], restores))
if 101 in restored_servers or 103 in restored_servers:
    problems.append("web-1 or db-1 was restored, which should not happen")
if named(103, "before-app-v2") or named(103, "before-app-v3") or any(s["server"]["id"] == 103 for s in state["snapshots"]):
    problems.append("db-1 only took part in the dry run; it should have no snapshot")
for sid in (101, 102):
    if servers[sid]["status"] != "running":
        problems.append("server %s should be running, is %s" % (sid, servers[sid]["status"]))
token_seen = [p.name for p in work.glob("run-*.log") if __import__("os").environ["VPS_API_TOKEN"] in p.read_text()]
if token_seen:
    problems.append("the API token was printed in: %s" % ", ".join(token_seen))
if "ROLLED BACK" not in (work / "run-fail.log").read_text():
    problems.append("the failing run did not report its rollback")

print("\nWhat the simulator recorded:")
print("  %-6s %-7s %-9s %-24s %s" % ("HOST", "SERVER", "STATUS", "UPGRADE", "OUTCOME"))
print("  %-6s %-7s %-9s %-24s %s" % ("web-1", 101, servers[101]["status"], "app v2: succeeded",
                                   "kept on its new state; snapshot before-app-v2 kept, never restored"))
print("  %-6s %-7s %-9s %-24s %s" % ("web-2", 102, servers[102]["status"], "app v3: failed",
                                   "rolled back: restored from snapshot before-app-v3 (id %s)" % (v3[0]["id"] if v3 else "?")))
print("  %-6s %-7s %-9s %-24s %s" % ("db-1", 103, servers[103]["status"], "dry run only", "untouched"))
print("  restore requests seen by the API: %s; API token in the output: %s" % (restores, "yes" if token_seen else "no"))
if problems:
    print("\nDEMO FAILED:\n  - " + "\n  - ".join(problems), file=sys.stderr)
    sys.exit(1)
PY

banner "Demo finished as expected" \
    "web-1 upgraded and kept its new state; web-2's failed upgrade was rolled back from its snapshot." \
    "Both snapshots are in the report above; its CONSISTENCY column shows web-1's as quiesced, and its" \
    "HOST OUTCOME column each host's outcome: upgraded, rolled back and healthy." \
    "Try: ansible-doc -t role vps.cloud.snapshot_guard"
