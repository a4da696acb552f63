#!/usr/bin/env bash
# The whole test suite on every ansible-core line the collection supports, or any part of it.
#
# Usage: scripts/test.sh [--core X.Y[,X.Y...]] [--jobs N] [--fail-fast] [stage ...]
#   stages: sanity units simulator integration e2e playbooks demo faults quality docs eda (default: all)
#
# Each stage runs in cells, one per ansible-core line (the matrix):
#   sanity                   2.16 (Python 3.11) and 2.21 (Python 3.12), no ignore file
#   units                    2.16, 2.18, 2.21
#   integration              2.16, 2.21   ansible-test integration targets against the simulator (on 2.16 also
#                                         with the modules on Python 3.7, the oldest tests/config.yml allows)
#   e2e                      2.16, 2.21   tests/e2e: request log, request counts and faults of playbook runs
#   playbooks                2.16, 2.21   tests/playbooks (role and playbooks), then tests/runner (ansible-runner)
#   demo                     2.16, 2.21   scripts/demo.sh
#   simulator, faults, quality   2.19, the tool venv .venv
#   eda                      2.19         tests/eda (the vps.cloud.snapshots event source: units, ansible-rulebook
#                                         e2e against the simulator) and scripts/lint_eda.sh, with .venvs/eda
#   docs                     2.19         scripts/docs.sh --check: the docs site, lint-collection-docs, headless Chromium
# --core X.Y   runs the stages given on that line only (no stage given: sanity units integration e2e playbooks demo);
#              2.19 is the tool venv.
# --jobs N     runs N cells at a time, each in its own copy of the layout, and prints a cell's output whole when it
#              ends (default 2, or $VPS_TEST_JOBS; --jobs 1 runs the cells in order and streams their output).
# Every cell runs even after one failed (--fail-fast: no new cell starts after a failure). The run fails if any
# cell failed, and ends with a table of cell, result and wall time.
# shellcheck disable=SC2317  # the stage_* functions are called by name ("stage_$stage")
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC1091
. "$(dirname "$0")/eda.sh"  # ensure_eda_venv, ensure_java17, EDA_VENV (stage eda)

ALL_STAGES=(sanity units simulator integration e2e playbooks demo faults quality docs eda)
CORE_STAGES=(sanity units integration e2e playbooks demo)
TOOL_STAGES=(simulator faults quality docs eda)

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

matrix_cores() {
    case "$1" in
        sanity) echo "2.16 2.21" ;;
        units) echo "2.16 2.18 2.21" ;;
        integration | e2e | playbooks | demo) echo "2.16 2.21" ;;
        simulator | faults | quality | docs | eda) echo "$DEFAULT_CORE" ;;
    esac
}

# Rough wall seconds of a cell on a busy 2-core machine: with --jobs, the longest cells start first.
stage_weight() {
    case "$1" in
        e2e) echo 400 ;;
        sanity) echo 250 ;;
        faults) echo 240 ;;
        playbooks) echo 200 ;;
        integration) echo 150 ;;
        quality) echo 120 ;;
        docs) echo 120 ;;
        eda) echo 150 ;;
        demo) echo 60 ;;
        *) echo 40 ;;
    esac
}

# The Pythons, besides the controller's, that the integration targets run the modules on for an ansible-core line:
# on the oldest line, the oldest Python tests/config.yml allows (python_requires ">=3.7"), from .venvs/target-3.7.
module_pythons() {
    case "$1" in
        2.16) echo 3.7 ;;
    esac
}

is_tool_stage() { case " ${TOOL_STAGES[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

cores_opt=""
fail_fast=0
njobs=${VPS_TEST_JOBS:-2}
stages=()
while [ $# -gt 0 ]; do
    case "$1" in
        --core) [ $# -ge 2 ] || { usage >&2; exit 2; }; cores_opt=${2//,/ }; shift 2 ;;
        --core=*) cores_opt=${1#--core=}; cores_opt=${cores_opt//,/ }; shift ;;
        --jobs) [ $# -ge 2 ] || { usage >&2; exit 2; }; njobs=$2; shift 2 ;;
        --jobs=*) njobs=${1#--jobs=}; shift ;;
        --fail-fast) fail_fast=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *)
            case " ${ALL_STAGES[*]} " in *" $1 "*) ;; *) echo "unknown stage: $1" >&2; usage >&2; exit 2 ;; esac
            stages+=("$1"); shift ;;
    esac
done
case "$njobs" in '' | *[!0-9]* | 0) echo "--jobs needs a positive number, got '$njobs'" >&2; exit 2 ;; esac
if [ ${#stages[@]} -eq 0 ]; then
    if [ -n "$cores_opt" ]; then stages=("${CORE_STAGES[@]}"); else stages=("${ALL_STAGES[@]}"); fi
fi
for core in $cores_opt; do
    case "$core" in
        "$DEFAULT_CORE") ;;
        *) [ -f "$REPO_ROOT/tests/constraints-core-$core.txt" ] || { echo "--core $core: no tests/constraints-core-$core.txt" >&2; exit 2; } ;;
    esac
