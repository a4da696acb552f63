# What ansible-test needs on a machine like CI's (no route to the internet except package registries, pyenv's
# Pythons, several runs at once), apart from the main path of scripts/lib.sh. Each function says what it works around;
# where the machine has what ansible-test expects, each is harmless.
# shellcheck shell=bash

# ansible-test creates venvs that fetch get-pip from a host this machine cannot reach, and it calls
# python3.X through pyenv shims that fail outside their version. A cached stand-in and real interpreters fix both.
# Usage: prepare_ansible_test [python holding the ansible-test to prepare for] (default: the tool venv's)
prepare_ansible_test() {
    local python=${1:-$VENV/bin/python}
    local pip_version
    # Every pip version this ansible-test bootstraps (one per range of Pythons), each needs its cached stand-in.
    for pip_version in $("$python" - <<'PY'
import pathlib, re, ansible_test
text = pathlib.Path(ansible_test.__file__).parent.joinpath("_internal/python_requirements.py").read_text()
print(" ".join(sorted(set(re.findall(r"pip='([0-9.]+)'", text)))))
PY
); do
        local cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
        mkdir -p "$(dirname "$cache")"
        # Written whole or not at all: another run may be reading it.
        if ! cmp -s "$REPO_ROOT/scripts/get_pip_stub.py" "$cache"; then
            cp "$REPO_ROOT/scripts/get_pip_stub.py" "$cache.$$" && mv -f "$cache.$$" "$cache"
        fi
    done

    local bindir="$LAYOUT_ROOT/python-bin"
    mkdir -p "$bindir"
    local root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    local exe base
    # 2.7 too: ansible-core 2.16 looks for it and warns when it is missing, even where nothing runs on it.
    for exe in "$root"/versions/3.*/bin/python3.* "$root"/versions/2.7.*/bin/python2.7; do
        base=$(basename "$exe")
        case "$base" in *-config|*m|*-gdb.py) continue ;; esac
        [ -x "$exe" ] && ln -sfn "$exe" "$bindir/$base"
    done
    case ":$PATH:" in
        *":$bindir:"*) ;;
        *) export PATH="$bindir:$PATH" ;;
    esac
}

# ansible-test makes its SSH key pair (~/.ansible/test/id_rsa) on first use, and two runs starting together on a fresh
# machine both try ("already exists. Overwrite (y/n)?" fails one). Make it once, first, the way ansible-test does.
ensure_ansible_test_key() {
    local key="$HOME/.ansible/test/id_rsa"
    [ -f "$key" ] && [ -f "$key.pub" ] && return 0
    mkdir -p "$(dirname "$key")"
    rm -f "$key" "$key.pub"
    ssh-keygen -m PEM -q -t rsa -N '' -f "$key"
    # As ansible-test does: paramiko reads only the RSA PEM header.
    sed -i -E 's/(BEGIN|END) PRIVATE KEY/\1 RSA PRIVATE KEY/' "$key"
}
