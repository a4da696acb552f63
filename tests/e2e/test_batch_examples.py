# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The EXAMPLES of vps_snapshot_batch (what `ansible-doc vps.cloud.vps_snapshot_batch` shows) run as written, and fail closed.

The examples are read from the module's EXAMPLES string (never copied here) and run with real ansible-playbook against
the simulator, in a play on the hosts a user has: hosts that map to their servers, a host whose server does not exist,
a host without vps_server_id, one with an invalid id, a snapshot that fails at the provider. The test adds the stand-in
of the change the snapshot protects after the example's tasks, and checks that it ran on exactly the hosts whose own
snapshot was taken (a pattern that lets a host through without one fails open), and that the cleanup example deletes
the snapshots no longer needed and keeps the one of a host whose change failed (its way back).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ansible_collections.vps.cloud.tests.harness.background import Concurrent
from ansible_collections.vps.cloud.tests.harness.simulator import creation_posts, deleted_ids
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import simulator

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "plugins" / "modules" / "vps_snapshot_batch.py"
CHANGE_TASK = "The change the snapshot protects (test stand-in)"
# The examples' credentials come from a vault variable; here it reads the token the runs are given.
VAULT = {"vault_vps_api_token": "{{ lookup('ansible.builtin.env', 'VPS_API_TOKEN') }}"}


def module_examples():
    """The module's EXAMPLES: a list of blocks and tasks, each with a name."""
    for node in ast.parse(MODULE.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["EXAMPLES"]:
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError("vps_snapshot_batch has no EXAMPLES")


def example(starts_with):
    (found,) = [e for e in module_examples() if e["name"].startswith(starts_with)]
    return found


SNAPSHOT_ALL = "Snapshot the servers of the play's hosts at once"
SNAPSHOT_NAMED = "Snapshot each server under a name of its own"
CLEANUP = "Delete the snapshots the batch took"


def playbook(tmp_path, name, *examples):
    """One play on the group webservers: the examples in order, the stand-in of the change after the snapshot one."""
    tasks = [
        examples[0],
        {
            "name": CHANGE_TASK,
            "ansible.builtin.assert": {
                "that": ["inventory_hostname not in (broken_change | default([]))"],
                "fail_msg": "the change failed on {{ inventory_hostname }}",
            },
        },
    ] + list(examples[1:])
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "webservers", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    return str(path)


def run_all(tmp_path, cases):
    """Run each case {name: (playbook, hosts, extra vars, simulator settings)} at the same time, each on its own simulator."""
    together = Concurrent(tmp_path, simulator)
    try:
        for case, (path, hosts, extra, settings) in cases.items():
            together.start(case, path, hosts, [VAULT, extra or {}], groups={"webservers": list(hosts)}, settings=settings)
        return together.finish()
    finally:
        together.close()


def changed_hosts(run):
    return sorted(set(e["host"] for e in run.task_results(CHANGE_TASK) if e["event"] == "ok"))


def named(outcome, name):
    return sorted(s["server"]["id"] for s in outcome.snapshots if s["name"] == name)


def test_the_examples_are_what_this_test_runs():
    names = [e["name"] for e in module_examples()]
    assert len(names) == 3, names
    for start in (SNAPSHOT_ALL, SNAPSHOT_NAMED, CLEANUP):
        assert example(start)


def test_the_batch_example_fails_every_host_without_its_own_snapshot_and_the_cleanup_cleans_up(tmp_path):
    with_cleanup = playbook(tmp_path, "snapshot-change-cleanup", example(SNAPSHOT_ALL), example(CLEANUP))
    outcomes = run_all(
        tmp_path / "runs",
        {
            # A failed entry (its server does not exist), and a change that fails on one host after its snapshot.
            "failed-entry": (with_cleanup, {"web-1": 101, "web-2": 102, "web-3": 103, "ghost-1": 999}, {"broken_change": ["web-3"]}, None),
            # The provider accepts a snapshot, then it ends failed.
            "failed-snapshot": (with_cleanup, {"web-1": 101, "web-2": 102}, None, {"fail_next": 1}),
            # The batch task fails before it returns by_host: no host may go on.
            "no-server-id": (with_cleanup, {"web-1": 101, "nomap-1": None}, None, None),
            "invalid-server-id": (with_cleanup, {"web-1": 101, "badid-1": {"vps_server_id": "web-01"}}, None, None),
        },
    )

    failed_entry = outcomes["failed-entry"]
    run = failed_entry.run
    assert run.ok_hosts() == ["web-1", "web-2"], run
    assert run.failed_hosts() == ["ghost-1", "web-3"], run
    assert changed_hosts(run) == ["web-1", "web-2"], run
    assert [e["event"] for e in run.task_results(CHANGE_TASK, host="web-3")] == ["failed"], run
    assert any("Server 999" in m for m in run.messages("ghost-1")), run
    # The cleanup deleted the snapshots of the hosts whose change went well; web-3's change failed: it keeps its way back.
    assert named(failed_entry, "pre-upgrade") == [103], failed_entry.snapshots
    assert len(deleted_ids(failed_entry.log, gone_too=True)) == 2
    assert run.rc != 0

    failed_snapshot = outcomes["failed-snapshot"]
    run = failed_snapshot.run
    assert len(run.failed_hosts()) == 1 and len(run.ok_hosts()) == 1, run
    assert changed_hosts(run) == run.ok_hosts(), run
    assert any("ended failed" in m for m in run.messages(run.failed_hosts()[0])), run
    # Both snapshots are gone: the completed one after the change, the failed one (no restore point) with it.
    assert named(failed_snapshot, "pre-upgrade") == [], failed_snapshot.snapshots
    assert len(deleted_ids(failed_snapshot.log, gone_too=True)) == 2

    for case, culprit in (("no-server-id", "nomap-1"), ("invalid-server-id", "badid-1")):
        run = outcomes[case].run
        assert run.ok_hosts() == [] and run.failed_hosts() == sorted(["web-1", culprit]), (case, run)
        assert changed_hosts(run) == [], (case, run)
        assert creation_posts(outcomes[case].log) == [], case
        assert any("No snapshot for %s" % culprit in m for m in run.messages(culprit)), (case, run)


def test_the_named_example_fails_the_host_without_vps_server_id_and_snapshots_the_others(tmp_path):
    named_play = playbook(tmp_path, "named", example(SNAPSHOT_NAMED))
    outcomes = run_all(
        tmp_path / "runs",
        {
            "no-server-id": (named_play, {"web-1": 101, "nomap-1": None, "web-2": {"vps_server_id": 102, "upgrade_step": "kernel"}}, None, None),
            "invalid-server-id": (named_play, {"web-1": 101, "badid-1": {"vps_server_id": "web-01"}}, None, None),
            "failed-entry": (named_play, {"web-1": 101, "ghost-1": 999}, None, None),
        },
    )

    outcome = outcomes["no-server-id"]
    run = outcome.run
    assert run.ok_hosts() == ["web-1", "web-2"] and run.failed_hosts() == ["nomap-1"], run
    assert changed_hosts(run) == ["web-1", "web-2"], run
    assert named(outcome, "before-upgrade") == [101] and named(outcome, "before-kernel") == [102], outcome.snapshots

    run = outcomes["invalid-server-id"].run
    assert run.ok_hosts() == [] and changed_hosts(run) == [], run
    assert creation_posts(outcomes["invalid-server-id"].log) == []

    run = outcomes["failed-entry"].run
    assert run.ok_hosts() == ["web-1"] and run.failed_hosts() == ["ghost-1"], run
    assert changed_hosts(run) == ["web-1"], run
