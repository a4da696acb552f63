#!/usr/bin/env bash
# The whole test suite: sanity (every Python here), units, the simulator's tests, integration playbooks.
# Usage: scripts/test.sh [stage ...]   stages: sanity units simulator integration (default: all)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units simulator integration)

ensure_venv
activate_venv
lay_out_collection
prepare_ansible_test

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
run_pytest() {
    local rc=0
    python -m pytest "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
    return "$rc"
}

cd "$COLLECTION_DIR"
for stage in "${stages[@]}"; do
    case "$stage" in
        sanity)
            pythons=$(available_pythons)
            log "ansible-test sanity (no ignore file) on Python: $pythons"
            test ! -e tests/sanity || ! ls tests/sanity/ignore-*.txt >/dev/null 2>&1 || { echo "a sanity ignore file exists" >&2; exit 1; }
            for version in $pythons; do
                ansible-test sanity --venv --python "$version" --color no
            done
            ;;
        units)
            log "ansible-test units"
            ansible-test units --venv --python 3.11 --color no --requirements
            ;;
        simulator)
            log "Simulator tests"
            run_pytest -q -p no:cacheprovider tests/simulator
            ;;
        integration)
            log "Integration: real ansible-playbook runs against the simulator"
            run_pytest -q -p no:cacheprovider tests/integration/pytest
            ;;
        *) echo "unknown stage: $stage" >&2; exit 2 ;;
    esac
done
log "All requested stages passed: ${stages[*]}"
