"""vps_snapshot state=present through real playbooks: what the simulator's request log shows, and faults.

The rhythm (failure messages, check mode, changed, idempotency, diff, the description warning) is in the
ansible-test integration target tests/integration/targets/vps_snapshot.
"""

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SERVERS, TOKEN, play_on
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, calls, deleted_ids, of_server


def test_invalid_options_send_no_request(sim, play):
    run = play(
        [
            {"vps.cloud.vps_snapshot": {"server_id": 101, "name": "has space"}},
            {"vps.cloud.vps_snapshot": {"server_id": 101}},
            {"vps.cloud.vps_snapshot": {"server_id": 101, "name": "ok", "retention": 6}},
            {"vps.cloud.vps_snapshot": {"server_id": 101, "name": "ok", "wait_timeout": 0}},
        ]
    )
    assert [r["failed"] for r in run.results] == [True] * 4
    assert calls(sim) == []


def test_requests_of_check_mode_create_and_idempotent_runs(sim, play):
    task = {"vps.cloud.vps_snapshot": {"server_id": 101, "name": "before-upgrade", "description": "e2e"}}
    check = play([dict(task, check_mode=True)], diff=True)
    assert check[0]["changed"] is True
    assert calls(sim, "POST") == [] and sim.snapshots() == []

    real = play([task], diff=True)
    assert real[0]["changed"] is True
    assert len(calls(sim, "POST")) == 1

    sim.clear_log()
    again = play([task, dict(task, check_mode=True)])
    assert again[0]["changed"] is False and again[1]["changed"] is False
    # Idempotent: exactly one request, the filtered list, per task.
    assert [(c["method"], c["query"].get("server_id")) for c in calls(sim)] == [("GET", "101"), ("GET", "101")]


def test_at_the_limit_without_retention_fails_before_posting(sim, play):
    sim.add_snapshots(101, 5)
    sim.clear_log()
    run = play([{"vps.cloud.vps_snapshot": {"server_id": 101, "name": "sixth"}}])
    assert run[0]["failed"] is True
    assert "limit of 5" in run[0]["msg"]
    assert "bulk-1" in run[0]["msg"] and "bulk-5" in run[0]["msg"]
    assert calls(sim, "POST") == []


def test_retention_at_the_limit(sim, play):
    sim.add_snapshots(101, 5)
    sim.clear_log()
    task = {"vps.cloud.vps_snapshot": {"server_id": 101, "name": "nightly", "retention": 3}}
    check = play([dict(task, check_mode=True)], diff=True)
    assert check[0]["changed"] is True
    assert [s["name"] for s in check[0]["pruned"]] == ["bulk-1", "bulk-2", "bulk-3"]
    # Check mode reads what the real run reads before deleting: the listing, then the server (it must exist and be idle).
    assert [(c["method"], c["path"].split("?")[0]) for c in calls(sim)] == [("GET", "/api/v1/snapshots/"), ("GET", "/api/v1/servers/101/")]

    real = play([task])
    assert [s["name"] for s in real[0]["pruned"]] == ["bulk-1", "bulk-2", "bulk-3"]
    names = sorted(s["name"] for s in sim.snapshots())
    assert names == ["bulk-4", "bulk-5", "nightly"]
    methods = [c["method"] for c in calls(sim) if c["method"] != "GET"]
    # Only the one deletion the limit forces comes before the POST.
    assert methods == ["DELETE", "POST", "DELETE", "DELETE"]

    again = play([task])
    assert again[0]["changed"] is False and again[0]["pruned"] == []


def test_resume_after_a_timeout_creates_nothing_new(tmp_path):
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=6) as slow:
        task = {"vps.cloud.vps_snapshot": {"server_id": 103, "name": "slow-one", "wait_timeout": 2}}
        first = play_on(slow, tmp_path, [task])
        assert first[0]["failed"] is True
        assert "Timed out after 2s" in first[0]["msg"]
        assert "rerun the task to resume waiting" in first[0]["msg"]
        second = play_on(slow, tmp_path, [{"vps.cloud.vps_snapshot": {"server_id": 103, "name": "slow-one"}}])
        assert second[0]["changed"] is False
        assert second[0]["snapshot"]["status"] == "completed"
        assert len(calls(slow, "POST")) == 1
        assert len(slow.snapshots()) == 1


def test_a_snapshot_that_fails_is_a_clear_error_and_a_rerun_retakes_it(sim, play):
    """A snapshot that ends failed fails its task; the rerun (a daily job's next try) deletes the failed one, which is no
    restore point, reports that deletion, and takes the snapshot again (issue #22: it used to stay blocked for good)."""
    sim.set_faults(fail_next=1)
    run = play([{"vps.cloud.vps_snapshot": {"server_id": 102, "name": "doomed"}}])
    assert run[0]["failed"] is True
    assert "ended failed" in run[0]["msg"] and "Run the task again" in run[0]["msg"]
    [failed] = [s for s in sim.snapshots() if s["server"]["id"] == 102]
    rerun = play([{"vps.cloud.vps_snapshot": {"server_id": 102, "name": "doomed", "wait_timeout": 60}}])[0]
    assert not rerun.get("failed"), rerun["msg"]
    assert rerun["changed"] is True and rerun["created"] is True and rerun["snapshot"]["status"] == "completed"
    assert [s["id"] for s in rerun["pruned"]] == [failed["id"]]
    assert "deleted doomed (id %s, failed" % failed["id"] in rerun["msg"]
    assert any("ended failed, so it is no restore point" in w for w in rerun["warnings"])
    assert [(s["name"], s["status"]) for s in sim.snapshots() if s["server"]["id"] == 102] == [("doomed", "completed")]
    assert len(calls(sim, "POST")) == 2 and len(calls(sim, "DELETE")) == 1


def test_async_per_host_snapshots_keep_their_retention_and_report_it(sim, play):
    """The per-host pattern of the fleets guide (docs/docsite/rst/fleets.rst), `async` with `poll: 0` and then
    `async_status`: the background job's result has a reader (Ansible's async wrapper), so the job is no orphan: it
    completes, applies retention and reports what it deleted."""
    servers = {"host-a": sim.add_servers(1)[0], "host-b": sim.add_servers(1)[0]}
    older = dict((host, seed(sim, server_id, ["pre-upgrade-1", "pre-upgrade-2"])) for host, server_id in servers.items())
    results = play(
        [
            {
                "vps.cloud.vps_snapshot": {
                    "server_id": "{{ %r[inventory_hostname] }}" % servers,
                    "name": "pre-upgrade-3",
                    "retention": 2,
                    "retention_match": "pre-upgrade-*",
                    "wait_timeout": 120,
                },
                "async": 180,
                "poll": 0,
            },
            {"ansible.builtin.async_status": {"jid": "{{ result_0.ansible_job_id }}"}, "until": "result_1.finished", "retries": 120, "delay": 1},
        ],
        hosts=sorted(servers),
    )
    for host, server_id in servers.items():
        started, finished = results.by_host[host]
        assert started.get("started") and not started.get("failed"), started
        assert finished["finished"] and not finished.get("failed") and finished["changed"] is True, finished
        assert finished["snapshot"]["status"] == "completed", finished
        oldest = older[host][0]
        assert [s["id"] for s in finished["pruned"]] == [oldest], finished
        assert sorted(s["name"] for s in of_server(sim, server_id)) == ["pre-upgrade-2", "pre-upgrade-3"]
    assert sorted(deleted_ids(calls(sim))) == sorted(ids[0] for ids in older.values())
