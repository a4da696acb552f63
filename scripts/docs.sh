#!/usr/bin/env bash
# The collection's documentation site, built the way docs.ansible.com builds collection docs: antsibull-docs renders
# every module, the role (each entry point) and the extra docs (docs/docsite/extra-docs.yml + docs/docsite/rst/*.rst,
# the guides), and Sphinx turns them into static HTML, with warnings as errors.
#
# Usage: scripts/docs.sh [--dest DIR] [--check]
#   --dest DIR  where everything goes (default: build/docs in the checkout):
#                 DIR/sphinx       the Sphinx project `antsibull-docs sphinx-init --use-current` writes, made anew each run
#                 DIR/html         the site: open DIR/html/index.html
#                 DIR/screenshots  with --check: the browser check's screenshots
#   --check     then `antsibull-docs lint-collection-docs` (plugin docs, every collection reference, the extra docs'
#               references) and the browser check, tests/docs/check_site.py: headless Chromium follows the links from
#               the index to every module, the role and every guide, and fails on a broken link or an empty page.
#               Debian's chromium and chromium-driver are installed when missing (apt-get).
# Runs in the tool venv .venv (built when missing) on the laid-out collection ($VPS_LAYOUT_ROOT, as the other scripts).
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

DEST=$REPO_ROOT/build/docs
check=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dest) [ $# -ge 2 ] || { usage >&2; exit 2; }; DEST=$2; shift 2 ;;
        --dest=*) DEST=${1#--dest=}; shift ;;
        --check) check=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
SPHINX_DIR=$DEST/sphinx
SITE_DIR=$DEST/html

# The labels of docs.ansible.com (ansible_devel) that antsibull-docs' pages and the guides refer to. The build has no
# network: Sphinx reads them from a small local inventory instead of downloading docs.ansible.com's; the links still
# point to docs.ansible.com. A reference to a label missing here fails the build (nitpicky, warnings are errors).
ANSIBLE_DEVEL_URL=https://docs.ansible.com/projects/ansible/devel/
ANSIBLE_DEVEL_LABELS=(
    "ansible_configuration_settings|reference_appendices/config.html#ansible-configuration-settings|Ansible Configuration Settings"
    "common_return_values|reference_appendices/common_return_values.html#common-return-values|Return Values"
    "collections_installing|collections_guide/collections_installing.html#collections-installing|Installing collections"
    "playbooks_intro|playbook_guide/playbooks_intro.html#playbooks-intro|Ansible playbooks"
)

write_inventory() {  # write_inventory <file>: a Sphinx objects.inv (version 2) holding ANSIBLE_DEVEL_LABELS
    printf '%s\n' "${ANSIBLE_DEVEL_LABELS[@]}" | python -c '
import sys, zlib
lines = []
for entry in sys.stdin.read().splitlines():
    name, uri, title = entry.split("|")
    lines.append(f"{name} std:label -1 {uri} {title}\n")
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
with open(sys.argv[1], "wb") as out:
    out.write(header.encode() + zlib.compress("".join(lines).encode()))
' "$1"
}

# Debian's chromium and its WebDriver, for the browser check (a fresh CI machine has neither).
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && return 0
    log "Installing Debian's chromium and chromium-driver for the browser check"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium chromium-driver >/dev/null
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

start=$SECONDS
ensure_venv
activate_venv
lay_out_collection
export ANSIBLE_COLLECTIONS_PATH=$LAYOUT_ROOT ANSIBLE_NOCOLOR=1 NO_COLOR=1
# The collection antsibull-docs documents is the laid-out copy: make sure no other copy of vps.cloud shadows it.
found=$(ansible-galaxy collection list vps.cloud --format json 2>/dev/null | python -c '
import json, sys
print(" ".join(sorted(path for path, cols in json.load(sys.stdin).items() if "vps.cloud" in cols)))')
case "$found" in
    "$LAYOUT_ROOT/ansible_collections") ;;
    *) echo "vps.cloud should be found in $LAYOUT_ROOT/ansible_collections only, found in: $found" >&2; exit 1 ;;
esac

