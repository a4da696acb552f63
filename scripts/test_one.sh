#!/usr/bin/env bash
# Run one test, or one file or folder of tests, from a plain checkout: lays the collection out itself.
#
# Usage: scripts/test_one.sh [--core X.Y] TEST [extra pytest or ansible-test arguments...]
#   TEST   a pytest node id or path under tests/ (tests/unit/..., tests/e2e/..., tests/playbooks/..., tests/faults/...,
#          tests/simulator/..., tests/runner/...), e.g. tests/unit/plugins/module_utils/test_client.py::test_x
#          or an ansible-test integration target: its name (vps_snapshot) or tests/integration/targets/NAME
#   --core X.Y   the ansible-core line to run it on (default 2.19, the tool venv; 2.16, 2.18 and 2.21 are pinned)
# Same as: make test-one T=TEST [CORE=X.Y]
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

core=$DEFAULT_CORE
while [ $# -gt 0 ]; do
    case "$1" in
        --core) [ $# -ge 2 ] || { usage >&2; exit 2; }; core=$2; shift 2 ;;
        --core=*) core=${1#--core=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) break ;;
    esac
done
if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "which test? give a pytest node id or an integration target" >&2
    usage >&2
    exit 2
fi
target=$1
shift
if [ "$core" != "$DEFAULT_CORE" ] && [ ! -f "$REPO_ROOT/tests/constraints-core-$core.txt" ]; then
    echo "--core $core: no tests/constraints-core-$core.txt (pinned: 2.16 2.18 2.21, and $DEFAULT_CORE)" >&2
    exit 2
fi

# What kind of test it is: a pytest path (before any ::) that exists, or an integration target.
test_path=${target%%::*}
kind=""
if [ -e "$REPO_ROOT/$test_path" ] && [ "${test_path#tests/integration/targets/}" = "$test_path" ]; then
    kind=pytest
else
    name=${test_path#tests/integration/targets/}
    name=${name%/}
    if [ -d "$REPO_ROOT/tests/integration/targets/$name" ]; then
        kind=integration
    fi
fi
if [ -z "$kind" ]; then
    echo "no such test: $target (neither a path under the checkout nor a folder in tests/integration/targets)" >&2
    exit 2
fi

needed=("$DEFAULT_CORE")  # the tool venv runs the simulator
[ "$core" = "$DEFAULT_CORE" ] || needed+=("$core")
ensure_venvs "${needed[@]}"
ensure_ansible_test_key
lay_out_collection
activate_core "$core"
prepare_ansible_test "$(command -v python)"
cd "$COLLECTION_DIR"

if [ "$kind" = pytest ]; then
    # The laid-out tree's parent of ansible_collections is importable, as under ansible-test units.
    rc=0
    PYTHONPATH=$LAYOUT_ROOT${PYTHONPATH:+:$PYTHONPATH} \
        python -m pytest -p no:cacheprovider --basetemp "$LAYOUT_ROOT/pytest-tmp" "$target" "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then echo "pytest collected no tests from $target: failing" >&2; exit 1; fi
    exit "$rc"
fi

INTEGRATION_WORK=$(mktemp -d "${TMPDIR:-/tmp}/vps-integration.XXXXXX")
trap 'stop_simulator; rm -rf "$INTEGRATION_WORK" "$COLLECTION_DIR/tests/integration/integration_config.yml"' EXIT
write_integration_config "$INTEGRATION_WORK"
ansible-test integration --local --color no "$name" "$@"
