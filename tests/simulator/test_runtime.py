"""TLS, state-file resume, seed files, lifecycle and the command line."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import TOKEN, Client, FakeClock, cli_env, run_cli
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator


def test_tls(tmp_path):
    with Simulator(tokens=[TOKEN], tls=True, cert_dir=str(tmp_path)) as sim:
        assert sim.base_url.startswith("https://127.0.0.1:")
        assert sim.ca_bundle == str(tmp_path / "ca.pem") and os.path.exists(sim.ca_bundle)
        resp = Client(sim, verify=sim.ca_bundle).get("/snapshots/")
        assert resp.status_code == 200
        created = Client(sim, verify=sim.ca_bundle).post("/snapshots/", json={"server_id": 101, "name": "x"})
        assert created.status_code == 201
        assert Client(sim, verify=sim.ca_bundle).get("/snapshots/").json()["count"] == 1
        with pytest.raises(requests.exceptions.SSLError):
            Client(sim).get("/snapshots/")
        # the drop fault works over TLS too
        sim.set_faults(drop_after_post=1)
        with pytest.raises(requests.ConnectionError):
            Client(sim, verify=sim.ca_bundle).post("/snapshots/", json={"server_id": 101, "name": "y"})
        assert len(sim.snapshots()) == 2


def test_no_tls_has_no_bundle(sim):
    assert sim.ca_bundle is None and sim.base_url.startswith("http://")


def test_state_file_resume(tmp_path):
    state = str(tmp_path / "state.sqlite")
    with Simulator(tokens=[TOKEN], state_file=state, create_seconds=0, restore_seconds=60) as sim:
        api = Client(sim)
        first = api.post("/snapshots/", json={"server_id": 101, "name": "keep", "description": "d"}).json()
        gone = api.post("/snapshots/", json={"server_id": 101, "name": "gone"}).json()
        api.delete(f"/snapshots/{gone['id']}/")
        assert api.post(f"/snapshots/{first['id']}/restore/").status_code == 200
        sim.set_server_status(102, "stopped")
        before = sim.snapshots()
    with Simulator(tokens=[TOKEN], state_file=state, servers=[{"id": 1, "name": "ignored"}]) as sim:
        api = Client(sim)
        assert sim.snapshots() == before
        assert api.get("/servers/101/").json()["status"] == "restoring"
        assert api.get("/servers/102/").json()["status"] == "stopped"
        assert api.post("/snapshots/", json={"server_id": 103, "name": "next"}).json()["id"] == gone["id"] + 1


def test_restart_same_object_keeps_state(tmp_path):
    sim = Simulator(tokens=[TOKEN], state_file=str(tmp_path / "s.db"))
    with sim:
        Client(sim).post("/snapshots/", json={"server_id": 101, "name": "a"})
    with sim:
        assert Client(sim).get("/snapshots/").json()["count"] == 1
        Client(sim).post("/snapshots/", json={"server_id": 101, "name": "b"})
    with Simulator(tokens=[TOKEN], state_file=str(tmp_path / "s.db")) as again:
        assert len(again.snapshots()) == 2


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".yaml", "- id: 7\n  name: app-1\n  status: running\n- id: 8\n  name: app-2\n  status: stopped\n"),
        (".json", json.dumps([{"id": 7, "name": "app-1", "status": "running"}, {"id": 8, "name": "app-2", "status": "stopped"}])),
    ],
)
def test_seed_file(tmp_path, suffix, text):
    seed = tmp_path / ("seed" + suffix)
    seed.write_text(text)
    with Simulator(tokens=[TOKEN], seed_file=str(seed)) as sim:
        assert sim.servers() == [{"id": 7, "name": "app-1", "status": "running"}, {"id": 8, "name": "app-2", "status": "stopped"}]
        assert Client(sim).get("/servers/101/").status_code == 404


def test_servers_argument_and_page_size():
    with Simulator(tokens="single", servers=[{"id": 1, "name": "web-1", "status": "running"}], page_size=20) as sim:
        api = Client(sim, token="single")
        assert api.get("/servers/1/").json() == {"id": 1, "name": "web-1", "status": "running"}
        sim.add_snapshots(server_id=1, count=25, status="completed")
        body = api.get("/snapshots/").json()
        assert len(body["results"]) == 20 and body["next"]


def test_time_scale_durations():
    # 3-10 min times 0.001 = 0.18-0.6 s; 5-15 min times 0.001 = 0.3-0.9 s (on a fake clock)
    clock = FakeClock()
    with Simulator(tokens=[TOKEN], time_scale=0.001, clock=clock) as sim:
        api = Client(sim)
        sid = api.post("/snapshots/", json={"server_id": 101, "name": "x"}).json()["id"]
        clock.advance(0.179)
        assert sim.snapshots()[0]["status"] == "in_progress"
        clock.advance(0.422)
        assert sim.snapshots()[0]["status"] == "completed"
        assert api.post(f"/snapshots/{sid}/restore/").status_code == 200
        clock.advance(0.299)
        assert api.get("/servers/101/").json()["status"] == "restoring"
        clock.advance(0.602)
        assert api.get("/servers/101/").json()["status"] == "running"


_cli = run_cli


def _serve(tmp_path, *options):
    """Start `vps_simulator serve` with `options`; return the process and its base URL once it listens."""
    url_file = tmp_path / "url"
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "vps_simulator", "serve", "--url-file", str(url_file)] + list(options),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while not url_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, url_file.read_text().strip()


def test_cli_serve_and_ctl(tmp_path):
    proc, base = _serve(
        tmp_path,
        "--port",
        "0",
        "--token",
        "cli-token",
        "--create-seconds",
        "0",
        "--page-size",
        "2",
        "--rate-limit-burst",
        "1",
        "--after-restore",
        "stopped",
        "--server-restore-detail",
        "--create-seconds-by-server",
        "103=7.5",
    )
    try:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v1")
        auth = {"Authorization": "Bearer cli-token"}
        assert requests.get(base + "/snapshots/", headers=auth, timeout=5).status_code == 429  # start flag
        assert requests.get(base + "/snapshots/", headers=auth, timeout=5).status_code == 200
        assert requests.get(base + "/snapshots/", headers={"Authorization": "Bearer demo-token"}, timeout=5).status_code == 401

        ctl = _cli("ctl", "--url", base, "faults", "--error-rate", "1", "--methods", "POST")
        assert ctl.returncode == 0, ctl.stderr
        assert json.loads(ctl.stdout)["active"]["error_rate"]["methods"] == ["POST"]
        resp = requests.post(base + "/snapshots/", headers=auth, json={"server_id": 101, "name": "x"}, timeout=5)
        assert resp.status_code in (502, 503)
        assert _cli("ctl", "--url", base, "reset").returncode == 0
        assert requests.post(base + "/snapshots/", headers=auth, json={"server_id": 101, "name": "x"}, timeout=5).status_code == 201
        assert _cli("ctl", "--url", base, "server", "102", "--status", "stopped").returncode == 0
        assert _cli("ctl", "--url", base, "seed", "--servers", "3", "--snapshots-per-server", "5").returncode == 0
        state = json.loads(_cli("ctl", "--url", base, "state").stdout)
        assert len(state["snapshots"]) == 16 and state["servers"][1]["status"] == "stopped"
        assert state["settings"]["after_restore"] == "stopped" and state["settings"]["server_restore_detail"] is True
        assert state["settings"]["create_seconds_by_server"] == {"103": 7.5}
        log = _cli("ctl", "--url", base, "log")
        assert log.returncode == 0 and "cli-token" not in log.stdout
        assert json.loads(log.stdout)[-1]["path"] == "/api/v1/snapshots/"
        bad = _cli("ctl", "--url", base, "server", "999", "--status", "x")
        assert bad.returncode == 1 and "404" in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"VPS simulator listening on {base}" in out
    assert "cli-token" not in out + err


def test_cli_serve_tls_prints_bundle(tmp_path):
    proc, base = _serve(tmp_path, "--tls", "--cert-dir", str(tmp_path))
    try:
        bundle = str(tmp_path / "ca.pem")
        resp = requests.get(base + "/snapshots/", headers={"Authorization": "Bearer demo-token"}, verify=bundle, timeout=5)
        assert resp.status_code == 200
        ctl = _cli("ctl", "--url", base, "--ca-bundle", bundle, "faults")
        assert ctl.returncode == 0 and json.loads(ctl.stdout)["servers_endpoint"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, dummy = proc.communicate(timeout=15)
    assert proc.returncode == 0 and f"CA bundle: {bundle}" in out


def test_cli_help():
    assert _cli("--help").returncode == 0
    assert "--drop-after-post" in _cli("serve", "--help").stdout
