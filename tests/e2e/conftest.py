"""Integration tests: real ansible-playbook runs against the embedded simulator.

They run from the collection laid out under ansible_collections/vps/cloud (scripts/test.sh does it).
Every run is checked for tracebacks and for the API token in anything it printed or wrote.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import playbook_harness  # noqa: E402  pylint: disable=wrong-import-position
from playbook_harness import Simulator, api_calls  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

TOKEN = "e2e-tok-7Hq2-SECRET-do-not-print"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]


def run_playbook(sim, tmp_path, tasks, api_url=None, **options):
    """Run `tasks` on localhost against `sim`, each registered and allowed to fail; no traceback may show."""
    run = playbook_harness.run_playbook(tmp_path, tasks, TOKEN, api_url=api_url or sim.base_url, **options)
    everything = run.stdout + run.stderr + "".join(run.files.values())
    assert "Traceback" not in everything, everything[-3000:]
    return run


@pytest.fixture
def sim():
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1, page_size=20) as simulator:
        yield simulator


@pytest.fixture
def play(sim, tmp_path):
    def run(tasks, **options):
        return run_playbook(sim, tmp_path, tasks, **options)
    return run


def calls(sim, method=None):
    """API requests the simulator saw, optionally of one method."""
    return api_calls(sim.request_log(), method)
