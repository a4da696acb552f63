# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every YAML example of README.md and docs/awx.md runs as written, and fails closed.

Each fenced YAML block of those files is marked by an HTML comment on the line before it (invisible once rendered):

    <!-- example: NAME -->                                  a playbook this file runs, as written
    <!-- example: NAME (not run by the tests: REASON) -->   shown, but not runnable here (REASON says why)

The test fails when a YAML block has no mark, when a runnable example disappears or a new one has no scenario here.
The runnable ones run with real ansible-playbook against the simulator, each with the hosts a user has: hosts that
map to their servers, a host whose server does not exist, a host without vps_server_id, one with an invalid id, a
snapshot that fails at the provider. The test adds one task at the end of each play, the stand-in for the upgrade
the snapshot protects, and checks that it ran on exactly the hosts whose own snapshot was taken: a documented
pattern that ends green without a snapshot (fails open) would let an upgrade run unprotected.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "playbooks"))

from pb_helpers import Concurrent, creation_posts  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
# The documents whose YAML examples are marked and run here. (docs/performance.md shows no YAML; a new document with YAML
# examples joins this list once its examples are marked.)
DOCS = [ROOT / "README.md", ROOT / "docs" / "awx.md"]
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
MARK = re.compile(r"<!-- example: (?P<name>[a-z0-9-]+)(?: \(not run by the tests: (?P<reason>[^)]+)\))? -->")
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
        return "%s:%s (%s)" % (self.path.relative_to(ROOT), self.line, self.name or "no mark")


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
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines[index + 1:end])
        before = [line.strip() for line in lines[:index] if line.strip()]
        yield index + 1, opening.group("lang"), body + "\n", before[-1] if before else ""
        index = end + 1


def yaml_examples():
    found = []
    for path in DOCS:
        for line, lang, text, previous in fenced_blocks(path):
            if lang in ("yaml", "yml"):
                found.append(Example(path, line, lang, text, MARK.fullmatch(previous)))
    return found


def example(name):
    (found,) = [e for e in yaml_examples() if e.name == name]
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


# The runs -----------------------------------------------------------------------------------------


def scenarios(tmp_path, playbook, cases):
    """Run `playbook` once per case {name: (hosts, settings)}, at the same time, each against its own simulator."""
    together = Concurrent(tmp_path)
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
