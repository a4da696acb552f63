"""Provider settings: per-server durations, spreads, bulk seeding options, and the settings controls."""

import pytest

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import TOKEN, Client, ctl
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator
from ansible_collections.vps.cloud.tools.vps_simulator.cli import build_parser, make_simulator


def snapshot_status(sim, snapshot_id):
    return next(s["status"] for s in sim.snapshots() if s["id"] == snapshot_id)


def create(sim, server_id, name="s"):
    resp = Client(sim).post("/snapshots/", json={"server_id": server_id, "name": name})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_create_seconds_by_server(clock):
    with Simulator(tokens=[TOKEN], clock=clock, create_seconds=10, create_seconds_by_server={102: 30}) as sim:
        fast, slow = create(sim, 101), create(sim, 102)
        clock.advance(10)
        assert (snapshot_status(sim, fast), snapshot_status(sim, slow)) == ("completed", "in_progress")
        clock.advance(19.9)
        assert snapshot_status(sim, slow) == "in_progress"
        clock.advance(0.1)
        assert snapshot_status(sim, slow) == "completed"


def test_restore_seconds_by_server(clock):
    with Simulator(
        tokens=[TOKEN], clock=clock, create_seconds=0, restore_seconds=5, restore_seconds_by_server={"102": 50}
    ) as sim:  # string keys (JSON) are accepted
        api = Client(sim)
        for server_id in (101, 102):
            assert api.post(f"/snapshots/{create(sim, server_id)}/restore/").status_code == 200
        clock.advance(5)
        assert [s["status"] for s in sim.servers()[:2]] == ["running", "restoring"]
        clock.advance(45)
        assert sim.servers()[1]["status"] == "running"


def durations(sim, kind, server_ids):
    return [sim.store.duration(kind, i) for i in server_ids]


def test_spread_is_varied_per_server_and_reproducible():
    ids = range(1, 501)
    first = Simulator(tokens=[TOKEN], random_seed=3, create_spread=(10, 100), restore_spread=(20, 40))
    again = Simulator(tokens=[TOKEN], random_seed=3, create_spread=(10, 100), restore_spread=(20, 40))
    other = Simulator(tokens=[TOKEN], random_seed=4, create_spread=(10, 100))
    created = durations(first, "create", ids)
    assert all(10 <= d <= 100 for d in created) and len(set(created)) == 500
    assert max(created) - min(created) > 80  # spread over the range
    assert created == durations(again, "create", ids)  # same seed, same durations
    assert created == durations(first, "create", ids)  # the same for every operation on a server
    assert created != durations(other, "create", ids)
    restored = durations(first, "restore", ids)
    assert all(20 <= d <= 40 for d in restored) and restored == durations(again, "restore", ids)


def test_duration_precedence(clock):
    with Simulator(tokens=[TOKEN], clock=clock, create_seconds=7, random_seed=1) as sim:
        assert durations(sim, "create", [101, 102]) == [7.0, 7.0]
        sim.set_settings(create_spread=(100, 200))  # the spread beats the fixed duration
        spread = durations(sim, "create", [101, 102])
        assert all(100 <= d <= 200 for d in spread) and spread[0] != spread[1]
        sim.set_settings(create_seconds_by_server={102: 3})  # per server beats both
        assert durations(sim, "create", [101, 102]) == [spread[0], 3.0]
        sim.set_settings(create_spread=None)
        assert durations(sim, "create", [101, 102]) == [7.0, 3.0]
        # over HTTP: the snapshot is ready exactly when its server's duration ends
        sim.set_settings(create_spread=(100, 200), create_seconds_by_server=None)
        sid = create(sim, 101)
        clock.advance(spread[0] - 0.01)
        assert snapshot_status(sim, sid) == "in_progress"
        clock.advance(0.01)
        assert snapshot_status(sim, sid) == "completed"


