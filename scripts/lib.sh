# Shared by scripts/*.sh: the venvs (one per ansible-core line), the ansible_collections layout, and the simulator
# the playbook-level suites run against. What only this kind of machine needs is apart, in scripts/workarounds.sh.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$REPO_ROOT/scripts/workarounds.sh"
# The tool venv (Python 3.11): ansible-core 2.19 with ansible-lint, galaxy-importer, antsibull-docs, ansible-builder,
# ansible-runner, schemathesis... pinned in tests/constraints.txt. Its ansible-core line is the "default" core.
VENV=${VPS_VENV:-$REPO_ROOT/.venv}
DEFAULT_CORE=2.19
# One venv per other ansible-core line, .venvs/core-X.Y, pinned in tests/constraints-core-X.Y.txt.
VENVS_DIR=${VPS_VENVS_DIR:-$REPO_ROOT/.venvs}
# ansible-test only runs from a real directory ending in ansible_collections/vps/cloud.
# One layout per checkout (named after its path), so that two checkouts on one machine never share or delete each other's.
LAYOUT_ROOT=${VPS_LAYOUT_ROOT:-${TMPDIR:-/tmp}/vps-cloud-layout-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)}
COLLECTION_DIR=$LAYOUT_ROOT/ansible_collections/vps/cloud

log() { printf '\n==> %s\n' "$*"; }

# The Python an ansible-core line runs on here: 2.20 and later need 3.12; older lines are proven on 3.11.
core_python_version() {
    case "$1" in
        2.1[0-9]) echo 3.11 ;;
        *) echo 3.12 ;;
    esac
}

# The real interpreter for a Python version (pyenv's shims exit 127 outside their version): path on stdout.
real_python() {
    local version=$1 root exe found=""
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for exe in "$root"/versions/"$version".*/bin/python"$version"; do
        [ -x "$exe" ] && found=$exe
    done
    if [ -z "$found" ] && "python$version" -c 'pass' >/dev/null 2>&1; then
        found=$(command -v "python$version")
    fi
    if [ -z "$found" ]; then
        echo "python$version is needed and was not found (pyenv install $version)" >&2
        return 1
    fi
    echo "$found"
}

# The venv directory of an ansible-core line (X.Y); the default line is the tool venv.
core_venv() {
    if [ "$1" = "$DEFAULT_CORE" ]; then echo "$VENV"; else echo "$VENVS_DIR/core-$1"; fi
}

# Run "$@" holding an exclusive lock named after the venv $1: two runs never build the same venv at once.
with_lock() {
    local lock
    lock="$VENVS_DIR/.locks/$(basename "$1").lock"
    shift
    mkdir -p "$(dirname "$lock")"
    (
        flock 9
        "$@"
    ) 9>"$lock"
}

_build_venv() {  # _build_venv <dir> <stamp value> <python> <pip install args...>
    local dir=$1 want=$2 python=$3
    shift 3
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    # Pins changed in a venv of the same Python: install into it, so that runs using it meanwhile keep working
    # (CI's fresh clone always builds anew). Start over only when that fails.
    if [ -x "$dir/bin/python" ] && [ "$("$dir/bin/python" -V 2>&1)" = "$("$python" -V 2>&1)" ]; then
        log "Updating $dir (pins changed)"
        if "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "$@"; then
            echo "$want" > "$dir/.requirements.sha"
            return 0
        fi
    fi
    log "Creating $dir with $("$python" -V 2>&1) (pins changed or first run)"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    # --no-compile: Python writes the bytecode of what is actually imported, later; installing is much faster.
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "$@"
    echo "$want" > "$dir/.requirements.sha"
}

# The tool venv, rebuilt only when tests/requirements-dev.txt or tests/constraints.txt change.
ensure_venv() {
    local want
    want=$(cat "$REPO_ROOT/tests/requirements-dev.txt" "$REPO_ROOT/tests/constraints.txt" | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    local python
    python=$(real_python 3.11)
    with_lock "$VENV" _build_venv "$VENV" "$want" "$python" \
        -r "$REPO_ROOT/tests/requirements-dev.txt" -c "$REPO_ROOT/tests/constraints.txt"
}

# The venv of one ansible-core line, rebuilt only when tests/requirements-core.txt, its pins or its Python change.
ensure_core_venv() {
    local core=$1
    if [ "$core" = "$DEFAULT_CORE" ]; then
        ensure_venv
        return
    fi
    local pins="$REPO_ROOT/tests/constraints-core-$core.txt"
    if [ ! -f "$pins" ]; then
        echo "no pins for ansible-core $core: tests/constraints-core-$core.txt is missing (bash scripts/venvs.sh freeze $core)" >&2
        return 1
    fi
    local python want dir
    python=$(real_python "$(core_python_version "$core")")
    want=$({ cat "$REPO_ROOT/tests/requirements-core.txt" "$pins"; "$python" -V 2>&1; } | sha256sum | cut -d' ' -f1)
    dir=$(core_venv "$core")
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    with_lock "$dir" _build_venv "$dir" "$want" "$python" \
        -r "$REPO_ROOT/tests/requirements-core.txt" ansible-core -c "$pins"
}

# The venv of a Python the modules run on (not the controller's): .venvs/target-X.Y with requests, from
# tests/constraints-target-X.Y.txt. The integration targets run the modules on it (scripts/test.sh).
target_venv() { echo "$VENVS_DIR/target-$1"; }

ensure_target_venv() {
    local version=$1 pins python want dir
    pins="$REPO_ROOT/tests/constraints-target-$version.txt"
    if [ ! -f "$pins" ]; then
        echo "no pins for target Python $version: tests/constraints-target-$version.txt is missing (bash scripts/venvs.sh freeze target-$version)" >&2
        return 1
    fi
    python=$(real_python "$version")
    want=$({ cat "$REPO_ROOT/tests/requirements-target.txt" "$pins"; "$python" -V 2>&1; } | sha256sum | cut -d' ' -f1)
    dir=$(target_venv "$version")
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    with_lock "$dir" _build_venv "$dir" "$want" "$python" -r "$REPO_ROOT/tests/requirements-target.txt" -c "$pins"
}

# Every venv named (X.Y: an ansible-core line; target-X.Y: a module Python), built side by side (pip waits on the
# network more than on the CPU).
ensure_venvs() {
    local name pids=() names=() rc=0 i
    for name in "$@"; do
        names+=("$name")
        case "$name" in
            target-*) ensure_target_venv "${name#target-}" & ;;
            *) ensure_core_venv "$name" & ;;
        esac
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { echo "building the venv ${names[$i]} failed" >&2; rc=1; }
    done
    return "$rc"
}

