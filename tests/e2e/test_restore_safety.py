"""Issue #10, data safety of state=restored: a restore is never repeated by accident, the safety snapshot comes first,
a restore by pattern picks only a completed snapshot, and the results say honestly where the server is.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SERVER_INFO, SNAP, race
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deleted_ids,
    names,
    of_server,
    restore_posts,
    writes,
)

pytestmark = pytest.mark.timeout(180)


def restored(**options):
    return {SNAP: dict(options, state="restored")}


# a. Restore never repeated by accident ----------------------------------------------------------------------------


def test_a_timed_out_restore_is_followed_with_server_info_never_repeated(sim, play):
    """a: the timeout points to vps_server_info (and does not say to rerun the task); a rerun while the server is
    still restoring joins that restore; vps_server_info waits without restoring; a rerun once the restore has
    ended restores again (a restore is an action: the documented semantics)."""
    [base] = seed(sim, 101, ["base"])
    sim.set_settings(restore_seconds=10)
    run = play(
        [
            restored(snapshot_id=base, wait_timeout=2),
            restored(snapshot_id=base, wait=False),
            {SERVER_INFO: {"server_id": 101, "wait": True, "wait_timeout": 60}},
        ]
    )
    timed_out, rerun, info = run.results
    assert timed_out["failed"] is True
    assert timed_out["changed"] is True
    assert "Timed out" in timed_out["msg"]
    assert "vps.cloud.vps_server_info" in timed_out["msg"] and "wait: true" in timed_out["msg"]
    assert "rerun the task" not in timed_out["msg"].lower()
    assert "Do not rerun this task" in timed_out["msg"]
    assert timed_out["server"]["status"] == "restoring"

    assert not rerun.get("failed"), rerun["msg"]
    assert rerun["changed"] is False
    assert "already restoring" in rerun["msg"]
    assert any("does not name" in w for w in rerun["warnings"])

    assert not info.get("failed"), info["msg"]
    assert info["changed"] is False
    assert info["server"] == {"id": 101, "name": "web-01", "status": "running"} and info["state"] == "stable"
    assert len(restore_posts(calls(sim))) == 1

    again = play([restored(snapshot_id=base)])[0]
    assert not again.get("failed"), again["msg"]
    assert again["changed"] is True
    assert again["server"]["status"] == "running"
    assert len(restore_posts(calls(sim))) == 2


def test_wait_false_then_server_info_restores_once_and_reports_restoring(sim, play):
    """a + k: wait: false starts one restore and says restoring in the result and the diff alike; check mode's diff
    says restoring too; vps_server_info with wait follows it to its end without another POST."""
    [base] = seed(sim, 102, ["base"])
    sim.set_settings(restore_seconds=3)
    run = play(
        [
            dict(restored(snapshot_id=base), check_mode=True),
            restored(snapshot_id=base, wait=False),
            {SERVER_INFO: {"server_id": 102, "wait": True, "wait_timeout": 60}},
        ],
        diff=True,
    )
    check, started, info = run.results
    assert check["changed"] is True and not check.get("failed"), check.get("msg")
    assert check["diff"]["after"]["server"]["status"] == "restoring"
    assert check["server"]["status"] == "restoring"

    assert started["changed"] is True and not started.get("failed"), started.get("msg")
    assert started["server"]["status"] == "restoring"
    assert started["diff"]["after"]["server"]["status"] == started["server"]["status"]
    assert started["diff"]["before"]["server"]["status"] == "running"
    assert started["msg"].startswith("Started the restore of server 102")
    assert "did not wait for it to end" in started["msg"] and "vps.cloud.vps_server_info" in started["msg"]

    assert info["server"]["status"] == "running" and info["changed"] is False
    assert [c["path"] for c in restore_posts(calls(sim))] == ["/api/v1/snapshots/%s/restore/" % base]


@pytest.mark.parametrize("detail", [False, True], ids=["source-unnamed", "source-named"])
def test_two_runs_restoring_the_same_snapshot_at_once_restore_once(sim, tmp_path, detail):
    """a: two playbooks restore the same server from the same snapshot at the same moment (both see it running): the
    provider refuses the second POST because the server is restoring; that run follows the restore under way instead
    of restoring a second time once it has ended."""
    [base] = seed(sim, 101, ["base"])
    sim.set_settings(restore_seconds=3, server_restore_detail=detail)
    # Each POST is applied 2 s after it arrives: both runs have read the server (running) before either restore starts.
    sim.set_faults(latency=2, methods=["POST"])
    a, b = race(sim, tmp_path, restored(snapshot_id=base, wait_timeout=60))
    posts = [(c["path"], c["status"]) for c in restore_posts(calls(sim))]
    assert len(posts) >= 2 and posts[1][1] == 400, "the race did not happen: %s" % posts
    assert not a.get("failed") and not b.get("failed"), (a.get("msg"), b.get("msg"))
    assert [status for dummy, status in posts].count(200) == 1, "the server was restored more than once: %s" % posts
    assert sorted([a["changed"], b["changed"]]) == [False, True]
    assert a["server"]["status"] == b["server"]["status"] == "running"


# f. Safety snapshot before a restore ------------------------------------------------------------------------------


def test_safety_snapshot_is_taken_and_waited_for_before_the_restore(sim, play):
    """f: the safety snapshot is created, completed, then the restore is POSTed; it is returned as safety_snapshot;
    without room and without retention, or with a name already taken by a completed snapshot, nothing happens."""
    [base_101] = seed(sim, 101, ["base"])
    full = seed(sim, 102, ["base", "s-2", "s-3", "s-4", "s-5"])
    [base_103, dummy] = seed(sim, 103, ["base", "before-restore"])
    run = play(
        [
            restored(snapshot_id=base_101, safety_snapshot={"name": "before-restore", "description": "undo"}),
            restored(snapshot_id=full[0], safety_snapshot={"name": "before-restore"}),
            restored(snapshot_id=base_103, safety_snapshot={"name": "before-restore"}),
        ],
        diff=True,
    )
    done, no_room, name_taken = run.results

    assert not done.get("failed"), done["msg"]
    assert done["changed"] is True
    safety = done["safety_snapshot"]
    assert safety["name"] == "before-restore" and safety["status"] == "completed" and safety["description"] == "undo"
    assert done["snapshot"]["id"] == base_101
    assert done["diff"]["after"]["safety_snapshot"]["id"] == safety["id"]
    log = [c for c in sim.request_log() if c["path"].startswith("/api/")]
    created_at = next(i for i, c in enumerate(log) if c["method"] == "POST" and c["status"] == 201)
    restore_at = next(i for i, c in enumerate(log) if c["path"] == "/api/v1/snapshots/%s/restore/" % base_101)
    assert created_at < restore_at
    # Waited for: the listing that saw it completed came between the creation and the restore.
    assert any(c["method"] == "GET" and c["path"] == "/api/v1/snapshots/" for c in log[created_at + 1 : restore_at])
    assert log[restore_at]["time"] - log[created_at]["time"] >= 1.0  # the creation takes 1 s at the simulator

    assert no_room["failed"] is True and no_room["changed"] is False
    assert "No restore was started" in no_room["msg"] and "limit" in no_room["msg"]
    assert name_taken["failed"] is True and name_taken["changed"] is False
    assert "No restore was started" in name_taken["msg"] and "before-restore" in name_taken["msg"]

    assert [c["path"] for c in restore_posts(calls(sim))] == ["/api/v1/snapshots/%s/restore/" % base_101]
    assert len(creation_posts(calls(sim))) == 1
    assert deleted_ids(calls(sim)) == []
    assert len(of_server(sim, 102)) == 5


def test_safety_snapshot_retention_never_deletes_the_snapshot_being_restored(sim, play):
    """f: the snapshot restored from is the oldest of five; the safety snapshot's retention makes room and keeps one,
    and never deletes it; every deletion is returned in pruned."""
    ids = seed(sim, 101, ["target", "s-2", "s-3", "s-4", "s-5"])
    result = play([restored(snapshot_id=ids[0], safety_snapshot={"name": "safety", "retention": 1})])[0]
    assert not result.get("failed"), result["msg"]
    assert result["snapshot"]["id"] == ids[0]
    assert result["safety_snapshot"]["status"] == "completed"
    assert ids[0] not in deleted_ids(calls(sim))
    assert sorted(s["id"] for s in result["pruned"]) == sorted(deleted_ids(calls(sim)))
    assert names(result["pruned"]) == ["s-2", "s-3", "s-4", "s-5"]
    assert names(of_server(sim, 101)) == ["safety", "target"]
    # The one deletion the limit forces comes before the safety snapshot's POST, the rest after it completed;
    # the restore comes last.
    assert writes(calls(sim))[:2] == [("DELETE", "/api/v1/snapshots/%s/" % ids[1]), ("POST", "/api/v1/snapshots/")]
    assert writes(calls(sim))[-1] == ("POST", "/api/v1/snapshots/%s/restore/" % ids[0])


def test_safety_snapshot_with_the_post_failing_restores_nothing(sim, play):
    """f: the safety snapshot's POST is refused by the edge every time: no restore, and the failure says so."""
    [base] = seed(sim, 101, ["base"])
    sim.set_faults(error_rate=1.0, random_seed=2, methods=["POST"], path="/snapshots/$")
    result = play([restored(snapshot_id=base, safety_snapshot={"name": "before-restore"}, api_retries=1)])[0]
    assert result["failed"] is True and result["changed"] is False
    assert "No restore was started" in result["msg"]
    assert restore_posts(calls(sim)) == []


