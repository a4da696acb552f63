#!/usr/bin/env bash
# The venvs the tests run in: .venv (the tools, ansible-core 2.19), .venvs/core-X.Y (one per ansible-core line) and
# .venvs/target-X.Y (a Python the modules run on).
# Usage:
#   scripts/venvs.sh [NAME ...]    build (or keep) these venvs (X.Y or target-X.Y); default: .venv and every pinned one
#   scripts/venvs.sh freeze X.Y    resolve tests/requirements-core.txt with the newest ansible-core X.Y.* from PyPI
#                                  in a scratch venv and write its pip freeze to tests/constraints-core-X.Y.txt
#   scripts/venvs.sh freeze target-X.Y   the same for the module-side venv of Python X.Y (tests/requirements-target.txt,
#                                  tests/constraints-target-X.Y.txt)
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

# Every venv with pins: the ansible-core lines (X.Y) and the module Pythons (target-X.Y).
pinned_venvs() {
    local file
    for file in "$REPO_ROOT"/tests/constraints-core-*.txt "$REPO_ROOT"/tests/constraints-target-*.txt; do
        [ -f "$file" ] || continue
        file=${file##*/constraints-}
        file=${file#core-}
        printf '%s ' "${file%.txt}"
    done
}

SCRATCH=""
trap 'if [ -n "$SCRATCH" ]; then rm -rf "$SCRATCH"; fi' EXIT

freeze() {
    local name=$1 python scratch out requirements what venv_name=$1
    if [ "${name#target-}" != "$name" ]; then
        python=$(real_python "${name#target-}")
        requirements=(-r "$REPO_ROOT/tests/requirements-target.txt")
        out="$REPO_ROOT/tests/constraints-target-${name#target-}.txt"
        what="what the modules need (tests/requirements-target.txt) on the Python they are proven to run on"
    else
        venv_name=core-$name
        python=$(real_python "$(core_python_version "$name")")
        requirements=(-r "$REPO_ROOT/tests/requirements-core.txt" "ansible-core==$name.*")
        out="$REPO_ROOT/tests/constraints-core-$name.txt"
        what="ansible-core $name and what the playbook-level and unit suites need (tests/requirements-core.txt)"
    fi
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/vps-freeze.XXXXXX")
    SCRATCH=$scratch
    log "Resolving ${requirements[*]} on $("$python" -V 2>&1)"
    "$python" -m venv "$scratch/venv"
    "$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    {
        echo "# pip freeze of .venvs/$venv_name ($("$python" -V 2>&1)): $what."
        echo "# scripts/lib.sh rebuilds the venv when this file changes. Regenerate: bash scripts/venvs.sh freeze $name"
        "$scratch/venv/bin/python" -m pip freeze --all --exclude pip --exclude setuptools --exclude wheel
    } >"$out"
    log "Wrote $out"
}

if [ "${1:-}" = freeze ]; then
    [ $# -eq 2 ] || { echo "usage: $0 freeze X.Y|target-X.Y" >&2; exit 2; }
    freeze "$2"
    exit 0
fi

lines=("$@")
# shellcheck disable=SC2207
[ ${#lines[@]} -gt 0 ] || lines=("$DEFAULT_CORE" $(pinned_venvs))
start=$SECONDS
ensure_venvs "${lines[@]}"
for name in "${lines[@]}"; do
    case "$name" in
        target-*) printf '%-10s %s\n' "$name" "$("$(target_venv "${name#target-}")/bin/python" -c 'import sys, requests; print("Python %s, requests %s" % (sys.version.split()[0], requests.__version__))')" ;;
        *) printf '%-10s %s\n' "$name" "$("$(core_venv "$name")/bin/ansible" --version 2>/dev/null | sed -n 1p)" ;;
    esac
done
log "venvs ready in $((SECONDS - start))s"
