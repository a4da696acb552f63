"""The simulator suite's fixtures. The simulator is imported as ansible_collections.vps.cloud.tools.vps_simulator (the
folder holding ansible_collections is on PYTHONPATH: scripts/test.sh), the suite's helpers from sim_helpers.py."""

import pytest

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import TOKEN, Client, FakeClock
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator


@pytest.fixture
def sim():
    with Simulator(tokens=[TOKEN], create_seconds=0.2, restore_seconds=0.2, page_size=3) as simulator:
        yield simulator


@pytest.fixture
def api(sim):
    return Client(sim)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def csim(clock):
    """A simulator on a fake clock: creations take 10 s, restores 20 s, and time moves only with clock.advance()."""
    with Simulator(tokens=[TOKEN], create_seconds=10, restore_seconds=20, page_size=3, clock=clock) as simulator:
        yield simulator


@pytest.fixture
def capi(csim):
    return Client(csim)
