# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vps.cloud.snapshot_guard role's snapshot, restore and cleanup entry points, used from a user playbook
(files/role_entry_points.yml), with some role options given as -e strings and the others left unset."""

import pytest

from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deleted_ids,
    of_server,
    restore_posts,
    restored_ids,
)
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import FILES, simulator

pytestmark = pytest.mark.timeout(600)

HOSTS = {
    "snap-1": {"vps_server_id": 101, "take_snapshot": True},
    "snap-2": {"vps_server_id": 102, "take_snapshot": True, "then_restore": True},
    "back-1": {"vps_server_id": 103, "then_restore": True, "snapshot_guard_restore_match": "pre-upgrade-*", "snapshot_guard_safety_snapshot": True},
}
# Role options as a user types them on the command line: strings.
STRING_OPTIONS = [
    "snapshot_guard_wait_timeout=120",
    "snapshot_guard_reconnect_timeout=5",
    "snapshot_guard_concurrency=4",
    "snapshot_guard_restore_concurrency=2",
    "snapshot_guard_protect_last_completed=yes",
]


@pytest.fixture(scope="module")
def entry_points(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("role")
    with simulator() as sim:
        snaps = {
            "good": add_snapshot(sim, 103, "pre-upgrade-20250101-000000", days_old=2),
            "newer-failed": add_snapshot(sim, 103, "pre-upgrade-20250102-000000", status="failed", days_old=1),
            "manual": add_snapshot(sim, 103, "manual-1"),
        }
        before = sim.snapshots()
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", HOSTS)
        run = runner.run(FILES / "role_entry_points.yml", inventory, STRING_OPTIONS)
        yield {
            "run": run,
            "log": calls(sim),
            "snaps": snaps,
            "before": before,
            "sim": sim,
            "after": dict((sid, of_server(sim, sid)) for sid in (101, 102, 103)),
        }


def test_snapshot_then_cleanup_deletes_exactly_the_snapshot_taken(entry_points):
    run, log, after = entry_points["run"], entry_points["log"], entry_points["after"]
    assert run.recap["snap-1"]["failures"] == 0, run
    mine = [p for p in creation_posts(log) if p["body"]["server_id"] == 101]
    assert len(mine) == 1 and mine[0]["body"]["name"] == "user-snap", mine
    assert after[101] == [], after[101]
    taken = run.facts("snap-1")["snapshot_guard_snapshot"]["id"]
    assert taken in deleted_ids(log, gone_too=True)
    assert run.said("snap-1", "Took snapshot 'user-snap' (id %s, status completed) of server 101 for snap-1." % taken), run
    assert run.said("snap-1", "Deleted 1 snapshot(s) of server 101 (snap-1):"), run
    # Both hosts' snapshots were taken by one batch task.
    batch = run.task_results("Snapshot the servers of this batch")
    assert len(batch) == 1 and sorted(batch[0]["result"]["by_host"]) == ["snap-1", "snap-2"], batch


def test_snapshot_then_restore_rolls_back_to_the_snapshot_just_taken(entry_points):
    run, log, after = entry_points["run"], entry_points["log"], entry_points["after"]
    assert run.recap["snap-2"]["failures"] == 0, run
    taken = run.facts("snap-2")["snapshot_guard_snapshot"]["id"]
    assert [e for e in restore_posts(log) if e["path"].endswith("/%s/restore/" % taken)] == [
        e for e in restore_posts(log) if e["path"].startswith("/api/v1/snapshots/%s/" % taken)
    ]
    assert restored_ids(log).count(taken) == 1
    assert run.facts("snap-2")["snapshot_guard_outcome"] == "rolled back and healthy"
    assert [s["id"] for s in after[102]] == [taken], "the snapshot restored from is kept"


def test_restore_by_pattern_uses_the_newest_completed_match_after_a_safety_snapshot(entry_points):
    run, log, snaps = entry_points["run"], entry_points["log"], entry_points["snaps"]
    assert run.rc == 0, run
    assert run.recap["back-1"]["failures"] == 0, run
    # The newest completed snapshot matching pre-upgrade-*, not the newer failed one, not the newer non-matching one.
    mine = [e for e in restore_posts(log) if restored_ids([e]) and restored_ids([e])[0] in snaps.values()]
    assert restored_ids(mine) == [snaps["good"]], restore_posts(log)
    # The safety snapshot was taken (and completed) before the restore started.
    safety = [p for p in creation_posts(log) if p["body"]["server_id"] == 103]
    assert len(safety) == 1 and safety[0]["body"]["name"].startswith("before-rollback-"), safety
    assert safety[0]["seq"] < mine[0]["seq"]
    after = dict((s["name"], s) for s in entry_points["after"][103])
    assert after[safety[0]["body"]["name"]]["status"] == "completed"
    # Nothing of the server's was deleted: the good one, the failed one and the manual one are all there.
    assert set(s["id"] for s in entry_points["before"]) <= set(s["id"] for s in entry_points["after"][103])
    facts = run.facts("back-1")
    assert facts["snapshot_guard_outcome"] == "rolled back and healthy", facts
    assert run.said("back-1", "Restoring server 103 (back-1) from snapshot the newest completed snapshot matching 'pre-upgrade-*'"), run
    assert run.said("back-1", "ROLLED BACK AND HEALTHY: server 103 (back-1), snapshot 'pre-upgrade-20250101-000000' (id %s)" % snaps["good"]), run
