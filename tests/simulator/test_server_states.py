"""Server states: holds, busy refusals, the restore lifecycle and the restore_refused / create_busy faults.

All on a fake clock (fixtures csim/capi: creations take 10 s, restores 20 s).
"""

import sqlite3

import pytest

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import CREATE, TOKEN, Client, FakeClock, ctl
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator

BUSY = "Server is busy (status: {}); a snapshot can be taken when it is running or stopped."
NOT_RESTORABLE = "Server is not in a valid state for restoration (status: {})."


def completed_snapshot(csim, clock, server_id=101, name="golden"):
    sid = Client(csim).post("/snapshots/", json={"server_id": server_id, "name": name}).json()["id"]
    clock.advance(10)
    return sid


def status(api, server_id=101):
    return api.get(f"/servers/{server_id}/").json()["status"]


def test_hold_then_next_status(capi, csim, clock):
    view = csim.set_server_status(101, "stopping", hold_seconds=3, then="stopped")
    assert view == {"id": 101, "name": "web-01", "status": "stopping"}
    clock.advance(2.9)
    assert status(capi) == "stopping"
    clock.advance(0.1)
    assert status(capi) == "stopped"
    csim.set_server_status(101, "starting", hold_seconds=5)  # then defaults to running
    clock.advance(4.9)
    assert status(capi) == "starting"
    clock.advance(0.1)
    assert status(capi) == "running"
    csim.set_server_status(101, "provisioning")  # no hold: stays until changed
    clock.advance(10**6)
    assert status(capi) == "provisioning"


def test_state_and_servers_show_lazy_statuses_and_holds(capi, csim, clock):
    csim.set_server_status(102, "stopping", hold_seconds=4, then="stopped")
    holds = csim.state()["holds"]
    assert [(h["id"], h["status"], h["then"], h["seconds_left"]) for h in holds] == [(102, "stopping", "stopped", 4.0)]
    assert csim.holds() == holds and holds[0]["until"].endswith("Z")
    clock.advance(4)
    assert [s["status"] for s in csim.servers()] == ["running", "stopped", "running"]
    state = capi.control("GET", "/state").json()
    assert [s["status"] for s in state["servers"]] == ["running", "stopped", "running"] and state["holds"] == []


@pytest.mark.parametrize("busy", ["stopping", "starting", "snapshotting", "restoring", "provisioning"])
def test_creation_refused_while_busy(capi, csim, clock, busy):
    csim.set_server_status(101, busy)
    resp = capi.post("/snapshots/", json=CREATE)
    assert resp.status_code == 400 and resp.json() == {"error": BUSY.format(busy)}
    assert csim.snapshots() == []
    assert capi.post("/snapshots/", json={"server_id": 102, "name": "other"}).status_code == 201
    assert csim.request_log()[0]["fault"] is None  # a real refusal, not a fault


@pytest.mark.parametrize("ready", ["running", "stopped"])
def test_creation_allowed_when_running_or_stopped(capi, csim, ready):
    csim.set_server_status(101, ready)
    assert capi.post("/snapshots/", json=CREATE).status_code == 201


def test_busy_hold_then_creation_retried(capi, csim, clock):
    csim.set_server_status(101, "snapshotting", hold_seconds=2)
    assert capi.post("/snapshots/", json=CREATE).status_code == 400
    clock.advance(2)
    assert capi.post("/snapshots/", json=CREATE).status_code == 201


def test_limit_check_still_applies(capi, csim):
    csim.add_snapshots(101, 5)
    resp = capi.post("/snapshots/", json=CREATE)
    assert resp.status_code == 400 and "Snapshot limit reached" in resp.json()["error"]


@pytest.mark.parametrize("busy", ["stopping", "starting", "snapshotting", "restoring", "rebooting"])
def test_restore_refused_unless_running_or_stopped(capi, csim, clock, busy):
    sid = completed_snapshot(csim, clock)
    csim.set_server_status(101, busy)
    resp = capi.post(f"/snapshots/{sid}/restore/")
    assert resp.status_code == 400 and resp.json() == {"error": NOT_RESTORABLE.format(busy)}
    assert "not in a valid state for restoration" in resp.json()["error"]
    assert status(capi) == busy


def test_restore_lifecycle_default_ends_running(capi, csim, clock):
    sid = completed_snapshot(csim, clock)
    csim.set_server_status(101, "stopped")
    resp = capi.post(f"/snapshots/{sid}/restore/")
    assert resp.status_code == 200
    assert resp.json()["server"] == {"id": 101, "name": "web-01", "status": "restoring"}
    clock.advance(19.9)
    assert capi.get("/servers/101/").json() == {"id": 101, "name": "web-01", "status": "restoring"}
    assert [h["id"] for h in csim.holds()] == [101] and csim.holds()[0]["then"] == "running"
    again = capi.post(f"/snapshots/{sid}/restore/")
    assert again.status_code == 400 and again.json()["error"] == NOT_RESTORABLE.format("restoring")
    clock.advance(0.1)
    assert status(capi) == "running"  # a stopped server is running after the restore (the default)


