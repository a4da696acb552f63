#!/usr/bin/env bash
# Publishing and AWX/AAP readiness checks, failing on any problem:
# ruff check and ruff format --check, ansible-lint (production profile), galaxy-importer on the built tarball, antsibull-docs,
# ansible-builder introspect/create, and the ansible-runner test of vps.cloud.pre_upgrade.
# Usage: scripts/quality.sh <collection dir ending in ansible_collections/vps/cloud>
# Expects the tool venv active (scripts/test.sh quality does that, and sets ANSIBLE_COLLECTIONS_PATH).
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 <collection dir>" >&2; exit 2; fi
COLLECTION_DIR=$(cd "$1" && pwd)
case "$COLLECTION_DIR" in
    */ansible_collections/vps/cloud) ;;
    *) echo "$COLLECTION_DIR does not end in ansible_collections/vps/cloud" >&2; exit 2 ;;
esac
LAYOUT_ROOT=$(cd "$COLLECTION_DIR/../../.." && pwd)
export ANSIBLE_COLLECTIONS_PATH=$LAYOUT_ROOT
export ANSIBLE_NOCOLOR=1 NO_COLOR=1

log() { printf '\n==> quality: %s\n' "$*"; }
fail() { printf '\nquality: FAILED: %s\n' "$*" >&2; exit 1; }

# galaxy-importer skips checks, and still reports success, when these are missing.
for tool in ansible ansible-doc ansible-lint ansible-galaxy antsibull-docs antsibull-changelog ansible-builder ruff; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not on PATH (activate the tool venv)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vps-quality.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$COLLECTION_DIR"

log "ruff check (ruff.toml: pycodestyle, pyflakes and bugbear rules on every Python file)"
[ -f ruff.toml ] || fail "ruff.toml is missing"
ruff check --no-cache . || fail "ruff found problems"
log "ruff format --check (ruff.toml: the formatter's layout at 160 columns; extensions/ has its own in lint_eda)"
ruff format --check --no-cache . || fail "ruff format would change the files above: run .venv/bin/ruff format ."

log "ansible-lint, production profile, warnings are failures"
[ -f .ansible-lint ] || fail ".ansible-lint is missing"
ansible-lint --strict --profile production playbooks/ roles/ awx/ || fail "ansible-lint found problems"

log "ansible-galaxy collection build"
ansible-galaxy collection build --output-path "$WORK/dist" "$COLLECTION_DIR"
tarballs=("$WORK"/dist/vps-cloud-*.tar.gz)
[ -f "${tarballs[0]}" ] || fail "no tarball was built"
TARBALL=${tarballs[0]}
# What ships (galaxy.yml build_ignore): the content and its docs; never the development kit, the venvs or test output.
tar -tzf "$TARBALL" | sed 's#^\./##' >"$WORK/tarball.txt"
shipped_not_wanted=$(grep -E '^(tests|tools|scripts|\.ci|\.venv|\.venvs|\.ansible|build)(/|$)|^Makefile$|^ruff\.toml$|(^|/)(__pycache__|\.pytest_cache|\.hypothesis)(/|$)|(^|/)integration_config\.yml$' \
    "$WORK/tarball.txt" || true)
if [ -n "$shipped_not_wanted" ]; then
    printf '%s\n' "$shipped_not_wanted" | head -20 >&2
    fail "the tarball holds files that build_ignore should leave out (above)"
fi
for wanted in README.md LICENSE requirements.txt bindep.txt MANIFEST.json FILES.json meta/runtime.yml \
    meta/execution-environment.yml plugins/modules/ roles/snapshot_guard/ playbooks/ docs/ awx/execution-environment.yml changelogs/; do
    grep -q "^$wanted" "$WORK/tarball.txt" || fail "the tarball lacks $wanted"
done
echo "tarball: $(wc -l <"$WORK/tarball.txt") entries; no tests/, tools/, scripts/, .ci/, venvs or test output"

