"""Make tools/ importable (the simulator is not pip-installed) and share fixtures."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools")
# tools/ for vps_simulator, this directory for sim_helpers (works with any pytest import mode).
for entry in (TOOLS, HERE):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from sim_helpers import TOKEN, Client, FakeClock  # noqa: E402  pylint: disable=wrong-import-position
from vps_simulator import Simulator  # noqa: E402  pylint: disable=wrong-import-position


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