done

# The cells, in the order of the summary: "stage core".
CELLS=()
for stage in "${stages[@]}"; do
    if is_tool_stage "$stage"; then
        if [ -n "$cores_opt" ] && [ "$cores_opt" != "$DEFAULT_CORE" ]; then
            echo "note: $stage runs on the tool venv (ansible-core $DEFAULT_CORE) only, whatever --core says" >&2
        fi
        CELLS+=("$stage $DEFAULT_CORE")
        continue
    fi
    for core in ${cores_opt:-$(matrix_cores "$stage")}; do
        CELLS+=("$stage $core")
    done
done
[ "$njobs" -le ${#CELLS[@]} ] || njobs=${#CELLS[@]}

# Results (one line per cell: name|status|seconds|note), cell logs and notes live here until the summary is printed.
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vps-test-run.XXXXXX")
RESULTS=$RUN_DIR/results
: >"$RESULTS"
RUN_START=$SECONDS
SETUP_DONE=0

cell_name() { printf '%s@%s' "${1% *}" "${1#* }"; }

append_result() { printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# The queue position the next free worker takes.
next_index() {
    local n
    n=$(cat "$RUN_DIR/next" 2>/dev/null || echo 0)
    echo $((n + 1)) >"$RUN_DIR/next"
    echo "$n"
}

# Under a lock: workers write results and print whole cell logs one at a time.
locked() {
    (
        flock 9
        "$@"
    ) 9>"$RUN_DIR/.lock"
}

# Stop a process and everything it started (children first), for an interrupted run.
kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}

print_summary() {
    local rc=$?
    trap - EXIT
    # Stop workers still running (interrupted run), then report.
    local pid
    for pid in $(jobs -p); do kill_tree "$pid"; done
    wait 2>/dev/null || true
    if [ "$SETUP_DONE" -eq 0 ]; then
        printf 'setup|FAILED (exit %s)|%s|venvs or layout\n' "$rc" $((SECONDS - RUN_START)) >>"$RESULTS"
    fi
    local cell name line status seconds rest note failed=0 failed_names=""
    printf '\n==> Summary: wall time of each cell (ansible-core line after the @), %s at a time\n' "$njobs"
    printf '    %-22s %-18s %8s  %s\n' "cell" "result" "seconds" "note"
    for name in setup $(for cell in "${CELLS[@]}"; do cell_name "$cell"; printf ' '; done); do
        line=$(grep -m1 "^$name|" "$RESULTS" || true)
        if [ -z "$line" ]; then
            [ "$name" = setup ] && continue
            if [ -e "$RUN_DIR/$name.note" ]; then line="$name|FAILED (stopped)|-|interrupted"; else line="$name|not run|-|"; fi
        fi
        rest=${line#*|}; status=${rest%%|*}; rest=${rest#*|}; seconds=${rest%%|*}; note=${rest#*|}
        printf '    %-22s %-18s %8s  %s\n' "$name" "$status" "$seconds" "$note"
        case "$status" in FAILED*) failed=$((failed + 1)); failed_names="$failed_names $name" ;; esac
    done
    printf '    %-22s %-18s %8s\n' "total (wall)" "" $((SECONDS - RUN_START))
    rm -rf "$RUN_DIR"
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        printf '\n==> FAILED (exit %s): %s cell(s) failed:%s\n' "$rc" "$failed" "$failed_names"
        [ "$rc" -ne 0 ] || rc=1
    else
        printf '\n==> All cells passed\n'
    fi
    exit "$rc"
}
trap print_summary EXIT
trap 'exit 130' INT TERM

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
# Each worker has its own pytest base temp folder, beside its layout. The folder holding ansible_collections is on
# PYTHONPATH: the tests import the harness as ansible_collections.vps.cloud.tests.harness (and the simulator as
# ansible_collections.vps.cloud.tools.vps_simulator), as under ansible-test units.
run_pytest() {
    local rc=0
    PYTHONPATH=$LAYOUT_ROOT${PYTHONPATH:+:$PYTHONPATH} \
        python -m pytest -p no:cacheprovider --basetemp "$LAYOUT_ROOT/pytest-tmp" "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
    return "$rc"
}

# A remark for the summary table, from inside a cell.
note() { printf '%s ' "$*" >>"$CELL_NOTE_FILE"; }

# --- The stages, run inside a cell: the core's venv is active and the working directory is the laid-out collection.

stage_sanity() {
    local core=$1
    if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then echo "a sanity ignore file exists: fix the code instead" >&2; return 1; fi
    log "ansible-test sanity (ansible-core $core), no ignore file; compile and import on the Pythons here: $(available_pythons python)"
    ansible-test sanity --venv --color no
}

stage_units() {
    local core=$1
    log "ansible-test units (ansible-core $core, Python $(core_python_version "$core"))"
    ansible-test units --venv --python "$(core_python_version "$core")" --color no --requirements
}

stage_integration() {
    local core=$1
    # Global, not local: the EXIT trap runs when the cell's subshell ends, after this function has returned.
    INTEGRATION_WORK=$(mktemp -d "${TMPDIR:-/tmp}/vps-integration.XXXXXX")
    local work=$INTEGRATION_WORK
    trap 'stop_simulator; rm -rf "$INTEGRATION_WORK" tests/integration/integration_config.yml' EXIT
    write_integration_config "$work"
    local rc=0 py py_rc
    log "ansible-test integration (ansible-core $core): tests/integration/targets against the simulator"
    ansible-test integration --local --color no || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "targets failed"
    fi
    for py in $(module_pythons "$core"); do
        log "ansible-test integration (ansible-core $core): the targets again, the modules on Python $py ($(target_venv "$py"))"
        py_rc=0
        ansible-test integration --color no --target "controller:python=$py@$(target_venv "$py")/bin/python" || py_rc=$?
        if [ "$py_rc" -ne 0 ]; then
            rc=$py_rc
            note "targets on Python $py failed"
        fi
    done
    return "$rc"
}

stage_e2e() {
    local core=$1
    log "pytest tests/e2e (ansible-core $core): request log, request counts and faults of real ansible-playbook runs"
    run_pytest -q tests/e2e
}

stage_playbooks() {
    local core=$1
    # tests/runner: the ansible-runner run of vps.cloud.pre_upgrade, AWX's engine on this ansible-core line (the EE pins 2.16).
    local suites=(tests/playbooks tests/runner)
    log "pytest ${suites[*]} (ansible-core $core): the role and the playbooks, and through ansible-runner"
    # As root on Linux the quiesce tests freeze real loop-mounted filesystems; they must not be skipped there.
    if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then export VPS_REQUIRE_LOOP=1; fi
    run_pytest -q "${suites[@]}"
}

stage_demo() {
    local core=$1
    VPS_CORE=$core bash "$REPO_ROOT/scripts/demo.sh"
}

stage_simulator() {
    log "Simulator tests"
    run_pytest -q tests/simulator
}

stage_faults() {
    log "Fault, concurrency, secrets, TLS and bad-input suite"
    run_pytest -q tests/faults
}

stage_quality() {
    log "ansible-lint, galaxy-importer, antsibull-docs, ansible-builder, ansible-runner"
    bash "$REPO_ROOT/scripts/quality.sh" "$COLLECTION_DIR"
}

# The event source vps.cloud.snapshots: its unit tests (HTTP mocked, virtual clock), the shipped rulebook run by
# ansible-rulebook (.venvs/eda) against the simulator, and ruff and pylint on extensions/eda/plugins.
stage_eda() {
    local rc=0
    export VPS_EDA_VENV=$EDA_VENV PYTHONPATH=$LAYOUT_ROOT${PYTHONPATH:+:$PYTHONPATH}
    log "pytest tests/eda: the event source's unit tests, and ansible-rulebook running vps.cloud.snapshots ($("$EDA_VENV/bin/ansible-rulebook" --version 2>/dev/null | head -1))"
    run_pytest -q tests/eda || { rc=1; note "tests failed"; }
    bash "$REPO_ROOT/scripts/lint_eda.sh" "$COLLECTION_DIR" || { rc=1; note "lint findings"; }
    return "$rc"
}

stage_docs() {
    log "The docs site (warnings are errors), antsibull-docs lint-collection-docs, the browser check"
    # The site and the screenshots stay beside the worker's layout, as test artefacts.
    bash "$REPO_ROOT/scripts/docs.sh" --check --dest "$LAYOUT_ROOT/docs"
    note "site, screenshots: $LAYOUT_ROOT/docs"
    log "pytest tests/docs: the browser check fails on broken links, missing anchors, empty pages and unreachable guides"
    VPS_REQUIRE_CHROMIUM=1 run_pytest -q tests/docs
}

# --- Running cells. Worker k lays the collection out in its own folder: ansible-test keeps its state in tests/output.

BASE_LAYOUT_ROOT=$LAYOUT_ROOT
worker_root() { if [ "$1" -eq 1 ]; then echo "$BASE_LAYOUT_ROOT"; else echo "$BASE_LAYOUT_ROOT-worker$1"; fi; }

use_worker() {
    LAYOUT_ROOT=$(worker_root "$1")
    COLLECTION_DIR=$LAYOUT_ROOT/ansible_collections/vps/cloud
    export VPS_LAYOUT_ROOT=$LAYOUT_ROOT
}

# run_cell <"stage core"> <worker>: runs it, records its result; returns 1 if it failed.
run_cell() {
    local stage=${1% *} core=${1#* } worker=$2 name rc start seconds status
    name=$(cell_name "$1")
    export CELL_NOTE_FILE=$RUN_DIR/$name.note
    : >"$CELL_NOTE_FILE"
    start=$SECONDS
    set +e
    (
        set -euo pipefail
        use_worker "$worker"
        export VPS_LAYOUT_READY=$COLLECTION_DIR ANSIBLE_COLLECTIONS_PATH=$LAYOUT_ROOT
        activate_core "$core"
        prepare_ansible_test "$(command -v python)"
        cd "$COLLECTION_DIR"
        "stage_$stage" "$core"
    )
    rc=$?
    set -e
    seconds=$((SECONDS - start))
    case "$rc" in
        0) status=passed ;;
        *) status="FAILED (exit $rc)" ;;
    esac
    locked append_result "$name" "$status" "$seconds" "$(cat "$CELL_NOTE_FILE")"
    log "[$name] $status in ${seconds}s $(cat "$CELL_NOTE_FILE")"
    [ "$rc" -eq 0 ]
}

# Worker k takes the next cell of the queue until none is left; each cell's output is printed whole when it ends.
worker() {
    local worker=$1 index cell name
    while :; do
        if [ "$fail_fast" -eq 1 ] && [ -e "$RUN_DIR/stop" ]; then return 0; fi
        index=$(locked next_index)
        [ "$index" -lt ${#QUEUE[@]} ] || return 0
        cell=${QUEUE[$index]}
        name=$(cell_name "$cell")
        printf '==> [%s] started (worker %s, %ss into the run)\n' "$name" "$worker" $((SECONDS - RUN_START))
        if run_cell "$cell" "$worker" >"$RUN_DIR/$name.log" 2>&1; then :; else touch "$RUN_DIR/stop"; fi
        locked cat "$RUN_DIR/$name.log"
    done
}

# --- Setup: the venvs the cells need (built side by side, only when pins changed), shellcheck, the layouts.

log "Setup: cells $(for c in "${CELLS[@]}"; do cell_name "$c"; printf ' '; done)"
needed=("$DEFAULT_CORE")  # the tool venv runs the simulator for the targets and the tool stages
for cell in "${CELLS[@]}"; do
    core=${cell#* }
    case " ${needed[*]} " in *" $core "*) ;; *) needed+=("$core") ;; esac
    if [ "${cell% *}" = integration ]; then
        for py in $(module_pythons "$core"); do
            case " ${needed[*]} " in *" target-$py "*) ;; *) needed+=("target-$py") ;; esac
        done
    fi