log "antsibull-docs sphinx-init --use-current (the Sphinx project) in $SPHINX_DIR"
rm -rf "$SPHINX_DIR" "$SITE_DIR"
# antsibull-docs wants its directories owned by the user and writable by nobody else.
mkdir -m 700 "$SPHINX_DIR"
# The site's front page: sphinx-init's, with the collection's title and its way in.
cat >"$DEST/index.rst" <<'RST'
.. _docsite_root_index:

vps.cloud: VPS snapshots from Ansible
=====================================

The ``vps.cloud`` collection drives your VPS provider's snapshots from playbooks, AWX/AAP job templates and
pre-upgrade roles: take a snapshot before risky work, wait until it is really there, roll the server back when the
work fails, and prune what is no longer needed, while always keeping a good way back.

New here? Start with :ref:`the getting started guide <ansible_collections.vps.cloud.docsite.getting_started>`.
:ref:`The collection's page <plugins_in_vps.cloud>` lists every module, the role and the guides.

.. toctree::
   :maxdepth: 2
   :caption: Collections:

   collections/index

.. toctree::
   :maxdepth: 1
   :caption: Plugin indexes:
   :glob:

   collections/index_*

.. toctree::
   :maxdepth: 1
   :caption: Reference indexes:

   collections/environment_variables
RST
antsibull-docs sphinx-init --use-current --dest-dir "$SPHINX_DIR" --fail-on-error --index-rst-source "$DEST/index.rst" \
    --project vps.cloud --copyright "vps.cloud maintainers" --title "vps.cloud collection documentation" \
    --html-short-title vps.cloud vps.cloud >/dev/null
write_inventory "$SPHINX_DIR/ansible_devel.inv"
cat >>"$SPHINX_DIR/conf.py" <<PY

# scripts/docs.sh: no network here. docs.ansible.com's labels come from a local inventory (the links still point there);
# the other inventories sphinx-init lists (Python, Jinja2) are not referred to.
intersphinx_mapping = {
    'ansible_devel': ('$ANSIBLE_DEVEL_URL', '$SPHINX_DIR/ansible_devel.inv'),
}
PY

log "antsibull-docs collection: the modules, the role and the guides (docs/docsite) as RST"
mkdir -p "$SPHINX_DIR/rst"
chmod og-w "$SPHINX_DIR/rst"
(cd "$SPHINX_DIR" && antsibull-docs --config-file antsibull-docs.cfg collection --fail-on-error --cleanup everything \
    --use-current --dest-dir rst vps.cloud)
[ -f "$SPHINX_DIR/rst/index.rst" ] || { echo "antsibull-docs removed rst/index.rst" >&2; exit 1; }
# antsibull-docs copies the guides' RST only: the images they show come from the collection's docs/ (the performance
# chart) and docs/docsite/rst/ (anything but RST), next to the guides.
docsite_rst=$SPHINX_DIR/rst/collections/vps/cloud/docsite
mkdir -p "$docsite_rst"
find "$COLLECTION_DIR/docs" -maxdepth 1 -type f \( -name '*.png' -o -name '*.svg' \) -exec cp {} "$docsite_rst/" \;
if [ -d "$COLLECTION_DIR/docs/docsite/rst" ]; then
    (cd "$COLLECTION_DIR/docs/docsite/rst" && find . -type f ! -name '*.rst' -exec cp --parents {} "$docsite_rst/" \;)
fi

log "sphinx-build, warnings are errors"
(cd "$SPHINX_DIR" && sphinx-build -b html -q -c . -W --keep-going rst "$SITE_DIR")
pages=$(find "$SITE_DIR" -name '*.html' | wc -l)
log "Site built in $((SECONDS - start))s: $pages HTML pages; open $SITE_DIR/index.html"

[ "$check" -eq 1 ] || exit 0

log "antsibull-docs lint-collection-docs (plugin docs, every collection reference, the guides' references)"
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=all --disallow-unknown-collection-refs \
    --check-extra-docs-refs "$COLLECTION_DIR"

ensure_chromium
log "Browser check: headless Chromium on $SITE_DIR"
python "$COLLECTION_DIR/tests/docs/check_site.py" --site "$SITE_DIR" --collection "$COLLECTION_DIR" \
    --screenshots "$DEST/screenshots"
log "Docs built and checked in $((SECONDS - start))s; screenshots in $DEST/screenshots"
