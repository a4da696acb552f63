#!/usr/bin/env bash
# The performance benchmark: real ansible-playbook runs against the loopback simulator, and a model of what would take hours.
# Usage: bash tools/benchmark/run.sh [--quick] [--slices [N ...]]
#   full run (about 50 minutes on 2 cores): writes docs/performance.md, docs/performance.png and tools/benchmark/results.json
#   --quick (a few minutes): small fleets and 8 s creations; writes under $VPS_LAYOUT_ROOT/bench-quick/ instead
#   --slices [N ...]: only the job slices (issue #22; about 5 minutes for N=100, 12 for N=500): 4 concurrent pre_upgrade
#     runs against one batch, added to the JSON (key "slices") and the page re-rendered; the rest is kept as it was
# Set VPS_LAYOUT_ROOT to lay the collection out away from other runs (default: one folder per checkout under ${TMPDIR:-/tmp}, scripts/lib.sh).
set -euo pipefail
# shellcheck disable=SC1091
. "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib.sh"

quick=()
only=()
if [ "${1:-}" = "--quick" ]; then
    quick=(--quick)
    shift
fi
if [ "${1:-}" = "--slices" ]; then
    shift
    only=(--only slices)
    if [ $# -gt 0 ]; then
        only+=(--slice-sizes "$@")
    fi
    set --
fi
if [ $# -gt 0 ]; then
    echo "usage: bash tools/benchmark/run.sh [--quick] [--slices [N ...]]" >&2
    exit 2
fi

ensure_venv
activate_venv
lay_out_collection

work=$LAYOUT_ROOT/bench-work
rm -rf "$work"
mkdir -p "$work"
if [ ${#quick[@]} -gt 0 ]; then
    out=$LAYOUT_ROOT/bench-quick
    mkdir -p "$out"
    outputs=(--json "$out/results.json" --markdown "$out/performance.md" --chart "$out/performance.png")
    command="bash tools/benchmark/run.sh --quick"
else
    outputs=(--json "$REPO_ROOT/tools/benchmark/results.json" --markdown "$REPO_ROOT/docs/performance.md"
             --chart "$REPO_ROOT/docs/performance.png")
    command="bash tools/benchmark/run.sh"
fi

if [ ${#only[@]} -gt 0 ]; then
    command="$command --slices${only[3]:+ ${only[*]:3}}"
fi

log "Benchmark (${quick[*]:-full}${only[*]:+ ${only[*]}}); playbooks in $work"
cd "$COLLECTION_DIR"
# The benchmark imports the test harness (and the simulator) as ansible_collections.vps.cloud.tests.harness, as the tests do
# (scripts/test.sh): the folder holding ansible_collections goes on PYTHONPATH.
export PYTHONPATH=$LAYOUT_ROOT${PYTHONPATH:+:$PYTHONPATH}
python -m ansible_collections.vps.cloud.tools.benchmark.bench "${quick[@]}" "${only[@]}" --workdir "$work" --command "$command" \
    "${outputs[@]}"
