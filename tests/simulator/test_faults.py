"""Every fault control, set through the Python API, the constructor and the HTTP control API."""

import threading
import time
import types

import pytest
import requests

from ansible_collections.vps.cloud.tests.harness.waiting import wait_until
from ansible_collections.vps.cloud.tests.simulator.sim_helpers import CREATE, TOKEN, Client
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator, app as simulator_app


def test_error_rate_not_applied(api, sim):
    sim.set_faults(error_rate=1.0)
    codes = {api.post("/snapshots/", json=CREATE).status_code for dummy in range(10)}
    assert codes <= {502, 503} and codes
    assert sim.snapshots() == []
    assert all(e["fault"] == "error_rate" and e["applied"] is False for e in sim.request_log())
    sim.set_faults(error_rate=0)
    assert api.post("/snapshots/", json=CREATE).status_code == 201


def test_error_rate_deterministic_with_seed():
    def run():
        with Simulator(tokens=[TOKEN], error_rate=0.5, random_seed=7) as sim:
            client = Client(sim)
            return [client.get("/snapshots/").status_code for dummy in range(20)]

    first = run()
    assert first == run()
    assert 200 in first and ({502, 503} & set(first))


def test_rate_limit_burst(api, sim):
    sim.set_faults(rate_limit_burst=2, retry_after=3)
    for dummy in range(2):
        resp = api.post("/snapshots/", json=CREATE)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.json()["detail"]
    assert sim.snapshots() == []
    assert api.post("/snapshots/", json=CREATE).status_code == 201


def test_rate_limit_default_retry_after_at_construction():
    with Simulator(tokens=[TOKEN], rate_limit_burst=1) as sim:
        resp = Client(sim).get("/snapshots/")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
        assert Client(sim).get("/snapshots/").status_code == 200


def test_latency(api, sim):
    sim.set_faults(latency=0.3)
    start = time.monotonic()
    assert api.get("/snapshots/").status_code == 200
    assert time.monotonic() - start >= 0.3
    assert sim.request_log()[-1]["fault"] == "latency"


def test_latency_does_not_block_other_requests(sim, monkeypatch):
    """The server is threaded: a slow request does not delay others."""
    sleeping, release, slept = threading.Event(), threading.Event(), []

    def held_sleep(seconds):  # the latency sleep: hold the POST until the GET has been answered
        slept.append(seconds)
        sleeping.set()
        release.wait(10)

    monkeypatch.setattr(simulator_app, "time", types.SimpleNamespace(sleep=held_sleep))
    sim.set_faults(latency=1.0, methods=["POST"])
    slow = threading.Thread(target=lambda: Client(sim).post("/snapshots/", json=CREATE))
    slow.start()
    try:
        assert sleeping.wait(10)  # the POST is inside the simulator, sleeping
        assert Client(sim).get("/snapshots/").status_code == 200  # answered while the POST still sleeps
        assert slow.is_alive() and sim.snapshots() == []
    finally:
        release.set()
        slow.join()
    assert slept == [1.0] and len(sim.snapshots()) == 1


def test_drop_after_post_is_applied(api, sim):
    sim.set_faults(drop_after_post=1)
    assert api.get("/snapshots/").status_code == 200  # GETs are not dropped
    with pytest.raises(requests.ConnectionError):
        api.post("/snapshots/", json=CREATE)
    assert len(sim.snapshots()) == 1  # the POST was applied
    entry = sim.request_log()[-1]
    assert entry["fault"] == "drop_after_post" and entry["applied"] is True and entry["body"] == CREATE
    assert api.post("/snapshots/", json=CREATE).status_code == 201  # only the next N


def test_fail_next(api, sim):
    sim.set_faults(fail_next=1)
    first = api.post("/snapshots/", json=CREATE).json()
    second = api.post("/snapshots/", json=CREATE).json()
    assert first["status"] == "in_progress"  # the failure shows once creation ends
    statuses = wait_until(
        lambda: all(s["status"] != "in_progress" for s in sim.snapshots()) and {s["id"]: s["status"] for s in sim.snapshots()}, timeout=5.0, interval=0.02
    )
    assert statuses == {first["id"]: "failed", second["id"]: "completed"}


def test_fail_next_not_used_by_rejected_create(api, sim):
    sim.set_faults(fail_next=1)
    assert api.post("/snapshots/", json={"server_id": 999, "name": "x"}).status_code == 404
    api.post("/snapshots/", json=CREATE)
    assert wait_until(lambda: sim.snapshots()[0]["status"] != "in_progress" and sim.snapshots()[0]["status"], timeout=5.0, interval=0.02) == "failed"


