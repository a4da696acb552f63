"""Integration tests: real ansible-playbook runs against the embedded simulator.

They run from the collection laid out under ansible_collections/vps/cloud (scripts/test.sh does it).
Every run is checked for tracebacks and for the API token in anything it printed or wrote. The runs are the harness's
(ansible_collections.vps.cloud.tests.harness); the suite's token, servers and helpers are in e2e_helpers.py.
"""

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SERVERS, TOKEN, play_on
from ansible_collections.vps.cloud.tests.harness.simulator import fast_simulator


@pytest.fixture
def sim():
    with fast_simulator(TOKEN, SERVERS, page_size=20) as simulator:
        yield simulator


@pytest.fixture
def play(sim, tmp_path):
    def run(tasks, **options):
        return play_on(sim, tmp_path, tasks, **options)

    return run