def test_after_restore_global_and_per_server(clock):
    with Simulator(
        tokens=[TOKEN], clock=clock, create_seconds=10, restore_seconds=20, after_restore="stopped", after_restore_by_server={102: "running"}
    ) as sim:
        api = Client(sim)
        snaps = [completed_snapshot(sim, clock, server_id) for server_id in (101, 102)]
        for sid in snaps:
            assert api.post(f"/snapshots/{sid}/restore/").status_code == 200
        clock.advance(20)
        assert (status(api, 101), status(api, 102)) == ("stopped", "running")
        sim.set_settings(after_restore="running", after_restore_by_server={101: "stopped"})
        for sid in snaps:
            assert api.post(f"/snapshots/{sid}/restore/").status_code == 200
        clock.advance(20)
        assert (status(api, 101), status(api, 102)) == ("stopped", "running")
        with pytest.raises(ValueError):
            sim.set_settings(after_restore="paused")


def test_server_restore_detail(capi, csim, clock):
    sid = completed_snapshot(csim, clock)
    created_at = csim.snapshots()[0]["created_at"]
    assert capi.post(f"/snapshots/{sid}/restore/").status_code == 200
    assert capi.get("/servers/101/").json() == {"id": 101, "name": "web-01", "status": "restoring"}  # off: exactly
    csim.set_settings(server_restore_detail=True)
    assert capi.get("/servers/101/").json() == {
        "id": 101,
        "name": "web-01",
        "status": "restoring",
        "restoring_from": {"id": sid, "name": "golden", "created_at": created_at},
    }
    assert capi.control("GET", "/servers/101").json()["restoring_from"]["id"] == sid
    clock.advance(20)
    assert capi.get("/servers/101/").json() == {"id": 101, "name": "web-01", "status": "running"}
    # the restore response keeps the contract's server object
    resp = capi.post(f"/snapshots/{sid}/restore/").json()
    assert resp["server"] == {"id": 101, "name": "web-01", "status": "restoring"}
    # a status forced to restoring has no snapshot to show
    csim.set_server_status(102, "restoring")
    assert capi.get("/servers/102/").json() == {"id": 102, "name": "web-02", "status": "restoring"}


def test_snapshotting_during_create(capi, csim, clock):
    golden = completed_snapshot(csim, clock)
    csim.set_settings(snapshotting_during_create=True)
    first = capi.post("/snapshots/", json=CREATE)
    assert first.status_code == 201
    assert status(capi) == "snapshotting"
    second = capi.post("/snapshots/", json=CREATE)
    assert second.status_code == 400 and second.json() == {"error": BUSY.format("snapshotting")}
    restore = capi.post(f"/snapshots/{golden}/restore/")
    assert restore.status_code == 400 and restore.json() == {"error": NOT_RESTORABLE.format("snapshotting")}
    assert status(capi, 102) == "running"  # only the server being snapshotted
    clock.advance(10)
    assert status(capi) == "running"
    assert capi.post("/snapshots/", json=CREATE).status_code == 201


def test_snapshotting_during_create_off_by_default(capi, csim):
    assert csim.settings()["snapshotting_during_create"] is False
    for i in range(3):
        assert capi.post("/snapshots/", json={"server_id": 101, "name": f"s{i}"}).status_code == 201
    assert status(capi) == "running"


def test_restore_refused_fault(capi, csim, clock):
    sid = completed_snapshot(csim, clock)
    csim.set_faults(restore_refused=2)
    assert capi.post("/snapshots/4242/restore/").status_code == 404  # does not use one up
    for dummy in range(2):
        resp = capi.post(f"/snapshots/{sid}/restore/")
        assert resp.status_code == 400
        message = resp.json()["error"]
        assert message == "Restores are not available for this server's plan."
        assert "state" not in message and "busy" not in message.lower()
        assert status(capi) == "running"  # not applied
    refused = [e for e in csim.request_log() if e["status"] == 400]
    assert [(e["fault"], e["applied"]) for e in refused] == [("restore_refused", False)] * 2
    assert capi.post(f"/snapshots/{sid}/restore/").status_code == 200
    assert status(capi) == "restoring"


def test_restore_refused_not_used_by_state_refusal_and_scoped(capi, csim, clock):
    sid = completed_snapshot(csim, clock)
    csim.set_server_status(101, "stopping")
    csim.set_faults(restore_refused=1)
    assert capi.post(f"/snapshots/{sid}/restore/").json()["error"] == NOT_RESTORABLE.format("stopping")
    assert csim.faults.describe()["active"]["restore_refused"]["value"] == 1
    csim.set_server_status(101, "running")
    csim.set_faults(restore_refused=1, path=r"/snapshots/9999/")  # another snapshot only
    assert capi.post(f"/snapshots/{sid}/restore/").status_code == 200


