"""vps_snapshot state=absent and state=restored through real playbooks: the simulator's request log, and faults.

The rhythm (failure messages, check mode, changed, idempotency, diff, restoring again) is in the ansible-test
integration target tests/integration/targets/vps_snapshot.
"""

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SERVERS, TOKEN, play_on
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, calls


def create(play, server_id, name):
    run = play([{"vps.cloud.vps_snapshot": {"server_id": server_id, "name": name}}])
    assert run[0]["changed"] is True, run[0]
    return run[0]["snapshot"]


def test_invalid_absent_options_send_no_request(sim, play):
    run = play(
        [
            {"vps.cloud.vps_snapshot": {"state": "absent", "name": "x"}},
            {"vps.cloud.vps_snapshot": {"state": "absent", "snapshot_id": 5, "name": "x"}},
            {"vps.cloud.vps_snapshot": {"state": "absent", "snapshot_id": 0}},
        ]
    )
    assert [r["failed"] for r in run.results] == [True] * 3
    assert calls(sim) == []


def test_requests_of_absent_check_real_idempotent(sim, play):
    snapshot = create(play, 101, "old")
    sim.clear_log()
    task = {"vps.cloud.vps_snapshot": {"state": "absent", "server_id": 101, "name": "old"}}
    check = play([dict(task, check_mode=True)], diff=True)
    assert check[0]["changed"] is True
    assert [c["method"] for c in calls(sim)] == ["GET"]

    real = play([task], diff=True)
    assert real[0]["changed"] is True
    assert sim.snapshots() == []

    sim.clear_log()
    again = play([task, {"vps.cloud.vps_snapshot": {"state": "absent", "snapshot_id": snapshot["id"]}}])
    assert again[0]["changed"] is False and again[1]["changed"] is False
    assert len(calls(sim)) == 2


def test_restore_from_a_missing_snapshot_posts_nothing(sim, play):
    run = play(
        [
            {"vps.cloud.vps_snapshot": {"state": "restored", "snapshot_id": 4242}},
            {"vps.cloud.vps_snapshot": {"state": "restored", "server_id": 101, "name": "nope"}},
        ]
    )
    assert [r["failed"] for r in run.results] == [True] * 2
    assert calls(sim, "POST") == []


def test_restore_posts_once_per_run_and_never_in_check_mode(sim, play):
    snapshot = create(play, 102, "golden")
    sim.clear_log()
    task = {"vps.cloud.vps_snapshot": {"state": "restored", "snapshot_id": snapshot["id"]}}
    check = play([dict(task, check_mode=True)], diff=True)
    assert check[0]["changed"] is True
    assert calls(sim, "POST") == []

    real = play([task])
    assert real[0]["changed"] is True
    assert len(calls(sim, "POST")) == 1

    # A restore is an action: running it again restores again.
    again = play([task])
    assert again[0]["changed"] is True
    assert len(calls(sim, "POST")) == 2


def test_restore_under_way_is_waited_for_not_repeated(tmp_path):
    # Both tasks in one play: the second starts within a task's start-up of the first, well inside the restore's 15 s
    # even on a loaded machine (a second ansible-playbook could start after the restore has ended, and restore again).
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=15) as slow:

        def play(tasks):
            return play_on(slow, tmp_path, tasks)

        snapshot = create(play, 103, "base")
        options = {"state": "restored", "snapshot_id": snapshot["id"]}
        started, joined = play([{"vps.cloud.vps_snapshot": dict(options, wait=False)}, {"vps.cloud.vps_snapshot": options}])
        assert started["changed"] is True
        assert started["server"]["status"] == "restoring"
        joined = [joined]
        assert joined[0]["changed"] is False
        assert joined[0]["server"]["status"] == "running"
        assert len(calls(slow, "POST")) == 2  # the creation and one restore


def test_missing_server_endpoint_is_explained(sim, play):
    snapshot = create(play, 101, "base")
    sim.set_faults(servers_endpoint="404")
    run = play([{"vps.cloud.vps_snapshot": {"state": "restored", "snapshot_id": snapshot["id"]}}])
    assert run[0]["failed"] is True
    assert "wait: false" in run[0]["msg"]
    assert "GET /servers/101/" in run[0]["msg"]
