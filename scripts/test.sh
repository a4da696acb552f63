#!/usr/bin/env bash
# The whole test suite: sanity (every Python here), units, the simulator's tests, integration playbooks.
# Usage: scripts/test.sh [stage ...]
#   stages: sanity units simulator integration faults quality (default: all, in that order)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units simulator integration faults quality)

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
            log "ansible-test sanity, no ignore file; compile and import on every Python here: $(available_pythons)"
            if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then echo "a sanity ignore file exists: fix the code instead" >&2; exit 1; fi
            ensure_shellcheck
            ansible-test sanity --venv --color no
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
            run_pytest -q -p no:cacheprovider tests/e2e
            ;;
        faults)
            log "Fault, concurrency, secrets, TLS and bad-input suite"
            run_pytest -q -p no:cacheprovider tests/faults
            ;;
        quality)
            log "ansible-lint, galaxy-importer, antsibull-docs, ansible-builder, ansible-runner"
            bash "$REPO_ROOT/scripts/quality.sh" "$COLLECTION_DIR"
            ;;
        *) echo "unknown stage: $stage" >&2; exit 2 ;;
    esac
done
log "All requested stages passed: ${stages[*]}"