def test_create_busy_fault(capi, csim):
    csim.set_faults(create_busy=2)
    assert capi.post("/snapshots/", json={"server_id": 999, "name": "x"}).status_code == 404  # does not use one up
    for dummy in range(2):
        resp = capi.post("/snapshots/", json=CREATE)
        assert resp.status_code == 400 and resp.json() == {"error": BUSY.format("snapshotting")}
    assert csim.snapshots() == [] and status(capi) == "running"  # no state change
    refused = [e for e in csim.request_log() if e["status"] == 400]
    assert [(e["fault"], e["applied"]) for e in refused] == [("create_busy", False)] * 2
    assert capi.post("/snapshots/", json=CREATE).status_code == 201


def test_control_api_server_hold(capi, csim, clock):
    resp = capi.control("POST", "/servers/101", json={"status": "stopping", "hold_seconds": 3, "then": "stopped"})
    assert resp.status_code == 200 and resp.json() == {"id": 101, "name": "web-01", "status": "stopping"}
    assert capi.control("GET", "/state").json()["holds"][0]["then"] == "stopped"
    clock.advance(3)
    assert capi.control("GET", "/servers/101").json()["status"] == "stopped"
    for bad in ({"status": "x", "then": "running"}, {"status": "x", "hold_seconds": -1}, {"status": "x", "hold_seconds": "soon"}):
        answer = capi.control("POST", "/servers/101", json=bad)
        assert answer.status_code == 400 and answer.json()["detail"]
    assert status(capi) == "stopped"
    faults = capi.control("POST", "/faults", json={"restore_refused": 1, "create_busy": 1})
    assert set(faults.json()["active"]) == {"restore_refused", "create_busy"}
    assert capi.post("/snapshots/", json={"server_id": 102, "name": "x"}).json()["error"] == BUSY.format("snapshotting")


def test_python_api_validation(csim):
    with pytest.raises(ValueError):
        csim.set_server_status(101, "x", then="running")
    with pytest.raises(ValueError):
        csim.set_server_status(101, "")


def test_cli_ctl_server_hold_and_faults(csim, clock):
    code, out, err = ctl(csim, "server", "101", "--status", "starting", "--hold-seconds", "5", "--then", "stopped")
    assert code == 0, err
    assert out == {"id": 101, "name": "web-01", "status": "starting"}
    clock.advance(5)
    assert csim.servers()[0]["status"] == "stopped"
    code, out, err = ctl(csim, "faults", "--restore-refused", "1", "--create-busy", "2", "--methods", "POST")
    assert code == 0, err
    assert out["active"]["restore_refused"] == {"value": 1, "methods": ["POST"], "path": None}
    assert out["active"]["create_busy"]["value"] == 2
    code, out, err = ctl(csim, "server", "101", "--status", "x", "--then", "running")
    assert code == 1 and "400" in err


def test_state_file_keeps_holds_and_restores(tmp_path):
    clock, state = FakeClock(), str(tmp_path / "state.sqlite")
    with Simulator(
        tokens=[TOKEN], state_file=state, clock=clock, create_seconds=0, restore_seconds=30, after_restore="stopped", server_restore_detail=True
    ) as sim:
        sid = Client(sim).post("/snapshots/", json=CREATE).json()["id"]
        Client(sim).post(f"/snapshots/{sid}/restore/")
        sim.set_server_status(102, "stopping", hold_seconds=10, then="stopped")
        before = Client(sim).get("/servers/101/").json()
    with Simulator(tokens=[TOKEN], state_file=state, clock=clock, server_restore_detail=True) as sim:
        api = Client(sim)
        assert api.get("/servers/101/").json() == before and before["restoring_from"]["id"] == sid
        assert status(api, 102) == "stopping"
        clock.advance(30)
        assert (status(api, 101), status(api, 102)) == ("stopped", "stopped")


def test_state_file_from_before_holds(tmp_path, clock):
    """A state file written by the previous version (no then_status/restoring_from columns) still loads."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE servers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, restore_until REAL);
        CREATE TABLE snapshots (id INTEGER PRIMARY KEY, server_id INTEGER NOT NULL, name TEXT NOT NULL,
            description TEXT NOT NULL, created REAL NOT NULL, ready REAL NOT NULL, outcome TEXT NOT NULL,
            size_mb INTEGER NOT NULL);
    """)
    db.execute("INSERT INTO meta VALUES ('next_id', '900')")
    db.execute("INSERT INTO servers VALUES (5, 'old-5', 'restoring', ?)", (clock() + 5,))
    db.commit()
    db.close()
    with Simulator(tokens=[TOKEN], state_file=str(path), clock=clock) as sim:
        assert sim.servers() == [{"id": 5, "name": "old-5", "status": "restoring"}]
        clock.advance(5)
        assert sim.servers()[0]["status"] == "running"
        sim.set_server_status(5, "stopped")
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(servers)")]
    assert columns[-2:] == ["then_status", "restoring_from"]
