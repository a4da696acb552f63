#!/usr/bin/env bash
# Mutation testing of plugins/ with the unit tests (mutmut 3.8.1), a score per file and the survivors.
#
# Usage: scripts/mutation.sh [--threshold PERCENT] [--tests PATH]... [--jobs N] [--work DIR] [FILE|DIR ...]
#   FILE|DIR      what to mutate, relative to the repository root (default: plugins/module_utils plugins/modules);
#                 one file is the quick loop: scripts/mutation.sh plugins/module_utils/wait.py
#   --threshold   the lowest total score that passes, in percent of the non-equivalent mutants (default 97)
#   --tests PATH  the tests that may kill mutants, relative to the repository root (default: tests/unit); repeatable
#   --jobs N      mutants tested at once (default: the number of CPUs)
#   --work DIR    where the collection is laid out and mutmut runs (default: $TMPDIR/vps-cloud-mutation); kept
#                 afterwards, so that `cd DIR && .venvs/mutation/bin/mutmut show <mutant>` works
#
# Prints per file: mutants, killed, survived, equivalent, score = killed / (mutants - equivalent); then every
# surviving mutant that tests/mutation/equivalent.txt does not list (file:line, function, key, diff). Exit status 1
# when the total score is below the threshold, 2 when the run itself failed.
# The venv is .venvs/mutation, built from tests/mutation/requirements.txt (pins: tests/constraints.txt).
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

threshold=97
jobs=$(nproc 2>/dev/null || echo 2)
work=${TMPDIR:-/tmp}/vps-cloud-mutation
tests=()
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --threshold) [ $# -ge 2 ] || { usage >&2; exit 2; }; threshold=$2; shift 2 ;;
        --tests) [ $# -ge 2 ] || { usage >&2; exit 2; }; tests+=("$2"); shift 2 ;;
        --jobs) [ $# -ge 2 ] || { usage >&2; exit 2; }; jobs=$2; shift 2 ;;
        --work) [ $# -ge 2 ] || { usage >&2; exit 2; }; work=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) targets+=("${1%/}"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(plugins/module_utils plugins/modules)
[ ${#tests[@]} -gt 0 ] || tests=(tests/unit)

# The Python files to mutate, relative to the repository root.
files=()
for target in "${targets[@]}"; do
    if [ -d "$REPO_ROOT/$target" ]; then
        while IFS= read -r file; do files+=("$file"); done < <(cd "$REPO_ROOT" && find "$target" -name '*.py' ! -name '__init__.py' | sort)
    elif [ -f "$REPO_ROOT/$target" ] && [ "${target%.py}" != "$target" ]; then
        files+=("$target")
    else
        echo "no Python file or directory $target in $REPO_ROOT" >&2
        exit 2
    fi
done
[ ${#files[@]} -gt 0 ] || { echo "nothing to mutate in ${targets[*]}" >&2; exit 2; }
for path in "${tests[@]}"; do
    [ -e "$REPO_ROOT/$path" ] || { echo "no tests at $path" >&2; exit 2; }
done

# The mutation venv: mutmut with what the unit tests need, rebuilt when its pins change.
MUTATION_VENV=$VENVS_DIR/mutation
# shellcheck disable=SC2317  # called through with_lock
build_mutation_venv() {
    local want=$1 python
    if [ -x "$MUTATION_VENV/bin/mutmut" ] && [ "$(cat "$MUTATION_VENV/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    python=$(real_python 3.11)
    log "Creating $MUTATION_VENV (mutmut and the unit tests' requirements)"
    rm -rf "$MUTATION_VENV"
    "$python" -m venv "$MUTATION_VENV"
    "$MUTATION_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$REPO_ROOT/tests/mutation/requirements.txt" -c "$REPO_ROOT/tests/constraints.txt"
    echo "$want" > "$MUTATION_VENV/.requirements.sha"
}
want=$(cat "$REPO_ROOT/tests/mutation/requirements.txt" "$REPO_ROOT/tests/constraints.txt" | sha256sum | cut -d' ' -f1)
with_lock "$MUTATION_VENV" build_mutation_venv "$want"

# A laid-out copy of the checkout: mutmut names a mutant by its file's path, which must be the module's import
# name (ansible_collections.vps.cloud...) for its trampolines to switch mutants on, so it runs from the folder
# that holds ansible_collections/.
mkdir -p "$work"
work=$(cd "$work" && pwd)
# Only a folder this script made, or an empty one, is ever emptied.
if [ -n "$(ls -A "$work")" ] && [ ! -e "$work/.vps-cloud-mutation" ]; then
    echo "$work is not empty and was not made by scripts/mutation.sh: give an empty or new folder to --work" >&2
    exit 2
fi
exec 8>"$work.lock"
flock -n 8 || { echo "another mutation run is using $work (choose another with --work)" >&2; exit 2; }
find "$work" -mindepth 1 -delete
touch "$work/.vps-cloud-mutation"
collection=$work/ansible_collections/vps/cloud
mkdir -p "$collection"
(cd "$REPO_ROOT" && git ls-files -co --exclude-standard -z \
    | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
    | tar --null -T - -cf - | tar -xf - -C "$collection")

prefix=ansible_collections/vps/cloud
{
    echo "[mutmut]"
    echo "source_paths="
    for file in "${files[@]}"; do echo "    $prefix/$file"; done
    # The whole collection goes next to the mutants: the modules they import and the tests.
    echo "also_copy="
    echo "    $prefix"
    echo "pytest_add_cli_args_test_selection="
    for path in "${tests[@]}"; do echo "    $prefix/$path"; done
    echo "pytest_add_cli_args="
    echo "    -p"
    echo "    no:cacheprovider"
    # A mutant that makes a test hang fails that test after 60 s (pytest-timeout: tests here take well under a second).
    # mutmut's own wall-clock limit, (estimated time + constant) x multiplier, is only a backstop: tight, it takes
    # mutants for hung on a loaded machine and counts them as killed.
    echo "    --timeout=60"
    echo "timeout_constant=120.0"
    echo "timeout_multiplier=2.0"
    echo "use_git_change_detection=false"
} > "$work/setup.cfg"

log "Mutating ${#files[@]} file(s) with ${tests[*]} ($jobs at once) in $work"
start=$SECONDS
# The environment is the venv's alone: no PYTHONPATH pointing at another copy of the collection.
if ! (cd "$work" && env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 "$MUTATION_VENV/bin/mutmut" run --max-children "$jobs" \
        > "$work/mutmut.log" 2>&1); then
    tr '\r' '\n' < "$work/mutmut.log" | grep -v '^\s*$' | tail -40 >&2
    echo "mutmut failed (whole log: $work/mutmut.log)" >&2
    exit 2
fi
echo "mutmut ran in $((SECONDS - start)) s (log: $work/mutmut.log)"

status=0
env -u PYTHONPATH "$MUTATION_VENV/bin/python" "$REPO_ROOT/tools/mutation/report.py" --work "$work" \
    --equivalent "$REPO_ROOT/tests/mutation/equivalent.txt" --threshold "$threshold" "${files[@]}" || status=$?
exit "$status"