def test_add_servers_with_durations(clock):
    with Simulator(tokens=[TOKEN], clock=clock, create_seconds=1, random_seed=9) as sim:
        spread_ids = sim.add_servers(500, create_spread=(5, 50), restore_spread=(60, 90), after_restore="stopped")
        fixed_ids = sim.add_servers(3, create_seconds=2.5, restore_seconds=4)
        settings = sim.settings()
        by_server = settings["create_seconds_by_server"]
        drawn = [by_server[str(i)] for i in spread_ids]
        assert all(5 <= d <= 50 for d in drawn) and len(set(drawn)) == 500
        assert all(60 <= settings["restore_seconds_by_server"][str(i)] <= 90 for i in spread_ids)
        assert [by_server[str(i)] for i in fixed_ids] == [2.5] * 3
        assert all(settings["after_restore_by_server"][str(i)] == "stopped" for i in spread_ids)
        assert str(fixed_ids[0]) not in settings["after_restore_by_server"]
        assert durations(sim, "create", [101]) == [1.0]  # the seed servers keep the global setting
        # reproducible: the same seed draws the same durations for the same ids
        with Simulator(tokens=[TOKEN], random_seed=9) as again:
            again.add_servers(500, create_spread=(5, 50))
            assert [again.settings()["create_seconds_by_server"][str(i)] for i in spread_ids] == drawn
        # and they are used
        first = spread_ids[0]
        sid = create(sim, first)
        clock.advance(by_server[str(first)])
        assert snapshot_status(sim, sid) == "completed"
        assert Client(sim).post(f"/snapshots/{sid}/restore/").status_code == 200
        clock.advance(90)
        assert Client(sim).get(f"/servers/{first}/").json()["status"] == "stopped"
        with pytest.raises(ValueError):
            sim.add_servers(1, create_spread=(9, 1))


def test_add_servers_over_control_api_and_cli(sim):
    api = Client(sim)
    resp = api.control("POST", "/seed", json={"servers": 4, "start_id": 500, "create_spread": [1, 2], "restore_seconds": 9, "after_restore": "stopped"})
    assert resp.status_code == 201 and resp.json()["server_ids"] == [500, 501, 502, 503]
    settings = api.control("GET", "/settings").json()
    assert all(1 <= settings["create_seconds_by_server"][str(i)] <= 2 for i in range(500, 504))
    assert settings["restore_seconds_by_server"]["503"] == 9 and settings["after_restore_by_server"]["500"] == "stopped"
    bad = api.control("POST", "/seed", json={"servers": 1, "create_spread": [3]})
    assert bad.status_code == 400 and "create_spread" in bad.json()["detail"]
    code, out, err = ctl(sim, "seed", "--servers", "2", "--create-spread", "3", "4", "--after-restore", "stopped")
    assert code == 0, err
    settings = sim.settings()
    assert all(3 <= settings["create_seconds_by_server"][str(i)] <= 4 for i in out["server_ids"])
    code, dummy, err = ctl(sim, "seed", "--server-id", "101", "--create-seconds", "3")
    assert code == 1 and "--servers" in err


def test_settings_python_api_and_reset(clock):
    with Simulator(tokens=[TOKEN], clock=clock, create_seconds=10, page_size=3, after_restore="stopped") as sim:
        start = sim.settings()
        assert start == {
            "time_scale": 1.0,
            "create_seconds": 10.0,
            "restore_seconds": None,
            "create_spread": None,
            "restore_spread": None,
            "create_seconds_by_server": {},
            "restore_seconds_by_server": {},
            "after_restore": "stopped",
            "after_restore_by_server": {},
            "snapshotting_during_create": False,
            "server_restore_detail": False,
            "page_size": 3,
            "rate_limit_rps": None,
            "rate_limit_bucket": None,
        }
        changed = sim.set_settings(create_seconds=1, page_size=50, create_spread=[2, 3], snapshotting_during_create="on", create_seconds_by_server={101: 4})
        assert changed["create_spread"] == [2.0, 3.0] and changed["snapshotting_during_create"] is True
        assert changed["create_seconds_by_server"] == {"101": 4.0} and sim.page_size == 50
        assert sim.state()["settings"] == changed
        sim.reset(state=True, log=True)  # faults, state and log only
        assert sim.settings() == changed
        sim.reset(settings=True)
        assert sim.settings() == start
        sim.set_settings(after_restore=None)  # None: the provider default
        assert sim.settings()["after_restore"] == "running"
        for bad in (
            {"page_size": 0},
            {"create_spread": (3, 1)},
            {"create_seconds": -1},
            {"after_restore": "x"},
            {"create_seconds_by_server": {"web": 1}},
            {"snapshotting_during_create": "maybe"},
            {"bogus": 1},
        ):
            with pytest.raises(ValueError):
                sim.set_settings(**bad)
        assert sim.settings()["page_size"] == 3  # a rejected call changes nothing