# g. Restore by pattern --------------------------------------------------------------------------------------------


def test_restore_by_pattern_picks_the_newest_completed_match(sim, play):
    """g: newer failed and in-progress matches are passed over; no completed match is a clear failure listing them."""
    ids = seed(sim, 101, ["pre-upgrade-20250101", "pre-upgrade-20250102", "other", ("pre-upgrade-20250103", "failed"), ("pre-upgrade-20250104", "in_progress")])
    seed(sim, 102, [("pre-upgrade-x", "failed"), ("pre-upgrade-y", "in_progress")])
    run = play(
        [
            restored(server_id=101, name_match="pre-upgrade-*"),
            restored(server_id=101, name_match="nothing-*"),
            restored(server_id=102, name_match="pre-upgrade-?"),
        ]
    )
    picked, no_match, none_completed = run.results
    assert not picked.get("failed"), picked["msg"]
    assert picked["snapshot"]["id"] == ids[1] and picked["snapshot"]["name"] == "pre-upgrade-20250102"
    assert [c["path"] for c in restore_posts(calls(sim))] == ["/api/v1/snapshots/%s/restore/" % ids[1]]

    assert no_match["failed"] is True and no_match["changed"] is False
    assert "No completed snapshot of server 101 matches 'nothing-*'" in no_match["msg"]
    assert none_completed["failed"] is True
    assert "pre-upgrade-x" in none_completed["msg"] and "pre-upgrade-y" in none_completed["msg"]
    assert "failed" in none_completed["msg"] and "in_progress" in none_completed["msg"]
    assert names(none_completed["snapshots"]) == ["pre-upgrade-x", "pre-upgrade-y"]


