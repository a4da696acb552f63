"""The simulator suite's helpers, imported as ansible_collections.vps.cloud.tests.simulator.sim_helpers (waiting for a
condition is the harness's wait_until)."""

import contextlib
import io
import json
import os
import subprocess
import sys

import requests

from ansible_collections.vps.cloud.tests.harness.clock import VirtualClock

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
TOKEN = "test-token"
CREATE = {"server_id": 101, "name": "snap"}


class FakeClock(VirtualClock):
    """The harness's virtual clock as the simulator's injectable clock (Simulator(clock=...) calls it for the time):
    epoch seconds that move only when a test says so (advance)."""

    def __init__(self, start=1736942400.0):  # 2025-01-15T12:00:00Z
        super().__init__(start)

    def __call__(self):
        return self.time()


def cli_env():
    return dict(os.environ, PYTHONPATH=TOOLS)


def run_cli(*args):
    """`python -m vps_simulator ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "vps_simulator", *args], env=cli_env(), capture_output=True, text=True, timeout=30, check=False)


def ctl(sim, *args):
    """`vps_simulator ctl --url <sim> ARGS` in this process (fast): (exit code, parsed JSON output or text, stderr)."""
    from ansible_collections.vps.cloud.tools.vps_simulator import cli  # pylint: disable=import-outside-toplevel

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["ctl", "--url", sim.base_url, *args])
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else None, err.getvalue()


class Client:
    """Tiny requests wrapper bound to a simulator's base URL and token."""

    def __init__(self, sim, token=TOKEN, verify=True):
        self.sim = sim
        self.session = requests.Session()
        # Per request, not session.verify: REQUESTS_CA_BUNDLE in the environment would override the session's.
        self.verify = verify
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.sim.base_url + path
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("verify", self.verify)
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
