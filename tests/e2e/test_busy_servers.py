"""Issue #13, busy servers: a restore or a creation waits for a busy server instead of failing or repeating itself,
refusals for other reasons fail at once in the provider's words, and a restore already under way is joined or
waited out depending on what the API says about its source.

Statuses are set by a task of the playbook itself (hold_task, restore_task), right before the task under test.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SNAP, hold_task, restore_task
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import calls, creation_posts, of_server, restore_posts

pytestmark = pytest.mark.timeout(180)


def restored(**options):
    return {SNAP: dict(options, state="restored")}


def server_reads_before(sim, path, server_id):
    """How many GET /servers/{id}/ came before the first request to `path`."""
    log = [c for c in sim.request_log() if c["path"].startswith("/api/")]
    first = next(i for i, c in enumerate(log) if c["path"] == path)
    return len([c for c in log[:first] if c["method"] == "GET" and c["path"] == "/api/v1/servers/%s/" % server_id])


# i. Busy servers --------------------------------------------------------------------------------------------------


def test_restore_waits_for_a_busy_server_or_fails_without_restoring(sim, play):
    """i: stopping for 3 s, then running: the restore waits, then POSTs once; stopping for good: it fails at
    wait_timeout, says no restore was started, and sends no restore."""
    [on_101] = seed(sim, 101, ["base"])
    [on_102] = seed(sim, 102, ["base"])
    run = play(
        [
            hold_task(sim, 101, "stopping", hold_seconds=3, then="running"),
            restored(snapshot_id=on_101, wait_timeout=60),
            hold_task(sim, 102, "stopping"),
            restored(snapshot_id=on_102, wait_timeout=3),
        ]
    )
    waited, stuck = run[1], run[3]
    assert not waited.get("failed"), waited["msg"]
    assert waited["changed"] is True and waited["server"]["status"] == "running"
    assert waited["diff"]["before"]["server"]["status"] == "stopping"
    path_101 = "/api/v1/snapshots/%s/restore/" % on_101
    assert [(c["path"], c["status"]) for c in restore_posts(calls(sim))] == [(path_101, 200)]
    assert server_reads_before(sim, path_101, 101) >= 2  # it looked again until the server was idle

    assert stuck["failed"] is True and stuck["changed"] is False
    assert "No restore was started" in stuck["msg"] and "stopping" in stuck["msg"]
    assert "Timed out" in stuck["msg"]


def test_restore_refused_for_another_reason_fails_at_once_in_the_providers_words(sim, play):
    """i: a 400 that is not about the server's state: one restore POST, and the provider's words."""
    [base] = seed(sim, 101, ["base"])
    sim.set_faults(restore_refused=1)
    result = play([restored(snapshot_id=base, wait_timeout=60)])[0]
    assert result["failed"] is True and result["changed"] is False
    assert "Restores are not available for this server's plan." in result["msg"]
    assert len(restore_posts(calls(sim))) == 1


def test_creation_refused_while_snapshotting_waits_and_posts_again(sim, play):
    """i: the server is snapshotting (a held status): the POST is refused 400, the task waits until the server is
    idle, POSTs again, and ends with one snapshot."""
    run = play(
        [
            hold_task(sim, 101, "snapshotting", hold_seconds=3, then="running"),
            {SNAP: {"server_id": 101, "name": "after-busy", "wait_timeout": 60}},
        ]
    )
    result = run[1]
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True and result["snapshot"]["status"] == "completed"
    assert [c["status"] for c in creation_posts(calls(sim))] == [400, 201]
    assert [s["name"] for s in of_server(sim, 101)] == ["after-busy"]
    assert any(
        "refused snapshot 'after-busy' on server 101 before it accepted it" in w and "status: snapshotting" in w and "waited until it was idle" in w
        for w in result["warnings"]
    )


def test_creation_refused_as_busy_by_the_provider_posts_again(sim, play):
    """i: the provider refuses the creation as busy (create_busy) although the server reads running by the time the
    module looks: the refusal was about the server's state, so the task POSTs again and ends with one snapshot. The
    refusal is not silent: a warning carries the provider's words (issue #22)."""
    sim.set_faults(create_busy=1)
    result = play([{SNAP: {"server_id": 101, "name": "after-busy", "wait_timeout": 60}}])[0]
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True and result["snapshot"]["status"] == "completed"
    assert [c["status"] for c in creation_posts(calls(sim))] == [400, 201]
    assert [s["name"] for s in of_server(sim, 101)] == ["after-busy"]
    assert [w for w in result.get("warnings", []) if "refused snapshot 'after-busy'" in w] == [
        "The provider refused snapshot 'after-busy' on server 101 before it accepted it: HTTP 400 (Server is busy (status: "
        "snapshotting); a snapshot can be taken when it is running or stopped.) although the server then read running, so "
        "this task sent it again once."
    ]


# j. A restore already under way -----------------------------------------------------------------------------------


def test_restore_under_way_from_another_snapshot_is_waited_out_then_restored(sim, play):
    """j: the API names the source of the restore under way: another snapshot is waited out, then this one is
    restored (two restore POSTs: the other one, then ours); the same snapshot is joined (no POST)."""
    sim.set_settings(server_restore_detail=True, restore_seconds=4)
    other, wanted = seed(sim, 101, ["other", "wanted"])
    [same] = seed(sim, 102, ["same"])
    run = play(
        [
            restore_task(sim, other),
            restored(snapshot_id=wanted, wait_timeout=60),
            restore_task(sim, same),
            restored(snapshot_id=same, wait_timeout=60),
        ]
    )
    after_other, joined = run[1], run[3]
    assert not after_other.get("failed"), after_other["msg"]
    assert after_other["changed"] is True
    assert after_other["snapshot"]["id"] == wanted and after_other["server"]["status"] == "running"
    assert not joined.get("failed"), joined["msg"]
    assert joined["changed"] is False and "already restoring" in joined["msg"]
    assert not joined.get("warnings")
    assert [(c["path"], c["status"]) for c in restore_posts(calls(sim))] == [
        ("/api/v1/snapshots/%s/restore/" % other, 200),
        ("/api/v1/snapshots/%s/restore/" % wanted, 200),
        ("/api/v1/snapshots/%s/restore/" % same, 200),
    ]


def test_restore_under_way_from_an_unnamed_source_is_joined_with_a_warning(sim, play):
    """j: without the source in GET /servers/{id}/, a restore under way is joined (no POST), with a warning that
    the API does not name its source."""
    # Long enough that the other restore is still under way when the task under test starts, even on a loaded machine.
    sim.set_settings(restore_seconds=15)
    other, wanted = seed(sim, 103, ["other", "wanted"])
    run = play([restore_task(sim, other), restored(snapshot_id=wanted, wait_timeout=60)])
    joined = run[1]
    assert not joined.get("failed"), joined["msg"]
    assert joined["changed"] is False and joined["server"]["status"] == "running"
    assert any("does not name" in w and "restore again once it has ended" in w for w in joined["warnings"])
    assert [c["path"] for c in restore_posts(calls(sim))] == ["/api/v1/snapshots/%s/restore/" % other]
