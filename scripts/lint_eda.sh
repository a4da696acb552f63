#!/usr/bin/env bash
# Lint the Event-Driven Ansible plugins as certified-content checks do: ruff (its default rules, and its formatter in
# check mode) and pylint, on extensions/eda/plugins; any finding fails.
# Usage: scripts/lint_eda.sh [collection dir]   (default: this checkout). Uses .venvs/eda (built when missing).
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC1091
. "$(dirname "$0")/eda.sh"

ROOT=${1:-$REPO_ROOT}
PLUGINS=$ROOT/extensions/eda/plugins
[ -d "$PLUGINS" ] || { echo "no $PLUGINS" >&2; exit 2; }
ensure_eda_venv

# The Python ansible-rulebook needs (3.10 and later); 120 columns. --isolated: ruff's own defaults, as the
# certified-content checks run it, not the checkout's ruff.toml (the quality stage runs that one over every file).
RUFF_OPTS=(--isolated --target-version py310 --line-length 120 --no-cache)
# pylint's defaults, except two design counts that a polling class with an injected clock exceeds by nature.
PYLINT_OPTS=(--max-line-length=120 --max-args=8 --max-positional-arguments=8
    --disable=too-few-public-methods --disable=too-many-instance-attributes --score=n)

rc=0
log "ruff check ${PLUGINS#"$ROOT"/}"
"$EDA_VENV/bin/ruff" check "${RUFF_OPTS[@]}" "$PLUGINS" || rc=1
log "ruff format --check ${PLUGINS#"$ROOT"/}"
"$EDA_VENV/bin/ruff" format --check "${RUFF_OPTS[@]}" "$PLUGINS" || rc=1
log "pylint ${PLUGINS#"$ROOT"/}"
# From the folder holding ansible_collections when there is one, so that pylint can follow the collection's imports.
(cd "$ROOT" && PYTHONPATH=$(cd "$ROOT/../../.." && pwd)${PYTHONPATH:+:$PYTHONPATH} \
    "$EDA_VENV/bin/pylint" "${PYLINT_OPTS[@]}" "$PLUGINS") || rc=1
if [ "$rc" -ne 0 ]; then
    echo "lint_eda: findings above" >&2
else
    log "lint_eda: ruff and pylint found nothing in ${PLUGINS#"$ROOT"/}"
fi
exit "$rc"