def test_settings_control_api(api, sim):
    assert api.control("GET", "/settings").json()["page_size"] == 3
    body = {
        "create_seconds_by_server": {"101": 2},
        "after_restore_by_server": {"102": "stopped"},
        "server_restore_detail": True,
        "page_size": 2,
        "restore_spread": [1, 2],
    }
    resp = api.control("POST", "/settings", json=body)
    assert resp.status_code == 200
    assert resp.json()["create_seconds_by_server"] == {"101": 2.0} and resp.json()["restore_spread"] == [1.0, 2.0]
    assert sim.store.after_restore_by_server == {102: "stopped"} and sim.store.server_restore_detail is True
    sim.add_snapshots(101, 3)
    assert len(api.get("/snapshots/").json()["results"]) == 2  # page_size applies at once
    for bad in ({"page_size": "big"}, {"bogus": 1}, {"after_restore_by_server": {"102": "paused"}}):
        answer = api.control("POST", "/settings", json=bad)
        assert answer.status_code == 400 and answer.json()["detail"]
    assert api.control("POST", "/reset", json={}).status_code == 200
    assert api.control("GET", "/settings").json()["page_size"] == 2  # kept by a plain reset
    api.control("POST", "/reset", json={"settings": True})
    assert api.control("GET", "/settings").json()["page_size"] == 3


def test_settings_cli_ctl(sim):
    code, out, err = ctl(
        sim,
        "settings",
        "--after-restore",
        "stopped",
        "--create-spread",
        "1",
        "2",
        "--create-seconds-by-server",
        "101=5",
        "--create-seconds-by-server",
        "102=6",
        "--after-restore-by-server",
        "103=running",
        "--snapshotting-during-create",
        "--server-restore-detail",
        "on",
        "--time-scale",
        "0.5",
        "--page-size",
        "7",
    )
    assert code == 0, err
    assert out["after_restore"] == "stopped" and out["create_spread"] == [1.0, 2.0]
    assert out["create_seconds_by_server"] == {"101": 5.0, "102": 6.0}
    assert out["after_restore_by_server"] == {"103": "running"}
    assert out["snapshotting_during_create"] is True and out["server_restore_detail"] is True
    assert out["time_scale"] == 0.5 and out["page_size"] == 7 and sim.page_size == 7
    code, out, err = ctl(sim, "settings", "--snapshotting-during-create", "off", "--unset", "create_spread", "--unset", "create_seconds_by_server")
    assert code == 0, err
    assert out["snapshotting_during_create"] is False and out["create_spread"] is None
    assert out["create_seconds_by_server"] == {}
    code, out, err = ctl(sim, "settings")
    assert code == 0 and out["after_restore"] == "stopped"
    code, dummy, err = ctl(sim, "reset", "--settings")
    assert code == 0, err
    assert sim.settings()["after_restore"] == "running" and sim.settings()["page_size"] == 3
    code, dummy, err = ctl(sim, "settings", "--create-seconds-by-server", "web=5")
    assert code == 1 and "400" in err


def test_serve_flags_build_the_simulator():
    args = build_parser().parse_args(
        [
            "serve",
            "--create-spread",
            "1",
            "3",
            "--restore-spread",
            "4",
            "6",
            "--create-seconds-by-server",
            "101=9",
            "--restore-seconds-by-server",
            "101=8",
            "--after-restore",
            "stopped",
            "--after-restore-by-server",
            "102=running",
            "--snapshotting-during-create",
            "--server-restore-detail",
            "--rate-limit-rps",
            "5",
            "--random-seed",
            "2",
            "--page-size",
            "4",
            "--create-busy",
            "1",
        ]
    )
    sim = make_simulator(args)
    settings = sim.settings()
    assert settings["create_spread"] == [1.0, 3.0] and settings["restore_spread"] == [4.0, 6.0]
    assert settings["create_seconds_by_server"] == {"101": 9.0} and settings["restore_seconds_by_server"] == {"101": 8.0}
    assert settings["after_restore"] == "stopped" and settings["after_restore_by_server"] == {"102": "running"}
    assert settings["snapshotting_during_create"] is True and settings["server_restore_detail"] is True
    assert settings["rate_limit_rps"] == 5.0 and settings["page_size"] == 4 and sim.store.random_seed == 2
    assert sim.faults.describe()["active"]["create_busy"]["value"] == 1
    plain = make_simulator(build_parser().parse_args(["serve"])).settings()
    assert plain["time_scale"] == 1.0 and plain["page_size"] == 20 and plain["snapshotting_during_create"] is False