def test_restore_refused_after_the_safety_snapshot_reports_the_safety_snapshot(sim, play):
    """f: the safety snapshot was taken, then the provider refuses the restore: the failure says so, is a change,
    and returns the safety snapshot so that the user knows it exists."""
    [base] = seed(sim, 101, ["base"])
    sim.set_faults(restore_refused=1)
    result = play([restored(snapshot_id=base, safety_snapshot={"name": "before-restore"})])[0]
    assert result["failed"] is True and result["changed"] is True
    assert "Restores are not available for this server's plan." in result["msg"]
    assert "before-restore" in result["msg"] and "created" in result["msg"]
    assert result["safety_snapshot"]["name"] == "before-restore"
    assert result["safety_snapshot"]["status"] == "completed"
    assert names(of_server(sim, 101)) == ["base", "before-restore"]
    assert len(restore_posts(calls(sim))) == 1


def test_restore_message_names_the_safety_snapshot_and_every_deletion(sim, play):
    """f: the user reads what the task did in msg: the safety snapshot it took, and what its retention deleted."""
    ids = seed(sim, 101, ["target", "s-2", "s-3", "s-4", "s-5"])
    result = play([restored(snapshot_id=ids[0], safety_snapshot={"name": "safety", "retention": 4})])[0]
    assert not result.get("failed"), result["msg"]
    # One deletion makes room before the safety snapshot; once it completed, retention 4 counts the target too.
    assert names(result["pruned"]) == ["s-2", "s-3"]
    assert "safety" in result["msg"] and str(result["safety_snapshot"]["id"]) in result["msg"]
    assert "s-2" in result["msg"] and "s-3" in result["msg"]


def test_safety_snapshot_outlasting_wait_timeout_restores_nothing_and_a_rerun_reuses_it(sim, play):
    """f: the safety snapshot takes longer than wait_timeout: no restore, the failure reports the snapshot it started;
    the rerun waits for that same snapshot (no second POST) and then restores once."""
    [base] = seed(sim, 101, ["base"])
    # Long enough that the safety snapshot is still in progress when the rerun starts, even on a loaded machine.
    sim.set_settings(create_seconds_by_server={101: 20})
    task = restored(snapshot_id=base, safety_snapshot={"name": "before-restore"})
    run = play([dict(task, **{SNAP: dict(task[SNAP], wait_timeout=2)}), dict(task, **{SNAP: dict(task[SNAP], wait_timeout=60)})])
    timed_out, rerun = run.results
    assert timed_out["failed"] is True and timed_out["changed"] is True
    assert "No restore was started" in timed_out["msg"] and "before-restore" in timed_out["msg"]
    assert timed_out["safety_snapshot"]["name"] == "before-restore"
    assert timed_out["safety_snapshot"]["status"] == "in_progress"
    assert not rerun.get("failed"), rerun["msg"]
    assert rerun["safety_snapshot"]["id"] == timed_out["safety_snapshot"]["id"]
    assert rerun["safety_snapshot"]["status"] == "completed"
    assert len(creation_posts(calls(sim))) == 1 and len(restore_posts(calls(sim))) == 1
