# Shared by scripts/*.sh: the venv, the ansible_collections layout, and the ansible-test workarounds.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VPS_VENV:-$REPO_ROOT/.venv}
# ansible-test only runs from a real directory ending in ansible_collections/vps/cloud.
LAYOUT_ROOT=${VPS_LAYOUT_ROOT:-${TMPDIR:-/tmp}/vps-cloud-layout}
COLLECTION_DIR=$LAYOUT_ROOT/ansible_collections/vps/cloud

log() { printf '\n==> %s\n' "$*"; }

ensure_venv() {
    local stamp="$VENV/.requirements.sha"
    local want
    want=$(cat "$REPO_ROOT/tests/requirements-dev.txt" "$REPO_ROOT/tests/constraints.txt" | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "Creating the tool venv in $VENV (pinned: tests/constraints.txt)"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$REPO_ROOT/tests/requirements-dev.txt" -c "$REPO_ROOT/tests/constraints.txt"
    echo "$want" > "$stamp"
}

activate_venv() {
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
}

# Copy the checkout (tracked and untracked files, not ignored ones) under ansible_collections/vps/cloud.
lay_out_collection() {
    log "Laying the collection out in $COLLECTION_DIR"
    rm -rf "$COLLECTION_DIR"
    mkdir -p "$COLLECTION_DIR"
    # Files deleted but not yet committed are listed by git and skipped here.
    (cd "$REPO_ROOT" && git ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
        | tar --null -T - -cf - | tar -xf - -C "$COLLECTION_DIR")
    # ansible-test needs a git tree or an explicit file list; a fresh repo keeps its view to the copied files.
    (cd "$COLLECTION_DIR" && git init -q && git add -A >/dev/null 2>&1)
    export ANSIBLE_COLLECTIONS_PATH=$LAYOUT_ROOT
}

# ansible-test creates venvs that fetch get-pip from a host this machine cannot reach, and it calls
# python3.X through pyenv shims that fail outside their version. A cached stand-in and real interpreters fix both.
prepare_ansible_test() {
    local pip_version
    pip_version=$("$VENV/bin/python" - <<'PY'
import re, ansible_test, pathlib
text = pathlib.Path(ansible_test.__file__).parent.joinpath("_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)
    local cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    mkdir -p "$(dirname "$cache")"
    cp "$REPO_ROOT/scripts/get_pip_stub.py" "$cache"

    local bindir="$LAYOUT_ROOT/python-bin"
    mkdir -p "$bindir"
    local root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    local exe base
    for exe in "$root"/versions/3.*/bin/python3.*; do
        base=$(basename "$exe")
        case "$base" in *-config|*m) continue ;; esac
        [ -x "$exe" ] && ln -sf "$exe" "$bindir/$base"
    done
    export PATH="$bindir:$PATH"
}

# The Pythons ansible-test can use here, as versions (3.8 3.9 ...), limited to what ansible-core supports.
available_pythons() {
    local supported
    supported=$("$VENV/bin/python" -c 'from ansible_test._util.target.common.constants import REMOTE_ONLY_PYTHON_VERSIONS as r, CONTROLLER_PYTHON_VERSIONS as c; print(" ".join(r + c))')
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
