"""Integration tests: real ansible-playbook runs against the embedded simulator.

They run from the collection laid out under ansible_collections/vps/cloud (scripts/test.sh does it).
Every run is checked for tracebacks and for the API token in anything it printed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(COLLECTION_ROOT / "tools"))

from vps_simulator import Simulator  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = "e2e-tok-7Hq2-SECRET-do-not-print"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]


def collections_path():
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        pytest.exit("run the integration tests from the laid-out collection (scripts/test.sh integration)", returncode=2)
    return str(COLLECTION_ROOT.parents[2])


class PlaybookRun:
    """What one ansible-playbook run printed and the registered result of each task."""

    def __init__(self, completed, results):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.results = results

    def __getitem__(self, index):
        return self.results[index]


def run_playbook(sim, tmp_path, tasks, check=False, diff=False, verbosity=0, env=None, api_url=None, forks=5):
    """Run `tasks` (task dicts) on localhost, each registered and allowed to fail; return a PlaybookRun."""
    out_file = tmp_path / ("results-%d.json" % len(list(tmp_path.glob("results-*.json"))))
    registered = []
    for index, task in enumerate(tasks):
        task = dict(task)
        task.setdefault("name", "task %d" % index)
        task["register"] = "result_%d" % index
        task["ignore_errors"] = True
        registered.append(task)
    names = ", ".join("result_%d" % i for i in range(len(tasks)))
    registered.append({
        "name": "Save the registered results",
        "ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names, "dest": str(out_file), "mode": "0600"},
        "check_mode": False,
        "diff": False,
    })
    play = [{
        "name": "e2e",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/vps.cloud.vps": {"api_url": api_url or sim.base_url}},
        "tasks": registered,
    }]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    command += ["--forks", str(forks)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), VPS_API_TOKEN=TOKEN,
                       ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                       ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    environment.update(env or {})
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, check=False)
    results = json.loads(out_file.read_text()) if out_file.exists() else None
    run = PlaybookRun(completed, results)
    everything = run.stdout + run.stderr + (out_file.read_text() if out_file.exists() else "")
    assert "Traceback" not in everything, everything
    assert TOKEN not in everything, "the API token leaked into the run's output"
    assert results is not None, "the playbook did not finish: %s\n%s" % (run.stdout[-3000:], run.stderr[-3000:])
    return run


@pytest.fixture
def sim():
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1, page_size=20) as simulator:
        yield simulator


@pytest.fixture
def play(sim, tmp_path):
    def run(tasks, **kwargs):
        return run_playbook(sim, tmp_path, tasks, **kwargs)
    return run


def calls(sim, method=None):
    """API requests the simulator saw (control calls excluded), optionally of one method."""
    return [entry for entry in sim.request_log()
            if entry["path"].startswith("/api/") and (method is None or entry["method"] == method)]