log "galaxy-importer on $(basename "$TARBALL")"
# It may log errors and lint findings and still exit 0: its log is checked too.
importer_rc=0
(cd "$WORK" && python -m galaxy_importer.main "$TARBALL") >"$WORK/importer.log" 2>&1 || importer_rc=$?
cat "$WORK/importer.log"
[ "$importer_rc" -eq 0 ] || fail "galaxy-importer exited $importer_rc"
if grep -E '^(ERROR|CRITICAL|WARNING):' "$WORK/importer.log" >/dev/null; then
    fail "galaxy-importer reported errors or warnings (above)"
fi
grep -q 'Importer processing completed successfully' "$WORK/importer.log" || fail "galaxy-importer did not complete"
grep -q 'Linting collection via ansible-lint' "$WORK/importer.log" || fail "galaxy-importer did not run ansible-lint"
# Galaxy and Automation Hub list the event source from meta/extensions.yml only if the importer loads it.
grep -q 'Loading eda/plugins/event_source snapshots' "$WORK/importer.log" || fail "galaxy-importer did not load the event source vps.cloud.snapshots"

log "antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs "$COLLECTION_DIR" || fail "antsibull-docs found problems"

log "ansible-builder introspect $LAYOUT_ROOT"
ansible-builder introspect "$LAYOUT_ROOT" | tee "$WORK/introspect.txt"
grep -q 'requests.*from collection vps.cloud' "$WORK/introspect.txt" || fail "introspect did not pick up requirements.txt"
grep -q 'python3.*from collection vps.cloud' "$WORK/introspect.txt" || fail "introspect did not pick up bindep.txt"

log "awx/execution-environment.yml pins what the ansible-core 2.16 cell tests (tests/constraints-core-2.16.txt)"
for package in ansible-core ansible-runner requests; do
    tested=$(grep -i "^$package==" tests/constraints-core-2.16.txt || true)
    [ -n "$tested" ] || fail "tests/constraints-core-2.16.txt does not pin $package"
    grep -q -- "$tested\$" awx/execution-environment.yml \
        || fail "awx/execution-environment.yml does not pin $tested, the version the tests run (tests/constraints-core-2.16.txt)"
    echo "  $tested"
done

log "ansible-builder create with awx/execution-environment.yml (build context only, no container engine)"
mkdir -p "$WORK/ee"
cp awx/execution-environment.yml "$WORK/ee/"
cp "$TARBALL" "$WORK/ee/vps-cloud.tar.gz"
ansible-builder create -f "$WORK/ee/execution-environment.yml" -c "$WORK/ee/context" || fail "ansible-builder create failed"
[ -f "$WORK/ee/context/_build/collections/vps-cloud.tar.gz" ] || fail "the collection tarball is not in the build context"
grep -q 'vps-cloud.tar.gz' "$WORK/ee/context/_build/requirements.yml" || fail "the build context does not install the collection"
[ -f "$WORK/ee/context/Containerfile" ] || [ -f "$WORK/ee/context/Dockerfile" ] || fail "no Containerfile/Dockerfile written"
containerfile=$WORK/ee/context/Containerfile
[ -f "$containerfile" ] || containerfile=$WORK/ee/context/Dockerfile
grep -q 'ansible-core==2.16' "$containerfile" || fail "the build context does not install the pinned ansible-core"
if grep -Eq 'FROM .*:latest' "$containerfile"; then fail "the EE's base image is not pinned (:latest)"; fi

log "antsibull-changelog lint (changelog fragments)"
antsibull-changelog lint || fail "antsibull-changelog found problems in changelogs/"

log "ansible-runner: vps.cloud.pre_upgrade against the simulator"
pytest_rc=0
# The harness is imported as ansible_collections.vps.cloud.tests.harness: the layout root is on PYTHONPATH.
PYTHONPATH=$LAYOUT_ROOT${PYTHONPATH:+:$PYTHONPATH} python -m pytest -q -p no:cacheprovider tests/runner || pytest_rc=$?
[ "$pytest_rc" -ne 5 ] || fail "pytest collected no tests in tests/runner"
[ "$pytest_rc" -eq 0 ] || fail "the ansible-runner test failed"

log "all quality checks passed"