def test_truncated(api, sim):
    sim.set_faults(truncated=1)
    resp = api.post("/snapshots/", json=CREATE)
    assert resp.status_code == 201
    assert resp.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        resp.json()
    assert resp.text.startswith('{"id":801')
    assert len(sim.snapshots()) == 1
    assert api.get("/snapshots/").json()["count"] == 1


def test_non_json(api, sim):
    sim.set_faults(non_json=1)
    resp = api.get("/snapshots/")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        resp.json()
    assert api.get("/snapshots/").json()["count"] == 0


def test_html_error(api, sim):
    sim.set_faults(html_error=2)
    for dummy in range(2):
        resp = api.post("/snapshots/", json=CREATE)
        assert resp.status_code == 502 and resp.headers["Content-Type"].startswith("text/html")
        assert "<html>" in resp.text
    assert sim.snapshots() == []
    assert api.post("/snapshots/", json=CREATE).status_code == 201


@pytest.mark.parametrize("mode", ["404", "405"])
def test_servers_endpoint_missing(api, sim, mode):
    sim.set_faults(servers_endpoint=mode)
    resp = api.get("/servers/101/")
    assert resp.status_code == int(mode) and resp.json()["detail"]
    assert api.get("/snapshots/").status_code == 200
    sim.set_faults(servers_endpoint="ok")
    assert api.get("/servers/101/").status_code == 200


def test_scope_methods_and_path(api, sim):
    sim.set_faults(error_rate=1.0, methods=["POST"], path=r"/restore/$")
    assert api.post("/snapshots/", json=CREATE).status_code == 201
    assert api.get("/snapshots/").status_code == 200
    assert api.post("/snapshots/801/restore/").status_code in (502, 503)
    sim.set_faults(rate_limit_burst=1, methods="DELETE")
    assert api.get("/snapshots/").status_code == 200
    assert api.delete("/snapshots/801/").status_code == 429
    assert api.delete("/snapshots/801/").status_code == 204


def test_faults_do_not_touch_control_api(sim):
    sim.set_faults(error_rate=1.0, html_error=5)
    assert requests.get(sim.root_url + "/_sim/state", timeout=5).status_code == 200


def test_invalid_faults_rejected(sim, api):
    with pytest.raises(ValueError):
        sim.set_faults(error_rate=2)
    with pytest.raises(ValueError):
        sim.set_faults(bogus=1)
    with pytest.raises(TypeError):
        Simulator(tokens=[TOKEN], bogus=1)
    resp = api.control("POST", "/faults", json={"servers_endpoint": "500"})
    assert resp.status_code == 400 and resp.json()["detail"]


def test_http_control_faults_and_reset(api, sim):
    resp = api.control("POST", "/faults", json={"rate_limit_burst": 1, "retry_after": 2, "methods": ["GET"]})
    assert resp.status_code == 200
    assert resp.json()["active"]["rate_limit_burst"]["value"] == 1
    assert api.control("GET", "/faults").json()["retry_after"] == 2
    api.post("/snapshots/", json=CREATE)
    assert api.control("POST", "/reset", json={}).status_code == 200
    assert api.control("GET", "/faults").json()["active"] == {}
    assert api.get("/snapshots/").status_code == 200
    assert len(sim.snapshots()) == 1  # reset without state keeps snapshots
    api.control("POST", "/reset", json={"state": True})
    assert sim.snapshots() == []
    assert api.post("/snapshots/", json=CREATE).json()["id"] == 801


def test_http_control_state_servers_seed(api, sim):
    state = api.control("GET", "/state").json()
    assert [s["id"] for s in state["servers"]] == [101, 102, 103] and state["next_id"] == 801
    resp = api.control("POST", "/servers/102", json={"status": "stopped"})
    assert resp.json() == {"id": 102, "name": "web-02", "status": "stopped"}
    assert api.get("/servers/102/").json()["status"] == "stopped"
    assert api.control("POST", "/servers/999", json={"status": "x"}).status_code == 404
    assert api.control("POST", "/servers/500", json={"status": "running", "name": "new-1"}).status_code == 200
    assert api.get("/servers/500/").json()["name"] == "new-1"
    assert api.control("POST", "/seed", json={"server_id": 103, "count": 8}).json()["count"] == 8
    assert api.get("/snapshots/", params={"server_id": 103}).json()["count"] == 8  # limit bypassed
    assert api.post("/snapshots/", json={"server_id": 103, "name": "x"}).status_code == 400


def test_bulk_seed_benchmark_size(api, sim):
    start = time.monotonic()
    resp = api.control("POST", "/seed", json={"servers": 2000, "snapshots_per_server": 5})
    assert resp.status_code == 201 and resp.json()["count"] == 2000
    assert api.get("/snapshots/").json()["count"] == 10000
    one = resp.json()["server_ids"][0]
    listed = api.get("/snapshots/", params={"server_id": one}).json()
    assert listed["count"] == 5 and all(s["status"] == "completed" and s["size_mb"] for s in listed["results"])
    assert time.monotonic() - start < 10


