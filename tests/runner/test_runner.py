"""Run vps.cloud.pre_upgrade through ansible-runner, the engine AWX and AAP use, against the simulator.

Runs from the collection laid out under ansible_collections/vps/cloud (scripts/test.sh quality does it).
The credentials reach the job the way an AWX credential injects them: as VPS_* variables in env/envvars.
"""

import json
import os
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from ansible_collections.vps.cloud.tests.harness.playbook import collections_path
from ansible_collections.vps.cloud.tests.harness.simulator import fast_simulator

TOKEN = "runner-tok-Zq8-SECRET-never-in-artifacts"
SERVERS = [
    {"id": 201, "name": "app-01", "status": "running"},
    {"id": 202, "name": "app-02", "status": "running"},
]


@pytest.fixture
def sim():
    with fast_simulator(TOKEN, SERVERS) as simulator:
        yield simulator


def private_data_dir(tmp_path, sim):
    """An AWX-like job directory: env/envvars with the injected credential, inventory, no project."""
    pdd = tmp_path / "job"
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "VPS_API_URL": sim.base_url,
        "VPS_API_TOKEN": TOKEN,
        # ansible-playbook and the modules' requests come from the interpreter running the tests.
        "PATH": "%s%s%s" % (Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", "")),
    }
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    hosts = {"app-1": {"vps_server_id": 201}, "app-2": {"vps_server_id": 202}}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {"app": {"hosts": hosts}},
        }
    }
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    return pdd


def files_with(root, needle):
    """Every file under root whose bytes contain needle, as paths relative to root."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_pre_upgrade_through_ansible_runner(tmp_path, sim):
    pdd = private_data_dir(tmp_path, sim)
    run = ansible_runner.run(
        private_data_dir=str(pdd),
        playbook="vps.cloud.pre_upgrade",
        extravars={"pre_upgrade_snapshot_name": "runner-pre-upgrade", "pre_upgrade_keep_snapshot": True, "pre_upgrade_serial": 1},
        quiet=True,
        timeout=600,
    )
    stdout = run.stdout.read()
    assert run.status == "successful", stdout
    assert run.rc == 0, stdout
    assert set(run.stats["ok"]) == {"app-1", "app-2"}, run.stats
    assert not run.stats["failures"], run.stats

    snapshots = [s for s in sim.snapshots() if s["name"] == "runner-pre-upgrade"]
    assert sorted(s["server"]["id"] for s in snapshots) == [201, 202], sim.snapshots()
    assert all(s["status"] == "completed" for s in snapshots), snapshots
    assert not [e for e in sim.request_log() if e["path"].endswith("/restore/")], "nothing should be restored"

    events = [e for e in run.events if e.get("event") == "runner_on_ok"]
    assert any("UPGRADED: app-1" in json.dumps(e) for e in events), "the success report is missing"

    artifacts = pdd / "artifacts"
    assert artifacts.is_dir()
    leaked = files_with(artifacts, TOKEN)
    # ansible-runner itself records the job's environment, injected credentials included, in
    # artifacts/<ident>/command (mode 0600); AWX keeps that file private too. Everything Ansible
    # produced (stdout, job_events, status, rc, fact cache) must be free of the token.
    ident = Path(run.config.artifact_dir).name
    allowed = "%s/command" % ident
    assert leaked in ([], [allowed]), "the API token leaked into: %s" % leaked
    if leaked:
        command = artifacts / allowed
        assert command.stat().st_mode & 0o077 == 0, "artifacts/%s must be private (0600)" % allowed
        recorded = json.loads(command.read_text())
        assert TOKEN not in json.dumps(recorded["command"]), "the token is on the command line"
        assert recorded["env"]["VPS_API_TOKEN"] == TOKEN
    assert TOKEN not in stdout
