"""Issue #10, data safety of state=present: every deletion reported, deletions as late and as few as possible,
racing runs converging on one snapshot, and check mode telling the truth about a missing server.

Each test runs real playbooks against the simulator and asserts what the user sees (changed, failed, msg,
pruned, snapshot, warnings) and what the provider saw (the request log, the snapshots left).
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SNAP, race
from ansible_collections.vps.cloud.tests.harness.seeding import remove_server, seed
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deleted_ids,
    names,
    of_server,
    writes,
)

pytestmark = pytest.mark.timeout(180)

FIVE = ["snap-1", "snap-2", "snap-3", "snap-4", "snap-5"]


def present(server_id, name, **options):
    return {SNAP: dict(options, server_id=server_id, name=name)}


# b. Retention reports every deletion ------------------------------------------------------------------------------


def test_retention_reports_its_deletion_when_every_post_fails(sim, play):
    """b1: the POST is answered 502/503 every time: the deletion made before it is in the failed result."""
    ids = seed(sim, 101, FIVE)
    sim.set_faults(error_rate=1.0, random_seed=1, methods=["POST"])
    run = play([present(101, "nightly", retention=5, api_retries=1)])
    result = run[0]
    assert result["failed"] is True
    assert result["changed"] is True
    assert [s["name"] for s in result["pruned"]] == ["snap-1"]
    assert result["pruned"][0]["id"] == ids[0]
    assert "snap-1" in result["msg"] and "deleted" in result["msg"]
    assert "HTTP 50" in result["msg"]
    assert deleted_ids(calls(sim)) == [ids[0]]
    assert names(of_server(sim, 101)) == FIVE[1:]


def test_retention_reports_its_deletion_when_the_new_snapshot_fails(sim, play):
    """b2: the POST succeeds but the new snapshot ends failed: the deletion is still reported, nothing more is deleted."""
    ids = seed(sim, 101, FIVE)
    sim.set_faults(fail_next=1)
    run = play([present(101, "nightly", retention=5)])
    result = run[0]
    assert result["failed"] is True and result["changed"] is True
    assert "ended failed" in result["msg"]
    assert [s["name"] for s in result["pruned"]] == ["snap-1"]
    assert "snap-1" in result["msg"]
    assert deleted_ids(calls(sim)) == [ids[0]]
    assert names(of_server(sim, 101)) == sorted(FIVE[1:] + ["nightly"])


def test_retention_deletes_failed_ones_first_and_never_the_only_restore_point(sim, play):
    """b3: one completed and four failed at the limit: a failed one goes before the POST, never the completed one;
    once the new one completed, the other failed ones go; when the new one fails too, the completed one is still there."""
    specs = [("good", "completed"), ("bad-1", "failed"), ("bad-2", "failed"), ("bad-3", "failed"), ("bad-4", "failed")]
    ids_101 = seed(sim, 101, specs)
    ids_102 = seed(sim, 102, specs)

    ok = play([present(101, "nightly", retention=5)])[0]
    assert not ok.get("failed"), ok["msg"]
    assert [s["name"] for s in ok["pruned"]] == ["bad-1", "bad-2", "bad-3", "bad-4"]
    assert names(of_server(sim, 101)) == ["good", "nightly"]
    # Only the one deletion the limit forces comes before the POST, and it is a failed one.
    assert writes(calls(sim))[:2] == [("DELETE", "/api/v1/snapshots/%s/" % ids_101[1]), ("POST", "/api/v1/snapshots/")]

    sim.clear_log()
    sim.set_faults(fail_next=1)
    failed = play([present(102, "nightly", retention=5)])[0]
    assert failed["failed"] is True and failed["changed"] is True
    assert [s["name"] for s in failed["pruned"]] == ["bad-1"]
    assert deleted_ids(calls(sim)) == [ids_102[1]]
    left = dict((s["name"], s["status"]) for s in of_server(sim, 102))
    assert left["good"] == "completed"
    assert left == {"good": "completed", "bad-2": "failed", "bad-3": "failed", "bad-4": "failed", "nightly": "failed"}


def test_wait_timeout_after_a_deletion_and_a_creation_reports_both(sim, play):
    """b4: a timeout after the deletion and the POST: changed, the deletion in pruned, the new snapshot in snapshot."""
    ids = seed(sim, 101, FIVE)
    sim.set_settings(create_seconds_by_server={101: 30})
    result = play([present(101, "nightly", retention=5, wait_timeout=2)])[0]
    assert result["failed"] is True and result["changed"] is True
    assert "Timed out" in result["msg"]
    assert [s["name"] for s in result["pruned"]] == ["snap-1"] and result["pruned"][0]["id"] == ids[0]
    assert "snap-1" in result["msg"]
    assert result["snapshot"]["name"] == "nightly" and result["snapshot"]["status"] == "in_progress"
    assert result["snapshot"]["id"] not in ids


# c. Delete as late and as little as possible ----------------------------------------------------------------------


def test_at_the_limit_nothing_is_deleted_unless_a_creation_follows(sim, play):
    """c: bad name, an existing failed (retake_failed false) or completed snapshot of that name: nothing deleted; a
    creation deletes one snapshot only, a failed one before a completed one, and only after GET /servers/{id}/ showed
    the server. (With retake_failed true, the default, a failed namesake is deleted and retaken: test_snapshot_present.)"""
    seed(sim, 102, ["a", "b", "c", "d", ("nightly", "failed")])
    seed(sim, 103, ["a", "b", "c", "d", "nightly"])
    ids_101 = seed(sim, 101, ["c-1", ("f-1", "failed"), "c-2", "c-3", "c-4"])
    run = play(
        [
            present(101, "bad name", retention=5),
            present(102, "nightly", retention=5, retake_failed=False),
            present(103, "nightly", retention=5),
            present(101, "nightly", retention=5),
        ]
    )
    bad_name, failed_name, existing, created = run.results
    assert bad_name["failed"] is True and "name may contain only" in bad_name["msg"]
    assert failed_name["failed"] is True and "ended failed" in failed_name["msg"]
    assert failed_name["changed"] is False and failed_name.get("pruned", []) == []
    assert not existing.get("failed") and existing["changed"] is False and existing["pruned"] == []
    assert not created.get("failed"), created["msg"]
    assert [s["name"] for s in created["pruned"]] == ["f-1"]

    assert deleted_ids(calls(sim)) == [ids_101[1]]
    log = [(c["method"], c["path"]) for c in sim.request_log() if c["path"].startswith("/api/")]
    server_read = log.index(("GET", "/api/v1/servers/101/"))
    deletion = log.index(("DELETE", "/api/v1/snapshots/%s/" % ids_101[1]))
    assert server_read < deletion < log.index(("POST", "/api/v1/snapshots/"))
    assert len(of_server(sim, 102)) == 5 and len(of_server(sim, 103)) == 5


def test_at_the_limit_nothing_is_deleted_for_a_server_that_does_not_exist(sim, play):
    """c: the server was deleted at the provider, its five snapshots are still listed: nothing may be deleted."""
    sim.add_servers(1)  # server 104
    seed(sim, 104, FIVE)
    seed(sim, 101, ["other"])  # another server the module can read, so GET /servers/{id}/ is known to exist
    remove_server(sim, 104)
    result = play([present(104, "nightly", retention=5)])[0]
    assert result["failed"] is True
    assert "does not exist" in result["msg"]
    assert deleted_ids(calls(sim)) == []
    assert result["changed"] is False
    assert len(of_server(sim, 104)) == 5


def test_at_the_limit_nothing_is_deleted_for_a_missing_server_with_nothing_to_compare(sim, play):
    """c: the same, in an account whose only snapshots are the missing server's: a POST refused 400 or 404 is never
    applied, so existence can still be learnt before anything is deleted."""
    sim.add_servers(1)  # server 104
    seed(sim, 104, FIVE)
    remove_server(sim, 104)
    result = play([present(104, "nightly", retention=5)])[0]
    assert result["failed"] is True
    assert "does not exist" in result["msg"]
    assert deleted_ids(calls(sim)) == []
    assert len(of_server(sim, 104)) == 5


def test_at_the_limit_without_the_servers_endpoint_the_provider_is_asked_before_any_deletion(sim, play):
    """c: GET /servers/{id}/ is not offered: a POST at the limit, refused and not applied, tells that the server exists
    before the one deletion; for a server that does not exist it answers 404 and nothing is deleted."""
    ids = seed(sim, 101, FIVE)
    sim.add_servers(1)  # server 104
    seed(sim, 104, FIVE)
    remove_server(sim, 104)
    sim.set_faults(servers_endpoint="404")
    run = play([present(101, "nightly", retention=5), present(104, "nightly", retention=5)])
    exists, gone = run.results
    assert not exists.get("failed"), exists["msg"]
    assert names(exists["pruned"]) == ["snap-1"]
    assert any("could not be checked" in w for w in exists["warnings"])
    assert gone["failed"] is True and "does not exist" in gone["msg"] and gone["changed"] is False
    assert [(c["method"], c["status"]) for c in sim.request_log() if c["method"] in ("POST", "DELETE")] == [
        ("POST", 400),
        ("DELETE", 204),
        ("POST", 201),
        ("POST", 404),
    ]
    assert deleted_ids(calls(sim)) == [ids[0]]
    assert len(of_server(sim, 104)) == 5


# d. Concurrent runs converge --------------------------------------------------------------------------------------


def test_two_runs_creating_the_same_name_converge_on_one_snapshot(sim, tmp_path):
    """d: two playbooks at once, the same name on the same server: one snapshot left, both return it, and the run
    whose snapshot lost says it deleted its own duplicate."""
    # Each POST is applied 2 s after it arrives: both runs have listed the server before either creation exists
    # (0.5 s on every request left a window a loaded machine could miss).
    sim.set_faults(latency=2, methods=["POST"])
    a, b = race(sim, tmp_path, present(101, "same", wait_timeout=60))
    created = [c for c in sim.request_log() if c["method"] == "POST" and c["status"] == 201]
    assert len(created) == 2, "the race did not happen: %d creation(s) applied" % len(created)
    left = [s for s in of_server(sim, 101) if s["name"] == "same"]
    assert len(left) == 1
    assert not a.get("failed") and not b.get("failed"), (a.get("msg"), b.get("msg"))
    assert a["snapshot"]["id"] == b["snapshot"]["id"] == left[0]["id"]
    assert left[0]["status"] == "completed"
    loser = a if a.get("pruned") else b
    lost_id = loser["pruned"][0]["id"]
    assert [s["name"] for s in loser["pruned"]] == ["same"] and lost_id != left[0]["id"]
    assert str(lost_id) in loser["msg"] and "deleted" in loser["msg"]
    assert any("Another run created snapshot 'same'" in w for w in loser["warnings"])
    assert deleted_ids(calls(sim)) == [lost_id]


def test_two_runs_creating_the_same_name_next_to_the_limit_converge(sim, tmp_path):
    """d: the same race with 4 snapshots already there: the second POST meets the limit, yet both runs end with the
    one snapshot the first run created."""
    seed(sim, 101, FIVE[:4])
    sim.set_faults(latency=2, methods=["POST"])
    a, b = race(sim, tmp_path, present(101, "same", wait_timeout=60))
    assert len([c for c in sim.request_log() if c["method"] == "POST"]) == 2, "the race did not happen"
    left = [s for s in of_server(sim, 101) if s["name"] == "same"]
    assert len(left) == 1 and len(of_server(sim, 101)) == 5
    assert not a.get("failed") and not b.get("failed"), (a.get("msg"), b.get("msg"))
    assert a["snapshot"]["id"] == b["snapshot"]["id"] == left[0]["id"]
    assert deleted_ids(calls(sim)) == []


# e. Check mode tells the truth about a missing server -------------------------------------------------------------


def test_check_mode_fails_like_the_real_run_for_a_missing_server(sim, play):
    """e: check mode for server 999 fails like the real run, with 'does not exist', and sends no POST."""
    seed(sim, 101, ["someone-elses"])
    check = play([dict(present(999, "x"), check_mode=True)])[0]
    assert check["failed"] is True, check
    assert "does not exist" in check["msg"] and "999" in check["msg"]
    assert writes(calls(sim)) == []
    real = play([present(999, "x")])[0]
    assert real["failed"] is True and "does not exist" in real["msg"]


def test_check_mode_for_a_missing_server_never_predicts_a_silent_success(sim, play):
    """e: with no snapshot in the account the module cannot tell a missing server from a missing endpoint;
    check mode then fails, or says it could not check, but never predicts a plain success."""
    check = play([dict(present(999, "x"), check_mode=True)])[0]
    if not check.get("failed"):
        assert any("could not be checked" in w for w in check.get("warnings", [])), check
    else:
        assert "does not exist" in check["msg"]
    assert writes(calls(sim)) == []


def test_check_mode_works_without_the_servers_endpoint(sim, play):
    """e: the API does not offer GET /servers/{id}/: check mode still works for an existing server, with a warning."""
    seed(sim, 102, ["base"])
    sim.set_faults(servers_endpoint="404")
    run = play(
        [
            dict(present(101, "x"), check_mode=True),
            dict(present(102, "y", retention=2), check_mode=True),
        ]
    )
    for result in run.results:
        assert not result.get("failed"), result["msg"]
        assert result["changed"] is True
        assert result["snapshot"]["id"] is None and result["snapshot"]["status"] == "in_progress"
        assert any("could not be checked" in w for w in result["warnings"]), result
    assert writes(calls(sim)) == []


# Check mode previews exactly what the real run does ---------------------------------------------------------------


def test_check_mode_previews_exactly_the_deletions_of_the_real_run(sim, play):
    """b/e: for each layout, the check run's pruned is the real run's pruned: the one the limit forces before the POST,
    and those retention deletes once the new snapshot is the newest completed one (and so the server's last)."""
    sim.add_servers(1)  # server 104
    layouts = {
        101: (["a-1", "a-2", "a-3", "a-4", "a-5"], dict(retention=2)),
        102: (["good", ("bad-1", "failed"), ("bad-2", "failed"), ("bad-3", "failed"), ("bad-4", "failed")], dict(retention=5)),
        103: ([("c-1", "in_progress"), "c-2", ("c-3", "failed")], dict(retention=1)),
        104: (["daily-1", "daily-2", "weekly-1"], dict(retention=1, retention_match="daily-*")),
    }
    for server_id, (layout, dummy) in layouts.items():
        seed(sim, server_id, layout)
    tasks = [present(server_id, "nightly", **options) for server_id, (dummy, options) in layouts.items()]
    check = play([dict(task, check_mode=True) for task in tasks], diff=True)
    assert writes(calls(sim)) == []
    real = play(tasks)
    for (server_id, dummy), previewed, done in zip(layouts.items(), check.results, real.results):
        assert not previewed.get("failed") and not done.get("failed"), (previewed.get("msg"), done.get("msg"))
        assert names(previewed["pruned"]) == names(done["pruned"]), (server_id, previewed["msg"], done["msg"])
        assert previewed["changed"] is done["changed"] is True
    assert names(real[0]["pruned"]) == ["a-1", "a-2", "a-3", "a-4"]
    assert names(real[1]["pruned"]) == ["bad-1", "bad-2", "bad-3", "bad-4"]
    assert names(real[2]["pruned"]) == ["c-2", "c-3"]
    assert names(real[3]["pruned"]) == ["daily-1"]
    assert names(of_server(sim, 103)) == ["c-1", "nightly"]


def test_wait_false_at_the_limit_leaves_retention_to_the_run_that_waits(sim, play):
    """b: wait: false deletes only what the limit forces, says the rest waits; the rerun that waits reuses the same
    snapshot (no second POST) and applies retention then."""
    seed(sim, 101, ["a-1", "a-2", "a-3", "a-4", "a-5"])
    sim.set_settings(create_seconds=3)
    run = play([present(101, "nightly", retention=2, wait=False), present(101, "nightly", retention=2, wait_timeout=60)])
    started, finished = run.results
    assert not started.get("failed"), started["msg"]
    assert started["changed"] is True and started["snapshot"]["status"] == "in_progress"
    assert names(started["pruned"]) == ["a-1"]
    assert any("kept until a run that waits" in w for w in started["warnings"])
    assert not finished.get("failed"), finished["msg"]
    assert finished["snapshot"]["id"] == started["snapshot"]["id"] and finished["snapshot"]["status"] == "completed"
    assert names(finished["pruned"]) == ["a-2", "a-3", "a-4"]
    assert len(creation_posts(calls(sim))) == 1
    assert names(of_server(sim, 101)) == ["a-5", "nightly"]


def test_resume_match_reuses_the_snapshot_an_interrupted_run_started(sim, play):
    """b: a run timed out on daily-1; the next run, asked for daily-2 with resume_match, waits for daily-1 instead of
    taking another snapshot."""
    sim.set_settings(create_seconds_by_server={101: 5})
    run = play([present(101, "daily-1", wait_timeout=2), present(101, "daily-2", resume_match="daily-*", wait_timeout=60)])
    timed_out, resumed = run.results
    assert timed_out["failed"] is True and "rerun the task to resume waiting" in timed_out["msg"]
    assert not resumed.get("failed"), resumed["msg"]
    assert resumed["snapshot"]["name"] == "daily-1" and resumed["snapshot"]["status"] == "completed"
    assert any("resume_match" in w for w in resumed["warnings"])
    assert len(creation_posts(calls(sim))) == 1
    assert names(of_server(sim, 101)) == ["daily-1"]


def test_absent_with_another_servers_snapshot_id_names_that_server(sim, play):
    """h: state=absent with a snapshot id of server 102 and server_id 101 deletes nothing and names server 102."""
    [theirs] = seed(sim, 102, ["theirs"])
    result = play([{SNAP: {"state": "absent", "snapshot_id": theirs, "server_id": 101}}])[0]
    assert result["failed"] is True
    assert "belongs to server 102" in result["msg"]
    assert deleted_ids(calls(sim)) == []