def test_request_log(api, sim):
    api.post("/snapshots/", json={"server_id": 101, "name": "logged", "description": "d"})
    api.get("/snapshots/", params={"server_id": 101})
    Client(sim, token=None).get("/snapshots/")
    log = sim.request_log()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/v1/snapshots/", 201),
        ("GET", "/api/v1/snapshots/", 200),
        ("GET", "/api/v1/snapshots/", 401),
    ]
    assert log[0]["body"] == {"server_id": 101, "name": "logged", "description": "d"}
    assert log[1]["query"] == {"server_id": "101"} and log[1]["fault"] is None
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert all(isinstance(e["time"], float) for e in log)
    http_log = api.control("GET", "/log")
    assert http_log.json() == log
    assert TOKEN not in http_log.text and "Authorization" not in http_log.text
    assert api.control("DELETE", "/log").status_code == 204
    assert sim.request_log() == []
    sim.clear_log()


def _one_snapshot(sim):
    sim.set_server_status(7, "running", name="web-7")
    return sim.add_snapshots(7, 1)[0]


def test_drop_after_apply_drops_the_connection_after_a_delete_is_applied(api, sim):
    """A DELETE the provider applied whose answer never reaches the client (issue 22)."""
    snapshot_id = _one_snapshot(sim)
    sim.set_faults(drop_after_apply=1, methods=["DELETE"])
    assert api.get("/snapshots/").status_code == 200  # out of scope: not dropped
    with pytest.raises(requests.ConnectionError):
        api.delete(f"/snapshots/{snapshot_id}/")
    assert sim.snapshots() == []  # applied
    entry = sim.request_log()[-1]
    assert (entry["method"], entry["status"], entry["fault"], entry["applied"]) == ("DELETE", 204, "drop_after_apply", True)
    assert api.delete(f"/snapshots/{snapshot_id}/").status_code == 404  # only the next N; the re-send finds it gone


def test_drop_after_apply_is_not_used_up_by_a_request_that_was_not_applied(api, sim):
    snapshot_id = _one_snapshot(sim)
    sim.set_faults(drop_after_apply=1, methods=["DELETE"])
    sim.set_faults(html_error=1, methods=["DELETE"])
    assert api.delete(f"/snapshots/{snapshot_id}/").status_code == 502  # refused at the edge, nothing applied
    with pytest.raises(requests.ConnectionError):
        api.delete(f"/snapshots/{snapshot_id}/")
    assert sim.snapshots() == []


def test_late_answer_applies_the_request_then_answers_after_the_delay(api, sim):
    """Unlike latency (which waits before the request is applied), the change is made at once and only the answer is
    late: a client whose timeout is shorter sees no answer to a DELETE that was applied."""
    snapshot_id = _one_snapshot(sim)
    sim.set_faults(late_answer=3, methods=["DELETE"])
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.delete(f"/snapshots/{snapshot_id}/", timeout=0.5)
    assert sim.snapshots() == []  # already applied when the client gave up
    assert wait_until(lambda: [e for e in sim.request_log() if e["method"] == "DELETE"], timeout=5.0, interval=0.02)[0]["fault"] == "late_answer"
    sim.set_faults(late_answer=0)
    assert api.delete(f"/snapshots/{snapshot_id}/").status_code == 404


def test_non_json_answers_an_applied_delete_with_200_text(api, sim):
    """--non-json N --methods DELETE: the proxy's 200 text/plain for a DELETE the API applied (issue 22)."""
    snapshot_id = _one_snapshot(sim)
    sim.set_faults(non_json=1, methods=["DELETE"])
    resp = api.delete(f"/snapshots/{snapshot_id}/")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert sim.snapshots() == []


def test_the_new_faults_are_cli_flags():
    from ansible_collections.vps.cloud.tools.vps_simulator.cli import build_parser, _fault_settings  # pylint: disable=import-outside-toplevel

    args = build_parser().parse_args(["serve", "--drop-after-apply", "2", "--late-answer", "1.5", "--methods", "DELETE"])
    assert _fault_settings(args) == {"drop_after_apply": 2, "late_answer": 1.5, "methods": "DELETE"}


def test_the_log_keeps_the_providers_words_of_an_error(api, sim):
    sim.set_faults(create_busy=1)
    sim.set_server_status(7, "running", name="web-7")
    assert api.post("/snapshots/", json={"server_id": 7, "name": "a"}).status_code == 400
    assert api.get("/snapshots/").status_code == 200
    refused, listed = sim.request_log()[-2:]
    assert refused["error"].startswith("Server is busy (status: snapshotting)")
    assert "error" not in listed