done
ensure_venvs "${needed[@]}"
case " ${CELLS[*]} " in *" sanity "*) ensure_shellcheck ;; esac
case " ${CELLS[*]} " in *" eda "*) ensure_eda_venv; ensure_java17 ;; esac
ensure_ansible_test_key
for worker_number in $(seq 1 "$njobs"); do
    use_worker "$worker_number"
    lay_out_collection
done
use_worker 1
for core in "${needed[@]}"; do
    case "$core" in
        target-*) printf '    modules on %-5s %s\n' "${core#target-}" "$("$(target_venv "${core#target-}")/bin/python" -V 2>&1)" ;;
        *) printf '    ansible-core %-5s %s\n' "$core" "$("$(core_venv "$core")/bin/ansible" --version 2>/dev/null | sed -n '1p;/python version/p' | tr -s ' ' | paste -sd ';' -)" ;;
    esac
done
printf 'setup|passed|%s|%s\n' $((SECONDS - RUN_START)) "venvs for ${needed[*]}" >>"$RESULTS"
SETUP_DONE=1

# --- The cells.

if [ "$njobs" -eq 1 ]; then
    for cell in "${CELLS[@]}"; do
        log "[$(cell_name "$cell")] starting"
        if ! run_cell "$cell" 1 && [ "$fail_fast" -eq 1 ]; then break; fi
    done
else
    # Longest first, so that the workers end close together.
    mapfile -t QUEUE < <(for cell in "${CELLS[@]}"; do printf '%s\t%s\n' "$(stage_weight "${cell% *}")" "$cell"; done \
        | sort -s -t $'\t' -k1,1nr | cut -f2)
    log "Running ${#QUEUE[@]} cells, $njobs at a time; each cell's output follows when it ends"
    pids=()
    for worker_number in $(seq 1 "$njobs"); do
        worker "$worker_number" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
fi
grep -q '|FAILED' "$RESULTS" && exit 1
exit 0
