#!/usr/bin/env bash
# The performance benchmark: real ansible-playbook runs against the loopback simulator, and a model of what would take hours.
# Usage: bash tools/benchmark/run.sh [--quick]
#   full run (about 50 minutes on 2 cores): writes docs/performance.md, docs/performance.png and tools/benchmark/results.json
#   --quick (a few minutes): small fleets and 8 s creations; writes under $VPS_LAYOUT_ROOT/bench-quick/ instead
# Set VPS_LAYOUT_ROOT to lay the collection out away from other runs (default: one folder per checkout under ${TMPDIR:-/tmp}, scripts/lib.sh).
set -euo pipefail
# shellcheck disable=SC1091
. "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib.sh"

quick=()
if [ "${1:-}" = "--quick" ]; then
    quick=(--quick)
elif [ $# -gt 0 ]; then
    echo "usage: bash tools/benchmark/run.sh [--quick]" >&2
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

log "Benchmark (${quick[*]:-full}); playbooks in $work"
cd "$COLLECTION_DIR"
python tools/benchmark/bench.py "${quick[@]}" --workdir "$work" --command "$command" "${outputs[@]}"
