# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every YAML example of README.md and docs/awx.md, and every marked one of the guides, runs as written, and fails closed.

Each fenced YAML block of README.md and docs/awx.md is marked by an HTML comment on the line before it (invisible once
rendered):

    <!-- example: NAME -->                                  a playbook this file runs, as written
    <!-- example: NAME (not run by the tests: REASON) -->   shown, but not runnable here (REASON says why)

In the guides of the docs site (docs/docsite/rst/*.rst), an example is marked by an RST comment (invisible once
rendered) right before its code block, with the same names and reasons:

    .. example: NAME
    .. example: NAME (not run by the tests: REASON)

    .. code-block:: yaml

The guides' YAML blocks without a mark are not collected (most are task snippets, not playbooks); a mark that names no
YAML block fails the test, in either format.

The test fails when a YAML block of README.md or docs/awx.md has no mark, when a runnable example disappears or a new
one has no scenario here. The runnable ones run with real ansible-playbook against the simulator, each with the hosts a
user has: hosts that map to their servers, a host whose server does not exist, a host without vps_server_id, one with
an invalid id, a snapshot that fails at the provider. The test adds one task at the end of each play, the stand-in for
the upgrade the snapshot protects, and checks that it ran on exactly the hosts whose own snapshot was taken: a
documented pattern that ends green without a snapshot (fails open) would let an upgrade run unprotected.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.vps.cloud.tests.harness.background import Concurrent
from ansible_collections.vps.cloud.tests.harness.simulator import creation_posts
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import simulator

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
# The Markdown documents whose YAML examples are all marked and run here. (docs/performance.md shows no YAML; docs/eda.md
# shows event samples and rulebooks, which need ansible-rulebook: tests/eda runs the shipped rulebook. A new document with
# YAML playbooks joins this list once its examples are marked.)
DOCS = [ROOT / "README.md", ROOT / "docs" / "awx.md"]
# The guides of the docs site: their marked YAML examples are collected and run here.
GUIDES = sorted((ROOT / "docs" / "docsite" / "rst").glob("*.rst"))
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
NAME_AND_REASON = r"example: (?P<name>[a-z0-9-]+)(?: \(not run by the tests: (?P<reason>[^)]+)\))?"
MARK = re.compile(r"<!-- %s -->" % NAME_AND_REASON)
RST_MARK = re.compile(r"\.\. %s" % NAME_AND_REASON)
RST_BLOCK = re.compile(r"^(?P<indent>[ ]*)\.\. code-block:: (?P<lang>[A-Za-z0-9_+-]+)\s*$")
# Every runnable example, by its mark; each has a test below. One that disappears from the docs fails the test.
RUNNABLE = {"readme-snapshot-per-host", "readme-snapshot-batch", "awx-job-template-wrapper"}
UPGRADE_TASK = "Upgrade (test stand-in, after the example's tasks)"
# The examples' credentials come from a vault variable; here it reads the token the runs are given.
VAULT = {"vault_vps_api_token": "{{ lookup('ansible.builtin.env', 'VPS_API_TOKEN') }}"}
GROUPS = ["webservers"]


class Example:  # pylint: disable=too-few-public-methods
    def __init__(self, path, line, lang, text, mark):
        self.path, self.line, self.lang, self.text, self.mark = path, line, lang, text, mark
        self.name = mark.group("name") if mark else None
        self.runnable = bool(mark) and not mark.group("reason")

    def __repr__(self):
        return "%s:%s (%s)" % (shown(self.path), self.line, self.name or "no mark")


def shown(path):
    """The path as a message shows it: relative to the collection when it is in it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def fenced_blocks(path):
    """(line, lang, text, the previous non-empty line) of each fenced block that names its language."""
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or not opening.group("lang"):
            index += 1
            continue
        indent = opening.group("indent")
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), "%s:%s: the fenced block is never closed" % (path, index + 1)
        body = "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in lines[index + 1 : end])
        before = [line.strip() for line in lines[:index] if line.strip()]
        yield index + 1, opening.group("lang"), body + "\n", before[-1] if before else ""
        index = end + 1


def markdown_marks_without_a_block(path):
    """The lines of `path` holding an example mark that is not the last non-empty line before a YAML block."""
    lines = path.read_text().splitlines()
    marked = set(index + 1 for index, line in enumerate(lines) if MARK.fullmatch(line.strip()))
    for line, lang, _text, _previous in fenced_blocks(path):
        if lang in ("yaml", "yml"):
            before = [number for number in range(line - 1, 0, -1) if lines[number - 1].strip()]
            marked.discard(before[0] if before else None)
    return sorted(marked)


def rst_examples(path):
    """An Example for each `.. example: NAME` comment of an RST file, from the YAML code block right after it.

    A mark that is not followed (after blank lines only) by a `.. code-block:: yaml` names no block: that fails."""
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        mark = RST_MARK.fullmatch(line.strip())
        if not mark:
            continue
        start = index + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        block = RST_BLOCK.match(lines[start]) if start < len(lines) else None
        assert block and block.group("lang") in ("yaml", "yml"), (
            "%s:%s: %r names no YAML block: the next line that is not blank must be `.. code-block:: yaml`" % (shown(path), index + 1, line.strip())
        )
        indent = len(block.group("indent"))
        body, end = [], start + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            body.append(lines[end])
            end += 1
        # The directive's options (`:caption:` ...), then the content, indented as a whole.
        while body and (not body[0].strip() or body[0].strip().startswith(":")):
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        assert body, "%s:%s: the code block after %r is empty" % (shown(path), start + 1, line.strip())
        margin = min(len(text) - len(text.lstrip()) for text in body if text.strip())
        text = "\n".join(text[margin:] for text in body) + "\n"
        yield Example(path, start + 1, block.group("lang"), text, mark)


def yaml_examples():
    found = []
    for path in DOCS:
        strays = markdown_marks_without_a_block(path)
        assert not strays, "%s: example marks that name no YAML block, on lines %s" % (shown(path), strays)
        for line, lang, text, previous in fenced_blocks(path):
            if lang in ("yaml", "yml"):
                found.append(Example(path, line, lang, text, MARK.fullmatch(previous)))
    for path in GUIDES:
        found.extend(rst_examples(path))
    return found


def example(name):
    found = [e for e in yaml_examples() if e.name == name]
    assert len(found) == 1, "example %r: expected once in the docs, found %s" % (name, found)
    (found,) = found
    assert found.runnable, found
    return found


def with_upgrade(example_, tmp_path):
    """The example as written, plus the upgrade stand-in at the end of each play that has tasks; its file."""
    plays = yaml.safe_load(example_.text)
    for play in plays:
        if "tasks" in play:
            play["tasks"].append({"name": UPGRADE_TASK, "ansible.builtin.debug": {"msg": "upgrading {{ inventory_hostname }}"}})
    path = tmp_path / ("%s.yml" % example_.name)
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return str(path)


def upgraded(run):
    return sorted(set(e["host"] for e in run.task_results(UPGRADE_TASK) if e["event"] == "ok"))


def completed_snapshot(outcome, server_id, name):
    return [s for s in outcome.snapshots if s["server"]["id"] == server_id and s["name"] == name and s["status"] == "completed"]


def assert_fail_closed(outcome, hosts, name="pre-upgrade"):
    """Green (and upgraded) exactly when the host's own server has the completed snapshot of this run."""
    run = outcome.run
    protected = sorted(h for h, v in hosts.items() if isinstance(v, int) and completed_snapshot(outcome, v, name))
    assert run.ok_hosts() == protected, (protected, run)
    assert sorted(run.failed_hosts()) == sorted(h for h in hosts if h not in protected), run
    assert upgraded(run) == protected, (upgraded(run), run)
    if protected != sorted(hosts):
        assert run.rc != 0, run


# The marks ----------------------------------------------------------------------------------------


def test_every_yaml_example_of_the_docs_is_marked_and_parses():
    examples = yaml_examples()
    unmarked = [e for e in examples if not e.mark]
    assert not unmarked, "YAML examples without an <!-- example: NAME --> mark on the line before: %s" % unmarked
    names = [e.name for e in examples]
    assert len(names) == len(set(names)), names
    for found in examples:
        assert isinstance(yaml.safe_load(found.text), list), found


def test_every_runnable_example_is_still_there_and_has_a_test():
    assert set(e.name for e in yaml_examples() if e.runnable) == RUNNABLE


def test_the_batch_example_is_in_the_fleets_guide():
    assert example("readme-snapshot-batch").path == ROOT / "docs" / "docsite" / "rst" / "fleets.rst"


def test_the_getting_started_guide_shows_the_readme_first_playbook_as_it_is():
    (guide,) = [e for e in yaml_examples() if e.name == "getting-started-snapshot-per-host"]
    assert guide.path.name == "getting_started.rst" and not guide.runnable, guide
    assert guide.text == example("readme-snapshot-per-host").text


def test_an_rst_mark_is_read_with_its_block_and_a_mark_without_a_yaml_block_fails(tmp_path):
    guide = tmp_path / "guide.rst"
    guide.write_text("Title\n=====\n\n.. example: good\n\n.. code-block:: yaml\n\n   - hosts: all\n     tasks: []\n\nText after the block.\n")
    (found,) = rst_examples(guide)
    assert (found.name, found.runnable, found.text) == ("good", True, "- hosts: all\n  tasks: []\n")
    for wrong in (".. example: lost\n\nA paragraph, no block.\n", ".. example: bash\n\n.. code-block:: bash\n\n   ls\n", "Text.\n\n.. example: last\n"):
        guide.write_text(wrong)
        with pytest.raises(AssertionError, match="names no YAML block"):
            list(rst_examples(guide))


def test_a_markdown_mark_without_a_yaml_block_fails(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- example: kept -->\n```yaml\n- hosts: all\n```\n\n<!-- example: lost -->\n\nNo block.\n")
    assert markdown_marks_without_a_block(doc) == [6]


# The runs -----------------------------------------------------------------------------------------


def scenarios(tmp_path, playbook, cases):
    """Run `playbook` once per case {name: (hosts, settings)}, at the same time, each against its own simulator."""
    together = Concurrent(tmp_path, simulator)
    try:
        for case, (hosts, settings) in cases.items():
            together.start(case, playbook, hosts, [VAULT], groups={"webservers": list(hosts)}, settings=settings)
        return together.finish()
    finally:
        together.close()


def test_readme_per_host_example_snapshots_each_host_and_fails_the_hosts_without_one(tmp_path):
    playbook = with_upgrade(example("readme-snapshot-per-host"), tmp_path)
    hosts = {"web-1": 101, "web-2": 102, "ghost-1": 999, "nomap-1": None, "badid-1": {"vps_server_id": "web-01"}}
    outcomes = scenarios(tmp_path, playbook, {"mixed": (hosts, None), "failing": ({"web-1": 101}, {"fail_next": 1})})
    mixed = outcomes["mixed"]
    assert mixed.run.ok_hosts() == ["web-1", "web-2"], mixed.run
    assert_fail_closed(mixed, hosts)
    assert sorted(s["server"]["id"] for s in mixed.snapshots) == [101, 102], mixed.snapshots
    # A snapshot that fails at the provider is no restore point: the host fails, and is not upgraded.
    failing = outcomes["failing"]
    assert failing.run.failed_hosts() == ["web-1"], failing.run
    assert_fail_closed(failing, {"web-1": 101})


def test_readme_batch_example_fails_every_host_without_a_successful_entry_of_its_own(tmp_path):
    playbook = with_upgrade(example("readme-snapshot-batch"), tmp_path)
    cases = {
        # A failed entry (the server does not exist): only that host fails.
        "ghost": ({"web-1": 101, "web-2": 102, "ghost-1": 999}, None),
        # The batch task fails before it returns by_host: no host may end green.
        "nomap": ({"web-1": 101, "nomap-1": None}, None),
        "badid": ({"web-1": 101, "badid-1": {"vps_server_id": "web-01"}}, None),
        # The provider accepts the snapshot, then it fails.
        "failing": ({"web-1": 101}, {"fail_next": 1}),
    }
    outcomes = scenarios(tmp_path, playbook, cases)
    for case, (hosts, _settings) in cases.items():
        assert_fail_closed(outcomes[case], hosts)
    assert outcomes["ghost"].run.ok_hosts() == ["web-1", "web-2"], outcomes["ghost"].run
    assert "ghost-1" in outcomes["ghost"].run.failed_hosts()
    for case in ("nomap", "badid", "failing"):
        assert outcomes[case].run.ok_hosts() == [], (case, outcomes[case].run)
    assert any("Server 999" in m for m in outcomes["ghost"].run.messages("ghost-1")), outcomes["ghost"].run
    assert any("vps_server_id" in m for m in outcomes["nomap"].run.messages("nomap-1")), outcomes["nomap"].run


def test_awx_job_template_wrapper_runs_pre_upgrade_and_fails_a_host_without_vps_server_id(tmp_path):
    found = example("awx-job-template-wrapper")
    playbook = tmp_path / "pre_upgrade.yml"
    playbook.write_text(found.text)
    hosts = {"web-1": 101, "nomap-1": None}
    outcome = scenarios(tmp_path, str(playbook), {"wrapper": (hosts, None)})["wrapper"]
    run = outcome.run
    assert run.ok_hosts() == ["web-1"] and run.failed_hosts() == ["nomap-1"], run
    assert run.said("web-1", "UPGRADED: web-1 (server 101) passed the health check"), run
    upgrades = [e["host"] for e in run.task_results("Default upgrade, a harmless ping") if e["event"] == "ok"]
    assert upgrades == ["web-1"], upgrades
    assert [p["body"]["server_id"] for p in creation_posts(outcome.log)] == [101]