activate_venv() {
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
}

# Put an ansible-core line's venv first on PATH (ansible-*, python, pytest come from it).
activate_core() {
    local dir
    dir=$(core_venv "$1")
    # shellcheck disable=SC1091
    . "$dir/bin/activate"
}

# Copy the checkout (tracked and untracked files, not ignored ones) under ansible_collections/vps/cloud.
# With VPS_LAYOUT_READY set to this layout (scripts/test.sh does it), the copy is already there.
lay_out_collection() {
    export ANSIBLE_COLLECTIONS_PATH=$LAYOUT_ROOT
    if [ "${VPS_LAYOUT_READY:-}" = "$COLLECTION_DIR" ] && [ -d "$COLLECTION_DIR" ]; then
        return 0
    fi
    log "Laying the collection out in $COLLECTION_DIR"
    rm -rf "$COLLECTION_DIR"
    mkdir -p "$COLLECTION_DIR"
    # Files deleted but not yet committed are listed by git and skipped here.
    (cd "$REPO_ROOT" && git ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
        | tar --null -T - -cf - | tar -xf - -C "$COLLECTION_DIR")
    # ansible-test needs a git tree or an explicit file list; a fresh repo keeps its view to the copied files.
    (cd "$COLLECTION_DIR" && git init -q && git add -A >/dev/null 2>&1)
}

# The Pythons ansible-test can use here, as versions (3.8 3.9 ...), limited to what that ansible-core supports.
# Usage: available_pythons [python holding ansible-test] (default: the tool venv's)
available_pythons() {
    local python=${1:-$VENV/bin/python}
    local supported
    supported=$("$python" -c 'from ansible_test._util.target.common.constants import REMOTE_ONLY_PYTHON_VERSIONS as r, CONTROLLER_PYTHON_VERSIONS as c; print(" ".join(r + c))')
    local version
    for version in $supported; do
        command -v "python$version" >/dev/null 2>&1 && "python$version" -c 'pass' 2>/dev/null && printf '%s ' "$version"
    done
}

# ansible-test's shellcheck sanity test is skipped with only a warning when the program is missing.
ensure_shellcheck() {
    command -v shellcheck >/dev/null 2>&1 && return 0
    log "Installing shellcheck (Debian package) for the shellcheck sanity test"
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null; }
    else
        sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq shellcheck >/dev/null
    fi
}

# Start the simulator from the laid-out collection, in the background, with $SIM_PYTHON (default: the tool venv's
# Python; it needs Flask, Werkzeug and trustme, which every venv here has).
# Usage: start_simulator <work dir> <token> [extra serve options...]; sets SIM_PID and SIM_URL (…/api/v1).
# The caller stops it with stop_simulator (put it in an EXIT trap).
start_simulator() {
    local work=$1 token=$2
    shift 2
    rm -f "$work/sim.url"
    (cd "$COLLECTION_DIR" && PYTHONPATH=$COLLECTION_DIR/tools exec "${SIM_PYTHON:-$VENV/bin/python}" -m vps_simulator serve --port 0 \
        --url-file "$work/sim.url" --token "$token" "$@" >"$work/simulator.log" 2>&1) &
    SIM_PID=$!
    local _
    for _ in $(seq 1 150); do
        [ -s "$work/sim.url" ] && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            cat "$work/simulator.log" >&2
            echo "the simulator did not start" >&2
            SIM_PID=""
            return 1
        fi
        sleep 0.2
    done
    if [ ! -s "$work/sim.url" ]; then
        echo "the simulator did not say where it listens" >&2
        return 1
    fi
    # shellcheck disable=SC2034  # for the caller
    SIM_URL=$(cat "$work/sim.url")
}

# Start the simulator the integration targets run against and write tests/integration/integration_config.yml (in the
# laid-out collection, the working directory) for it. Usage: write_integration_config <work dir>; stop_simulator after.
write_integration_config() {
    local work=$1 token
    token="it-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
    start_simulator "$work" "$token" --seed tests/integration/simulator_servers.yml --create-seconds 1 --restore-seconds 1
    echo "Simulator for the targets on $SIM_URL (pid $SIM_PID)"
    # ansible-test hands this file to every target (vars_files of the play it writes for a target role).
    cat > "$COLLECTION_DIR/tests/integration/integration_config.yml" <<YAML
---
vps_api_url: $SIM_URL
vps_api_token: $token
YAML
}

stop_simulator() {
    if [ -n "${SIM_PID:-}" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    SIM_PID=""
}
