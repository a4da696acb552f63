# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps.cloud.prune: which snapshots go, as a user runs it (extra vars typed as strings on the command line).

One simulator, four runs in sequence on the same account, each checked against the state before it:
  1. --check -e prune_keep=1               the preview, nothing deleted        (-e prune_hosts=bug-1:many-1:nomap-1)
  2. -e prune_keep=1                       the reproduced bug: a newer failed snapshot goes, the older completed one stays
                                                                               (-e prune_hosts=bug-1:many-1:nomap-1)
  3. -e prune_match='[b]ulk-?' -e prune_keep=0 -e prune_older_than_days=0    (shell-style: ? and [...] at once)
  4. -e prune_older_than_days=0 -e prune_last_completed=true      (no prune_keep: an unset optional)
A sixth run, on its own simulator, has every DELETE of one server's snapshot answered 502/503: it goes on in the
background while the others run (its retries take a while) and fails only that server's host.
"""

import fnmatch

import pytest

from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot
from ansible_collections.vps.cloud.tests.harness.simulator import calls, deleted_ids, deletes
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import simulator

pytestmark = pytest.mark.timeout(600)

HOSTS = {"bug-1": 101, "many-1": 102, "nomap-1": None, "bulk-a": 104, "bulk-b": 105}


def ids(snapshots):
    return sorted(s["id"] for s in snapshots)


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory):
    """Started first, waited for last: a prune where server 103 cannot delete (its DELETEs answered 502/503)."""
    tmp_path = tmp_path_factory.mktemp("prune-fault")
    with simulator() as sim:
        snaps = {
            "a": add_snapshot(sim, 101, "daily-1", days_old=2),
            "b": add_snapshot(sim, 101, "daily-2", status="failed", days_old=1),
            "c": add_snapshot(sim, 103, "daily-1", days_old=2),
            "d": add_snapshot(sim, 103, "daily-2", days_old=1),
        }
        sim.set_faults(error_rate=1.0, methods=["DELETE"], path="/snapshots/%d/$" % snaps["c"])
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101, "web-3": 103})
        handle = runner.start("vps.cloud.prune", inventory, ["prune_keep=1"])
        outcome = []

        def finish():
            if not outcome:
                outcome.append((handle.wait(), calls(sim), dict((s["id"], s) for s in sim.snapshots()), snaps))
            return outcome[0]

        yield finish
        finish()


@pytest.fixture(scope="module")
def prune(tmp_path_factory, failing_server):  # pylint: disable=redefined-outer-name,unused-argument
    tmp_path = tmp_path_factory.mktemp("prune")
    with simulator() as sim:
        snaps = {
            # The reproduced bug: an older completed snapshot and a newer failed one.
            "daily-old": add_snapshot(sim, 101, "daily-old", days_old=2),
            "daily-new": add_snapshot(sim, 101, "daily-new", status="failed", days_old=1),
            "w-1": add_snapshot(sim, 102, "w-1", days_old=5),
            "w-2": add_snapshot(sim, 102, "w-2", days_old=4),
            "w-3": add_snapshot(sim, 102, "w-3", days_old=3),
            "w-4": add_snapshot(sim, 102, "w-4", status="in_progress"),
            # Shell-style pattern material, oldest first on each server.
            "bulk-1": add_snapshot(sim, 104, "bulk-1", days_old=9),
            "bulk-2": add_snapshot(sim, 104, "bulk-2", days_old=8),
            "bulk-10": add_snapshot(sim, 104, "bulk-10", days_old=7),
            "bulk-3": add_snapshot(sim, 104, "bulk-3", days_old=6),
            "bulk-4": add_snapshot(sim, 105, "bulk-4", days_old=9),
            "Bulk-5": add_snapshot(sim, 105, "Bulk-5", days_old=8),
            "bulk-x": add_snapshot(sim, 105, "bulk-x", days_old=7),
        }
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", HOSTS)
        steps = []
        first = "prune_hosts=bug-1:many-1:nomap-1"
        for extra, check in (
            (["prune_keep=1", first], True),
            (["prune_keep=1", first], False),
            (["prune_match=[b]ulk-?", "prune_keep=0", "prune_older_than_days=0"], False),
            (["prune_older_than_days=0", "prune_last_completed=true"], False),
        ):
            before = sim.snapshots()
            mark = calls(sim)[-1]["seq"] if calls(sim) else 0
            run = runner.run("vps.cloud.prune", inventory, extra, check=check)
            steps.append({"run": run, "before": before, "after": sim.snapshots(), "requests": calls(sim, since=mark)})
        yield {"steps": steps, "snaps": snaps}


def gone(step):
    return sorted(set(ids(step["before"])) - set(ids(step["after"])))


def names(step, snapshot_ids):
    by = dict((s["id"], s["name"]) for s in step["before"])
    return sorted(by[i] for i in snapshot_ids)


def test_check_mode_previews_id_name_status_and_age_and_deletes_nothing(prune):
    step, snaps = prune["steps"][0], prune["snaps"]
    run = step["run"]
    assert run.rc == 0, run
    assert not deletes(step["requests"]) and set(e["method"] for e in step["requests"]) == {"GET"}
    assert step["after"] == step["before"]
    assert run.said("bug-1", "Check mode: would delete 1 snapshot(s) of server 101 (bug-1):"), run
    assert run.said("bug-1", "id %s  daily-new  failed  1d 0h old" % snaps["daily-new"]), run
    assert run.said("many-1", "Check mode: would delete 2 snapshot(s) of server 102 (many-1):"), run
    assert run.said("many-1", "id %s  w-1  completed  5d 0h old" % snaps["w-1"]), run
    assert run.said("many-1", "id %s  w-2  completed  4d 0h old" % snaps["w-2"]), run
    assert not [m for m in run.messages("many-1") if "w-3" in m or "w-4" in m], run.messages("many-1")


def test_keep_1_deletes_a_newer_failed_snapshot_and_keeps_the_older_completed_one(prune):
    step, snaps = prune["steps"][1], prune["snaps"]
    run = step["run"]
    assert run.rc == 0, run
    assert gone(step) == sorted([snaps["daily-new"], snaps["w-1"], snaps["w-2"]]), names(step, gone(step))
    assert sorted(deleted_ids(step["requests"], gone_too=True)) == gone(step) and len(deletes(step["requests"])) == 3
    after = dict((s["id"], s) for s in step["after"])
    assert after[snaps["daily-old"]]["status"] == "completed", "the only restore point of server 101 stays"
    assert snaps["w-3"] in after and snaps["w-4"] in after, "the newest completed one and the one in progress stay"
    assert run.said("bug-1", "Deleted 1 snapshot(s) of server 101 (bug-1):"), run
    assert run.facts("bug-1")["snapshot_guard_deleted"][0]["id"] == snaps["daily-new"]


def test_hosts_without_vps_server_id_are_skipped(prune):
    for step in prune["steps"]:
        run = step["run"]
        assert "nomap-1" in run.recap and not run.recap["nomap-1"]["failures"], run
        assert not [m for m in run.messages("nomap-1") if "snapshot" in m], run.messages("nomap-1")


def test_patterns_are_shell_style_and_keep_0_still_keeps_the_last_completed(prune):
    step, snaps = prune["steps"][2], prune["snaps"]
    run = step["run"]
    assert run.rc == 0, run
    before = step["before"]
    # Reference: shell-style matching (fnmatchcase) of '[b]ulk-?', minus each server's newest completed snapshot.
    expected = []
    for server_id in (101, 102, 104, 105):
        mine = [s for s in before if s["server"]["id"] == server_id]
        completed = [s for s in mine if s["status"] == "completed"]
        newest = max(completed, key=lambda s: (s["created_at"], s["id"]))["id"] if completed else None
        expected += [s["id"] for s in mine if fnmatch.fnmatchcase(s["name"], "[b]ulk-?") and s["id"] != newest and s["status"] in ("completed", "failed")]
    assert gone(step) == sorted(expected) == sorted([snaps["bulk-1"], snaps["bulk-2"], snaps["bulk-4"]]), names(step, gone(step))
    # '?' is exactly one character, '[b]' a set, case-sensitive: bulk-10 and Bulk-5 do not match.
    names_seen = ["bulk-1", "bulk-2", "bulk-10", "bulk-3", "bulk-4", "Bulk-5", "bulk-x"]
    assert [n for n in names_seen if fnmatch.fnmatchcase(n, "[b]ulk-?")] == ["bulk-1", "bulk-2", "bulk-3", "bulk-4", "bulk-x"]
    assert run.said("bulk-a", "Deleted 2 snapshot(s) of server 104 (bulk-a):"), run
    assert run.said("bulk-b", "Deleted 1 snapshot(s) of server 105 (bulk-b):"), run
    for host in ("bug-1", "many-1"):
        assert run.said(host, "Deleted 0 snapshot(s)"), run
    after = ids(step["after"])
    for kept in ("bulk-3", "bulk-10", "Bulk-5", "bulk-x", "daily-old", "w-3", "w-4"):
        assert snaps[kept] in after, kept


def test_last_completed_goes_only_with_prune_last_completed_and_in_progress_never(prune):
    step, snaps = prune["steps"][3], prune["snaps"]
    run = step["run"]
    assert run.rc == 0, run
    assert ids(step["after"]) == [snaps["w-4"]], step["after"]
    assert len(deletes(step["requests"])) == len(step["before"]) - 1
    # Across all four runs, each snapshot was deleted at most once, and nothing in progress ever.
    everything = [i for s in prune["steps"] for i in deleted_ids(s["requests"], gone_too=True)]
    assert len(everything) == len(set(everything)) and snaps["w-4"] not in everything


def test_a_server_that_fails_fails_only_its_host(failing_server):
    run, log, state, snaps = failing_server()
    assert run.rc != 0, run
    assert run.failed_hosts() == ["web-3"], run
    assert run.said("web-1", "Deleted 1 snapshot(s) of server 101 (web-1):"), run
    failure = " ".join(run.messages("web-3"))
    assert "Could not clean up the snapshots of server 103 (web-3)" in failure, failure
    assert "Could not delete snapshot daily-1 (id %s" % snaps["c"] in failure, failure
    # What could go went, nothing else: server 101's failed snapshot; server 103 keeps both of its snapshots.
    assert sorted(state) == sorted([snaps["a"], snaps["c"], snaps["d"]]), state
    assert [e for e in deletes(log) if e["status"] == 204] == [e for e in deletes(log) if e["path"].endswith("/%s/" % snaps["b"])]
