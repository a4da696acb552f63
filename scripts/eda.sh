#!/usr/bin/env bash
# The Event-Driven Ansible toolchain of the tests: .venvs/eda (Python 3.11: ansible-rulebook 1.3.2 with drools_jpy,
# ansible-core for its run_playbook actions, requests, ruff and pylint), pinned in tests/constraints-eda.txt and kept
# apart from the tool venv's pins, and Java 17 (ansible-rulebook's rule engine runs in a JVM).
#
# Sourced after scripts/lib.sh (scripts/test.sh does), it defines ensure_eda_venv, ensure_java17 and EDA_VENV.
# Run as a script:
#   scripts/eda.sh           build (or keep) .venvs/eda and install Java 17 if it is missing; print the versions
#   scripts/eda.sh freeze    resolve tests/requirements-eda.txt from PyPI in a scratch venv and write its pip freeze to
#                            tests/constraints-eda.txt
# shellcheck shell=bash

if [ -z "${REPO_ROOT:-}" ] || ! declare -F _build_venv >/dev/null; then
    # shellcheck disable=SC1091
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

EDA_VENV=${VPS_EDA_VENV:-$VENVS_DIR/eda}
EDA_PYTHON_VERSION=3.11

# .venvs/eda, rebuilt only when tests/requirements-eda.txt, tests/constraints-eda.txt or its Python change.
ensure_eda_venv() {
    local python want
    python=$(real_python "$EDA_PYTHON_VERSION")
    want=$({ cat "$REPO_ROOT/tests/requirements-eda.txt" "$REPO_ROOT/tests/constraints-eda.txt"; "$python" -V 2>&1; } \
        | sha256sum | cut -d' ' -f1)
    if [ -x "$EDA_VENV/bin/ansible-rulebook" ] && [ "$(cat "$EDA_VENV/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    with_lock "$EDA_VENV" _build_venv "$EDA_VENV" "$want" "$python" \
        -r "$REPO_ROOT/tests/requirements-eda.txt" -c "$REPO_ROOT/tests/constraints-eda.txt"
}

# The major version of the java on PATH, or nothing.
java_major() {
    command -v java >/dev/null 2>&1 || return 0
    java -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -1
}

# ansible-rulebook needs Java 17 or later; installed from Debian's packages only when absent.
ensure_java17() {
    local major
    major=$(java_major)
    if [ -n "$major" ] && [ "$major" -ge 17 ]; then
        return 0
    fi
    log "Installing Java 17 (openjdk-17-jre-headless) for ansible-rulebook${major:+ (java $major found)}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
    major=$(java_major)
    if [ -z "$major" ] || [ "$major" -lt 17 ]; then
        echo "Java 17 is still missing after installing openjdk-17-jre-headless (java on PATH: ${major:-none})" >&2
        return 1
    fi
}

eda_freeze() {
    local python scratch out=$REPO_ROOT/tests/constraints-eda.txt
    python=$(real_python "$EDA_PYTHON_VERSION")
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/vps-eda-freeze.XXXXXX")
    # shellcheck disable=SC2064  # expand now: the folder of this call
    trap "rm -rf '$scratch'" EXIT
    log "Resolving tests/requirements-eda.txt on $("$python" -V 2>&1)"
    "$python" -m venv "$scratch/venv"
    "$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REPO_ROOT/tests/requirements-eda.txt"
    {
        echo "# pip freeze of .venvs/eda ($("$python" -V 2>&1)): tests/requirements-eda.txt resolved. scripts/eda.sh rebuilds the venv"
        echo "# when this file changes. Regenerate: bash scripts/eda.sh freeze"
        "$scratch/venv/bin/python" -m pip freeze --all --exclude pip --exclude setuptools --exclude wheel
    } >"$out"
    log "Wrote $out"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ "${1:-}" = freeze ]; then
        eda_freeze
        exit 0
    fi
    [ $# -eq 0 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
    ensure_eda_venv
    ensure_java17
    "$EDA_VENV/bin/ansible-rulebook" --version
fi
