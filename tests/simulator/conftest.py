"""Make tools/ importable (the simulator is not pip-installed) and share fixtures."""

import os
import sys

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from vps_simulator import Simulator  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = "test-token"


class Client:
    """Tiny requests wrapper bound to a simulator's base URL and token."""

    def __init__(self, sim, token=TOKEN, verify=True):
        self.sim = sim
        self.session = requests.Session()
        self.session.verify = verify
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.sim.base_url + path
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, **kwargs)

    def get(self, path, **kwargs):
        return self("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self("DELETE", path, **kwargs)

    def control(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.sim.root_url + "/_sim" + path, **kwargs)


@pytest.fixture
def sim():
    with Simulator(tokens=[TOKEN], create_seconds=0.2, restore_seconds=0.2, page_size=3) as simulator:
        yield simulator


@pytest.fixture
def api(sim):
    return Client(sim)
